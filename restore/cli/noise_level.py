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


def _strips(planes: torch.Tensor, valid: torch.Tensor | None, rows: int):
    """Per plane, per strip of ``rows`` output rows (top to bottom): (|N ∗ I|, squared Sobel gradient,
    which 3×3 windows are fully measured) on that strip — the same values as on the whole plane, with
    float64 intermediates of one strip only."""
    sob = _SOBEL.to(planes.device, torch.float64)[None, None]
    mask, box = _MASK.to(planes.device, torch.float64)[None, None], torch.ones(1, 1, 3, 3, dtype=torch.float64)
    n, _, h, _ = planes.shape
    for p in range(n):
        for i in range(0, h - 2, rows):
            part = planes[p:p + 1, :, i:i + rows + 2].to(torch.float64)
            r = F.conv2d(part, mask).abs()
            g = F.conv2d(part, sob).square() + F.conv2d(part, sob.transpose(-1, -2)).square()
            keep = None if valid is None else F.conv2d(valid[p:p + 1, :, i:i + rows + 2].to(torch.float64), box) > 8.5
            yield r, g, keep


def estimate_sigma(x: torch.Tensor, valid: torch.Tensor | None = None, rows: int = 256) -> float:
    """σ̂ for an image (1, C, H, W) in [0, 1] units (0.0 when fewer than 3×3 valid pixels).

    Computed in strips of ``rows`` rows, twice (the gradient quantile, then the mean over the flat
    pixels), so a 12 MP photo needs a few strips of float64 rather than a dozen float64 copies of itself;
    the result does not depend on ``rows``."""
    b, c, h, w = x.shape
    if h < 3 or w < 3:
        return 0.0
    planes = x.reshape(b * c, 1, h, w)
    v = None if valid is None else valid.expand(b, c, h, w).reshape(b * c, 1, h, w)
    gk = [g if k is None else g[k] for _, g, k in _strips(planes, v, rows)]
    gk = torch.cat([t.reshape(-1) for t in gk])
    if gk.numel() == 0:
        return 0.0
    thr = torch.quantile(gk[:: max(1, gk.numel() // 200_000)], FLAT_QUANTILE)
    del gk
    total, count = 0.0, 0
    for r, g, k in _strips(planes, v, rows):
        flat = g <= thr if k is None else k & (g <= thr)
        total += float(r[flat].sum())
        count += int(flat.sum())
    return float(math.sqrt(math.pi / 2) * (total / count) / 6.0)
