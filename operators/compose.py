"""Composition  𝒜 = A₁ ∘ A₂ ∘ … ∘ Aₙ  (x ↦ A₁(A₂(…Aₙ(x)))).

Forward and adjoint are chained: 𝒜ᵀ = Aₙᵀ ∘ … ∘ A₁ᵀ.  A composition has no SVD in general, so its
pseudo-inverse and prox use the conjugate-gradient defaults of `LinearOperator`; a composition with
a single factor left (after dropping identities) behaves exactly like that factor.
"""
from __future__ import annotations

from .base import LinearOperator
from .identity import Identity


class Compose(LinearOperator):
    """x ↦ A(B(x)) for ``Compose(A, B)`` (any number of factors, applied right to left)."""

    def __init__(self, *factors: LinearOperator):
        flat = []
        for f in factors:
            if not isinstance(f, LinearOperator):
                raise TypeError(f"Compose expects LinearOperator factors, got {type(f).__name__}")
            flat.extend(f.factors if isinstance(f, Compose) else [f])
        kept = [f for f in flat if not isinstance(f, Identity)]
        self.factors = tuple(kept) if kept else (Identity(),)

    def forward(self, x):
        for f in reversed(self.factors):
            x = f.forward(x)
        return x

    def adjoint(self, y):
        for f in self.factors:
            y = f.adjoint(y)
        return y

    def out_shape(self, shape):
        for f in reversed(self.factors):
            shape = f.out_shape(shape)
        return tuple(shape)

    @property
    def svd(self):
        return self.factors[0].svd if len(self.factors) == 1 else None

    def pinv(self, y):
        if len(self.factors) == 1:
            return self.factors[0].pinv(y)
        return super().pinv(y)

    def prox(self, z, y, sigma, rho):
        if len(self.factors) == 1:
            return self.factors[0].prox(z, y, sigma, rho)
        return super().prox(z, y, sigma, rho)

    def __repr__(self):
        return " @ ".join(repr(f) for f in self.factors)
