"""Sampling settings: the options `restore.sample_posterior` uses, one table per method, chosen so
that the draws are posterior samples — checked against the closed-form posterior of an isotropic
Gaussian prior (benchmarks/exactness.py, benchmarks/EXACTNESS.md), never tuned for PSNR.

    options(method) = {**DEFAULTS[method], **SAMPLING[method]}      (the same for every task)

With x ~ N(μ, v I), y = 𝒜x + σ_y n the posterior is N(m_post, Σ_post),
Σ_post = (𝒜ᵀ𝒜/σ_y² + I/v)⁻¹, m_post = Σ_post(𝒜ᵀy/σ_y² + μ/v) (`restore.guidance.exact`); a setting
is kept when K draws have a mean within a small fraction of ‖m_post − μ‖ (the prior→posterior shift)
and a spread close to Σ_post.  Why each value (8×8×3 images, σ_y = 0.05, 256 draws; the table with
every number is benchmarks/EXACTNESS.md):

* projection — DDPM ancestral steps (η = None; the PSNR-tuned deblur/denoise η = 0 keeps 0.09 of the
  posterior variance and misses the mean by 1.7 shifts), 200 steps (the paper's): exact up to the
  grid.  At 100 steps the coarse grid near σ_c = σ_y/s keeps only ~0.7 of the variance of the
  well-measured components (the whitened check of `restore.guidance.exact` sees it; 200 pass).
* pigdm — η = 1 (DDPM variance), 1000 steps; exact when the prior's variance is ``data_var``
  (default: the schedule's, ¼ for a [-1, 1] network; pass ``data_var=v`` for another v).  The DDIM
  step drops the (1 − σ'²/σ²)² Var[x₀ | x_t, y] term of the exact reverse kernel: the well-measured
  components keep 0.63 / 0.77 / 0.92 of their variance at 100 / 200 / 1000 steps.
* ddrm — the paper's η = 0.85, η_b = 1, 20 steps (100 steps re-inject the noisy weak components
  more often: 0.53 of the shift on blur; η = 1 under-disperses to 0.44–0.49 of the variance).
* ddnm — the paper's η = 0.85, 100 steps (η = 1 under-disperses to 0.47–0.50).
* diffpir — λ = 1, ζ = 0.8, 100 steps.  λ = 1 makes the data step the mode of the Gaussian
  approximation N(x₀; x̂₀, σ_t²) N(y; 𝒜x₀, σ_y²) (ρ_t = σ_y²/σ_t²); the paper's λ = 7 over-weights
  x̂₀ (0.39 of the shift on blur), ζ = 1 under-disperses (0.46 of the variance).
* daps — x̂₀ = one denoiser call (``ode_steps`` = 1: E[x₀ | x_t], the mean the Langevin target
  N(x₀; x̂₀, r_t²) assumes; a 5-step ODE x̂₀ is sample-like and the draws over-disperse ×1.6–2.0),
  Langevin noise on (``noise`` = 1), 100 annealing levels.
* dps — as published: ζ = 0.3, 1000 steps (at 100 steps it lands 0.4–0.75 of the shift away).

``average`` is never a sampling setting: an average of M draws has 1/M of the posterior variance.
"""
from __future__ import annotations

__all__ = ["SAMPLING", "options", "table"]

#: method → the options that make its draws posterior samples (on top of the method's DEFAULTS)
SAMPLING: dict[str, dict] = {
    "projection": {"steps": 200, "eta": None},
    "pigdm": {"steps": 1000, "eta": 1.0, "scale": 1.0},
    "ddrm": {"steps": 20, "eta": 0.85, "eta_b": 1.0},
    "ddnm": {"steps": 100, "eta": 0.85},
    "diffpir": {"steps": 100, "lam": 1.0, "zeta": 0.8},
    "daps": {"steps": 100, "ode_steps": 1, "langevin_steps": 20, "lr": 0.5, "noise": 1.0},
    "dps": {"steps": 1000, "zeta": 0.3},
}


def options(method: str) -> dict:
    """The sampling options of ``method``: its DEFAULTS overridden by SAMPLING (no ``average``).  A
    registered method absent from SAMPLING samples at its DEFAULTS (unchecked against the closed form)."""
    from .registry import REGISTRY, get
    m = get(method)
    if not m.samples:
        raise ValueError(f"{method!r} has no posterior samples (a deterministic baseline); sample with one of: "
                         f"{', '.join(k for k, v in REGISTRY.items() if v.samples)}")
    return {**m.defaults, **SAMPLING.get(m.name, {})}


def table() -> dict:
    """method → its sampling options, for every registered method that has posterior samples."""
    from .registry import REGISTRY
    return {k: options(k) for k, m in REGISTRY.items() if m.samples}
