"""Periodic extension of a photo for the FFT steps of kernel estimation.

The x- and k-steps (`restore.blind.latent`, `operators.kernel_fit`) treat the image as periodic.  A
photo is not: the jump between its opposite edges would read as a strong edge that no kernel blurs.
``taper_pad`` reflects the image by m pixels on every side and blends the margin to the image mean
with a raised cosine,

    ỹ = ȳ + w·(P_reflect y − ȳ),   w(d) = ½(1 − cos(π d/m)) at distance d from the outer edge,

so ỹ is continuous across the periodic seam and its margin has small gradients (which the L0 step
zeroes and which barely enter the kernel fit).  ``crop`` undoes it.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from operators.padding import pad2d

__all__ = ["taper_pad", "crop"]


def taper_pad(y: Tensor, m: int) -> Tensor:
    """2-D y (h×w) → (h + 2m)×(w + 2m), reflected and cosine-blended to the mean in the margin."""
    if m <= 0:
        return y
    h, w = y.shape
    m = min(m, h - 1, w - 1)
    p = pad2d(y[None, None], (m, m, m, m), "reflect")[0, 0]
    mean = y.mean()

    def ramp(n: int) -> Tensor:
        d = torch.arange(n + 2 * m, dtype=y.dtype, device=y.device)
        d = torch.minimum(d + 0.5, (n + 2 * m) - d - 0.5).clamp(max=m)
        return 0.5 * (1 - torch.cos(math.pi * d / m))

    wgt = ramp(h)[:, None] * ramp(w)[None, :]
    return mean + wgt * (p - mean)


def crop(x: Tensor, m: int, h: int, w: int) -> Tensor:
    """The central h×w of a padded image (undoes ``taper_pad``)."""
    m = min(m, h - 1, w - 1) if m > 0 else 0
    return x[..., m:m + h, m:m + w]
