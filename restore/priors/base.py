"""The prior protocol: the whole plug-in surface of `restore`.

A prior is anything with a ``denoise(x, sigma)`` method returning the MMSE (Tweedie) estimate

    D(x, σ) = E[x_0 | x_0 + σ z = x],   z ~ N(0, I),

for images in [0, 1] units and σ in the same units.  Everything else follows in one line:

    score  ∇log p_σ(x) = (D(x, σ) − x) / σ²
    ε-prediction  ε̂ = (x − D(x, σ)) / σ

(the VP/DDPM variable x_t = √ᾱ_t·x̃ with σ² = (1 − ᾱ_t)/ᾱ_t is the same object, see
`restore.diffusion`).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from operators.batch import per_image


#: σ (float, 0-d or (B,)) broadcast to (B, 1, 1, 1) like ``x``: the package's one per-image broadcast
as_sigma = per_image


@runtime_checkable
class Prior(Protocol):
    """Protocol: ``denoise(x, sigma) -> E[x_0 | x_0 + sigma z = x]`` (batched, per image).

    Attributes
    ----------
    channels : int | None
        Number of image channels the prior models (None: any).
    """

    channels: int | None

    def denoise(self, x: Tensor, sigma) -> Tensor: ...


class PriorBase:
    """Convenience base class: implement ``denoise``; ``score`` and ``eps`` follow."""

    channels: int | None = None

    def denoise(self, x: Tensor, sigma) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, x: Tensor, sigma) -> Tensor:
        """∇_x log p_σ(x) = (D(x, σ) − x) / σ²  (Tweedie / Miyasawa)."""
        s = as_sigma(sigma, x)
        return (self.denoise(x, sigma) - x) / s**2

    def eps(self, x: Tensor, sigma) -> Tensor:
        """ε̂(x, σ) = (x − D(x, σ)) / σ."""
        s = as_sigma(sigma, x)
        return (x - self.denoise(x, sigma)) / s

    def __call__(self, x: Tensor, sigma) -> Tensor:
        return self.denoise(x, sigma)
