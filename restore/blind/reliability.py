"""Is an estimated blur kernel worth using?  The fallback that keeps blind deblurring from coming back
worse than its input.

A kernel k̂ is rejected (and the image restored at k = δ, i.e. lightly denoised) when

1. the input is too noisy: σ_y > ``NOISE_LIMIT`` (0.02).  On the training crops (4 CBSD432 images,
   Levin kernels 2 and 6 and a seeded 15-px motion kernel, valid convolution) every blind result at
   σ_y = 0.025 was below its input (−0.2 to −5.7 dB, 12 of 12), while at σ_y ≤ 0.01 most gained;
2. the kernel is implausible: its largest 8-connected piece holds less than ``MIN_TOP_PIECE`` (60 %) of
   the mass, or it has more than ``MAX_PIECES`` (3) pieces — scattered mass is the fit's noise, not a
   camera's path.

3. the deblurred image does not explain the photo: the E-step on the same window, x̂ = D(x_α, σ_e)
   (`restore.blind.deconv`), leaves a residual ‖k̂ ⊛ x̂ − g‖_rms above ``MAX_RESIDUAL`` (1.65) ×
   max(σ_y, ``RESIDUAL_FLOOR``).  On training crops (CBSD432 104055, 105019, 105027, 105053, 160², the 8
   Levin and 4 Lai kernels, valid convolution, σ_y = 0.01; benchmarks/BLIND.md, session 7) every result
   with a residual above 1.65 σ_y was far below its input (15 of 48, −3.1 to −11.1 dB), while the
   successes were at 0.94–1.61 σ_y.  It does not separate every failure (some below 1.65 lost up to
   5.7 dB).  The floor (0.005, half the σ_y it was chosen at) keeps the rule off clean inputs, where
   8-bit quantisation and the kernel's discretisation, not noise, set the residual of a good result.

Session 9 re-chose the threshold together with the E-step's noise-scaled regulariser (`restore.blind.deconv`,
α ≥ 2σ_y, level ≥ 4σ_y) on noisy training crops (the 48 above, kernels estimated, plus 10 unblurred crops):
1.65 gave 24.46 dB on the blurred ones (4 of 48 below the input) and kept all 10 unblurred ones at or above
their input (the estimate's spurious blur rejected); 1.8 / 2.0 / 2.5 gave 24.55 / 24.58 / 24.35 dB with
4 / 5 / 7 below, and at 2.5 three unblurred crops came back far below; 1.65 stays.

The residual does not rank a kernel against the delta (at k = δ and at the right kernel both are near
σ_y on the training crops), so it is only a bound on what a plausible result leaves.

Everything runs on the grey (luma) image, on the same window the kernel was estimated on.
"""
from __future__ import annotations

import torch
from torch import Tensor

from operators.kernel_fit import connected_pieces, is_delta

__all__ = ["kernel_problem", "estep_residual", "NOISE_LIMIT", "MIN_TOP_PIECE", "MAX_PIECES", "MAX_RESIDUAL",
           "RESIDUAL_FLOOR"]

NOISE_LIMIT = 0.02
MIN_TOP_PIECE = 0.6
MAX_PIECES = 3
MAX_RESIDUAL = 1.65
RESIDUAL_FLOOR = 0.005


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
    if is_delta(k):
        return None  # already the delta
    mass = _pieces(k)
    if float(mass[0]) < MIN_TOP_PIECE or mass.numel() > MAX_PIECES:
        return "the estimated kernel is scattered (not a plausible blur)"
    r = estep_residual(g, k, prior, sigma_y, boundary)
    if r > MAX_RESIDUAL:
        return f"the deblurred image does not explain the photo (residual {r:.1f}× the noise)"
    return None


def estep_residual(g: Tensor, k: Tensor, prior, sigma_y: float = 0.0, boundary: str = "reflect") -> float:
    """‖k ⊛ x̂ − g‖_rms / max(σ_y, ``RESIDUAL_FLOOR``) for the E-step x̂ on the grey window g (H, W)
    (check 3), with the tapered closed-form deconvolution the threshold was chosen with (not the valid model
    of session 13, which fits a wrong kernel's border better too).  The raw residual of x̂ itself:
    `restore.guidance.residual.residual_ratio` (the CLI's fit report) first refits an image near x̂ to y, which is what would hide an E-step that blew up."""
    from operators import Blur

    from .deconv import denoised_deconvolution

    x = denoised_deconvolution(g[None], k, prior, sigma_y, boundary=boundary, valid=False).to(torch.float64)
    res = Blur(k, boundary=boundary)(x[None]) - g.to(torch.float64)[None, None]
    return float(res.pow(2).mean().sqrt()) / max(float(sigma_y), RESIDUAL_FLOOR)
