"""Unconditional samplers: plain loops in σ-space (k-diffusion style).

Signature: ``sample_xxx(denoiser, x, sigmas, generator=None, callback=None, noise_sampler=None, **opts) -> x0``

- ``denoiser(x, sigma_batch) -> D(x, σ)`` with ``sigma_batch`` of shape (B,), [0, 1] units;
- ``x``: the initial state at ``sigmas[0]`` (e.g. c + √(σ_0² + s²) z), ``sigmas`` decreasing to 0;
- noise comes from ``noise_sampler(σ, σ')`` (k-diffusion style, e.g. a per-image
  `restore.sampling.noise.NoiseSource`); without one, from the CPU ``generator`` in float64, moved to
  x's device and dtype (same seed ⇒ same numbers on every device and in float32/float64).  A loop never
  calls the global RNG;
- ``callback(i, x, denoised, sigma)`` is called once per step with the state before the update.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .noise import noise_sampler_from
from .steps import ddim_step, ddpm_step, heun_step, langevin_step, reverse_diffusion_step, vp_sde_step

__all__ = ["sample_ddpm", "sample_ddim", "sample_sde", "sample_ode", "sample_pc"]


def _sigma_batch(sigma: Tensor, x: Tensor) -> Tensor:
    return sigma.to(x.device, x.dtype).expand(x.shape[0])


def _grid(sigmas, x: Tensor) -> Tensor:
    sigmas = torch.as_tensor(sigmas).to(x.device, x.dtype)
    if sigmas.ndim != 1 or sigmas.shape[0] < 2 or sigmas[-1] != 0 or (sigmas[1:] >= sigmas[:-1]).any():
        raise ValueError("sigmas must be a strictly decreasing 1-d grid ending in 0")
    return sigmas


def sample_ddpm(denoiser, x: Tensor, sigmas, generator=None, callback=None, variance: str = "beta",
                data_range=(-1.0, 1.0), noise_sampler=None) -> Tensor:
    """Ancestral DDPM sampling on a VP-discrete grid (``get_sigmas_vp``), see ``ddpm_step``.

    Default ``variance="beta"`` (σ_t² = β_t, DDPM's "fixedlarge", used for its CIFAR-10 samples); measured on
    a 2-D mixture with component std ≈ 0.1 it has ~2% covariance bias at 1000 steps vs ~6% for "beta_tilde"."""
    sigmas = _grid(sigmas, x)
    noise = noise_sampler_from(x, noise_sampler, generator)
    for i in range(len(sigmas) - 1):
        s, sn = sigmas[i], sigmas[i + 1]
        den = denoiser(x, _sigma_batch(s, x))
        if callback is not None:
            callback(i, x, den, s)
        z = noise(s, sn) if sn > 0 else None
        x = ddpm_step(x, den, s, sn, z, variance=variance, data_range=data_range)
    return x


def sample_ddim(denoiser, x: Tensor, sigmas, generator=None, callback=None, eta: float = 0.0,
                noise_sampler=None) -> Tensor:
    """DDIM sampling (η = 0: deterministic, no noise is drawn), see ``ddim_step``."""
    sigmas = _grid(sigmas, x)
    noise = noise_sampler_from(x, noise_sampler, generator)
    for i in range(len(sigmas) - 1):
        s, sn = sigmas[i], sigmas[i + 1]
        den = denoiser(x, _sigma_batch(s, x))
        if callback is not None:
            callback(i, x, den, s)
        z = noise(s, sn) if (eta > 0 and sn > 0) else None
        x = ddim_step(x, den, s, sn, eta, z)
    return x


def sample_sde(denoiser, x: Tensor, sigmas, generator=None, callback=None, data_range=(-1.0, 1.0),
               noise_sampler=None) -> Tensor:
    """Reverse-time VP SDE by Euler–Maruyama (Song et al. 2021b), see ``vp_sde_step``."""
    sigmas = _grid(sigmas, x)
    noise = noise_sampler_from(x, noise_sampler, generator)
    for i in range(len(sigmas) - 1):
        s, sn = sigmas[i], sigmas[i + 1]
        den = denoiser(x, _sigma_batch(s, x))
        if callback is not None:
            callback(i, x, den, s)
        z = noise(s, sn) if sn > 0 else None
        x = vp_sde_step(x, den, s, sn, z, data_range=data_range)
    return x


def sample_ode(denoiser, x: Tensor, sigmas, generator=None, callback=None, noise_sampler=None) -> Tensor:
    """Probability-flow ODE dx̃/dσ = (x̃ − D)/σ by Heun's 2nd-order method (Karras et al. 2022, Alg. 1
    without churn; the last step to σ = 0 is Euler, i.e. returns D).  Deterministic; ``generator`` unused."""
    sigmas = _grid(sigmas, x)
    noise = noise_sampler_from(x, noise_sampler, generator)
    for i in range(len(sigmas) - 1):
        s, sn = sigmas[i], sigmas[i + 1]
        den = denoiser(x, _sigma_batch(s, x))
        if callback is not None:
            callback(i, x, den, s)
        x = heun_step(denoiser, x, den, s, sn)
    return x


def sample_pc(denoiser, x: Tensor, sigmas, generator=None, callback=None, snr: float = 0.16,
              n_corrector: int = 1, step_size: str = "sigma", max_step: float = 0.5, noise_sampler=None) -> Tensor:
    """Predictor–corrector sampling (Song et al. 2021b, Alg. 2): at each σ_i, ``n_corrector`` Langevin
    steps targeting p_{σ_i} (``langevin_step``), then a reverse-diffusion predictor step σ_i → σ_{i+1}
    (``reverse_diffusion_step``).  NFE = (n_corrector + 1) per step."""
    sigmas = _grid(sigmas, x)
    noise = noise_sampler_from(x, noise_sampler, generator)
    for i in range(len(sigmas) - 1):
        s, sn = sigmas[i], sigmas[i + 1]
        sb = _sigma_batch(s, x)
        for _ in range(n_corrector):
            x = langevin_step(x, denoiser(x, sb), s, noise(s, s), snr=snr,
                              step_size=step_size, max_step=max_step)
        den = denoiser(x, sb)
        if callback is not None:
            callback(i, x, den, s)
        z = noise(s, sn) if sn > 0 else None
        x = reverse_diffusion_step(x, den, s, sn, z)
    return x
