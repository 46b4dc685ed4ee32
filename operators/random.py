"""Seeded random draws that agree on every device.

Every draw is made on a CPU ``torch.Generator`` in float64 and then moved to the target device and
cast to the target dtype, so the same seed gives the same numbers on CPU and GPU and in float32 and
float64 (up to the final rounding).  ``seed`` is an ``int``, ``None`` (a fresh seed from torch's
global RNG, so ``torch.manual_seed`` still makes a run reproducible) or a CPU ``torch.Generator``
(whose state advances).
"""
from __future__ import annotations

from typing import Sequence, Union

import torch

Seed = Union[int, None, torch.Generator]

_MASK64 = (1 << 64) - 1


def fresh_seed() -> int:
    """A new 62-bit seed drawn from torch's global generator."""
    return int(torch.randint(0, 2**62, (1,)).item())


def generator(seed: Seed = None) -> torch.Generator:
    """A CPU generator for ``seed`` (a new one for an int or None, the same object for a generator)."""
    if isinstance(seed, torch.Generator):
        if seed.device.type != "cpu":
            raise ValueError(f"random draws use a CPU torch.Generator, got one on {seed.device}")
        return seed
    if seed is None:
        seed = fresh_seed()
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, None or a torch.Generator, got {type(seed).__name__}")
    return torch.Generator().manual_seed(seed)


def derive_seed(seed: int, *keys: int) -> int:
    """A seed for an independent stream named by ``keys`` under ``seed`` (splitmix64 mixing)."""
    h = seed & _MASK64
    for k in (0x5EED,) + tuple(keys):
        h = (h ^ (k & _MASK64)) + 0x9E3779B97F4A7C15 & _MASK64
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9 & _MASK64
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB & _MASK64
        h ^= h >> 31
    return h >> 2  # 62 bits: a valid manual_seed


def seed_from(seed: Seed) -> int:
    """An integer seed: ``seed`` itself, a fresh one for None, or one drawn from a generator."""
    if isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**62, (1,), generator=generator(seed)).item())
    if seed is None:
        return fresh_seed()
    return int(seed)


def randn(shape: Sequence[int], seed: Seed = None, device=None, dtype=torch.float32) -> torch.Tensor:
    """Standard normal z ~ N(0, I) of ``shape``, drawn on the CPU from ``seed``, then moved."""
    z = torch.randn(tuple(shape), generator=generator(seed), dtype=torch.float64)
    return z.to(device=device, dtype=dtype)


def rand(shape: Sequence[int], seed: Seed = None, device=None, dtype=torch.float32) -> torch.Tensor:
    """Uniform u ~ U[0, 1) of ``shape``, drawn on the CPU from ``seed``, then moved."""
    u = torch.rand(tuple(shape), generator=generator(seed), dtype=torch.float64)
    return u.to(device=device, dtype=dtype)
