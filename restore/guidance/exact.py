"""Closed-form posterior for an isotropic Gaussian prior and a linear operator — the reference the
guidance methods are checked against (benchmarks/exactness.py, tests/test_guidance_exact.py).

With x ~ N(μ, v I) and y = 𝒜x + σ_y n:

    Σ_post = (𝒜ᵀ𝒜/σ_y² + I/v)⁻¹,   m_post = Σ_post (𝒜ᵀy/σ_y² + μ/v),

computed with the dense matrix of 𝒜 (assembled by applying 𝒜 to the basis vectors), in float64.
For σ_y = 0 the limit is used: m_post = μ + 𝒜†(y − 𝒜μ), Σ_post = v (I − 𝒜†𝒜).
"""
from __future__ import annotations

import torch
from torch import Tensor


def dense_matrix(A, image_shape) -> Tensor:
    """The (m, n) float64 matrix of 𝒜 on images of ``image_shape`` (C, H, W): column j = 𝒜 e_j."""
    n = 1
    for d in image_shape:
        n *= d
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *image_shape)
    cols = torch.cat([A(basis[i:i + 256]).reshape(min(256, n - i), -1) for i in range(0, n, 256)])
    return cols.T.contiguous()


def gaussian_posterior(A, mean: Tensor, var: float, y: Tensor, sigma_y: float):
    """(m_post (C, H, W), Σ_post (n, n)) for one measurement y (1, C', H', W'), float64."""
    image_shape = tuple(mean.shape)
    M = dense_matrix(A, image_shape)
    mu = mean.reshape(-1).to(torch.float64)
    yv = y.reshape(-1).to(torch.float64)
    n = mu.shape[0]
    eye = torch.eye(n, dtype=torch.float64)
    if sigma_y > 0:
        prec = M.T @ M / sigma_y**2 + eye / var
        cov = torch.linalg.inv(prec)
        cov = 0.5 * (cov + cov.T)
        m = cov @ (M.T @ yv / sigma_y**2 + mu / var)
    else:
        P = torch.linalg.pinv(M)
        m = mu + P @ (yv - M @ mu)
        cov = var * (eye - P @ M)
    return m.reshape(image_shape), cov


def compare(samples: Tensor, m_post: Tensor, cov_post: Tensor, mu: Tensor):
    """(‖m̂ − m_post‖/‖m_post − μ‖, mean sample variance / mean exact marginal variance) for samples
    (K, C, H, W) of one image."""
    s = samples.reshape(samples.shape[0], -1).to(torch.float64)
    m_hat = s.mean(0)
    shift = (m_post.reshape(-1) - mu.reshape(-1).to(torch.float64)).norm()
    err = float((m_hat - m_post.reshape(-1)).norm() / shift)
    var_hat = s.var(0).mean() if s.shape[0] > 1 else torch.tensor(0.0, dtype=torch.float64)
    ratio = float(var_hat / torch.diagonal(cov_post).mean())
    return err, ratio
