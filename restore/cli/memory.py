"""Peak memory of a restoration, estimated before it starts, and the memory that is available.

The solver's peak grows with the pixels of the chains it runs at once (measured with
``benchmarks/memory.py``, default prior, 2 steps, one chain, 64²/128²/256² on CPU, fitted as
``c + f·H·W``; benchmarks/MEMORY.md):

    solve  = SAFETY · (FIXED + h · f[method] · width · chains_in_flight · tile_pixels) + weights
    host   = 4 · C · H · W · (2·K + 6)      (image, measurement, K samples, blend, encoded outputs)

f is about 1.4–1.8 kB per pixel for the methods that only evaluate the network (ddrm, ddnm,
projection, diffpir, daps) and 6.8–8.0 kB for those that back-propagate through it (pigdm, dps).
``width`` scales f for priors larger than the default one (√ of the weight-file ratio: activations
grow with channel width, weights with its square); ``chains_in_flight`` is the largest group of
chains the solver batches (`restore.guidance.chain_groups`).  On CPU solve + host is compared with
``MemAvailable`` (/proc/meminfo); on CUDA solve with the device's free memory and host with RAM.
``RESTORE_MEMORY_LIMIT`` (e.g. ``2G``, ``500M``) caps the memory the run may plan for.  h = ``KEPT_HEAP``
(1.2) while the process keeps freed memory for reuse (`restore.allocator`, on in the restoration commands),
else 1.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import allocator

#: bytes per pixel of one chain (fitted slope f, benchmarks/memory.py on CPU; 3-channel images)
BYTES_PER_PIXEL = {"ddrm": 1428, "ddnm": 1403, "projection": 1665, "diffpir": 1581, "daps": 1773,
                   "pigdm": 6796, "dps": 8008, "pinv": 200, "wiener": 200,
                   "deconv": 1773}  # deconv: the E-step, then a DAPS polish on a padded grid: daps's taken
GRADIENT_BYTES_PER_PIXEL = 8008  # an unknown method: assume it back-propagates through the network
FIXED = 64 * 2**20               # fitted intercepts were 10–61 MB
SAFETY = 1.25
#: the per-pixel term × this while `restore.allocator.keep_freed_memory` is on (the restoration commands):
#: a heap that keeps what it freed fragments over a long solve — whole-image runs of 20 steps peaked up to
#: 1.13× the 2-step fit at 0.25–1 MP (benchmarks/MEMORY.md, session 8)
KEPT_HEAP = 1.2
DEFAULT_WEIGHT_BYTES = 5_139_774  # restore/weights/default.safetensors (float16)
LIMIT_ENV = "RESTORE_MEMORY_LIMIT"


def parse_size(text: str) -> int:
    """'2G', '500M', '64k' or a number of bytes → bytes (ValueError otherwise)."""
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(t[-1:], 1)
    try:
        v = float(t[:-1] if scale > 1 else t) * scale
    except ValueError:
        raise ValueError(f"{LIMIT_ENV}={text!r} is not a size (e.g. 2G, 500M)") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{LIMIT_ENV}={text!r} must be positive")
    return int(v)


def human(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale or unit == "MiB":
            return f"{n / scale:.1f} {unit}"


def host_available() -> int:
    """MemAvailable from /proc/meminfo (bytes); elsewhere, no limit known (a very large number)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 2**62


def device_available(device: torch.device) -> int:
    """Free memory of a CUDA device (torch.cuda.mem_get_info); the host's for the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return host_available()


def limit() -> int | None:
    v = os.environ.get(LIMIT_ENV)
    return parse_size(v) if v else None


def weight_bytes(prior: str) -> int:
    """Bytes of the prior's weights as float32 (file sizes; float16 files count twice)."""
    from ..models.registry import SHIPPED, WEIGHTS_DIR

    if prior in SHIPPED or prior == "auto":  # auto: the larger shipped prior, to be safe
        names = list(SHIPPED) if prior == "auto" else [prior]
        return 2 * max(sum(f.stat().st_size for f in WEIGHTS_DIR.glob(n + "*.safetensors")) for n in names) \
            or 2 * DEFAULT_WEIGHT_BYTES
    p = Path(prior)
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.suffix in (".safetensors", ".bin", ".pt", ".pth")]
    elif p.suffix.lower() in (".pt", ".pth"):
        files = [p]
    else:
        base = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        files = list(base.parent.glob(base.name + "*.safetensors"))
    return 2 * sum(f.stat().st_size for f in files if f.is_file()) or 2 * DEFAULT_WEIGHT_BYTES


@dataclass
class Estimate:
    solve: int  # bytes the solver needs on its device
    host: int   # bytes of images kept in host memory

    def total_on_host(self, device: torch.device) -> int:
        return self.host + (self.solve if device.type == "cpu" else 0)


def estimate(method: str, x_shape, chains: int, tile: int | None, prior: str, chain_groups) -> Estimate:
    """The peak memory of restoring an image of shape (1, C, H, W) (module docstring).

    ``chains``: the chains the solver runs per tile; ``tile``: the tile side or None (whole image);
    ``chain_groups``: `restore.guidance.chain_groups` (how many chains run at once).
    """
    _, c, h, w = x_shape
    th, tw = (min(tile, h), min(tile, w)) if tile else (h, w)
    pixels = th * tw
    in_flight = max(len(g) for g in chain_groups(chains, 1, pixels))
    weights = weight_bytes(prior)
    width = max(1.0, math.sqrt(weights / (2 * DEFAULT_WEIGHT_BYTES)))
    f = BYTES_PER_PIXEL.get(method, GRADIENT_BYTES_PER_PIXEL)
    heap = KEPT_HEAP if allocator.active() else 1.0
    solve = int(SAFETY * (FIXED + heap * f * width * in_flight * pixels)) + weights
    host = 4 * c * h * w * (2 * chains + 6)
    return Estimate(solve, host)


def check(est: Estimate, device: torch.device) -> str | None:
    """None when the run fits; else what does not fit, as a phrase for an error message."""
    cap = limit()
    host_free = min(host_available(), cap or 2**62)
    need_host = est.total_on_host(device)
    if need_host > host_free:
        return f"needs about {human(need_host)} of memory but {human(host_free)} is available"
    if device.type == "cuda":
        dev_free = min(device_available(device), cap or 2**62)
        if est.solve > dev_free:
            return f"needs about {human(est.solve)} of GPU memory but {human(dev_free)} is free on {device}"
    return None
