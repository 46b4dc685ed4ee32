"""Per-image helpers: every reduction and every per-image parameter is per image, never over the batch.

``per_image`` is the one broadcast of a float, 0-d or (B,) value to (B, 1, 1, 1) used across the
package (operators, priors, samplers, SDEs, metrics); ``batch_dot`` the per-image inner product.
"""
from __future__ import annotations

import torch
from torch import Tensor


def per_image(value, x: Tensor) -> Tensor:
    """Broadcast a float, 0-d tensor or (B,) tensor to shape (B, 1, 1, 1) on x's device and dtype."""
    dtype = x.real.dtype if x.is_complex() else x.dtype
    v = torch.as_tensor(value, dtype=dtype, device=x.device)
    if v.ndim == 0:
        v = v.expand(x.shape[0])
    v = v.reshape(-1)
    if v.shape[0] == 1 and x.shape[0] != 1:
        v = v.expand(x.shape[0])
    if v.shape[0] != x.shape[0]:
        raise ValueError(f"expected a scalar or one value per image ({x.shape[0]}), got {v.shape[0]} values")
    return v.view(-1, *([1] * (x.ndim - 1)))


def batch_dot(a: Tensor, b: Tensor) -> Tensor:
    """Per-image inner product ⟨a_i, b_i⟩, shape (B,) (real part for complex tensors)."""
    p = a.conj() * b if a.is_complex() else a * b
    return p.reshape(p.shape[0], -1).sum(dim=1).real
