"""DDRM (Kawar et al. 2022, "Denoising Diffusion Restoration Models"), in VE [0, 1] units and the
operator's spectral basis.

With c = Vᵀx_t, c̄₀ = Vᵀx̂₀ (x̂₀ = D(x_t, σ_t)), ȳ_i = (Uᵀy)_i/s_i, σ_c,i = σ_y/s_i and ξ = Vᵀz, one step
σ_t → σ' = σ_{t+1} sets, per component,

    unmeasured (s_i = 0):   c'_i = c̄₀_i + σ' (η ξ_i + √(1 − η²) (c_i − c̄₀_i)/σ_t)
    σ' < σ_c,i:             c'_i = c̄₀_i + √(1 − η²) σ' (ȳ_i − c̄₀_i)/σ_c,i + η σ' ξ_i
    σ' ≥ σ_c,i:             c'_i = (1 − η_b) c̄₀_i + η_b ȳ_i + √(σ'² − η_b² σ_c,i²) ξ_i

(the paper's Eq. 7–8 with their σ_t the VE level; the ᾱ scalings of the VP form cancel in x̃ = x/√ᾱ).
The initial state has the measured components with σ_c ≤ σ_max set to ȳ + √(σ_max² − σ_c²) ξ.
Defaults η = 0.85, η_b = 1, 20 steps (the paper's).  As in DDRM's code, singular values below
``s_min``·max(s) (default 3e-2) count as unmeasured when σ_y > 0.

DDRM needs the SVD; for an operator without one (reflect-boundary blur, compositions) ``solve``
falls back to DDNM with the same η and steps and emits a ``UserWarning`` saying so.
"""
from __future__ import annotations

import math
import warnings

import torch

from . import ddnm
from .base import Problem
from .registry import Method, register

DEFAULTS = {"steps": 20, "eta": 0.85, "eta_b": 1.0, "s_min": 3e-2}


def run(p: Problem, steps: int = DEFAULTS["steps"], eta: float = DEFAULTS["eta"],
        eta_b: float = DEFAULTS["eta_b"], s_min: float = DEFAULTS["s_min"], sigmas=None) -> torch.Tensor:
    spec = p.spectral()
    if spec is None:
        warnings.warn(f"ddrm needs an operator with an SVD ({p.A0!r} has none); using ddnm instead",
                      UserWarning, stacklevel=3)
        return ddnm.run(p, steps=steps, eta=eta, sigmas=sigmas)
    x, levels = p.begin(steps, sigmas)
    sT = levels[0][1]
    c = spec.Vt(x)
    xi = spec.Vt(p.noise.randn())
    measured, sc = spec.truncated(p.sigma_y, s_min)
    known = sc <= sT
    c = torch.where(known, spec.ybar + (sT**2 - sc.clamp(max=sT) ** 2).clamp(min=0).sqrt() * xi, c)
    x = spec.V(c)
    keep = math.sqrt(max(1.0 - eta**2, 0.0))
    sc_safe = torch.where(torch.isfinite(sc) & (sc > 0), sc, torch.ones_like(sc))  # loop-invariant
    for i, s, sn in levels:
        den = p.estimate(i, x, s)
        c, c0 = spec.Vt(x), spec.Vt(den)
        xi = spec.Vt(p.noise.randn()) if sn > 0 else torch.zeros_like(c)
        c_null = c0 + sn * (eta * xi + keep * (c - c0) / s)
        c_low = c0 + keep * sn * (spec.ybar - c0) / sc_safe + eta * sn * xi
        std_high = (sn**2 - eta_b**2 * sc.clamp(max=sn) ** 2).clamp(min=0).sqrt()
        c_high = (1 - eta_b) * c0 + eta_b * spec.ybar + std_high * xi
        c = torch.where(~measured, c_null, torch.where(sn < sc, c_low, c_high))
        x = spec.V(c)
    return x


METHOD = register(Method("ddrm", run, "Denoising diffusion restoration models: spectral-basis sampling (falls back to ddnm)",
                         DEFAULTS, svd=True, fallback="ddnm"))
