"""Padding as an explicit linear map P and its adjoint Pᵀ (which folds the border back).

Padding an axis of length n by (before, after) picks, for every padded coordinate i ∈ [−before,
n + after), a source index j(i) ∈ [0, n):  xₚ[i] = x[j(i)].  So P is a gather, and its adjoint is the
matching scatter-add  (Pᵀu)[j] = Σ_{i: j(i) = j} u[i]  (for "zero" padding, P appends zeros and Pᵀ
crops).  Modes:

    reflect    d c b | a b c d | c b a      (mirror about the edge sample)
    symmetric  c b a | a b c d | d c b      (mirror about the edge, edge sample repeated)
    replicate  a a a | a b c d | d d d
    circular   b c d | a b c d | a b c
    zero       0 0 0 | a b c d | 0 0 0
"""
from __future__ import annotations

import torch
from torch import Tensor

MODES = ("reflect", "symmetric", "replicate", "circular", "zero")


def source_index(n: int, before: int, after: int, mode: str) -> torch.Tensor:
    """j(i) for i = −before … n + after − 1 (not used for mode "zero")."""
    i = torch.arange(-before, n + after)
    if mode == "replicate":
        return i.clamp(0, n - 1)
    if mode == "circular":
        return i.remainder(n)
    if mode == "reflect":
        if n == 1:
            return torch.zeros_like(i)
        period = 2 * (n - 1)
        j = i.remainder(period)
        return torch.where(j >= n, period - j, j)
    if mode == "symmetric":
        j = i.remainder(2 * n)
        return torch.where(j >= n, 2 * n - 1 - j, j)
    raise ValueError(f"unknown padding mode {mode!r} (choose from {MODES})")


def pad2d(x: Tensor, pads: tuple, mode: str) -> Tensor:
    """P x on the last two axes; pads = (top, bottom, left, right)."""
    top, bottom, left, right = pads
    if mode == "zero":
        return torch.nn.functional.pad(x, (left, right, top, bottom))
    h, w = x.shape[-2:]
    x = x.index_select(-2, source_index(h, top, bottom, mode).to(x.device))
    return x.index_select(-1, source_index(w, left, right, mode).to(x.device))


def pad2d_adjoint(u: Tensor, pads: tuple, mode: str) -> Tensor:
    """Pᵀ u: fold the padded border of u back onto the image it came from."""
    top, bottom, left, right = pads
    hp, wp = u.shape[-2:]
    h, w = hp - top - bottom, wp - left - right
    if mode == "zero":
        return u[..., top : top + h, left : left + w]
    jh = source_index(h, top, bottom, mode).to(u.device)
    jw = source_index(w, left, right, mode).to(u.device)
    v = u.new_zeros(*u.shape[:-2], h, wp).index_add_(-2, jh, u)
    return v.new_zeros(*u.shape[:-2], h, w).index_add_(-1, jw, v)
