"""Benchmark task presets: how a sharp image x becomes a measurement  y = 𝒜x + σ_y z.

Conventions (every table states them too):

* Images are on the [0, 1] scale and **σ_y is in [0, 1] units**.  DPS/DAPS papers quote σ = 0.05 on
  [−1, 1] data; that is σ_y = 0.025 here.
* Image size: each image is **center-cropped** to a square of side ``min(crop, H, W)`` rounded down
  to a multiple of 8 (default crop 256).  Images are never padded (padding would put invented pixels
  into the PSNR); a 481×321 CBSD68 image gives its central 256×256, a 32×32 test image stays 32×32.
* Blurs use the **circular** boundary (as DPS/DAPS/DPIR evaluate: y = k ⊛ x periodic), so every
  blur has an exact FFT SVD and every method (DDRM included) runs on it.
* Every random draw (motion kernel, mask, noise z) comes from a seed derived from
  (base seed, image name, task) by `job_seed`; the seeds and the kernel values are written with
  every result row so the measurement can be rebuilt exactly (`build_task`).

Presets (DPS/DAPS style, σ_y = 0.025 unless ``--sigma-y`` or ``@S`` overrides):

| task           | operator                                                            |
|----------------|---------------------------------------------------------------------|
| gauss-deblur   | Gaussian kernel 61×61, std 3.0                                      |
| motion-deblur  | seeded camera-shake kernel 61×61, intensity 0.5 (`operators.motion_kernel`) |
| sr4            | ×4 bicubic downsampling (`operators.Downsample(4, "bicubic")`)      |
| inpaint-box    | one 128×128 missing box at a seeded position ≥ 16 px from the border (256×256; box and margin scale with side/256) |
| inpaint-random | 70 % of the pixels missing (same pixels in every channel), seeded   |
| denoise        | identity, σ_y = 25/255                                              |

DPIR style: ``levin-deblur-k1`` … ``levin-deblur-k8`` blur with Levin et al.'s 8 motion kernels
(``../shared/data/kernels/Levin09_kernels_rowcol.npz``, row/col orientation), σ_y = 2.55/255;
``levin-deblur`` expands to all eight.  Any task takes ``@S`` for σ_y = S/255, e.g.
``levin-deblur@7.65``, ``denoise@15``.

A new operator joins the benchmark with one line, ``register_task(name, spec_fn, sigma_y)``, once its
kind is registered with `operators.register_spec` (tests/test_plugin_operator.py does both).

Small images (side < 128): blur kernels shrink to the largest odd size ≤ side/2 (std/intensity
unchanged), recorded in the spec.  Inpainting noise is added on measured pixels only
(y = M(Mx + σ_y z)); unmeasured pixels are 0.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import operators as ops

SIGMA_DPS = 0.025          # 0.05 on [-1, 1]
SIGMA_DENOISE = 25.0 / 255.0
SIGMA_LEVIN = 2.55 / 255.0
SIZE_MULTIPLE = 8

#: default location of the Levin kernels (the shared data folder beside the repository)
LEVIN_KERNELS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kernels" / "Levin09_kernels_rowcol.npz"

BASE_TASKS = ("gauss-deblur", "motion-deblur", "sr4", "inpaint-random", "inpaint-box", "denoise")
LEVIN_TASKS = tuple(f"levin-deblur-k{i}" for i in range(1, 9))
BLUR_TASKS = ("gauss-deblur", "motion-deblur") + LEVIN_TASKS

# seed streams under a job seed
KERNEL_STREAM, MASK_STREAM, NOISE_STREAM, SOLVER_STREAM = 1, 2, 3, 4


def name_key(text: str) -> int:
    """A stable 62-bit integer for a string (sha256; never Python's salted hash())."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 2


def job_seed(base_seed: int, image: str, task: str) -> int:
    """The seed of everything random in (image, task): derive_seed(base, key(image), key(task))."""
    return ops.derive_seed(int(base_seed), name_key(image), name_key(task))


def parse_tasks(text) -> list[str]:
    """'gauss-deblur,levin-deblur@7.65' → canonical task names (``levin-deblur`` expands to k1..k8)."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    out = []
    for item in items:
        base, _, sig = item.partition("@")
        if sig:
            try:
                float(sig)
            except ValueError:
                raise ValueError(f"task {item!r}: the part after @ is σ_y·255, got {sig!r}") from None
        names = list(LEVIN_TASKS) if base == "levin-deblur" else [base]
        for n in names:
            if n not in PRESETS:
                extra = [t for t in PRESETS if t not in BASE_TASKS and t not in LEVIN_TASKS]
                raise ValueError(f"unknown task {base!r}; choose from {', '.join(BASE_TASKS + tuple(extra))}, "
                                 f"levin-deblur, levin-deblur-k1..k8 (optionally @SIGMA255)")
            full = f"{n}@{sig}" if sig else n
            if full not in out:
                out.append(full)
    if not out:
        raise ValueError("no task given")
    return out


def default_sigma(task: str) -> float:
    base, _, sig = task.partition("@")
    if sig:
        return float(sig) / 255.0
    if base == "denoise":
        return SIGMA_DENOISE
    if base.startswith("levin-deblur"):
        return SIGMA_LEVIN
    if base in EXTRA_SIGMA:
        return EXTRA_SIGMA[base]
    return SIGMA_DPS


def center_crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    """Central square of side min(crop, H, W) rounded down to a multiple of 8 (never padded)."""
    h, w = x.shape[-2:]
    side = min(int(crop), h, w) // SIZE_MULTIPLE * SIZE_MULTIPLE
    if side < SIZE_MULTIPLE:
        raise ValueError(f"image {h}x{w} is smaller than {SIZE_MULTIPLE}x{SIZE_MULTIPLE}")
    top, left = (h - side) // 2, (w - side) // 2
    return x[..., top:top + side, left:left + side].contiguous()


def _kernel_size(side: int, size: int) -> int:
    if side >= 2 * size:
        return size
    k = side // 2
    return k if k % 2 == 1 else k - 1


def levin_kernel(i: int, path=None) -> torch.Tensor:
    path = Path(os.environ.get("RESTORE_LEVIN_KERNELS", path or LEVIN_KERNELS))
    if not path.is_file():
        raise FileNotFoundError(f"Levin kernels not found: {path} (set RESTORE_LEVIN_KERNELS)")
    with np.load(path) as d:
        return torch.from_numpy(np.asarray(d[f"k{i}"], dtype=np.float64))


@dataclass
class Measurement:
    """One (image, task): the operator, the measurement, σ_y and a JSON-able record of how."""
    task: str
    A: ops.LinearOperator
    y: torch.Tensor
    sigma_y: float
    seed: int
    spec: dict = field(default_factory=dict)
    mask: torch.Tensor | None = None


def _levin_spec(i: int):
    def spec(side, kseed, mseed):
        k = levin_kernel(i)
        if k.shape[0] > side or k.shape[1] > side:
            raise ValueError(f"Levin kernel k{i} {tuple(k.shape)} does not fit a {side}x{side} image")
        return {"op": "blur", "kernel": "file", "path": f"{LEVIN_KERNELS.name}:k{i}", "values": k.tolist(),
                "boundary": "circular"}
    return spec


#: task name → spec(side, kernel_seed, mask_seed): the operator of the task for side×side images as an
#: `operators.spec` description (the format of the CLI's sidecars), seeds and Levin kernel values included
PRESETS: dict = {
    "gauss-deblur": lambda side, kseed, mseed: {"op": "blur", "kernel": "gauss", "kernel_size": _kernel_size(side, 61),
                                                "kernel_std": 3.0, "boundary": "circular"},
    "motion-deblur": lambda side, kseed, mseed: {"op": "blur", "kernel": "motion", "kernel_size": _kernel_size(side, 61),
                                                 "intensity": 0.5, "kernel_seed": kseed, "boundary": "circular"},
    "sr4": lambda side, kseed, mseed: {"op": "downsample", "factor": 4, "filter": "bicubic"},
    "inpaint-random": lambda side, kseed, mseed: {"op": "inpaint", "mask": "random", "fraction": 0.7, "mask_seed": mseed},
    "inpaint-box": lambda side, kseed, mseed: {"op": "inpaint", "mask": "box", "size": [round(128 * side / 256)] * 2,
                                               "margin": round(16 * side / 256), "mask_seed": mseed},
    "denoise": lambda side, kseed, mseed: {"op": "identity"},
    **{f"levin-deblur-k{i}": _levin_spec(i) for i in range(1, 9)},
}


#: default σ_y of registered tasks
EXTRA_SIGMA: dict[str, float] = {}


def register_task(name: str, spec, sigma_y: float = SIGMA_DPS) -> None:
    """A benchmark task (one line for a new operator): ``spec(side, kernel_seed, mask_seed) -> dict``
    describing its operator (`operators.register_spec`), and its default σ_y."""
    if name in PRESETS or "@" in name:
        raise ValueError(f"a benchmark task named {name!r} already exists or has an '@'")
    PRESETS[name] = spec
    EXTRA_SIGMA[name] = float(sigma_y)


def task_spec(task: str, side: int, seed: int) -> dict:
    """The operator of ``task`` for side×side images as a spec, its random parts seeded from ``seed``."""
    base = task.partition("@")[0]
    if base not in PRESETS:
        raise ValueError(f"unknown task {task!r}")
    return PRESETS[base](side, ops.derive_seed(seed, KERNEL_STREAM), ops.derive_seed(seed, MASK_STREAM))


def build_operator(task: str, side: int, seed: int) -> tuple[ops.LinearOperator, dict, torch.Tensor | None]:
    """The operator of ``task`` for side×side images, its spec and (inpainting) its mask."""
    spec = task_spec(task, side, seed)
    A = ops.from_spec(spec, (1, 1, side, side))
    return A, spec, A.mask if isinstance(A, ops.Inpainting) else None


def build_task(task: str, x: torch.Tensor, seed: int, sigma_y: float | None = None) -> Measurement:
    """y = 𝒜x + σ_y z for a cropped image x (1, C, S, S); ``seed`` is the job seed (`job_seed`)."""
    side = x.shape[-1]
    A, spec, mask = build_operator(task, side, seed)
    sy = default_sigma(task) if sigma_y is None else float(sigma_y)
    if not (math.isfinite(sy) and sy >= 0):
        raise ValueError(f"sigma_y must be ≥ 0, got {sy}")
    nseed = ops.derive_seed(seed, NOISE_STREAM)
    y = ops.measure(x, A, sy, nseed)  # noise on measured pixels only
    spec.update(sigma_y=sy, sigma_y_units="[0,1]", noise_seed=nseed, job_seed=seed, side=side)
    return Measurement(task, A, y, sy, seed, spec, mask)
