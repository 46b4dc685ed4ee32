"""Operator descriptions: plain JSON-able dicts ↔ `operators` objects.

A *spec* names the operator and every parameter needed to rebuild it exactly, seeds included, so it
can be stored in a sidecar by ``restore simulate`` and read back by ``--from-json``:

    {"op": "blur", "kernel": "gauss", "kernel_size": 19, "kernel_std": 3.0, "boundary": "reflect"}
    {"op": "blur", "kernel": "motion", "kernel_size": 31, "intensity": 0.5, "kernel_seed": 123, ...}
    {"op": "blur", "kernel": "file", "path": "k.npy", "values": [[...]], "boundary": "reflect"}
    {"op": "blur", "kernel": "auto", "kernel_size": 31, "boundary": "reflect"}      (to be estimated)
    {"op": "blur", "kernel": "gauss", "kernel_std": "auto", "kernel_size": null, ...} (std to be estimated)
    {"op": "blur", "kernel": "estimated", "kernel_size": 31, "values": [[...]], ...} (after estimating)
    {"op": "downsample", "factor": 4, "filter": "bicubic"}
    {"op": "inpaint", "mask": "random", "fraction": 0.5, "mask_seed": 7}
    {"op": "inpaint", "mask": "box", "size": [64, 64], "mask_seed": 7}
    {"op": "inpaint", "mask": "file", "path": "masks/mask.png"}
    {"op": "identity"}          (denoise)
    {"op": "grayscale"}         (colorize)

A kernel file's normalised values are stored in the spec, so the operator is rebuilt exactly even if
the file changes or moves.  Random parts (motion kernels, masks) are stored as their seeds.  File
paths are kept as the user gave them (relative to the working directory), so messages name them so.
A spec read from a file (`checked`) goes through the same validating constructors as the options.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

import operators as ops

from ..image_header import MAX_PIXELS
from .input_files import read_kernel, read_mask

TASKS = ("deblur", "sr", "inpaint", "denoise", "colorize")
TASK_OP = {"deblur": "blur", "sr": "downsample", "inpaint": "inpaint", "denoise": "identity",
           "colorize": "grayscale"}
KERNEL_NAMES = {"gauss": "gauss", "gaussian": "gauss", "motion": "motion", "uniform": "uniform", "box": "uniform"}
#: --kernel auto: estimate the kernel from the image (`restore.blind`), on an N×N support
AUTO = "auto"
DEFAULT_BLIND_SIZE = 31
DEFAULT_BOUNDARY = "reflect"
DEFAULT_STD = 3.0
DEFAULT_MOTION_SIZE = 31
DEFAULT_UNIFORM_SIZE = 9
CG_MAX_ITER = 16      # plain CG steps per data step (non-symmetric kernels); issue 19, benchmarks/SPEED.md
PCG_MAX_ITER = 3      # preconditioned steps per data step (mirror-symmetric kernel, mirror boundary)


def default_kernel_size(kind: str, std: float) -> int:
    """gauss: the smallest odd size covering ±3σ (19 for σ = 3); motion 31; uniform 9."""
    if kind == "gauss":
        return 2 * math.ceil(3 * std) + 1
    return DEFAULT_MOTION_SIZE if kind == "motion" else DEFAULT_UNIFORM_SIZE


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or bool(Path(value).suffix) or Path(value).exists()


def blur_spec(kernel: str = "gauss", kernel_size: int | None = None, kernel_std: float | None = None,
              intensity: float | None = None, boundary: str = DEFAULT_BOUNDARY, kernel_seed: int = 0,
              estimate: bool = False) -> dict:
    """The spec of a blur from command-line values (validated; file kernels are read here).

    ``estimate`` (restore deblur): ``--kernel auto`` estimates the whole kernel on a kernel_size² support
    (default 31) and ``--kernel gauss`` without ``--kernel-std`` estimates the std; otherwise (restore
    simulate) a kernel must be fully given and the Gaussian std defaults to 3."""
    if boundary not in ops.BOUNDARIES:
        raise ValueError(f"unknown --boundary {boundary!r} (choose from {', '.join(ops.BOUNDARIES)})")
    if str(kernel).lower() == AUTO:
        if not estimate:
            raise ValueError("--kernel auto estimates the kernel of a blurred photo; here a kernel must be given "
                             "(gauss, motion, uniform or a file)")
        if kernel_std is not None or intensity is not None:
            raise ValueError("--kernel-std and --intensity describe a gauss/motion kernel, not --kernel auto")
        n = kernel_size
        if n is not None and (isinstance(n, bool) or int(n) != n or n < 3 or n % 2 == 0):
            raise ValueError(f"--kernel-size of an estimated kernel must be an odd integer ≥ 3, got {n}")
        return {"op": "blur", "kernel": AUTO, "kernel_size": None if n is None else int(n), "boundary": boundary}
    name = KERNEL_NAMES.get(str(kernel).lower())
    if name is None:
        if not _looks_like_path(str(kernel)):
            raise ValueError(f"unknown kernel {kernel!r} (use {'auto, ' if estimate else ''}gauss, motion, uniform, "
                             f"or the path of a kernel file: .png, .npy, .npz, .mat)")
        k = read_kernel(str(kernel))  # ValueError for missing files, NaN, non-positive sum, sharpening, ...
        return {"op": "blur", "kernel": "file", "path": str(kernel), "values": k.tolist(), "boundary": boundary}
    if kernel_size is not None and (isinstance(kernel_size, bool) or int(kernel_size) != kernel_size
                                    or kernel_size < 1):
        raise ValueError(f"--kernel-size must be a positive integer, got {kernel_size}")
    if kernel_size is not None and name in ("gauss", "uniform") and kernel_size % 2 == 0:
        raise ValueError(f"--kernel-size of a {name} kernel must be odd (a centred kernel; an even size shifts "
                         f"the image by half a pixel), got {kernel_size}")
    spec = {"op": "blur", "kernel": name, "boundary": boundary}
    if name == "gauss" and kernel_std is None and estimate:
        return {**spec, "kernel_size": None if kernel_size is None else int(kernel_size), "kernel_std": AUTO}
    if name == "gauss":
        if isinstance(kernel_std, str):
            raise ValueError(f"--kernel-std must be a number, got {kernel_std!r}")
        std = DEFAULT_STD if kernel_std is None else float(kernel_std)
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"--kernel-std must be positive, got {kernel_std}")
        spec.update(kernel_size=int(kernel_size or default_kernel_size(name, std)), kernel_std=std)
    elif name == "motion":
        inten = 0.5 if intensity is None else float(intensity)
        if not (math.isfinite(inten) and inten >= 0):
            raise ValueError(f"--intensity must be ≥ 0, got {intensity}")
        size = int(kernel_size or DEFAULT_MOTION_SIZE)
        if size < 3:
            raise ValueError(f"--kernel-size of a motion kernel must be at least 3, got {size}")
        spec.update(kernel_size=size, intensity=inten, kernel_seed=int(kernel_seed))
    else:
        spec.update(kernel_size=int(kernel_size or DEFAULT_UNIFORM_SIZE))
    return spec


def downsample_spec(factor: int = 4, filter: str = "bicubic") -> dict:
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"--factor must be a positive integer, got {factor}")
    if filter not in ops.FILTERS:
        raise ValueError(f"unknown --filter {filter!r} (choose from {', '.join(ops.FILTERS)})")
    return {"op": "downsample", "factor": int(factor), "filter": filter}


def parse_box(value) -> list[int]:
    """'S' or 'HxW' → [h, w]."""
    if isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = str(value).lower().replace("×", "x").split("x")
    try:
        hw = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--mask-box must be S or HxW in pixels, got {value!r}") from None
    if len(hw) == 1:
        hw = hw * 2
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"--mask-box must be S or HxW with positive sizes, got {value!r}")
    return hw


def inpaint_spec(mask: str | None = None, mask_random: float | None = None, mask_box=None,
                 mask_seed: int = 0) -> dict:
    given = [n for n, v in (("--mask", mask), ("--mask-random", mask_random), ("--mask-box", mask_box))
             if v is not None]
    if len(given) != 1:
        raise ValueError("inpainting needs exactly one of --mask PATH, --mask-random P, --mask-box S"
                         + (f" (got {', '.join(given)})" if given else ""))
    if mask is not None:
        if not Path(mask).is_file():
            raise ValueError(f"mask file {str(mask)!r} does not exist")
        return {"op": "inpaint", "mask": "file", "path": str(mask)}
    if mask_random is not None:
        p = float(mask_random)
        if not (0 <= p < 1):
            raise ValueError(f"--mask-random is the fraction of missing pixels, in [0, 1), got {mask_random}")
        return {"op": "inpaint", "mask": "random", "fraction": p, "mask_seed": int(mask_seed)}
    return {"op": "inpaint", "mask": "box", "size": parse_box(mask_box), "mask_seed": int(mask_seed)}


def task_spec(task: str) -> dict:
    """Specs of the parameter-free tasks."""
    if task == "denoise":
        return {"op": "identity"}
    if task == "colorize":
        return {"op": "grayscale"}
    raise ValueError(f"task {task!r} needs parameters")


def checked(spec) -> dict:
    """A spec read from a file (a sidecar), rebuilt through the constructors that validate the options.

    Raises ValueError (one line) for anything malformed: missing or mistyped fields, unknown kinds,
    non-numeric or non-finite kernel values, sizes out of range.  Paths are returned as stored.
    """
    try:
        op = spec["op"]
        if op == "blur":
            boundary = spec.get("boundary", DEFAULT_BOUNDARY)
            if spec["kernel"] in ("file", "estimated"):
                if boundary not in ops.BOUNDARIES:
                    raise ValueError(f"unknown boundary {boundary!r}")
                values = ops.normalize_kernel(spec["values"])
                if values.numel() > 4096 * 4096:
                    raise ValueError("the kernel is too large")
                return {"op": "blur", "kernel": "file", "path": str(spec.get("path", "")),
                        "values": values.tolist(), "boundary": boundary}
            if spec["kernel"] == AUTO or spec.get("kernel_std") == AUTO:
                raise ValueError("a sidecar describes a known blur; 'auto' is not a kernel")
            if spec["kernel"] not in KERNEL_NAMES:
                raise ValueError(f"unknown kernel kind {spec['kernel']!r}")
            return blur_spec(spec["kernel"], spec.get("kernel_size"), spec.get("kernel_std"), spec.get("intensity"),
                             boundary, kernel_seed=_int(spec.get("kernel_seed", 0)))
        if op == "downsample":
            return downsample_spec(spec["factor"], spec["filter"])
        if op == "inpaint":
            kind = spec["mask"]
            if kind == "file":
                return {"op": "inpaint", "mask": "file", "path": str(spec["path"])}
            if kind == "random":
                return inpaint_spec(mask_random=float(spec["fraction"]), mask_seed=_int(spec["mask_seed"]))
            if kind == "box":
                return inpaint_spec(mask_box=spec["size"], mask_seed=_int(spec["mask_seed"]))
            raise ValueError(f"unknown mask kind {kind!r}")
        if op in ("identity", "grayscale"):
            return {"op": op}
        if op in ops.SPEC_KINDS and op not in ("compose",):  # a plug-in operator: its decoder validates it
            return dict(spec)
        raise ValueError(f"unknown operator {op!r}")
    except (KeyError, TypeError, IndexError, AttributeError, OverflowError) as e:
        raise ValueError(f"malformed operator description ({type(e).__name__}: {_short(e)})") from None


def _int(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected an integer seed, got {v!r}")
    return v


def _short(e) -> str:
    return (str(e).splitlines() or [""])[0][:200]


def needs_estimate(spec: dict) -> bool:
    """Whether the blur kernel (``--kernel auto``) or its Gaussian std is to be estimated from the image."""
    return spec.get("op") == "blur" and (spec.get("kernel") == AUTO or spec.get("kernel_std") == AUTO)


def estimate_size(spec: dict, shape=None) -> int:
    """The support N×N on which `restore.blind.estimate_blur` looks for the kernel: --kernel-size, else
    31 (at most a quarter of the image's side, `restore.blind.default_support`, when ``shape`` is given)."""
    if spec.get("kernel_size"):
        return int(spec["kernel_size"])
    if shape is None:
        return DEFAULT_BLIND_SIZE
    from ..blind import default_support
    return default_support(shape[-2], shape[-1], DEFAULT_BLIND_SIZE)


def kernel_side(spec: dict) -> int:
    """The largest side of the blur kernel a spec describes (the estimation support while unknown)."""
    if "values" in spec:
        return max(len(spec["values"]), len(spec["values"][0]))
    return estimate_size(spec) if needs_estimate(spec) else int(spec.get("kernel_size") or 0)


def with_estimate(spec: dict, estimate) -> dict:
    """The spec once the blur is estimated: ``estimate`` is the kernel k̂ (N×N, Σ = 1) for ``--kernel auto``,
    the Gaussian's std (`restore.blind.estimate_gaussian_std`) for ``--kernel gauss``."""
    if spec["kernel"] == AUTO:
        k = estimate
        return {"op": "blur", "kernel": "estimated", "kernel_size": int(k.shape[-1]), "values": k.tolist(),
                "boundary": spec["boundary"]}
    std = round(float(estimate), 3)
    n = spec.get("kernel_size") or default_kernel_size("gauss", std)
    return {**spec, "kernel_size": int(n), "kernel_std": std, "kernel_std_estimated": True}


# ----------------------------------------------------------------------------- spec -> operator
def image_shape(spec: dict, y_shape) -> tuple:
    """The restored image's shape (1, C, H, W) for a measurement of shape ``y_shape``."""
    b, c, h, w = y_shape
    op = spec["op"]
    if op == "downsample":
        f = spec["factor"]
        if h * f * w * f > MAX_PIXELS:
            raise ValueError(f"x{f} super-resolution of a {w}x{h} image would be {w * f}x{h * f} = "
                             f"{w * f * h * f / 1e6:.0f} megapixels, more than the {MAX_PIXELS / 1e6:.0f}-megapixel limit")
        return (b, c, h * f, w * f)
    if op == "grayscale":
        return (b, 3, h, w)
    return (b, c, h, w)


def build(spec: dict, x_shape) -> ops.LinearOperator:
    """The operator described by ``spec`` for images of shape ``x_shape`` (`operators.from_spec`, mask
    files read by the CLI's validating reader), after the checks that give the CLI's messages."""
    op = spec.get("op")
    h, w = x_shape[-2:]
    if op == "blur":
        if needs_estimate(spec):
            raise ValueError("internal: the blur kernel must be estimated before the operator is built")
        n = spec.get("kernel_size", 0) or 0
        if n > h or n > w:  # before the kernel is built: a huge size must not allocate anything
            raise ValueError(f"blur kernel {n}x{n} is larger than the image {h}x{w} (use a smaller --kernel-size)")
    if op == "inpaint" and spec.get("mask") == "box":
        bh, bw = spec["size"]
        if bh > h or bw > w:
            raise ValueError(f"--mask-box {bh}x{bw} does not fit in the image {h}x{w}")
    A = ops.from_spec(spec, x_shape, read_file=read_mask)
    if op == "blur":
        if spec["boundary"] != "circular":
            # No SVD: the prox runs CG warm-started at the denoised estimate, capped (same PSNR as the exact
            # prox): 3 cosine-preconditioned steps for a mirror-symmetric kernel (≤ 10 % of the network's
            # time), else 16 plain steps (few preconditioned ones lost ~0.1 dB and fit y worse).
            A.cg_precondition = A.cosine_diagonal
            A.cg_max_iter, A.cg_warn = (PCG_MAX_ITER if A.cg_precondition else CG_MAX_ITER), False
        kh, kw = A.kernel.shape
        if kh > h or kw > w:
            raise ValueError(f"blur kernel {kh}x{kw} is larger than the image {h}x{w} (use a smaller --kernel-size)")
    return A


def describe(spec: dict) -> str:
    """A short human description, e.g. 'gauss blur 19x19 σ=3 (reflect boundary)'."""
    op = spec["op"]
    if op == "blur":
        if spec["kernel"] == "file":
            return f"blur with kernel file {Path(spec['path']).name} ({spec['boundary']} boundary)"
        if spec["kernel"] in (AUTO, "estimated"):
            n = spec.get("kernel_size")
            size = f"{n}x{n} " if n else ""
            state = "to be estimated" if spec["kernel"] == AUTO else "estimated"
            return f"blur, {size}kernel {state} from the image ({spec['boundary']} boundary)"
        if spec.get("kernel_std") == AUTO:
            return f"gauss blur, std to be estimated ({spec['boundary']} boundary)"
        est = " (estimated)" if spec.get("kernel_std_estimated") else ""
        extra = {"gauss": lambda: f", std {spec['kernel_std']:g}{est}",
                 "motion": lambda: f", intensity {spec['intensity']:g}, kernel seed {spec['kernel_seed']}",
                 "uniform": lambda: ""}[spec["kernel"]]()
        n = spec["kernel_size"]
        return f"{spec['kernel']} blur {n}x{n}{extra} ({spec['boundary']} boundary)"
    if op == "downsample":
        return f"x{spec['factor']} {spec['filter']} downsampling"
    if op == "inpaint":
        if spec["mask"] == "file":
            return f"inpainting, mask {Path(spec['path']).name}"
        if spec["mask"] == "random":
            return f"inpainting, {spec['fraction']:.0%} random pixels missing (mask seed {spec['mask_seed']})"
        return f"inpainting, {spec['size'][0]}x{spec['size'][1]} box (mask seed {spec['mask_seed']})"
    return {"identity": "denoising", "grayscale": "colorization"}.get(op, op)
