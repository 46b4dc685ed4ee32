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


def _reflect_fits(h: int, w: int, pads: tuple) -> bool:
    """Every reflected sample lies inside the image: the pads are shorter than the axis (one mirror)."""
    top, bottom, left, right = pads
    return max(top, bottom) < h and max(left, right) < w


def pad2d(x: Tensor, pads: tuple, mode: str) -> Tensor:
    """P x on the last two axes; pads = (top, bottom, left, right)."""
    top, bottom, left, right = pads
    if mode == "zero":
        return torch.nn.functional.pad(x, (left, right, top, bottom))
    h, w = x.shape[-2:]
    if mode == "reflect" and x.dim() == 4 and _reflect_fits(h, w, pads):
        # the same gather as below, as torch's own reflection kernel (faster than two index_selects)
        return torch.nn.functional.pad(x, (left, right, top, bottom), mode="reflect")
    x = x.index_select(-2, source_index(h, top, bottom, mode).to(x.device))
    return x.index_select(-1, source_index(w, left, right, mode).to(x.device))


def pad2d_adjoint(u: Tensor, pads: tuple, mode: str) -> Tensor:
    """Pᵀ u: fold the padded border of u back onto the image it came from."""
    top, bottom, left, right = pads
    hp, wp = u.shape[-2:]
    h, w = hp - top - bottom, wp - left - right
    if mode == "zero":
        return u[..., top : top + h, left : left + w]
    if mode == "reflect" and _reflect_fits(h, w, pads):
        return _fold_reflect(_fold_reflect(u, top, bottom, -2), left, right, -1)
    jh = source_index(h, top, bottom, mode).to(u.device)
    jw = source_index(w, left, right, mode).to(u.device)
    v = u.new_zeros(*u.shape[:-2], h, wp).index_add_(-2, jh, u)
    return v.new_zeros(*u.shape[:-2], h, w).index_add_(-1, jw, v)


def _fold_reflect(u: Tensor, before: int, after: int, dim: int) -> Tensor:
    """Pᵀ of a one-mirror reflect padding along ``dim``: padded sample −i (i = 1 … before) came from i and
    n − 1 + i from n − 1 − i, so each border strip, flipped, is added onto the samples one in from the edge."""
    n = u.shape[dim] - before - after
    v = u.narrow(dim, before, n).clone()
    if before:
        v.narrow(dim, 1, before).add_(u.narrow(dim, 0, before).flip(dim))
    if after:
        v.narrow(dim, n - 1 - after, after).add_(u.narrow(dim, before + n, after).flip(dim))
    return v
