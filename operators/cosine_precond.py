"""A cosine-basis preconditioner for a blur with a mirror boundary:  Q⁻¹ ≈ (𝒜ᵀ𝒜 + λI)⁻¹.

𝒜x = k ∗ x with x mirrored outside the image ("reflect" or "symmetric", `operators.padding`) is
𝒜 = R K E: E extends x by mirroring to the torus of period N = (N₁, N₂) (`operators.cosine.period`),
K is the circular convolution there, R cuts back to the image.  For a kernel that is mirror symmetric
in each axis (k(a, b) = k(−a, b) = k(a, −b): Gaussian, box) K keeps mirror-symmetric signals mirror
symmetric, so f(𝒜) = R f(K) E for every function f, i.e. 𝒜 is diagonal in the cosine basis
(`operators.cosine`).  Then

* ``"symmetric"`` (half-sample) mirrors every sample exactly once, 𝒜ᵀ = 𝒜 and

      (𝒜ᵀ𝒜 + λI)⁻¹ = R (K² + λ)⁻¹ E                       exactly: preconditioned CG stops after one step;

* ``"reflect"`` (whole-sample) does not repeat the edge samples, so 𝒜ᵀ = D𝒜D⁻¹ with D⁻¹ = d_h⁻¹ ⊗ d_w⁻¹,
  d⁻¹ = (2, 1, …, 1, 2) (weight 2 on edge rows and columns, 4 at corners).  With G = D^½𝒜D^-½ (symmetric),
  𝒜ᵀ𝒜 + λI = D^½(G D⁻¹ G + λD⁻¹)D^½, and 1 ≤ D⁻¹ ≤ 4 puts it between D^½(G² + λ)D^½ and four times that.
  The preconditioner

      Q⁻¹ = D^-½ (G² + λ)⁻¹ D^-½ = R (K² + λ)⁻¹ E D⁻¹

  is symmetric positive definite and the preconditioned spectrum lies in [1, 4] for every λ > 0, so
  conjugate gradient gains at least a factor 3 per step however ill-conditioned 𝒜ᵀ𝒜 + λI is.

For any other kernel Q⁻¹ uses the even part of the power spectrum, t = (|K̂(ω₁, ω₂)|² + |K̂(ω₁, −ω₂)|²)/2
(|K̂|² averaged over the mirrored frequencies; equal to |K̂|² for mirror-symmetric kernels): still
symmetric positive definite, so CG still converges to the exact prox, just not in a bounded number of
steps (a camera-shake kernel: ~5–13 steps to 10⁻³ against 20–110 without; benchmarks/SPEED.md).

A circulant preconditioner on the image's own grid (F*(|K̂|² + λ)⁻¹F) is the wrong model here: it
wraps the left edge onto the right one and ignores D, so for small λ its preconditioned spectrum has
~ one outlier per edge pixel of size ~1/λ, and it is slower than no preconditioner at all.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .batch import per_image
from .cosine import MIRRORS, cosine, cosine_inverse, period


def even_power_spectrum(kernel: Tensor, h: int, w: int, mirror: str) -> Tensor:
    """t[k₁, k₂] = (|K̂(k₁, k₂)|² + |K̂(k₁, −k₂)|²)/2 on the N₁×N₂ torus, for bins k₁ < h, k₂ < w.

    K̂ is the DFT of the kernel with its centre pixel (kh//2, kw//2) at the origin (taps wrap modulo N).
    """
    n1, n2 = period(h, mirror), period(w, mirror)
    kh, kw = kernel.shape
    rows = (torch.arange(kh, device=kernel.device) - kh // 2).remainder(n1)
    cols = (torch.arange(kw, device=kernel.device) - kw // 2).remainder(n2)
    psf = kernel.new_zeros(n1 * n2)
    psf.index_add_(0, (rows[:, None] * n2 + cols[None, :]).reshape(-1), kernel.reshape(-1))
    power = torch.fft.fft2(psf.view(n1, n2)).abs() ** 2
    mirrored = torch.roll(power.flip(1), 1, dims=1)  # |K̂(k₁, −k₂)|²
    return (0.5 * (power + mirrored))[:h, :w].contiguous()


def edge_weights(h: int, w: int, mirror: str, device=None, dtype=torch.float64) -> Tensor:
    """D⁻¹: 1 everywhere for "symmetric"; for "reflect" 2 on edge rows and columns, 4 at the corners."""
    dh = torch.ones(h, device=device, dtype=dtype)
    dw = torch.ones(w, device=device, dtype=dtype)
    if mirror == "reflect":
        dh[0] = dh[-1] = 2.0
        dw[0] = dw[-1] = 2.0
    return dh[:, None] * dw[None, :]


def cosine_preconditioner(power: Tensor, weights: Tensor, lam: Tensor, mirror: str) -> Callable[[Tensor], Tensor]:
    """r ↦ Q⁻¹r = R (t + λ)⁻¹ E D⁻¹ r, computed as cosine_inverse(cosine(D⁻¹r) / (t + λ)) over both axes.

    power: t (h, w) from `even_power_spectrum`; weights: D⁻¹ (h, w) from `edge_weights`; lam: λ ≥ 0,
    a float or per-image (B,) tensor.  An image with λ = 0 gets Q⁻¹ = I (t can vanish: no inverse).
    """
    if mirror not in MIRRORS:
        raise ValueError(f"unknown mirror {mirror!r} (choose from {MIRRORS})")

    def apply(r: Tensor) -> Tensor:
        lam_b = per_image(lam, r)
        positive = lam_b > 0
        inverse = 1.0 / (power + torch.where(positive, lam_b, torch.ones_like(lam_b)))
        c = cosine(cosine(r * weights, mirror).mT, mirror).mT  # both axes, each transformed as the last one
        q = cosine_inverse(cosine_inverse((c * inverse).mT, mirror).mT, mirror)
        return q if bool(positive.all()) else torch.where(positive, q, r)

    return apply
