"""Blind estimate of white Gaussian noise σ in an image (``--noise auto``, the default of every task).

Immerkær (1996), "Fast noise variance estimation": the 3×3 mask
N = [[1, −2, 1], [−2, 4, −2], [1, −2, 1]] (a difference of two Laplacians) nearly annihilates
smooth image structure, and for white noise of std σ, E|N ∗ n| = σ·‖N‖₂·√(2/π) with ‖N‖₂ = 6, so

    σ̂ = √(π/2) · mean |N ∗ I| / 6.

On a sharp photo, edges and texture also pass N and bias σ̂ upward (≈ 0.01 on a clean 8-bit photo,
whose true noise is ≈ 0.001–0.002).  The mean is therefore taken over the flattest pixels only: those
whose Sobel gradient magnitude is in the lowest ``FLAT_QUANTILE`` of the image (pure noise has no
preferred gradient, so selecting on the gradient — a different filter — barely biases the noise part).
``valid`` (1 where measured, e.g. an inpainting mask) keeps holes and their borders out.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_MASK = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
#: fraction of the (valid) pixels, the flattest, that the estimate averages over
FLAT_QUANTILE = 0.2


def estimate_sigma(x: torch.Tensor, valid: torch.Tensor | None = None) -> float:
    """σ̂ for an image (1, C, H, W) in [0, 1] units (0.0 when fewer than 3×3 valid pixels)."""
    b, c, h, w = x.shape
    if h < 3 or w < 3:
        return 0.0
    planes = x.reshape(b * c, 1, h, w).to(torch.float64)
    r = F.conv2d(planes, _MASK.to(planes)[None, None]).abs()
    sob = _SOBEL.to(planes)[None, None]
    g = F.conv2d(planes, sob).square() + F.conv2d(planes, sob.transpose(-1, -2)).square()
    keep = torch.ones_like(r, dtype=torch.bool)
    if valid is not None:  # every pixel of the 3×3 window measured
        v = valid.to(planes).expand(b, c, h, w).reshape(b * c, 1, h, w)
        keep = F.conv2d(v, torch.ones(1, 1, 3, 3, dtype=v.dtype)) > 8.5
    if int(keep.sum()) == 0:
        return 0.0
    gk = g[keep]
    flat = keep & (g <= torch.quantile(gk[:: max(1, gk.numel() // 200_000)], FLAT_QUANTILE))
    return float(math.sqrt(math.pi / 2) * r[flat].mean() / 6.0)
