"""Measurement noise models.

`GaussianNoise`: y = 𝒜x + σ z, z ~ N(0, I), seen as the end point of a Brownian path

    Y_t = 𝒜x + σ W_t,   t ∈ [0, 1],   W standard Brownian motion,  y = Y_1.

For a given seed the whole path is fixed: W_1 = z is the first draw of the seed's stream (so
``path(ax, 1, seed) == noise(ax, seed)`` bit for bit), and W_t for t < 1 is filled in by the
Brownian bridge  W_t | W_1 ~ N(t·z, t(1 − t)).  To make the *joint* law of several calls with the
same seed Brownian (Cov(W_s, W_t) = min(s, t), not just the right marginals), the bridge is built
as a "Brownian tree": [0, 1] is bisected towards t, each midpoint m of [a, b] gets
W_m = (W_a + W_b)/2 + √((b − a)/4)·ξ_node with ξ_node drawn from a stream derived from (seed, node),
and after `depth` levels the last interval is bridged, W_t = W_a + (t − a)/(b − a)·(W_b − W_a) +
√((t − a)(b − t)/(b − a))·ξ_leaf.  Every W_t is exactly N(0, t); joint laws are exact for dyadic
times and otherwise off by at most 2^−depth/4 in covariance (times in the same leaf share ξ_leaf).

`PoissonNoise`: y = Poisson(g·𝒜x)/g (gain g = photons per unit intensity; 𝒜x clamped at 0).

Draws happen on a CPU generator and are moved to 𝒜x's device (`operators.random`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import per_image
from .random import Seed, derive_seed, generator, randn, seed_from

_LEAF = 1 << 40


class GaussianNoise:
    """y = 𝒜x + σ z with σ a float or per-image (B,) tensor (same [0, 1] units as the images)."""

    def __init__(self, sigma=0.05, depth: int = 16):
        if isinstance(sigma, (int, float)) and not (math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"noise level sigma must be finite and ≥ 0, got {sigma}")
        self.sigma = sigma
        self.depth = depth

    def __call__(self, ax: Tensor, seed: Seed = None) -> Tensor:
        return self.noise(ax, seed)

    def noise(self, ax: Tensor, seed: Seed = None) -> Tensor:
        """y = 𝒜x + σ z, z = W_1 drawn from ``seed``."""
        z = randn(ax.shape, generator(seed), ax.device, ax.dtype)
        return ax + per_image(self.sigma, ax) * z

    def path(self, ax: Tensor, t: float, seed: Seed = None) -> Tensor:
        """Y_t = 𝒜x + σ W_t for t ∈ [0, 1] (a float); consistent across calls with the same int seed.

        With a ``torch.Generator`` as seed, W_1 is its next draw (as in `noise`) and the bridge
        streams derive from one more integer drawn from it.
        """
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"path time t must be in [0, 1], got {t}")
        g = generator(seed)
        base = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        z = randn(ax.shape, g, ax.device, ax.dtype)
        if base is None:
            base = seed_from(g)
        return ax + per_image(self.sigma, ax) * self._bridge(z, t, base)

    def _bridge(self, z: Tensor, t: float, base: int) -> Tensor:
        """W_t given W_1 = z, by the seeded Brownian tree described in the module docstring."""
        if t == 1.0:
            return z
        if t == 0.0:
            return torch.zeros_like(z)

        def xi(*key):
            return randn(z.shape, derive_seed(base, *key), z.device, z.dtype)

        a, b, wa, wb, node = 0.0, 1.0, torch.zeros_like(z), z, 1
        for _ in range(self.depth):
            m = 0.5 * (a + b)
            wm = 0.5 * (wa + wb) + math.sqrt(0.25 * (b - a)) * xi(node)
            if t == m:
                return wm
            if t < m:
                b, wb, node = m, wm, 2 * node
            else:
                a, wa, node = m, wm, 2 * node + 1
        frac = (t - a) / (b - a)
        return wa + frac * (wb - wa) + math.sqrt((t - a) * (b - t) / (b - a)) * xi(_LEAF, node)

    def __repr__(self):
        return f"GaussianNoise(sigma={self.sigma})"


class PoissonNoise:
    """y = Poisson(g·𝒜x)/g, the shot noise of g photons per unit intensity (𝒜x < 0 is clamped to 0)."""

    def __init__(self, gain: float = 100.0):
        if not (math.isfinite(gain) and gain > 0):
            raise ValueError(f"Poisson gain must be finite and > 0, got {gain}")
        self.gain = gain

    def __call__(self, ax: Tensor, seed: Seed = None) -> Tensor:
        return self.noise(ax, seed)

    def noise(self, ax: Tensor, seed: Seed = None) -> Tensor:
        rate = ax.detach().to("cpu", torch.float64).clamp_min(0) * self.gain
        counts = torch.poisson(rate, generator=generator(seed))
        return (counts / self.gain).to(device=ax.device, dtype=ax.dtype)

    def __repr__(self):
        return f"PoissonNoise(gain={self.gain})"


def measured_entries(A, x_shape, dtype=torch.float32, device=None) -> Tensor:
    """1 where 𝒜 measures an entry of y and 0 on its zero rows (e.g. inpainting's holes):

        m = 1[𝒜r ≠ 0],   r ~ U(½, 3/2) i.i.d. (a fixed probe: a row of 𝒜 is zero iff (𝒜r)ᵢ = 0, a.s.;
                          unlike 𝒜1 it is not fooled by rows that sum to zero)"""
    probe = 0.5 + torch.rand(tuple(x_shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (A(probe.to(device=device, dtype=dtype)) != 0).to(dtype)


def measure(x: Tensor, A, sigma_y=0.0, seed: Seed = None, t: float = 1.0) -> Tensor:
    """The measurement of x through 𝒜:  y = 𝒜x + σ_y W_t  (`GaussianNoise.path`; t = 1 is the usual
    y = 𝒜x + σ_y z), with the entries 𝒜 never measures (`measured_entries`) kept at 0:  y ← y ⊙ m.

    The one place where a sharp image becomes a measurement (``restore simulate``, the benchmark)."""
    ax = A(x)
    y = GaussianNoise(sigma_y).path(ax, t, seed)
    m = measured_entries(A, x.shape, x.dtype, x.device)
    return y if bool(m.all()) else y * m.to(y.dtype)
