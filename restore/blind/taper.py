"""Periodic extension of a photo for the FFT steps of kernel estimation.

The x- and k-steps (`restore.blind.latent`, `operators.kernel_fit`) treat the image as periodic.  A
photo is not: the jump between its opposite edges would read as a strong edge that no kernel blurs.
``taper_pad`` reflects the image by m pixels on every side and blends the margin to the image mean
with a raised cosine,

    ỹ = ȳ + w·(P_reflect y − ȳ),   w(d) = ½(1 − cos(π d/m)) at distance d from the outer edge,

so ỹ is continuous across the periodic seam and its margin has small gradients (which the L0 step
zeroes and which barely enter the kernel fit).  ``crop`` undoes it.

``smooth=True`` widens the bottom and right margins (by at most a few pixels) so that each side of ỹ is a
size the FFT is fast on (`operators.blur.fft_size`: factors 2, 3, 5, 7): a 512×432 photo padded by 31 is
574×494 = (2·7·41)×(2·13·19), whose FFT takes 2.4× longer than one of 576×500.  The image still starts at
(m, m), so ``crop`` is unchanged.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from operators.blur import fft_size
from operators.padding import pad2d

__all__ = ["taper_pad", "crop", "frame_mask"]


def taper_pad(y: Tensor, m: int, smooth: bool = False) -> Tensor:
    """2-D y (h×w) → (h + 2m)×(w + 2m), reflected and cosine-blended to the mean in the margin; with
    ``smooth`` the bottom/right margins grow to make each side an FFT-fast size (module docstring)."""
    if m <= 0:
        return y
    h, w = y.shape
    m = min(m, h - 1, w - 1)
    eh = min(fft_size(h + 2 * m) - h - 2 * m, h - 1 - m) if smooth else 0
    ew = min(fft_size(w + 2 * m) - w - 2 * m, w - 1 - m) if smooth else 0
    p = pad2d(y[None, None], (m, m + eh, m, m + ew), "reflect")[0, 0]
    mean = y.mean()

    def ramp(n: int, after: int) -> Tensor:
        i = torch.arange(n + m + after, dtype=y.dtype, device=y.device)
        d = torch.minimum((i + 0.5) / m, (n + m + after - i - 0.5) / after).clamp(max=1.0)
        return 0.5 * (1 - torch.cos(math.pi * d))

    wgt = ramp(h, m + eh)[:, None] * ramp(w, m + ew)[None, :]
    return mean + wgt * (p - mean)


def crop(x: Tensor, m: int, h: int, w: int) -> Tensor:
    """The central h×w of a padded image (undoes ``taper_pad``)."""
    m = min(m, h - 1, w - 1) if m > 0 else 0
    return x[..., m:m + h, m:m + w]


def frame_mask(shape, h: int, w: int, at: int, dtype, device) -> Tensor:
    """1 on the h×w photo at (at, at) of its padded grid (`taper_pad`), 0 on the margin: the pixels y measures."""
    m = torch.zeros(shape, dtype=dtype, device=device)
    m[..., at:at + h, at:at + w] = 1.0
    return m
