"""DiffPIR (Zhu et al. 2023, "Denoising diffusion models for plug-and-play image restoration"), in
VE [0, 1] units.

Each step: denoise, solve the data sub-problem in closed form (or by CG), then a DDIM-like step
that mixes the effective noise of the corrected estimate with fresh noise:

    x̂₀ = D(x_t, σ_t)
    x̂₀' = argmin_x ‖y − 𝒜x‖² + ρ_t ‖x − x̂₀‖²,  ρ_t = λ σ_y²/σ_t²
         = 𝒜.prox(x̂₀, y, σ_y, λ/σ_t²)             (the prox's weight ρσ² is then λσ_y²/σ_t²)
    ε̂ = (x_t − x̂₀')/σ_t,   x_{t+1} = x̂₀' + σ_{t+1} (√(1 − ζ) ε̂ + √ζ z)

σ_y and σ_t are both in [0, 1] units, so ρ_t is the paper's number.  σ_y = 0 would make the data step
a hard projection whose CG form is ill-conditioned; σ_y is floored at the 8-bit quantisation noise
1/(255√12) ≈ 1.13e-3 (``sigma_floor``).  Defaults: λ = 7, ζ = 0.3, 100 steps (the paper's values for
deblurring and super-resolution).
"""
from __future__ import annotations

import math

import torch

from ..sampling import ancestral_step
from .base import QUANTIZATION_SIGMA, Problem
from .registry import Method, register

DEFAULTS = {"steps": 100, "lam": 7.0, "zeta": 0.3}


def run(p: Problem, steps: int = DEFAULTS["steps"], lam: float = DEFAULTS["lam"], zeta: float = DEFAULTS["zeta"],
        sigma_floor: float = QUANTIZATION_SIGMA, sigmas=None) -> torch.Tensor:
    sy = p.sigma_y.reshape(-1).clamp(min=sigma_floor)
    x, levels = p.begin(steps, sigmas)
    for i, s, sn in levels:
        den = p.estimate(i, x, s)
        x0 = p.A.prox(den, p.y, sy, lam / s**2)
        if sn == 0:
            x = x0
            continue
        # the DDIM-like step is the ancestral step from x̂₀' with σ_down = √(1−ζ)σ', σ_up = √ζ σ'
        z = p.noise.randn() if zeta > 0 else None
        x = ancestral_step(x, x0, s, math.sqrt(1 - zeta) * sn, math.sqrt(zeta) * sn, z)
    return x


METHOD = register(Method("diffpir", run, "Plug-and-play: proximal data step on x̂0, then a DDIM-like step", DEFAULTS))
