"""The linear-operator interface shared by every measurement operator 𝒜.

A subclass implements ``forward`` (𝒜x) and ``adjoint`` (𝒜ᵀy), and ``out_shape`` when the
measurement is not shaped like the input.  Everything else has a default:

* ``normal(x) = 𝒜ᵀ𝒜x``;
* ``pinv(y) = 𝒜†y``: through the SVD when the operator has one (singular values below
  ``pinv_rtol``·max(s) are treated as zero, see `operators.svd.default_rtol`); otherwise conjugate
  gradient on the normal equations 𝒜ᵀ𝒜x = 𝒜ᵀy started at x = 0, whose iterates stay in
  range(𝒜ᵀ) and so converge to the minimum-norm least-squares solution (accuracy set by
  ``cg_tol`` / ``cg_max_iter``);
* ``prox(z, y, σ, ρ) = argmin_x ‖𝒜x − y‖²/(2σ²) + (ρ/2)‖x − z‖²``: through the SVD when there is
  one, otherwise conjugate gradient on (𝒜ᵀ𝒜 + ρσ²I)x = 𝒜ᵀy + ρσ²z (the optimality condition
  multiplied by σ²) started at z, so σ = 0 gives the projection of z onto {𝒜x = y}; an operator may
  supply a ``preconditioner`` for that CG (a blur with a mirror boundary does: `operators.cosine_precond`);
* ``A @ B`` is ``Compose(A, B)``: x ↦ A(B(x)).

Composition  𝒜 = A₁ ∘ A₂ ∘ … ∘ Aₙ  (x ↦ A₁(A₂(…Aₙ(x)))) lives here too, beside the ``@`` that
builds it: forward and adjoint are chained, 𝒜ᵀ = Aₙᵀ ∘ … ∘ A₁ᵀ; a composition has no SVD in general,
so its pseudo-inverse and prox use the conjugate-gradient defaults; a composition with a single
factor left (after dropping identities) behaves exactly like that factor.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional

import torch
from torch import Tensor

from .batch import batch_dot, per_image  # noqa: F401  (per_image: re-exported)
from .cg import conjugate_gradient, default_tol
from .random import randn
from .svd import SVD


class LinearOperator:
    """A linear measurement operator 𝒜 acting on images (B, C, H, W)."""

    #: relative cut-off on singular values for an SVD pseudo-inverse (None: √eps of the dtype)
    pinv_rtol: Optional[float] = None
    #: True for operators that are the identity map (dropped from compositions)
    is_identity: bool = False
    #: the restoration task this operator poses ("deblur", "sr", "inpaint", "denoise"; None: no tuned
    #: defaults apply) — what `restore.guidance` reads to pick per-task settings
    task: Optional[str] = None
    #: conjugate-gradient relative tolerance (None: 1e-6 in float64, 1e-5 otherwise) and cap
    cg_tol: Optional[float] = None
    cg_max_iter: int = 200
    #: warn (`operators.cg.CGCapWarning`) when CG stops at its cap above tolerance; False for a deliberate cap
    cg_warn: bool = True
    #: use the operator's `preconditioner` in the prox's CG (False: plain CG, e.g. to compare)
    cg_precondition: bool = True

    # -- to implement -------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """y = 𝒜x."""
        raise NotImplementedError

    def adjoint(self, y: Tensor) -> Tensor:
        """x = 𝒜ᵀy, the exact adjoint: ⟨𝒜x, y⟩ = ⟨x, 𝒜ᵀy⟩."""
        raise NotImplementedError

    def out_shape(self, shape) -> tuple:
        """Shape of 𝒜x for x of ``shape`` (default: unchanged)."""
        return tuple(shape)

    @property
    def svd(self) -> Optional[SVD]:
        """The operator's SVD, or None when it has no cheap one."""
        return None

    # -- derived --------------------------------------------------------------------------------
    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def normal(self, x: Tensor) -> Tensor:
        """𝒜ᵀ𝒜x."""
        return self.adjoint(self.forward(x))

    def pinv(self, y: Tensor) -> Tensor:
        """Moore–Penrose pseudo-inverse 𝒜†y: the SVD if available, else conjugate gradient.

        Square and wide operators (no more measurements than unknowns, e.g. a padded blur, or blur then
        downsample) solve the dual
        system 𝒜𝒜ᵀz = y and return 𝒜ᵀz (CGNE/Craig): the result lies in range(𝒜ᵀ), so it is the
        minimum-norm solution, and the stopping rule ‖y − 𝒜𝒜ᵀz‖ ≤ tol‖y‖ bounds ‖𝒜𝒜†y − y‖ directly
        (A A† A = A to the tolerance).  When y is not in range(𝒜) that residual cannot reach the
        tolerance, and the normal equations 𝒜ᵀ𝒜x = 𝒜ᵀy from x = 0 (CGLS: least squares, minimum norm)
        are solved instead, as for square and tall operators.
        """
        svd = self.svd
        if svd is not None:
            return svd.pinv(y, self.pinv_rtol)
        b = self.adjoint(y)
        if b[0].numel() >= y[0].numel():
            tol = default_tol(y.dtype) if self.cg_tol is None else self.cg_tol
            z = conjugate_gradient(lambda v: self.forward(self.adjoint(v)), y, None, tol, self.cg_max_iter, warn=False)
            x = self.adjoint(z)
            r = self.forward(x) - y
            ok = batch_dot(r, r) <= (1.0001 * tol) ** 2 * batch_dot(y, y)  # per image: a batch never decides
            if bool(ok.all()):
                return x
            x_ls = conjugate_gradient(self.normal, b, None, self.cg_tol, self.cg_max_iter, warn=self.cg_warn)
            return torch.where(per_image(ok.to(x.dtype), x) > 0, x, x_ls)
        return conjugate_gradient(self.normal, b, None, self.cg_tol, self.cg_max_iter, warn=self.cg_warn)

    def warm_start(self, y: Tensor) -> Tensor:
        """A fast classical estimate of x from y, where a warm-started solve begins (default 𝒜†y;
        operators override it where 𝒜†y is a poor picture, e.g. inpainting's holes left at 0)."""
        return self.pinv(y)

    def started_at(self, x0: Tensor) -> "LinearOperator":
        """The same 𝒜 whose `warm_start` is the given estimate x0 (one row per measurement) instead of its
        own: a warm-started solve refines a better picture than 𝒜†y (e.g. blind deblurring's E-step).  A
        shallow copy, so ``self`` keeps its own warm start."""
        other = copy.copy(self)

        def warm_start(y: Tensor) -> Tensor:
            if x0.shape[0] != y.shape[0]:
                raise ValueError(f"the warm start holds {x0.shape[0]} images for {y.shape[0]} measurements")
            return x0.to(device=y.device, dtype=y.dtype)

        other.warm_start = warm_start
        return other

    def with_cg(self, max_iter: int, warn: Optional[bool] = None) -> "LinearOperator":
        """The same 𝒜 whose CG solves (prox, pseudo-inverse) stop after at most ``max_iter`` iterations
        (and warn at the cap or not); a shallow copy, so ``self`` keeps its own settings."""
        other = copy.copy(self)
        other.cg_max_iter = int(max_iter)
        if warn is not None:
            other.cg_warn = bool(warn)
        return other

    def prox(self, z: Tensor, y: Tensor, sigma, rho) -> Tensor:
        """argmin_x ‖𝒜x − y‖²/(2σ²) + (ρ/2)‖x − z‖² (σ, ρ floats or per-image (B,) tensors)."""
        sigma = per_image(sigma, z)
        rho = per_image(rho, z)
        svd = self.svd
        if svd is not None:
            return svd.prox(z, y, sigma, rho)
        return self.prox_cg(z, y, sigma, rho)

    def prox_cg(self, z: Tensor, y: Tensor, sigma, rho) -> Tensor:
        """The prox by conjugate gradient on (𝒜ᵀ𝒜 + λI)x = 𝒜ᵀy + λz, λ = ρσ², from x = z, preconditioned
        by ``self.preconditioner(λ, z)`` when there is one."""
        lam = per_image(rho, z) * per_image(sigma, z) ** 2
        b = self._adjoint_of_measurement(y) + lam * z
        pre = self.preconditioner(lam.reshape(-1), z) if self.cg_precondition else None
        return conjugate_gradient(lambda v: self.normal(v) + lam * v, b, z, self.cg_tol, self.cg_max_iter,
                                  warn=self.cg_warn, preconditioner=pre)

    def _adjoint_of_measurement(self, y: Tensor) -> Tensor:
        """𝒜ᵀy, remembered for the last y: a diffusion loop calls the prox with the same measurement every
        step (the same tensor object, unmodified: ``_version`` counts in-place changes)."""
        try:
            version = y._version
        except RuntimeError:  # an inference-mode tensor has no version counter: nothing to check, no memo
            return self.adjoint(y)
        memo = self.__dict__.get("_adjoint_memo")
        if memo is not None and memo[0] is y and memo[1] == version:
            return memo[2]
        aty = self.adjoint(y)
        self.__dict__["_adjoint_memo"] = (y, version, aty)
        return aty

    def preconditioner(self, lam: Tensor, like: Tensor) -> Optional[Callable[[Tensor], Tensor]]:
        """r ↦ Q⁻¹r ≈ (𝒜ᵀ𝒜 + λI)⁻¹r per image (λ: (B,)) for tensors shaped like ``like``, or None (plain
        CG).  Symmetric positive definite, and the identity for an image with λ = 0 (there the prox is the
        projection onto {𝒜x = y} nearest z, which plain CG's iterates z + range(𝒜ᵀ𝒜) give).  Only the
        number of CG steps depends on it, never the solution."""
        return None

    def repeat(self, k: int, batch: int) -> "LinearOperator":
        """𝒜 acting on a sample-major batch of k·batch images (row j·batch + b is a copy for image b):
        the operator itself unless it holds per-image data (e.g. inpainting masks), which is tiled k times."""
        return self

    def check_adjoint(self, shape, dtype=torch.float64, device=None, seed: int = 0) -> float:
        """Dot test: relative error |⟨𝒜x, y⟩ − ⟨x, 𝒜ᵀy⟩| / max(|⟨𝒜x, y⟩|, |⟨x, 𝒜ᵀy⟩|) for random x, y."""
        x = randn(shape, seed, device, dtype)
        y = randn(self.out_shape(shape), seed + 1, device, dtype)
        lhs = batch_dot(self.forward(x), y).sum()
        rhs = batch_dot(x, self.adjoint(y)).sum()
        scale = torch.maximum(lhs.abs(), rhs.abs()).clamp_min(torch.finfo(dtype).tiny)
        return float((lhs - rhs).abs() / scale)

    def __matmul__(self, other: "LinearOperator") -> "LinearOperator":
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Compose(self, other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(LinearOperator):
    """x ↦ A(B(x)) for ``Compose(A, B)`` (any number of factors, applied right to left)."""

    def __init__(self, *factors: LinearOperator):
        flat = []
        for f in factors:
            if not isinstance(f, LinearOperator):
                raise TypeError(f"Compose expects LinearOperator factors, got {type(f).__name__}")
            flat.extend(f.factors if isinstance(f, Compose) else [f])
        kept = [f for f in flat if not f.is_identity]
        self.factors = tuple(kept) if kept else tuple(flat[:1])

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
    def task(self):
        return self.factors[0].task if len(self.factors) == 1 else None

    def repeat(self, k: int, batch: int) -> "LinearOperator":
        return Compose(*(f.repeat(k, batch) for f in self.factors)) if k > 1 else self

    @property
    def svd(self):
        return self.factors[0].svd if len(self.factors) == 1 else None

    def with_cg(self, max_iter: int, warn: Optional[bool] = None) -> "LinearOperator":
        other = super().with_cg(max_iter, warn)
        other.factors = tuple(f.with_cg(max_iter, warn) for f in self.factors)
        return other

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
