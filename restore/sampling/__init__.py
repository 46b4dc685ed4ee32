"""Unconditional sampling: grids, one-step updates, sampler loops and ``restore.sample``.

Initial state
-------------
Samplers run on the [0, 1]-units VE state x̃ = x0 + σ z.  A VP sampler starts from x_T ~ N(0, I) in the
network's units; in [0, 1] VE units that is *exactly*

    x̃_T = c + √(σ_T² + s²) z,   c = −lo/(hi − lo),  s = 1/(hi − lo)     ((-1, 1) data: c = ½, s = ½),

the true marginal p_{σ_T} if the data were N(c, s² I) -- the usual VP assumption, whose error is
O(‖data − c‖²/σ_T²) (σ_T ≈ 78.7 for the DDPM linear table: ~1e-4, far below Monte-Carlo error).
``init="vp"`` (default) does this for every sampler (the ODE's Karras grid starts at the same σ_T).
``init="marginal"`` instead draws x̃_T from the true marginal, x0 + σ_T z with x0 ~ ``prior.sample``
(analytic priors): exact for any σ_T, useful for short grids.
"""
from __future__ import annotations

import torch

from ..diffusion import VPSchedule
from .grids import get_sigmas, get_sigmas_karras, get_sigmas_vp, vp_timesteps
from .noise import NoiseSource, chain_seed, image_seeds, standard_normal
from .samplers import sample_ddim, sample_ddpm, sample_ode, sample_pc, sample_sde
from .steps import (ancestral_sigmas, ancestral_step, ddim_step, ddpm_step, euler_step, heun_step, langevin_step,
                    pf_ode_derivative, reverse_diffusion_step, vp_sde_step)

__all__ = [
    "sample", "SAMPLERS", "DEFAULT_STEPS", "initial_state", "resolve_schedule", "sampler_sigmas",
    "get_sigmas", "get_sigmas_vp", "get_sigmas_karras", "vp_timesteps", "NoiseSource", "image_seeds",
    "chain_seed",
    "sample_ddpm", "sample_ddim", "sample_sde", "sample_ode", "sample_pc",
    "ddpm_step", "ddim_step", "ancestral_step", "ancestral_sigmas", "pf_ode_derivative", "euler_step", "heun_step",
    "vp_sde_step", "reverse_diffusion_step", "langevin_step",
]

SAMPLERS = {"ddpm": sample_ddpm, "ddim": sample_ddim, "sde": sample_sde, "ode": sample_ode, "pc": sample_pc}
#: default number of grid steps (NFE: ode 2·steps − 1, pc (n_corrector + 1)·steps, others = steps)
DEFAULT_STEPS = {"ddpm": 1000, "ddim": 100, "sde": 1000, "ode": 40, "pc": 500}


def resolve_schedule(prior, schedule=None) -> VPSchedule:
    """None → the prior's own ``schedule`` (e.g. ``EpsilonNetworkPrior``) or the DDPM linear table on (-1, 1);
    "linear" / "cosine" → that table on the prior's ``data_range`` (default (-1, 1)); a (T,) ᾱ tensor; a VPSchedule."""
    if isinstance(schedule, VPSchedule):
        return schedule
    data_range = tuple(getattr(prior, "data_range", (-1.0, 1.0)))
    if schedule is None:
        own = getattr(prior, "schedule", None)
        return own if isinstance(own, VPSchedule) else VPSchedule.linear(data_range=data_range)
    if isinstance(schedule, str):
        return VPSchedule.from_name(schedule, data_range=data_range)
    return VPSchedule(torch.as_tensor(schedule, dtype=torch.float64), data_range)


def sampler_sigmas(sampler: str, steps: int, schedule: VPSchedule, rho: float = 7.0):
    """The grid a sampler uses: VP table sub-sequence (ddpm, ddim, sde, pc) or Karras (ode), then 0."""
    if sampler == "ode":
        return get_sigmas_karras(steps, schedule.sigma_min, schedule.sigma_max, rho)
    return get_sigmas_vp(schedule, steps)


def initial_state(shape, sigma_max: float, schedule: VPSchedule, noise, prior=None, init: str = "vp",
                  generator=None):
    """x̃ at σ_max from the noise source ``noise`` (draws shaped ``shape``):
    ``"vp"`` → c + √(σ_max² + s²) z;  ``"marginal"`` → x0 + σ_max z, x0 ~ prior.sample(B, generator)."""
    if init == "vp":
        scale = (sigma_max**2 + schedule.init_scale**2) ** 0.5
        return schedule.init_center + scale * noise()
    if init == "marginal":
        if not hasattr(prior, "sample"):
            raise ValueError("init='marginal' needs a prior with a sample(n, seed) method")
        x0 = prior.sample(shape[0], generator)
        z = noise()
        return x0.to(z.device, z.dtype).reshape(shape) + sigma_max * z
    raise ValueError(f"init must be 'vp' or 'marginal', got {init!r}")


def sample(prior, shape, sampler: str = "ddim", steps: int | None = None, seed=0, device=None,
           dtype=torch.float32, schedule=None, callback=None, init: str = "vp", sigmas=None, rho: float = 7.0,
           **options):
    """Draw ``shape[0]`` unconditional samples (B, C, H, W) in [0, 1] units from ``prior``.

    ``sampler``: "ddpm" (options ``variance``), "ddim" (``eta``), "sde", "ode", "pc" (``snr``, ``n_corrector``);
    ``steps``: grid steps (default ``DEFAULT_STEPS[sampler]``); ``seed``: int or a CPU torch.Generator -- one
    generator feeds the initial noise and every sampler draw, in float64 moved to ``device``/``dtype`` (the
    same numbers on every device and in float32/float64, up to rounding; one stream for the batch, so
    distribution checks can draw 10⁵ tiny samples at once); ``schedule``: see ``resolve_schedule``;
    ``sigmas``: an explicit grid (overrides steps/schedule grid); ``init``: see module docstring.
    Runs under ``torch.no_grad``.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {sorted(SAMPLERS)}")
    shape = tuple(int(v) for v in shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4:
        raise ValueError(f"shape must be (B, C, H, W), got {shape}")
    channels = getattr(prior, "channels", None)
    if channels is not None and shape[1] != channels:
        raise ValueError(f"prior models {channels} channels, shape asks for {shape[1]}")
    sch = resolve_schedule(prior, schedule)
    if sigmas is None:
        sigmas = sampler_sigmas(sampler, DEFAULT_STEPS[sampler] if steps is None else int(steps), sch, rho)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
    device = torch.device("cpu") if device is None else torch.device(device)
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))

    def noise(sigma=None, sigma_next=None):  # the batch's one stream, drawn on the CPU, then moved
        return standard_normal(shape, generator, device, dtype)
    denoiser = prior.denoise if hasattr(prior, "denoise") else prior
    if sampler in ("ddpm", "sde"):
        options.setdefault("data_range", sch.data_range)
    with torch.no_grad():
        x = initial_state(shape, float(sigmas[0]), sch, noise, prior, init, generator)
        return SAMPLERS[sampler](denoiser, x, sigmas.to(device, dtype), callback=callback, noise_sampler=noise,
                                 **options)
