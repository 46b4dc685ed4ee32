"""DDNM / DDNM+ (Wang et al. 2023, "Zero-shot image restoration using denoising diffusion null-space
model"), in VE [0, 1] units.

Range–null-space decomposition of the denoised estimate, then a DDIM step with the network's ε̂
(DDNM's code uses DDRM's η: fresh noise η σ', deterministic part √(1 − η²) σ'):

    x̂₀ = D(x_t, σ_t),  ε̂ = (x_t − x̂₀)/σ_t
    x̂₀' = 𝒜†y + (I − 𝒜†𝒜) x̂₀                                          (σ_y = 0)
    x_{t+1} = x̂₀' + √(1 − η²) σ_{t+1} ε̂ + η σ_{t+1} z

Noisy measurements (DDNM+, their Eq. 17–19), in the spectral basis with σ_c,i = σ_y/s_i: the
correction of component i is scaled by Σ_i and the fresh noise reduced to γ_i so that the measurement
noise it lets in never exceeds the fresh noise the step would have added:

    η σ_{t+1} ≥ σ_c,i:  Σ_i = 1,                 γ_i = √(η² σ_{t+1}² − σ_c,i²)
    otherwise:          Σ_i = η σ_{t+1}/σ_c,i,   γ_i = 0
    c'_i = c̄₀_i + Σ_i (ȳ_i − c̄₀_i) + √(1 − η²) σ_{t+1} ε̄_i + γ_i ξ_i      (unmeasured: Σ = 0, γ = η σ_{t+1})

At σ_y = 0 this is exactly DDNM.  Like DDRM's code (which uses 3e-2), singular values below
``s_min``·max(s) (default 0.1) are treated as unmeasured when σ_y > 0: their ȳ is noisier than
10·σ_y, and re-injecting the same noisy ȳ at every step biases the result (0.1 keeps the mean
error of the circular-blur exactness problem below half the shift; 3e-2 gives 0.9 of it).

Operators without an SVD: x̂₀' = 𝒜.prox(x̂₀, y, σ_y, 1/(η σ_{t+1})²) by conjugate gradient (exactly
𝒜†y + (I − 𝒜†𝒜)x̂₀ when σ_y = 0; for σ_y > 0 a soft correction with weight
η²σ_{t+1}²/(η²σ_{t+1}² + σ_c²) per component — an approximation), then the same DDIM step.
Defaults: η = 0.85, 100 steps.  η = 0 is refused when σ_y > 0 (Σ_i = 0: y would never enter).
"""
from __future__ import annotations

import math

import torch

from .base import Problem
from .registry import Method, register

DEFAULTS = {"steps": 100, "eta": 0.85, "s_min": 0.1}


def run(p: Problem, steps: int = DEFAULTS["steps"], eta: float = DEFAULTS["eta"], s_min: float = DEFAULTS["s_min"],
        sigmas=None) -> torch.Tensor:
    if not eta > 0 and bool((p.sigma_y > 0).any()):
        raise ValueError("ddnm with sigma_y > 0 needs eta > 0: DDNM+ lets the measurement in only up to the "
                         "fresh noise eta*sigma_t of each step, so eta = 0 would ignore y")
    x, levels = p.begin(steps, sigmas)
    spec = p.spectral()
    if spec is not None:
        measured, sc = spec.truncated(p.sigma_y, s_min)
        sc_safe = torch.where(measured & (sc > 0), sc, torch.ones_like(sc))  # loop-invariant
    keep = math.sqrt(max(1.0 - eta**2, 0.0))
    for i, s, sn in levels:
        den = p.estimate(i, x, s)
        eps = (x - den) / s
        up = eta * sn
        z = p.noise.randn() if (sn > 0 and eta > 0) else None
        if spec is not None:
            full = sc <= up
            lam = torch.where(full, torch.ones_like(sc), up / sc_safe)
            lam = torch.where(measured, lam, torch.zeros_like(lam))
            gamma = torch.where(full, (up**2 - sc.clamp(max=up) ** 2).clamp(min=0).sqrt(), torch.zeros_like(sc))
            gamma = torch.where(measured, gamma, torch.full_like(gamma, up))
            c0 = spec.Vt(den)
            c = c0 + lam * (spec.ybar - c0)
            if sn > 0:
                c = c + keep * sn * spec.Vt(eps)
                if z is not None:
                    c = c + gamma * spec.Vt(z)
            x = spec.V(c)
        else:
            if sn == 0:
                exact = p.sigma_y == 0
                proj = p.A.prox(den, p.y, 0.0, 0.0) if bool(exact.any()) else den
                x = torch.where(exact, proj, den)
                continue
            x0 = p.A.prox(den, p.y, p.sigma_y.reshape(-1), 1.0 / max(up, 1e-12 * sn) ** 2)
            x = x0 + keep * sn * eps + (up * z if z is not None else 0)
    return x


METHOD = register(Method("ddnm", run, "Null-space model: x̂0 ← A†y + (I − A†A) x̂0 (DDNM+ for noisy y)", DEFAULTS))
