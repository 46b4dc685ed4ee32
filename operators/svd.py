"""Singular value decomposition of a linear operator,  𝒜 = U diag(s) Vᵀ.

All coefficient tensors are *input-space shaped*: ``Vt(x)`` has the shape of x (complex for Fourier
bases), and ``Ut(y)`` puts the measurement's coefficients on the same grid, zero where s = 0.
V is orthonormal (‖Vt x‖ = ‖x‖), U is orthonormal on the range, and

    A(x) = U(s · Vt(x)),        A†(y) = V(Ut(y) / s  on s > 0,  0 elsewhere).

Spectral coefficients of white noise must be drawn as ``Vt(randn_like(x))`` so that complex Fourier
coefficients keep their Hermitian symmetry.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def default_rtol(dtype: torch.dtype) -> float:
    """Relative cut-off on singular values for the pseudo-inverse: √eps of the dtype.

    s < rtol · max(s) counts as zero (1.5e-8 in float64, 3.5e-4 in float32), which keeps A† from
    amplifying rounding errors by more than 1/√eps.
    """
    return float(torch.finfo(dtype).eps) ** 0.5


class SVD:
    """Interface of an operator's SVD; subclasses implement the five maps."""

    def Vt(self, x: Tensor) -> Tensor:
        """Spectral coefficients c = Vᵀx (input-space shaped, possibly complex)."""
        raise NotImplementedError

    def V(self, c: Tensor) -> Tensor:
        """Image x = V c (real)."""
        raise NotImplementedError

    def Ut(self, y: Tensor) -> Tensor:
        """Measurement coefficients Uᵀy on the input grid, zero where s = 0."""
        raise NotImplementedError

    def U(self, c: Tensor) -> Tensor:
        """Measurement y = U c from input-grid coefficients (entries where s = 0 are ignored)."""
        raise NotImplementedError

    def singular_values(self, shape, device=None, dtype=torch.float32) -> Tensor:
        """Real s ≥ 0 broadcastable with ``Vt(x)`` for x of ``shape``; zero on the null space."""
        raise NotImplementedError

    # -- spectral algebra shared by every SVD ---------------------------------------------------
    def _s_for(self, c: Tensor) -> Tensor:
        dtype = c.real.dtype if c.is_complex() else c.dtype
        return self.singular_values(tuple(c.shape), device=c.device, dtype=dtype)

    def pinv(self, y: Tensor, rtol: Optional[float] = None) -> Tensor:
        """A†y = V(Ut(y)/s) on s > rtol·max(s) (default `default_rtol`), 0 elsewhere."""
        c = self.Ut(y)
        s = self._s_for(c)
        rtol = default_rtol(s.dtype) if rtol is None else rtol
        keep = s > rtol * s.max()
        inv = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
        return self.V(c * inv)

    def prox(self, z: Tensor, y: Tensor, sigma: Tensor, rho: Tensor) -> Tensor:
        """argmin_x ‖Ax − y‖²/(2σ²) + (ρ/2)‖x − z‖², coefficient by coefficient.

        With λ = ρσ² (per image, broadcast): c_x = (s·Ut(y) + λ·Vt(z)) / (s² + λ), and c_x = Vt(z)
        where s² + λ = 0 (σ = 0 gives the projection z + A†(y − Az) onto {Ax = y}).
        """
        cz = self.Vt(z)
        cy = self.Ut(y)
        s = self._s_for(cz)
        lam = rho * sigma**2
        den = s * s + lam
        ok = den > 0
        cx = torch.where(ok, (s * cy + lam * cz) / torch.where(ok, den, torch.ones_like(den)), cz)
        return self.V(cx)
