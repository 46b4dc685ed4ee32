"""Is an estimated blur kernel worth using?  The fallback that keeps blind deblurring from coming back
worse than its input.

A kernel k̂ is rejected (and the image restored at k = δ, i.e. lightly denoised) when

1. the input is too noisy: σ_y > ``NOISE_LIMIT`` (0.02).  On the training crops (4 CBSD432 images,
   Levin kernels 2 and 6 and a seeded 15-px motion kernel, valid convolution) every blind result at
   σ_y = 0.025 was below its input (−0.2 to −5.7 dB, 12 of 12), while at σ_y ≤ 0.01 most gained;
2. the kernel is implausible: its largest 8-connected piece holds less than ``MIN_TOP_PIECE`` (60 %) of
   the mass, or it has more than ``MAX_PIECES`` (3) pieces — scattered mass is the fit's noise, not a
   camera's path.

The data term cannot arbitrate: the E-step residual ‖k ⊛ x̂_k − y‖ at k = δ and at the right kernel are
both near σ_y on the training crops (ratio 0.5–1.0 whether the estimate helped or hurt), and with a
weak prior (the tests' tiny one) a right kernel's residual was 2× the delta's — so no residual rule.

Everything runs on the grey (luma) image, on the same window the kernel was estimated on.
"""
from __future__ import annotations

import torch
from torch import Tensor

from operators.kernel_fit import connected_pieces

__all__ = ["kernel_problem", "NOISE_LIMIT", "MIN_TOP_PIECE", "MAX_PIECES"]

NOISE_LIMIT = 0.02
MIN_TOP_PIECE = 0.6
MAX_PIECES = 3


def _pieces(k: Tensor) -> Tensor:
    """Masses of the 8-connected pieces of k's support, largest first."""
    lab = connected_pieces(k > 0).flatten()
    mass = torch.zeros(int(lab.max()) + 1, dtype=k.dtype, device=k.device).index_add_(0, lab, k.flatten())[1:]
    return mass[mass > 0].sort(descending=True).values / k.sum()


def kernel_problem(g: Tensor, k: Tensor, prior, sigma_y: float = 0.0, boundary: str = "reflect") -> str | None:
    """Why the kernel k̂ (N×N) estimated on the grey image g (H, W) should not be used, or None when it
    passes the checks of the module docstring."""
    if float(sigma_y) > NOISE_LIMIT:
        return f"the noise (σ_y {float(sigma_y):.3g}) is too strong to estimate the blur from"
    n = k.shape[-1]
    c = n // 2
    if float(k[c, c]) >= 1.0 - 1e-12:
        return None  # already the delta
    mass = _pieces(k)
    if float(mass[0]) < MIN_TOP_PIECE or mass.numel() > MAX_PIECES:
        return "the estimated kernel is scattered (not a plausible blur)"
    return None
