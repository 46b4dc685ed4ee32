"""ΠGDM (Song et al. 2023, "Pseudoinverse-guided diffusion models for inverse problems"), in VE
[0, 1] units.

The likelihood of y given x_t is approximated by a Gaussian around the denoised estimate,
p(y | x_t) ≈ N(𝒜x̂₀, r_t² 𝒜𝒜ᵀ + σ_y² I), whose score is

    g = (∂x̂₀/∂x_t)ᵀ 𝒜ᵀ (r_t² 𝒜𝒜ᵀ + σ_y² I)⁻¹ (y − 𝒜x̂₀)
      = (∂x̂₀/∂x_t)ᵀ · 𝒜.prox(0, y − 𝒜x̂₀, σ_y, 1/r_t²) / r_t²

(the prox identity (𝒜ᵀ𝒜 + λI)⁻¹𝒜ᵀ = 𝒜ᵀ(𝒜𝒜ᵀ + λI)⁻¹ with λ = σ_y²/r_t²: spectral through the SVD
when there is one, conjugate gradient otherwise; σ_y = 0 gives 𝒜†).  The vector–Jacobian product is
one autograd call around the denoiser.  The conditional score (D − x)/σ² + g is turned back into a
denoiser, D_g = x̂₀ + w σ_t² g (w = ``scale``, 1 by default), and a DDIM step with η is taken with D_g.

r_t²: the paper's VP form assumes unit data variance in the network's units, r_t² = σ'²/(1 + σ'²).
In [0, 1] VE units with data variance v (v = 1/k² = ¼ for a network on [-1, 1]; ``data_var``):

    r_t² = Var[x₀ | x_t] for x₀ ~ N(·, v I) = v σ_t² / (v + σ_t²)

(exactly the paper's value, divided by k² for the change of units).  With an isotropic Gaussian prior
of variance v the approximation is exact (x̂₀ is affine in x_t and the covariance is r_t² I), so with
η = 1 (DDPM variance) ΠGDM converges to the exact posterior.  Defaults: 100 steps, η = 1.
"""
from __future__ import annotations

import torch

from ..sampling import ddim_step
from .base import Problem
from .registry import Method, register

DEFAULTS = {"steps": 100, "eta": 1.0, "scale": 1.0}


def guidance(p: Problem, x, sigma: float, data_var: float):
    """(x̂₀, g): the denoised estimate and the ΠGDM likelihood score at level σ."""
    r2 = data_var * sigma**2 / (data_var + sigma**2)
    den, vjp = p.denoise_vjp(x, sigma)
    resid = p.y - p.A(den)
    v = p.A.prox(torch.zeros_like(den), resid, p.sigma_y.reshape(-1), 1.0 / r2) / r2
    return den, vjp(v)


def run(p: Problem, steps: int = DEFAULTS["steps"], eta: float = DEFAULTS["eta"],
        scale: float = DEFAULTS["scale"], data_var: float | None = None, sigmas=None) -> torch.Tensor:
    v = p.schedule.init_scale**2 if data_var is None else float(data_var)
    x, levels = p.begin(steps, sigmas)
    for i, s, sn in levels:
        den, g = guidance(p, x, s, v)
        p.report(i, x, den, s)
        noise = p.noise.randn() if (eta > 0 and sn > 0) else None
        x = ddim_step(x, den + scale * s**2 * g, s, sn, eta, noise)
    return x


METHOD = register(Method("pigdm", run, "Pseudoinverse-guided diffusion (ΠGDM): Gaussian likelihood around x̂0", DEFAULTS))
