"""The x-step of blind deblurring: a sharp-edged latent image for a given kernel (2-D, circular grid).

    x = argmin_x ‖k ⊛ x − y‖² + λ‖∇x‖₀ + μ‖x − z‖²

‖∇x‖₀ counts the pixels whose gradient (∂_v x, ∂_h x) is non-zero (Xu et al. 2013, "Unnatural L0
sparse representation"; Pan et al. 2014).  It prefers piecewise-flat images with sharp steps, which
is what makes the blurred explanation (x = y, k = δ) lose: naive MAP with a natural-image prior
prefers it (Levin et al. 2009), an L0 prior does not.  z is an optional anchor image (the prior's
denoised estimate, weight μ; μ = 0 disables it).

Half-quadratic splitting with g ≈ ∇x, β doubling from 2λ to ``beta_max``:

    g_d = ∂_d x  where Σ_d (∂_d x)² ≥ λ/β,  else 0                (the exact L0 sub-problem)
    x   = F⁻¹[(K̄·Y + β Σ_d D̄_d·G_d + μZ) / (|K|² + β Σ_d |D_d|² + μ)]   (the quadratic one, by FFT)

with K, D_d the transfer functions of k and of the forward differences on the grid.
"""
from __future__ import annotations

import torch
from torch import Tensor

from operators.kernel_fit import gradients, otf

__all__ = ["l0_latent"]


def _difference_otfs(h: int, w: int, dtype, device) -> tuple[Tensor, Tensor]:
    """One-sided transfer functions (`torch.fft.rfft2`) of the circular forward differences (∂_v, ∂_h)
    on an h×w grid."""
    e = torch.zeros(h, w, dtype=dtype, device=device)
    e[0, 0] = 1.0
    dv, dh = gradients(e)
    return torch.fft.rfft2(dv), torch.fft.rfft2(dh)


def divergence_adjoint(gv: Tensor, gh: Tensor) -> Tensor:
    """∂_vᵀ g_v + ∂_hᵀ g_h for the circular forward differences of `gradients`: ∂ᵀg[i] = g[i − 1] − g[i]."""
    return (torch.roll(gv, 1, -2) - gv) + (torch.roll(gh, 1, -1) - gh)


def l0_latent(y: Tensor, k: Tensor, lam: float, beta_max: float = 1e5, z: Tensor | None = None,
              mu: float = 0.0, mask: Tensor | None = None) -> Tensor:
    """argmin ‖k ⊛ x − y‖² + λ‖∇x‖₀ + μ‖x − z‖² by half-quadratic splitting (module docstring).

    ``mask`` (0/1, y's shape): only the pixels where it is 1 are measured (a photo's valid region inside a
    padded grid), ‖M(k ⊛ x − y)‖²; majorised at every β step by filling the unmeasured pixels with the
    current prediction, y ← M·y + (1 − M)·(k ⊛ x) (exact at the current x, so the data term never grows).
    Spectra are one-sided (real signals): `torch.fft.rfft2` / `irfft2`."""
    h, w = y.shape
    fft, ifft = torch.fft.rfft2, (lambda c: torch.fft.irfft2(c, s=(h, w)))
    K = otf(k.to(y.dtype), h, w, onesided=True)
    Dv, Dh = _difference_otfs(h, w, y.dtype, y.device)
    Y = fft(y)
    num0 = K.conj() * Y
    den0 = K.abs() ** 2
    if z is not None and mu > 0:
        num0 = num0 + mu * fft(z)
        den0 = den0 + mu
    dd = Dv.abs() ** 2 + Dh.abs() ** 2
    x, X = y.clone(), Y  # the latent and its spectrum, kept together (no transform of x is repeated)
    beta = 2 * lam
    while beta < beta_max:
        if mask is not None:  # fill the unmeasured pixels with the current prediction k ⊛ x
            fill = ifft(K * X)
            num0 = K.conj() * fft(mask * y + (1 - mask) * fill)
            if z is not None and mu > 0:
                num0 = num0 + mu * fft(z)
        gv, gh = gradients(x)
        keep = (gv ** 2 + gh ** 2) >= lam / beta
        # Σ_d D̄_d·F(g_d) = F(Σ_d ∂_dᵀ g_d): one transform of the backward-difference divergence, not two
        num = num0 + beta * fft(divergence_adjoint(gv * keep, gh * keep))
        X = num / (den0 + beta * dd)
        x = ifft(X)
        beta *= 2
    return x
