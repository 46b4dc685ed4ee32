"""Cosine transforms along the last axis: the DFT of a mirror-symmetric extension, by a real FFT.

A filter that is even in frequency maps mirror-symmetric signals to mirror-symmetric signals, so on
an image extended by mirroring it acts as a diagonal in a cosine basis.  The two mirrors of
`operators.padding`:

* ``"reflect"`` (whole-sample, d c b | a b c d | c b a): the extension  u = [x₀ … x_{n−1}, x_{n−2} … x₁]
  has period N = 2(n − 1) and a real DFT  c_k = û_k = x₀ + (−1)^k x_{n−1} + 2 Σ_{j=1}^{n−2} x_j cos(πjk/(n−1)),
  k = 0 … n − 1 (the DCT-I).  The transform is its own inverse up to N:  cosine(cosine(x)) = N·x.
* ``"symmetric"`` (half-sample, c b a | a b c d | d c b): u = [x₀ … x_{n−1}, x_{n−1} … x₀] has period
  N = 2n and DFT  û_k = e^{iπk/N} c_k,  c_k = 2 Σ_j x_j cos(πk(2j + 1)/N),  k = 0 … n − 1, û_n = 0 (the DCT-II).

``cosine(x, mirror)`` returns c (real, n entries), ``cosine_inverse(c, mirror)`` returns x: the inverse
DFT of the extension's spectrum rebuilt from c, cut back to n samples.  So ``cosine_inverse(t·cosine(x))``
for a real t indexed by the DFT bins k = 0 … n − 1 is the circular filter with the even transfer t on the
torus of period N, applied to the mirrored x and cut back.  Both work on the last axis, which is
contiguous; transpose (``.mT``) for the other one.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

MIRRORS = ("reflect", "symmetric")


def period(n: int, mirror: str) -> int:
    """N: the period of the mirror-symmetric extension of n samples (2(n − 1) for reflect, 2n for symmetric)."""
    if mirror not in MIRRORS:
        raise ValueError(f"unknown mirror {mirror!r} (choose from {MIRRORS})")
    return 2 * (n - 1) if mirror == "reflect" else 2 * n


def _extend(x: Tensor, mirror: str) -> Tensor:
    back = x.flip(-1)
    if mirror == "reflect":
        back = back[..., 1:-1]
    return torch.cat([x, back], -1)


def _half_shift(n: int, like: Tensor, sign: float) -> Tensor:
    """e^{sign·iπk/(2n)} for k = 0 … n − 1."""
    k = torch.arange(n, device=like.device, dtype=like.dtype)
    return torch.polar(torch.ones_like(k), sign * math.pi * k / (2 * n))


def cosine(x: Tensor, mirror: str) -> Tensor:
    """c_k, k = 0 … n − 1: the DFT of x's mirror-symmetric extension along the last axis (real; see the module)."""
    n = x.shape[-1]
    if n < 2:
        raise ValueError("a cosine transform needs at least 2 samples")
    spectrum = torch.fft.rfft(_extend(x, mirror), dim=-1)
    if mirror == "reflect":
        return spectrum.real
    return (spectrum[..., :n] * _half_shift(n, x, -1.0)).real


def cosine_inverse(c: Tensor, mirror: str) -> Tensor:
    """x with ``cosine(x, mirror) == c`` (last axis)."""
    n = c.shape[-1]
    N = period(n, mirror)
    if mirror == "reflect":
        return cosine(c, mirror) / N
    shifted = c * _half_shift(n, c, 1.0)
    spectrum = torch.cat([shifted, torch.zeros_like(shifted[..., :1])], -1)
    return torch.fft.irfft(spectrum, n=N, dim=-1)[..., :n]
