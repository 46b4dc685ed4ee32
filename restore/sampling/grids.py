"""Noise-level grids σ_0 > σ_1 > … > σ_{n−1} > σ_n = 0 in [0, 1] units (float64)."""
from __future__ import annotations

import torch
from torch import Tensor

from ..diffusion import VPSchedule

__all__ = ["vp_timesteps", "get_sigmas_vp", "get_sigmas_karras", "get_sigmas"]


def _schedule(alpha_bar, data_range) -> VPSchedule:
    if isinstance(alpha_bar, VPSchedule):
        return alpha_bar
    return VPSchedule(torch.as_tensor(alpha_bar, dtype=torch.float64), tuple(data_range))


def vp_timesteps(T: int, steps: int) -> Tensor:
    """``steps`` evenly spaced table indices from T − 1 down to 0 (rounded, both ends included)."""
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be in [1, {T}], got {steps}")
    if steps == 1:
        return torch.tensor([T - 1])
    return torch.linspace(T - 1, 0, steps, dtype=torch.float64).round().long().unique_consecutive()


def get_sigmas_vp(alpha_bar, steps: int | None = None, data_range=(-1.0, 1.0), head: int | None = None) -> Tensor:
    """σ's of an evenly spaced sub-sequence of a discrete ᾱ table, then 0.

    σ_i = √((1 − ᾱ_{t_i})/ᾱ_{t_i}) / (hi − lo), t_i = ``vp_timesteps(T', steps)``; ``alpha_bar`` is a
    (T,) table (network on ``data_range``) or a ``VPSchedule``.  ``steps=None``: every entry used.
    ``head``: use only the first T' = ``head`` entries of the table (a warm start), else T' = T.
    """
    sch = _schedule(alpha_bar, data_range)
    T = sch.T if head is None else int(head)
    t = vp_timesteps(T, T if steps is None else int(steps))
    return torch.cat([sch.sigmas[t], torch.zeros(1, dtype=torch.float64)])


def get_sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """Karras et al. (2022) grid: σ_i = (σ_max^{1/ρ} + i/(n−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, i < n; σ_n = 0."""
    if n < 1 or not 0 < sigma_min <= sigma_max:
        raise ValueError("need n ≥ 1 and 0 < sigma_min ≤ sigma_max")
    ramp = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return torch.cat([(a + ramp * (b - a)) ** rho, torch.zeros(1, dtype=torch.float64)])


def get_sigmas(kind: str, steps: int, schedule: VPSchedule | None = None, rho: float = 7.0,
               sigma_min: float | None = None, sigma_max: float | None = None) -> Tensor:
    """Dispatcher: ``kind="vp"`` (table sub-sequence) or ``"karras"`` (σ range of the schedule unless given)."""
    schedule = VPSchedule.linear() if schedule is None else schedule
    if kind == "vp":
        return get_sigmas_vp(schedule, steps)
    if kind == "karras":
        return get_sigmas_karras(steps, schedule.sigma_min if sigma_min is None else sigma_min,
                                 schedule.sigma_max if sigma_max is None else sigma_max, rho)
    raise ValueError(f"unknown grid {kind!r}; expected 'vp' or 'karras'")
