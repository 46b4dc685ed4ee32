"""Analytic priors with exact denoisers at every noise level: Gaussian and Gaussian mixture.

For x = x0 + σ z with x0 ~ N(μ, Σ) the posterior mean is

    D(x, σ) = μ + Σ (Σ + σ² I)⁻¹ (x − μ) = μ + U diag(λ/(λ + σ²)) Uᵀ (x − μ),     Σ = U diag(λ) Uᵀ,

and p_σ(x) = N(x; μ, Σ + σ² I).  For a mixture Σ_k w_k N(μ_k, Σ_k) the posterior mean is the
responsibility-weighted sum of the component denoisers,

    D(x, σ) = Σ_k r_k(x, σ) D_k(x, σ),   r_k ∝ w_k N(x; μ_k, Σ_k + σ² I)   (log-sum-exp normalised).

Everything is computed per image on the flattened vector (D = C·H·W); eigen-decompositions are
computed once in float64 and cached per (device, dtype).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import PriorBase, as_sigma

__all__ = ["GaussianPrior", "GaussianMixturePrior"]


def _generator(seed) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    if seed is not None:
        g.manual_seed(int(seed))
    else:
        g.seed()
    return g


class _GaussianComponents:
    """K Gaussians N(μ_k, Σ_k) on R^D stored as (μ (K,D), λ (K,D), U (K,D,D) or None = identity)."""

    def __init__(self, means: Tensor, covs, D: int):
        K = means.shape[0]
        self.mu = means.reshape(K, D).to(torch.float64)
        c = torch.as_tensor(covs, dtype=torch.float64)
        self.U = None
        if c.ndim == 0:  # one scalar variance for every component
            lam = c.expand(K, D)
        elif c.ndim == 1 and c.shape[0] == K:  # one scalar variance per component
            lam = c[:, None].expand(K, D)
        elif c.ndim == 2 and c.shape == (K, D):  # diagonal covariances
            lam = c
        elif c.ndim == 3 and c.shape == (K, D, D):
            if not torch.allclose(c, c.transpose(1, 2), atol=1e-10 * max(1.0, float(c.abs().max()))):
                raise ValueError("covariance matrices must be symmetric")
            lam, self.U = torch.linalg.eigh(0.5 * (c + c.transpose(1, 2)))
        else:
            raise ValueError(
                f"covariance of shape {tuple(c.shape)} does not fit {K} component(s) of dimension {D}: "
                "expected a scalar, (K,), (K, D) diagonal or (K, D, D)")
        if (lam < -1e-10 * max(1.0, float(lam.abs().max()))).any():
            raise ValueError("covariance is not positive semi-definite")
        self.lam = lam.clamp(min=0).contiguous()
        self._cache: dict = {}

    def on(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._cache:
            self._cache[key] = (self.mu.to(device, dtype), self.lam.to(device, dtype),
                                None if self.U is None else self.U.to(device, dtype))
        return self._cache[key]

    def covariance(self) -> Tensor:
        """(K, D, D) float64."""
        if self.U is None:
            return torch.diag_embed(self.lam)
        return self.U @ torch.diag_embed(self.lam) @ self.U.transpose(1, 2)

    def evaluate(self, x: Tensor, s2: Tensor, want_denoised: bool = True):
        """x (B, D), s2 (B,) → (log N(x; μ_k, Σ_k + s2 I) (B, K), D_k(x) (B, K, D) or None)."""
        mu, lam, U = self.on(x.device, x.dtype)
        xc = x[:, None, :] - mu  # (B, K, D)
        coords = xc if U is None else torch.einsum("bkd,kde->bke", xc, U)
        var = lam + s2[:, None, None]  # (B, K, D)
        D = x.shape[1]
        logn = -0.5 * ((coords**2 / var).sum(-1) + var.log().sum(-1) + D * math.log(2 * math.pi))
        den = None
        if want_denoised:
            shrunk = coords * (lam / var)
            den = mu + (shrunk if U is None else torch.einsum("bke,kde->bkd", shrunk, U))
        return logn, den

    def sample(self, k: Tensor, generator: torch.Generator) -> Tensor:
        """x_i ~ N(μ_{k_i}, Σ_{k_i}) in float64 on the CPU; k (n,) long."""
        z = torch.randn((k.shape[0], self.mu.shape[1]), generator=generator, dtype=torch.float64)
        y = z * self.lam[k].sqrt()
        if self.U is not None:
            y = torch.einsum("nkd,nd->nk", self.U[k], y)  # U_k y
        return self.mu[k] + y


class GaussianMixturePrior(PriorBase):
    """p(x0) = Σ_k w_k N(μ_k, Σ_k) on images of shape (C, H, W) with exact denoiser, score, log-density.

    Parameters
    ----------
    means : (K, C, H, W)
    covs : scalar variance, (K,) per-component variances, (K, D) diagonals or (K, D, D) matrices (D = C·H·W)
    weights : (K,) non-negative, normalised internally
    """

    def __init__(self, means, covs, weights=None):
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.ndim != 4:
            raise ValueError(f"means must have shape (K, C, H, W), got {tuple(means.shape)}")
        self.K = means.shape[0]
        self.image_shape = tuple(means.shape[1:])
        self.channels = self.image_shape[0]
        self.D = int(math.prod(self.image_shape))
        w = torch.ones(self.K, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if w.shape != (self.K,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be (K,) non-negative with a positive sum")
        self.weights = w / w.sum()
        self._comp = _GaussianComponents(means, covs, self.D)
        self.means = means

    # -- helpers -------------------------------------------------------------------------------
    def _flat(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"prior is for images of shape {self.image_shape}, got {tuple(x.shape[1:])}")
        return x.reshape(x.shape[0], self.D)

    def _eval(self, x: Tensor, sigma, want_denoised=True):
        s2 = as_sigma(sigma, x).reshape(-1) ** 2
        logn, den = self._comp.evaluate(self._flat(x), s2, want_denoised)
        logj = logn + self.weights.to(x.device, x.dtype).log()
        return logj, den

    # -- public --------------------------------------------------------------------------------
    def responsibilities(self, x: Tensor, sigma) -> Tensor:
        """r_k(x, σ) = P(component k | x0 + σ z = x), shape (B, K)."""
        logj, _ = self._eval(x, sigma, want_denoised=False)
        return torch.softmax(logj, dim=1)

    def denoise(self, x: Tensor, sigma) -> Tensor:
        """D(x, σ) = Σ_k r_k D_k(x, σ)  (exact posterior mean)."""
        logj, den = self._eval(x, sigma)
        r = torch.softmax(logj, dim=1)
        return (r[:, :, None] * den).sum(1).reshape(x.shape)

    def log_prob(self, x: Tensor, sigma=0.0) -> Tensor:
        """log p_σ(x) = logsumexp_k [log w_k + log N(x; μ_k, Σ_k + σ² I)], shape (B,)."""
        logj, _ = self._eval(x, sigma, want_denoised=False)
        return torch.logsumexp(logj, dim=1)

    def score(self, x: Tensor, sigma) -> Tensor:
        """∇log p_σ(x) = Σ_k r_k (Σ_k + σ²I)⁻¹(μ_k − x); equals (D − x)/σ² for σ > 0, also valid at σ = 0
        when every Σ_k is non-singular."""
        s = as_sigma(sigma, x).reshape(-1)
        if (s > 0).all():
            return super().score(x, sigma)
        mu, lam, U = self._comp.on(x.device, x.dtype)
        xf = self._flat(x)
        logj, _ = self._eval(x, sigma, want_denoised=False)
        r = torch.softmax(logj, dim=1)
        xc = xf[:, None, :] - mu
        coords = xc if U is None else torch.einsum("bkd,kde->bke", xc, U)
        g = -coords / (lam + s[:, None, None] ** 2)
        g = g if U is None else torch.einsum("bke,kde->bkd", g, U)
        return (r[:, :, None] * g).sum(1).reshape(x.shape)

    def sample(self, n: int, seed=0, sigma: float = 0.0, device=None, dtype=torch.float64,
               return_components: bool = False):
        """n exact samples of x0 (+ σ z if σ > 0, i.e. samples of the marginal p_σ), shape (n, C, H, W).

        Drawn in float64 on a CPU generator (``seed``: int, None or a torch.Generator), then moved.
        """
        g = _generator(seed)
        k = torch.multinomial(self.weights, n, replacement=True, generator=g)
        x = self._comp.sample(k, g)
        if sigma:
            x = x + float(sigma) * torch.randn(x.shape, generator=g, dtype=torch.float64)
        x = x.reshape(n, *self.image_shape).to(device=device, dtype=dtype)
        return (x, k.to(device)) if return_components else x

    @property
    def covs(self) -> Tensor:
        """Component covariances (K, D, D), float64."""
        return self._comp.covariance()

    @property
    def mean(self) -> Tensor:
        """Mixture mean, shape (C, H, W)."""
        return (self.weights[:, None] * self._comp.mu).sum(0).reshape(self.image_shape)

    @property
    def covariance(self) -> Tensor:
        """Mixture covariance Σ_k w_k (Σ_k + μ_k μ_kᵀ) − m mᵀ, shape (D, D)."""
        mu = self._comp.mu
        m = (self.weights[:, None] * mu).sum(0)
        second = (self.weights[:, None, None] * (self.covs + mu[:, :, None] * mu[:, None, :])).sum(0)
        return second - torch.outer(m, m)


class GaussianPrior(GaussianMixturePrior):
    """p(x0) = N(μ, Σ) on images: ``mean`` (C, H, W); ``cov`` a scalar variance, a (D,) diagonal or a
    (D, D) matrix.  D(x, σ) = μ + Σ(Σ + σ²I)⁻¹(x − μ) via a cached eigen-decomposition."""

    def __init__(self, mean, cov):
        mean = torch.as_tensor(mean, dtype=torch.float64)
        if mean.ndim != 3:
            raise ValueError(f"mean must have shape (C, H, W), got {tuple(mean.shape)}")
        c = torch.as_tensor(cov, dtype=torch.float64)
        if c.ndim >= 1:
            c = c[None]  # (1, D) or (1, D, D)
        super().__init__(mean[None], c, torch.ones(1, dtype=torch.float64))
        self.mean_image = mean

    def denoise(self, x: Tensor, sigma) -> Tensor:
        _, den = self._comp.evaluate(self._flat(x), as_sigma(sigma, x).reshape(-1) ** 2)
        return den[:, 0].reshape(x.shape)

    @property
    def cov(self) -> Tensor:
        """Σ as a (D, D) float64 matrix."""
        return self.covs[0]
