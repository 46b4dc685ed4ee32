"""The one random path of every sampler and guidance method: seeded, per image and per chain.

Image b of a batch has the seed s_b = ``image_seeds(seed, B)[b]`` (= ``derive_seed(seed, b)`` for an
int seed; a list of B ints is used as given), and chain j of image b (posterior sample j) owns a
CPU generator seeded by ``chain_seed(s_b, j)`` (s_b itself for j = 0).  Each noise event draws a
(C, H, W) block from every chain's generator with `standard_normal` (float32 numbers, exact in float64),
then moves it to the target device and dtype.  A chain's stream depends on nothing but (s_b, j): a
batch equals its images run one at a time, on any device, in float32 or float64 (the same numbers).

A `NoiseSource` is also a k-diffusion style ``noise_sampler(sigma, sigma_next)``: samplers receive it
and never touch a global RNG.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from operators.random import derive_seed, fresh_seed, seed_from

__all__ = ["image_seeds", "chain_seed", "standard_normal", "NoiseSource", "noise_sampler_from"]


def standard_normal(shape, generator: torch.Generator, device=None, dtype=torch.float32) -> Tensor:
    """z ~ N(0, I) of ``shape`` from a CPU ``generator``, drawn in float32 and moved to ``device``/``dtype``.

    float32 because the CPU fills it with the vectorised Box–Muller path: 3×128² draws take 0.2 ms
    against 1.1 ms in float64 (a 20-step restoration re-noises 20 times).  The numbers are exact in
    float64, so a float64 solve sees the same draws as a float32 one (benchmarks/SPEED.md, session 12)."""
    z = torch.randn(tuple(shape), generator=generator, dtype=torch.float32)
    return z.to(device=device, dtype=dtype)


def image_seeds(seed, batch: int) -> list[int]:
    """One integer seed per image: ``derive_seed(seed, b)`` for an int, a list of ``batch`` ints as
    given, fresh seeds for None, and seeds derived from one draw of a CPU ``torch.Generator``."""
    if isinstance(seed, (list, tuple)) or (isinstance(seed, Tensor) and seed.ndim == 1):
        seeds = [int(s) for s in seed]
        if len(seeds) != batch:
            raise ValueError(f"got {len(seeds)} per-image seeds for a batch of {batch}")
        return seeds
    if isinstance(seed, Tensor):
        seed = int(seed)
    base = fresh_seed() if seed is None else seed_from(seed)
    return [derive_seed(base, b) for b in range(batch)]


def chain_seed(image_seed: int, chain: int) -> int:
    """Seed of posterior chain ``chain`` of an image: the image's seed for chain 0, then derived."""
    return int(image_seed) if chain == 0 else derive_seed(int(image_seed), int(chain))


class NoiseSource:
    """Standard normal draws shaped (K·B, C, H, W), chain-major (row k·B + b), one CPU generator per
    (chain, image): chain ``chains[k]`` of image b is seeded by ``chain_seed(seeds[b], chains[k])``."""

    def __init__(self, seeds: Sequence[int], chains: Sequence[int], image_shape, device, dtype):
        self.gens = [torch.Generator().manual_seed(chain_seed(s, j)) for j in chains for s in seeds]
        self.K, self.B = len(chains), len(seeds)
        self.image_shape = tuple(image_shape)
        self.device, self.dtype = device, dtype

    def randn(self) -> Tensor:
        z = torch.stack([standard_normal(self.image_shape, g) for g in self.gens])
        return z.to(device=self.device, dtype=self.dtype)

    def __call__(self, sigma=None, sigma_next=None) -> Tensor:
        """k-diffusion's ``noise_sampler(σ, σ')``: the next draw (the levels are not used)."""
        return self.randn()


def noise_sampler_from(x: Tensor, noise_sampler=None, generator: torch.Generator | None = None):
    """The sampler's noise: ``noise_sampler`` as given, else draws shaped like ``x`` from one CPU
    ``generator`` (`standard_normal`, then x's device and dtype; a fresh seed when None)."""
    if noise_sampler is not None:
        return noise_sampler
    gens = [generator]

    def draw(sigma=None, sigma_next=None) -> Tensor:
        if gens[0] is None:  # seeded on first use: a sampler that draws nothing leaves the global RNG alone
            gens[0] = torch.Generator().manual_seed(fresh_seed())
        return standard_normal(x.shape, gens[0], x.device, x.dtype)

    return draw
