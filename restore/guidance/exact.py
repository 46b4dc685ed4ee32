"""Closed-form posterior for an isotropic Gaussian prior and a linear operator — the reference the
guidance methods are checked against (benchmarks/exactness.py, tests/test_guidance_exact.py).

With x ~ N(μ, v I) and y = 𝒜x + σ_y n:

    Σ_post = (𝒜ᵀ𝒜/σ_y² + I/v)⁻¹,   m_post = Σ_post (𝒜ᵀy/σ_y² + μ/v),

computed with the dense matrix of 𝒜 (assembled by applying 𝒜 to the basis vectors), in float64.
For σ_y = 0 the limit is used: m_post = μ + 𝒜†(y − 𝒜μ), Σ_post = v (I − 𝒜†𝒜).

Checking K samples x_k against N(m_post, Σ_post) (`statistics`, `bands`): with Σ_post = Q Λ Qᵀ (the
posterior's spectral components, Λ > 0 on its support of rank r), the whitened error

    w_k = Λ^{-1/2} Qᵀ (x_k − m_post)  ∈ ℝʳ

is N(0, I) for exact samples.  So (i) K‖w̄‖² ~ χ²_r (the mean, in every direction at once, in
units of the posterior's own spread), (ii) each component's sample variance ~ χ²_{K−1}/(K−1),
(iii) the eigenvalues of the sample covariance of w follow the Wishart law of K draws of N(0, I_r)
(extremes by simulation).  `bands` gives each statistic's Monte-Carlo band at level α from K and r
alone; a sampler passes when all three lie inside.
"""
from __future__ import annotations

import functools
import math

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


def whitened(samples: Tensor, m_post: Tensor, cov_post: Tensor, rtol: float = 1e-9) -> Tensor:
    """w_k = Λ^{-1/2} Qᵀ(x_k − m_post) on the support of Σ_post (eigenvalues > rtol·max): (K, r)."""
    lam, Q = torch.linalg.eigh(cov_post.to(torch.float64))
    keep = lam > rtol * lam.max()
    d = samples.reshape(samples.shape[0], -1).to(torch.float64) - m_post.reshape(1, -1).to(torch.float64)
    return (d @ Q[:, keep]) / lam[keep].sqrt()


def statistics(samples: Tensor, m_post: Tensor, cov_post: Tensor, mu: Tensor) -> dict:
    """Everything the closed-form check reports for K samples (K, C, H, W) of one image:

    err       ‖m̂ − m_post‖ / ‖m_post − μ‖               (relative to the prior→posterior shift)
    err_debiased  √max(0, ‖m̂ − m_post‖² − tr Ĉ/K) / ‖m_post − μ‖   (the Monte-Carlo part removed:
              E‖m̂ − m‖² = ‖bias‖² + tr C/K)
    var       tr Ĉ / tr Σ_post                              (1 = the right total spread)
    mean_chi2 K‖w̄‖² / r       (≈ 1; χ²_r/r for exact samples)
    comp_var  (r,) sample variance of each whitened spectral component (≈ 1)
    eig       (r,) eigenvalues of the sample covariance of w, ascending (≈ Wishart)
    """
    s = samples.reshape(samples.shape[0], -1).to(torch.float64)
    K = s.shape[0]
    shift = float((m_post.reshape(-1).to(torch.float64) - mu.reshape(-1).to(torch.float64)).norm())
    d = s.mean(0) - m_post.reshape(-1).to(torch.float64)
    tr_c = float(s.var(0).sum()) if K > 1 else 0.0
    w = whitened(samples, m_post, cov_post)
    r = w.shape[1]
    wc = w - w.mean(0)
    cov_w = wc.T @ wc / max(K - 1, 1)
    return {
        "err": float(d.norm()) / shift,
        "err_debiased": math.sqrt(max(0.0, float(d @ d) - tr_c / K)) / shift,
        "var": tr_c / float(torch.trace(cov_post)),
        "mean_chi2": K * float((w.mean(0) ** 2).sum()) / r,
        "comp_var": w.var(0) if K > 1 else torch.zeros(r, dtype=torch.float64),
        "eig": torch.linalg.eigvalsh(cov_w),
    }


@functools.lru_cache(maxsize=None)
def bands(K: int, r: int, alpha: float = 1e-3, reps: int = 2000) -> dict:
    """Monte-Carlo bands at level α for `statistics` of K exact samples of an r-dimensional posterior:
    mean_chi2 ≤ χ²_r(1 − α)/r; comp_var in the χ²_{K−1}/(K−1) quantiles α/(2r), 1 − α/(2r)
    (Bonferroni over the r components); eig within the α/2 quantile of the smallest and the 1 − α/2
    quantile of the largest eigenvalue of K draws of N(0, I_r), simulated ``reps`` times (seeded)."""
    from scipy.stats import chi2

    g = torch.Generator().manual_seed(1234)
    lo, hi = [], []
    for start in range(0, reps, 100):
        z = torch.randn(min(100, reps - start), K, r, generator=g, dtype=torch.float64)
        z = z - z.mean(1, keepdim=True)
        e = torch.linalg.eigvalsh(z.transpose(1, 2) @ z / (K - 1))
        lo.append(e[:, 0])
        hi.append(e[:, -1])
    lo, hi = torch.cat(lo), torch.cat(hi)
    a = alpha / (2 * r)
    return {
        "mean_chi2": float(chi2.ppf(1 - alpha, r)) / r,
        "comp_var": (float(chi2.ppf(a, K - 1)) / (K - 1), float(chi2.ppf(1 - a, K - 1)) / (K - 1)),
        "eig": (float(torch.quantile(lo, alpha / 2)), float(torch.quantile(hi, 1 - alpha / 2))),
    }


def inside(stats: dict, band: dict) -> dict:
    """Which of the three whitened checks pass: {"mean": bool, "comp_var": bool, "eig": bool}."""
    lo, hi = band["comp_var"]
    elo, ehi = band["eig"]
    return {
        "mean": stats["mean_chi2"] <= band["mean_chi2"],
        "comp_var": bool(((stats["comp_var"] >= lo) & (stats["comp_var"] <= hi)).all()),
        "eig": float(stats["eig"][0]) >= elo and float(stats["eig"][-1]) <= ehi,
    }
