"""Guidance methods against the closed-form posterior of an isotropic Gaussian prior N(μ, ¼ I).

Exact methods (converge to the posterior as the grid is refined; checked numerically here and in
benchmarks/EXACTNESS.md):

* ``projection``: for an isotropic prior the spectral components are independent a priori, so
  carrying ȳ_i forward to σ_t draws x_t,i | y exactly and the rest is the unconditional reverse
  chain; the only bias is the grid level at which a component is last replaced.
* ``pigdm``: with prior variance v equal to ``data_var`` (¼, the VP assumption) x̂₀ is affine in x_t
  and Cov[x₀ | x_t] = r_t² I, so ΠGDM's Gaussian likelihood N(𝒜x̂₀, r_t²𝒜𝒜ᵀ + σ_y²I) is p(y | x_t)
  itself and η = 1 (DDPM variance) samples the conditional reverse process.

Not exact (and not claimed): DDRM (η = 0.85; even η = η_b = 1 under-disperses the null space,
x_{t+1} = x̂₀ + σ_{t+1}ξ loses v σ²/(v + σ²) of variance per step), DDNM+, DiffPIR, DPS, DAPS; they
are checked to land within half the prior→posterior shift.
"""
import math
import warnings

import pytest
import torch

import operators as O
import restore
from restore.guidance.exact import compare, dense_matrix, gaussian_posterior
from restore.priors import GaussianPrior

V = 0.25


def _mask():
    return (torch.rand(8, 8, generator=torch.Generator().manual_seed(3)) < 0.5).double()


def _problem(A, shape, sigma_y, seed=0):
    c, h, w = shape
    i = torch.arange(h, dtype=torch.float64)[:, None]
    j = torch.arange(w, dtype=torch.float64)[None, :]
    mu = (0.5 + 0.15 * torch.sin(2 * math.pi * i / h) * torch.cos(2 * math.pi * j / w)).expand(c, h, w).clone()
    prior = GaussianPrior(mu, V)
    x = prior.sample(1, seed=seed)
    ax = A(x)
    y = ax + sigma_y * O.randn(ax.shape, seed + 1, dtype=torch.float64)
    m_post, cov = gaussian_posterior(A, mu, V, y, sigma_y)
    return prior, mu, y, m_post, cov


def _run(method, A, shape, sigma_y, samples, **opts):
    prior, mu, y, m_post, cov = _problem(A, shape, sigma_y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # the paper's sampler settings (DEFAULTS; one sample per row, no warm start), not the tuned per-task values
        opts = {**restore.guidance.DEFAULTS[method], **opts}
        out = restore.sample_posterior(y, A, prior, method=method, sigma_y=sigma_y, seed=0, samples=samples, clamp=False,
                                       **opts)
    err, ratio = compare(out, m_post, cov, mu)
    mc = math.sqrt(float(torch.trace(cov)) / samples) / float((m_post - mu).norm()) if ratio == ratio else 0.0
    return err, ratio, mc


def test_dense_posterior_matches_precision_form():
    A = O.Downsample(2, "box")
    M = dense_matrix(A, (1, 8, 8))
    assert M.shape == (16, 64)
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(M @ x.reshape(-1), A(x).reshape(-1))
    _, mu, y, m, cov = _problem(A, (1, 8, 8), 0.05)
    # the posterior mean solves (MᵀM/σ² + I/v) m = Mᵀy/σ² + μ/v
    lhs = (M.T @ M / 0.05**2 + torch.eye(64, dtype=torch.float64) / V) @ m.reshape(-1)
    torch.testing.assert_close(lhs, M.T @ y.reshape(-1) / 0.05**2 + mu.reshape(-1) / V)


EXACT_CASES = [
    ("inpaint", lambda: O.Inpainting(_mask()), (1, 8, 8)),
    ("blur-circular", lambda: O.GaussianBlur(5, 1.0), (1, 8, 8)),
    ("box2", lambda: O.Downsample(2, "box"), (1, 8, 8)),
    ("gray", lambda: O.Grayscale(), (3, 4, 4)),
]


@pytest.mark.parametrize("method", ["projection", "pigdm"])
@pytest.mark.parametrize("name,make,shape", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_exact_methods_match_closed_form(method, name, make, shape):
    err, ratio, mc = _run(method, make(), shape, 0.05, samples=400)
    assert err < 3 * mc + 0.03, (err, mc)
    assert 0.85 < ratio < 1.1, ratio


def test_pigdm_exact_without_svd():
    """ΠGDM through conjugate gradient (composition, no SVD) is still exact."""
    A = O.Downsample(2, "box") @ O.GaussianBlur(3, 0.8)
    err, ratio, mc = _run("pigdm", A, (1, 8, 8), 0.05, samples=300, steps=50)
    assert err < 3 * mc + 0.03 and 0.8 < ratio < 1.1, (err, ratio, mc)


def test_projection_exact_noiseless():
    err, ratio, mc = _run("projection", O.Downsample(2, "box"), (1, 8, 8), 0.0, samples=400)
    assert err < 3 * mc + 0.03 and 0.85 < ratio < 1.1, (err, ratio, mc)


APPROX = ["dps", "ddrm", "ddnm", "diffpir", "daps"]


@pytest.mark.parametrize("method", APPROX)
@pytest.mark.parametrize("name,make,shape", EXACT_CASES[:3], ids=[c[0] for c in EXACT_CASES[:3]])
def test_approximate_methods_within_half_the_shift(method, name, make, shape):
    err, _, _ = _run(method, make(), shape, 0.05, samples=200)
    assert err < 0.5, err
