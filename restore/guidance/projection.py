"""Projection (score-SDE style, Song et al. 2022 "Solving inverse problems in medical imaging with
score-based generative models"), written as the exact Brownian bookkeeping of DESIGN.md.

In the operator's singular basis the measured coefficient ȳ_i = (Uᵀy)_i/s_i is x's component i seen
at noise σ_c,i = σ_y/s_i, an earlier point of the same Brownian path as x_t.  At every grid level σ_t,
before the denoiser call, every component that is already known at that level is *carried forward*:

    where σ_t ≥ σ_c,i:   (Vᵀx_t)_i ← ȳ_i + √(σ_t² − σ_c,i²) ξ_i,    ξ = Vᵀ(fresh N(0, I) draw),

other components (unmeasured, or measured more noisily than σ_t) are left to the prior.  Then one
unconditional ancestral DDPM step σ_t → σ_{t+1} (`restore.sampling.ddpm_step`, β̃ variance; ``eta`` = a
number takes a DDIM(η) step instead, η = 0 deterministic between the carry-forwards).  After
the last step (σ = 0) components with σ_c = 0 (σ_y = 0) are set to ȳ exactly.

Exactness: for a prior whose spectral components are independent (isotropic Gaussian N(μ, s²I)
with any orthonormal V) the replaced component is an exact draw of x_t,i | y_i, the rest of the
chain is the unconditional reverse process, so the output converges to the exact posterior as the
grid is refined; the only bias is that a component is last replaced at the grid level just above
σ_c,i instead of at σ_c,i itself (relative mean error ≤ ½·Δlog σ of the grid).

Operators without an SVD (reflect/zero-boundary blur, compositions): with σ_y = 0 every measured
component is known at every level and Song et al.'s data-space projection is the same bookkeeping,
x_t ← x_t + 𝒜†(y + σ_t 𝒜ξ − 𝒜x_t) (𝒜† by conjugate gradient).  With σ_y > 0 the per-component
levels σ_c,i cannot be told apart without the SVD, and a soft data-space pull repeated at every step
accumulates the same measurement noise; ``solve`` then uses ΠGDM (the Gaussian-likelihood version
of the same pull) and emits a ``UserWarning`` saying so.
"""
from __future__ import annotations

import warnings

import torch

from . import pigdm
from ..sampling import ddim_step, ddpm_step
from .base import Problem
from .registry import Method, register

DEFAULTS = {"steps": 200, "eta": None}


def carry_forward(p: Problem, x, sigma: float):
    """Replace the components of x known at level σ by the measurement carried forward to σ."""
    spec = p.spectral()
    if spec is not None:
        known = spec.sigma_c <= sigma
        if sigma == 0 and not bool(known.any()):
            return x
        c = spec.Vt(x)
        xi = spec.Vt(p.noise.randn()) if sigma > 0 else torch.zeros_like(c)
        std = (sigma**2 - spec.sigma_c.clamp(max=sigma) ** 2).clamp(min=0).sqrt()
        return spec.V(torch.where(known, spec.ybar + std * xi, c))
    if sigma == 0:
        exact = p.sigma_y == 0
        if not bool(exact.any()):
            return x
        proj = p.A.prox(x, p.y, 0.0, 0.0)
        return torch.where(exact, proj, x)
    y_t = p.y + sigma * p.A(p.noise.randn())
    return p.A.prox(x, y_t, 0.0, 0.0)


def run(p: Problem, steps: int = DEFAULTS["steps"], eta: float | None = DEFAULTS["eta"], sigmas=None) -> torch.Tensor:
    if p.spectral() is None and bool((p.sigma_y > 0).any()):
        warnings.warn(f"projection with sigma_y > 0 needs an operator with an SVD ({p.A0!r} has none); "
                      "using pigdm instead", UserWarning, stacklevel=3)
        return pigdm.run(p, sigmas=sigmas, **({} if sigmas is not None else {"steps": steps}))
    x, levels = p.begin(steps, sigmas)
    for i, s, sn in levels:
        x = carry_forward(p, x, s)
        den = p.estimate(i, x, s)
        z = p.noise.randn() if sn > 0 and eta != 0 else None
        x = ddpm_step(x, den, s, sn, z) if eta is None else ddim_step(x, den, s, sn, eta, z)
    return carry_forward(p, x, 0.0)


METHOD = register(Method("projection", run, "Score-SDE projection: carry y's spectral components forward to σ_t",
                         DEFAULTS, fallback="pigdm"))
