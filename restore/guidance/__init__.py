"""Restoration with a diffusion prior, y = 𝒜x + σ_y n: two calls, two different things.

    x̂  = restore.solve(y, A, prior, method="diffpir", sigma_y=0.05, steps=None, seed=0, callback=None,
                       **options)                                   # a point estimate: (B, C, H, W)
    xs = restore.sample_posterior(y, A, prior, method="projection", sigma_y=0.05, samples=K, steps=None,
                                  seed=0, callback=None, **options)  # K posterior draws: (K·B, C, H, W)

**Point estimate** (`solve`, the default of the CLI): one image per input, at the settings tuned
for PSNR on training crops (`restore.guidance.tuned`), which may be low-variance settings and may
average M chains (``average=M``; the ×4 SR defaults do).  It is the best restoration we know how to
make, not a posterior sample: its spread says nothing about the uncertainty.  ``solve`` has no
``samples`` argument (passing one is a TypeError that points to ``sample_posterior``).

**Posterior samples** (`sample_posterior`, the CLI's ``--samples K``): K independent draws per image
at the method's sampling settings (`restore.guidance.posterior.SAMPLING`: the settings that pass the
closed-form check of benchmarks/EXACTNESS.md), never averaged (``average`` is refused) and never the
PSNR-tuned values.  Their mean is a Monte-Carlo posterior mean and their per-pixel std an
uncertainty map (benchmarks/CALIBRATION.md).  Options passed explicitly still override the table.

* ``y`` (B, C', H', W') float32/float64 measurement in [0, 1] units, ``A`` an ``operators``
  LinearOperator (the same object that produced y), ``prior`` anything with ``denoise(x, sigma)``
  (or a callable denoiser), ``sigma_y`` ≥ 0 a float or (B,) tensor in [0, 1] units.
* ``sample_posterior`` returns (K·B, C, H, W), **sample-major**: row k·B + b is sample k of image b
  (``out.view(K, B, C, H, W)``).  ``solve`` returns (B, C, H, W).  Device and dtype follow y.
* The result is clamped to [0, 1] once, at the very end (``clamp=False`` returns the raw iterate;
  intermediate states are never clamped, so the chain stays the sampler it claims to be; the
  closed-form checks use ``clamp=False`` because a Gaussian prior has mass outside [0, 1]).
* ``seed``: int, None, a CPU torch.Generator, or a list of B ints (one per image).  Image b has the
  seed s_b = ``derive_seed(seed, b)`` (or ``seed[b]``) and its chain j (posterior sample j) draws all
  its noise from its own CPU generator seeded with ``chain_seed(s_b, j)`` (s_b itself for j = 0), so
  the same seed gives the same output, and results do not depend on the batch they are solved in
  nor on how chains are grouped (see `restore.guidance.base`).
* Memory: the K·B chains (M·B with ``average``) run in groups of at most
  ``CHAIN_BATCH_PIXELS`` (2¹⁹) pixels × chains × images (`base.chain_groups`: all at once for small
  images, 2 chains at a time at 512²), so ``samples``/``average`` cost time, not memory.
* ``steps``: grid steps (None: the default of the call — tuned for ``solve``, sampling for
  ``sample_posterior``); ``sigmas=`` an explicit decreasing grid ending in 0; ``schedule=`` the VP
  table (default: the prior's own, else DDPM linear on [-1, 1]).
* ``average=M`` (``solve`` only; M ≥ 1, default 1 unless the task's tuned defaults say otherwise):
  return, per image, the mean of M chains (each clamped first) — a Monte-Carlo estimate of the
  posterior mean E[x | y] under the tuned sampler, the minimum-MSE (best PSNR) estimate, for M× the
  network evaluations.  Average m is chain j = m, so with the same options ``solve(average=M)``
  equals ``sample_posterior(samples=M).view(M, B, ...).mean(0)``.
* ``start=f`` (0 < f ≤ 1): warm start (Chung et al. 2022, "Come-closer-diffuse-faster"): the chain
  begins at the level σ of the prior's table at time ⌈f·T⌉ from 𝒜†y + σ z (𝒜's ``warm_start``; any
  estimate with ``A.started_at(x0)``) instead of from N(0, I), and ``steps`` grid points cover only that
  head of the table (DAPS: its Karras grid tops at that σ).  Not with ``sigmas=``.
* ``callback(i, x, denoised, sigma)`` once per step and group of chains, before the update (x holds
  the group's rows; i restarts at 0 for each group).
* Memory: autograd is only opened around one denoiser call (DPS, ΠGDM) and freed within the step;
  everything else runs under ``torch.no_grad``.

Methods and defaults (units: [0, 1] images; ζ, λ, η as in each paper, converted where noted):

| method     | update (module docstring has the equations)                         | defaults                                   | noise | SVD |
|------------|---------------------------------------------------------------------|--------------------------------------------|-------|-----|
| dps        | DDPM step − ζ_t ∇‖y − 𝒜x̂₀‖, ζ_t = ζ(1 + k²σ²)/k                     | steps 1000, ζ = 0.3                         | yes   | no  |
| pigdm      | DDIM(η) with D + σ²(∂x̂₀/∂x)ᵀ𝒜ᵀ(r²𝒜𝒜ᵀ + σ_y²)⁻¹(y − 𝒜x̂₀), r² = vσ²/(v+σ²) | steps 100, η = 1.0, scale 1, v = ¼          | yes   | no (CG) |
| ddrm       | spectral DDRM (Kawar et al. 2022)                                   | steps 20, η = 0.85, η_b = 1.0, s_min 0.03  | yes   | yes (else → ddnm, warns) |
| ddnm       | x̂₀ ← 𝒜†y + (I − 𝒜†𝒜)x̂₀; DDNM+ spectral Σ_t/Φ_t when σ_y > 0       | steps 100, η = 0.85, s_min 0.1             | yes   | no (CG/prox) |
| diffpir    | x̂₀ ← 𝒜.prox(x̂₀, y, σ_y, λ/σ²), DDIM-like mix ζ                      | steps 100, λ = 7.0, ζ = 0.3, σ_y ≥ 1.13e-3  | yes   | no  |
| daps       | ODE x̂₀, Langevin on p(x₀ | x̂₀, y), re-noise                           | 50 levels, 5 ODE, 20 Langevin, lr 0.5, r²=vσ²/(v+σ²) | yes   | no  |
| projection | carry measured spectral components forward to σ_t, DDPM step        | steps 200                                   | yes   | σ_y > 0 (else → pigdm, warns) |
| pinv       | 𝒜†y                                                                  | –                                          | no    | no  |
| wiener     | 𝒜.prox(m·1, y, σ_y, 1/S), per-image m, S (flat-spectrum Wiener)     | –                                          | yes   | no  |

**Per-task defaults of the point estimate.**  The table above is each method's paper setting
(``DEFAULTS``).  When the operator tells the task (blur → deblur, Downsample → sr, Inpainting →
inpaint, Identity → denoise), ``solve`` uses the values tuned for PSNR on training images
(`restore.guidance.tuned`, benchmarks/tuning/TUNING.md) for every option the caller does not pass;
``defaults(method, A)`` returns what will be used.  For super-resolution every method's tuned
default includes ``average`` > 1.  ``sample_posterior`` ignores that table: it uses
``sampling_defaults(method)`` (`restore.guidance.posterior`), the same for every task:

| method     | sampling settings (`SAMPLING`; why: `restore.guidance.posterior`)       |
|------------|--------------------------------------------------------------------------|
| projection | 200 DDPM steps (η = None)                                                |
| pigdm      | 1000 steps, η = 1, ``data_var`` = the prior's variance (¼ by default)    |
| ddrm       | 20 steps, η = 0.85, η_b = 1                                              |
| ddnm       | 100 steps, η = 0.85                                                      |
| diffpir    | 100 steps, λ = 1, ζ = 0.8                                                |
| daps       | 100 levels, x̂₀ = one denoiser call, 20 Langevin steps with noise, lr 0.5 |
| dps        | 1000 steps, ζ = 0.3 (as published)                                      |

The paper settings are as published, except DDNM's singular-value
cut-off s_min (DDRM's code uses 0.03) and DAPS's r_t (the paper's r_t = σ_t is ``r="sigma"``), both
chosen on the synthetic Gaussian problems of benchmarks/exactness.py.  s_min·max(s) is the cut-off
below which a spectral component counts as unmeasured when σ_y > 0.  Operators without an SVD: ddrm
falls back to ddnm, projection with σ_y > 0 to pigdm (both warn); pigdm, ddnm, diffpir and wiener
then solve their linear systems by conjugate gradient (slow for ill-conditioned blurs at large sizes).

Exact for an isotropic Gaussian prior N(μ, ¼I) (up to grid/Monte-Carlo error; benchmarks/EXACTNESS.md):
``projection`` and ``pigdm`` (any prior variance v with ``data_var=v``) at their sampling settings.
"""
from __future__ import annotations

import torch

# one line per method module: importing it registers it (restore.guidance.registry)
from . import baselines, daps, ddnm, ddrm, diffpir, dps, pigdm, projection, tweedie  # noqa: F401
from . import posterior, tuned
from .base import Problem, chain_groups, image_seeds
from .chains import run_chains
from . import registry
from .registry import REGISTRY, Method, register

__all__ = ["solve", "sample_posterior", "METHODS", "DEFAULTS", "SAMPLING", "COMMON_OPTIONS", "defaults",
           "sampling_defaults", "image_seeds", "chain_groups", "register", "Method", "REGISTRY"]


def __getattr__(name):
    """Views of the registry, always current (a method registered later shows up):
    METHODS name → {description, noise, svd}, DEFAULTS name → paper settings, SAMPLING name → sampling settings."""
    if name == "METHODS":
        return {k: {"description": m.description, "noise": m.noise, "svd": m.svd} for k, m in REGISTRY.items()}
    if name == "DEFAULTS":
        return {k: dict(m.defaults) for k, m in REGISTRY.items()}
    if name == "SAMPLING":
        return posterior.table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: options every sampler takes through ``solve`` (not the method's own), with their defaults
COMMON_OPTIONS = {"average": 1, "start": None}


def defaults(method: str, A=None, task: str | None = None) -> dict:
    """The options ``solve`` uses for ``method`` when none are passed: DEFAULTS, then the tuned
    per-task values for operator ``A`` (or ``task`` ∈ deblur/sr/inpaint/denoise), `restore.guidance.tuned`."""
    return tuned.options(_check_method(method), A, task)


def _check_method(method: str) -> str:
    return registry.get(method).name


def sampling_defaults(method: str) -> dict:
    """The options ``sample_posterior`` uses for ``method`` when none are passed: DEFAULTS, then
    SAMPLING (`restore.guidance.posterior`) — the same for every task, never ``average``."""
    return posterior.options(_check_method(method))


def solve(y, A, prior, method: str = "diffpir", sigma_y=0.0, steps=None, seed=0, callback=None,
          clamp: bool = True, schedule=None, **options) -> torch.Tensor:
    """Point estimate of x given y = 𝒜x + σ_y n: (B, C, H, W), one image per input, at the settings
    tuned for PSNR (may be low-variance settings and may average M chains, ``average=M``; module
    docstring).  Not a posterior sample: for K posterior draws call `sample_posterior`."""
    method = _check_method(method)
    if "samples" in options:
        raise TypeError("restore.solve returns one point estimate per image and takes no 'samples'; for K "
                        "posterior samples call restore.sample_posterior(y, A, prior, method=..., samples=K)")
    m = REGISTRY[method]
    run = m.run
    if not m.samples:  # a deterministic baseline: one run, no chains
        for name in ("steps", *COMMON_OPTIONS):
            options.pop(name, None)
        registry.check_options(m, options)
        p = Problem(y, A, prior, sigma_y, 1, seed, schedule=schedule, callback=callback)
        with torch.no_grad():
            x = run(p, **options).detach()
        return x.clamp(0, 1) if clamp else x
    options = {**tuned.options(method, A), **options}
    start = options.pop("start", COMMON_OPTIONS["start"])
    average = _check_average(options.pop("average", COMMON_OPTIONS["average"]))
    if steps is not None:
        options["steps"] = int(steps)
    x = run_chains(m, y, A, prior, sigma_y, average, seed, options, callback=callback,
                   schedule=schedule, start=start)  # rows m·B + b
    if clamp:
        x = x.clamp(0, 1)
    return x.view(average, -1, *x.shape[1:]).mean(0) if average > 1 else x


def sample_posterior(y, A, prior, method: str = "projection", sigma_y=0.0, samples: int = 1, steps=None, seed=0,
                     callback=None, clamp: bool = True, schedule=None, **options) -> torch.Tensor:
    """K = ``samples`` independent posterior draws of x given y = 𝒜x + σ_y n per image:
    (K·B, C, H, W), sample-major (row k·B + b), at the method's sampling settings
    (``sampling_defaults(method)``, checked against the closed-form Gaussian posterior), never
    averaged and never the PSNR-tuned values; options passed explicitly override the table."""
    method = _check_method(method)
    if "average" in options:
        raise ValueError("sample_posterior returns posterior samples and never averages them (an average of "
                         "M draws has 1/M of the posterior variance); for the Monte-Carlo posterior-mean "
                         "estimate call restore.solve(..., average=M), or average the samples yourself")
    samples = _whole(samples, "samples", "posterior draws")
    options = {**posterior.options(method), **options}
    start = options.pop("start", COMMON_OPTIONS["start"])
    if steps is not None:
        options["steps"] = int(steps)
    x = run_chains(REGISTRY[method], y, A, prior, sigma_y, int(samples), seed, options, callback=callback,
                   schedule=schedule, start=start)
    return x.clamp(0, 1) if clamp else x


def _whole(value, name: str, what: str) -> int:
    """``value`` as an int ≥ 1, or one clear ValueError naming ``name``."""
    try:
        whole = not isinstance(value, bool) and float(value).is_integer() and int(value) >= 1
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ValueError(f"{name} must be a whole number ≥ 1 of {what}, got {value!r}")
    return int(value)


def _check_average(average) -> int:
    return _whole(average, "average", "posterior samples")
