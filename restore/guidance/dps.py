"""DPS (Chung et al. 2023, "Diffusion posterior sampling for general noisy inverse problems"), in VE
[0, 1] units.

Each step: x̂₀ = D(x_t, σ_t) with autograd around that one call, the residual r = y − 𝒜x̂₀ and
its per-image norm ‖r‖ (never a norm over the batch), an unconditional ancestral DDPM step, then the
gradient step

    x_{t+1} = ddpm_step(x_t, x̂₀, σ_t → σ_{t+1}) − ζ_t ∇_{x_t}‖y − 𝒜x̂₀(x_t)‖,
    ∇_{x_t}‖r‖ = −(∂x̂₀/∂x_t)ᵀ 𝒜ᵀr / ‖r‖     (= ∇‖r‖²/(2‖r‖): the paper's ζ/‖r‖ step on ‖r‖²).

Units: the paper's ζ acts on the VP variable x_vp = √ᾱ (lo + k x̃) with images in the network's
range (k = hi − lo, ‖r'‖ = k‖r‖); the same step in x̃ is ζ_t = ζ (1 + k²σ_t²)/k (= ζ(1 + 4σ_t²)/2 for
a [-1, 1] network), so ``zeta`` is the paper's number.  Default ζ = 0.3 (the paper's deblurring
setting; its ζ = 1 for super-resolution/inpainting overshoots on blur: 0.76 of the prior→posterior
shift in benchmarks/EXACTNESS.md, against 0.18 for ζ = 0.3), 1000 steps (the paper's).  DPS is
approximate for every prior.
"""
from __future__ import annotations

import torch

from operators.batch import batch_dot, per_image

from ..sampling import ddpm_step
from .base import Problem
from .registry import Method, register

DEFAULTS = {"steps": 1000, "zeta": 0.3}


def run(p: Problem, steps: int = DEFAULTS["steps"], zeta: float = DEFAULTS["zeta"], sigmas=None) -> torch.Tensor:
    k = p.schedule.scale
    x, levels = p.begin(steps, sigmas)
    tiny = torch.finfo(p.dtype).tiny
    for i, s, sn in levels:
        den, vjp = p.denoise_vjp(x, s)
        p.report(i, x, den, s)
        r = p.y - p.A(den)
        grad = vjp(-p.A.adjoint(r) / per_image(batch_dot(r, r).sqrt(), r).clamp_min(tiny))
        x = ddpm_step(x, den, s, sn, p.noise.randn() if sn > 0 else None)
        x = x - zeta * (1 + k**2 * s**2) / k * grad
    return x


METHOD = register(Method("dps", run, "Diffusion posterior sampling: gradient of ‖y − A x̂0‖ through the denoiser", DEFAULTS))
