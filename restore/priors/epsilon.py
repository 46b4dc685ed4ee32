"""Adapter: an ε-prediction network on a discrete DDPM ᾱ table as a [0, 1]-units denoiser.

Given (x, σ) in [0, 1] units (x = x0 + σ z), with k = hi − lo for the network's ``data_range``:

1. network-units VE state  x̃' = lo + k·x,  σ' = k·σ;
2. timestep t(σ): the continuous table index whose σ_t = √((1 − ᾱ_t)/ᾱ_t) equals σ' -- linear
   interpolation in log σ between the two neighbouring table entries (exact integers at table σ's;
   ``timestep="nearest"`` rounds to the nearest integer index instead, for networks that only accept
   integer t); clamped to [0, T − 1] outside the table's range;
3. VP state  x_t = √ᾱ·x̃'  with ᾱ = 1/(1 + σ'²)  (the ᾱ that matches the actual noise level);
4. x̂0' = (x_t − √(1 − ᾱ) ε̂)/√ᾱ = x̃' − σ' ε̂,   ε̂ = net(x_t, t);
5. back to [0, 1] units: x̂0 = (x̂0' − lo)/k, optionally clipped.

Rows with σ = 0 are returned unchanged (D(x, 0) = x).  Gradients flow through (guidance needs them).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import diffusion as _diffusion  # module import: avoids a cycle with restore.diffusion
from .base import PriorBase, as_sigma

__all__ = ["EpsilonNetworkPrior"]


class EpsilonNetworkPrior(PriorBase):
    """Wrap ``net(x_t, t) -> ε̂`` trained on ``alpha_bar`` (T,) with data in ``data_range``.

    Parameters
    ----------
    net : callable (x_t (B,C,H,W), t (B,)) -> ε̂ (B,C,H,W)
    alpha_bar : (T,) the training table (index i ↔ DDPM timestep i + 1), or a ``VPSchedule``
    data_range : (lo, hi) of the training data, (-1, 1) or (0, 1)
    clip : False, True (clip x̂0 to [0, 1]) or (lo, hi) in [0, 1] units
    channels : channels the network expects (None: any)
    size_multiple : spatial sizes are reflect-padded up to a multiple of this and cropped back
    timestep : "continuous" (float t, interpolated) or "nearest" (integer t)
    """

    def __init__(self, net, alpha_bar, data_range=(-1.0, 1.0), clip=False, channels: int | None = None,
                 size_multiple: int = 1, timestep: str = "continuous"):
        if isinstance(alpha_bar, _diffusion.VPSchedule):
            alpha_bar = alpha_bar.alpha_bar
        self.net = net
        self.schedule = _diffusion.VPSchedule(torch.as_tensor(alpha_bar, dtype=torch.float64), tuple(data_range))
        self.alpha_bar = self.schedule.alpha_bar
        self.data_range = self.schedule.data_range
        if clip is True:
            clip = (0.0, 1.0)
        self.clip = clip
        self.channels = channels
        self.size_multiple = int(size_multiple)
        if timestep not in ("continuous", "nearest"):
            raise ValueError(f"timestep must be 'continuous' or 'nearest', got {timestep!r}")
        self.timestep = timestep

    def _pad(self, x: Tensor):
        m = self.size_multiple
        H, W = x.shape[-2:]
        ph, pw = (-H) % m, (-W) % m
        if ph == 0 and pw == 0:
            return x, (H, W)
        mode = "reflect" if (ph < H and pw < W) else "replicate"
        return F.pad(x, (0, pw, 0, ph), mode=mode), (H, W)

    def _net_dtype(self, x: Tensor):
        params = getattr(self.net, "parameters", None)
        if params is not None:
            for p in params():
                return p.dtype
        return x.dtype

    def denoise(self, x: Tensor, sigma) -> Tensor:
        if self.channels is not None and x.shape[1] != self.channels:
            raise ValueError(f"prior expects {self.channels} channels, got {x.shape[1]}")
        s = as_sigma(sigma, x)
        lo, _ = self.data_range
        k = self.schedule.scale
        xn = lo + k * x                       # x̃' in network units
        sn = k * s                            # σ'
        t = self.schedule.t_from_sigma(s.reshape(-1)).to(x.device)
        if self.timestep == "nearest":
            t = t.round().long()
        else:
            t = t.to(x.dtype)
        a = 1 / (1 + sn**2)                   # ᾱ matching the actual σ
        x_t = a.sqrt() * xn
        xp, (H, W) = self._pad(x_t)
        nd = self._net_dtype(x)
        eps = self.net(xp.to(nd), t if not t.is_floating_point() else t.to(nd))
        eps = eps.to(x.dtype)[..., :H, :W]
        x0n = xn - sn * eps                   # = (x_t − √(1−ᾱ) ε̂)/√ᾱ
        x0 = (x0n - lo) / k
        if self.clip:
            x0 = x0.clamp(*self.clip)
        return torch.where(s > 0, x0, x)
