"""Posterior samples (`restore.sample_posterior` at its defaults) against the closed-form posterior of
an isotropic Gaussian prior N(μ, v I): Σ_post = (𝒜ᵀ𝒜/σ_y² + I/v)⁻¹, m_post = Σ_post(𝒜ᵀy/σ_y² + μ/v).

The checks are on the whitened error w_k = Λ^{-1/2}Qᵀ(x_k − m_post) (Σ_post = QΛQᵀ), which is
N(0, I) for exact samples (`restore.guidance.exact`): its mean (K‖w̄‖² ~ χ²_r), the variance of
every spectral component (χ²_{K−1}/(K−1)) and the eigenvalues of its sample covariance (Wishart,
simulated), each against a Monte-Carlo band at level α = 1e-3 that follows from K and r alone.

Exact methods (converge to the posterior as the grid is refined):

* ``projection``: for an isotropic prior the spectral components are independent a priori, so
  carrying ȳ_i forward to σ_t draws x_t,i | y exactly and the rest is the unconditional reverse
  chain; the only bias is the grid (200 steps: inside the bands).
* ``pigdm``: with prior variance v equal to ``data_var`` x̂₀ is affine in x_t and Cov[x₀ | x_t] =
  r_t² I, so ΠGDM's Gaussian likelihood N(𝒜x̂₀, r_t²𝒜𝒜ᵀ + σ_y²I) is p(y | x_t) itself and η = 1
  samples the conditional reverse process (1000 steps: inside the bands).

The others (DDRM, DDNM+, DiffPIR, DPS, DAPS) are approximate; at their sampling settings every one
must land within half the prior→posterior shift, and per operator the best method within 0.1 of it
with a variance ratio in (0.5, 2) (issue 18's criteria, debiased for Monte-Carlo error).
"""
import functools
import math
import warnings

import pytest
import torch

import operators as O
import restore
from restore.guidance.exact import bands, dense_matrix, gaussian_posterior, inside, statistics, whitened
from restore.priors import GaussianPrior

V = 0.25
K = 256  # samples per check (the protocol; benchmarks/EXACTNESS.md uses it for every method)
K_APPROX = 128  # for the approximate methods' criteria (debiased error; their margins are wide): test time


def _mask():
    return (torch.rand(8, 8, generator=torch.Generator().manual_seed(3)) < 0.5).double()


OPERATORS = {
    "inpaint": (lambda: O.Inpainting(_mask()), (1, 8, 8)),
    "blur-circular": (lambda: O.GaussianBlur(5, 1.0), (1, 8, 8)),
    "box2": (lambda: O.Downsample(2, "box"), (1, 8, 8)),
    "gray": (lambda: O.Grayscale(), (3, 4, 4)),
    "box-blur": (lambda: O.Downsample(2, "box") @ O.GaussianBlur(3, 0.8), (1, 8, 8)),  # no SVD
}


@functools.lru_cache(maxsize=None)
def _problem(name, sigma_y=0.05, v=V, seed=0):
    make, (c, h, w) = OPERATORS[name]
    A = make()
    i = torch.arange(h, dtype=torch.float64)[:, None]
    j = torch.arange(w, dtype=torch.float64)[None, :]
    mu = (0.5 + 0.15 * torch.sin(2 * math.pi * i / h) * torch.cos(2 * math.pi * j / w)).expand(c, h, w).clone()
    prior = GaussianPrior(mu, v)
    x = prior.sample(1, seed=seed)
    ax = A(x)
    y = ax + sigma_y * O.randn(ax.shape, seed + 1, dtype=torch.float64)
    m_post, cov = gaussian_posterior(A, mu, v, y, sigma_y)
    return A, prior, mu, y, m_post, cov


@functools.lru_cache(maxsize=None)
def _samples(method, name, sigma_y=0.05, v=V, options=(), k=K):
    """k draws of ``restore.sample_posterior`` at its defaults (plus ``options``), unclamped."""
    A, prior, mu, y, m_post, cov = _problem(name, sigma_y, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # projection → pigdm without an SVD
        out = restore.sample_posterior(y, A, prior, method=method, sigma_y=sigma_y, seed=0, samples=k, clamp=False,
                                       **dict(options))
    return out


def _check(method, name, sigma_y=0.05, v=V, options=(), k=K):
    _, _, mu, _, m_post, cov = _problem(name, sigma_y, v)
    st = statistics(_samples(method, name, sigma_y, v, options, k), m_post, cov, mu)
    return st, inside(st, bands(k, st["comp_var"].shape[0]))


def test_dense_posterior_matches_precision_form():
    A = O.Downsample(2, "box")
    M = dense_matrix(A, (1, 8, 8))
    assert M.shape == (16, 64)
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(M @ x.reshape(-1), A(x).reshape(-1))
    _, _, mu, y, m, cov = _problem("box2")
    # the posterior mean solves (MᵀM/σ² + I/v) m = Mᵀy/σ² + μ/v
    lhs = (M.T @ M / 0.05**2 + torch.eye(64, dtype=torch.float64) / V) @ m.reshape(-1)
    torch.testing.assert_close(lhs, M.T @ y.reshape(-1) / 0.05**2 + mu.reshape(-1) / V)


def test_whitened_checks_pass_exact_draws_and_catch_small_errors():
    """The bands are calibrated (K exact draws from N(m_post, Σ_post) pass all three checks) and have
    power: a mean off by half a posterior std in one spectral direction, or every variance 30 % low,
    fails — errors the old ‖m̂ − m‖/shift and mean-of-the-diagonal checks could not see."""
    _, _, mu, _, m_post, cov = _problem("box2")
    lam, Q = torch.linalg.eigh(cov)
    g = torch.Generator().manual_seed(7)
    z = torch.randn(K, lam.shape[0], generator=g, dtype=torch.float64)
    exact = m_post.reshape(1, -1) + (z * lam.sqrt()) @ Q.T
    band = bands(K, lam.shape[0])
    torch.testing.assert_close(whitened(exact, m_post, cov), z)
    assert inside(statistics(exact, m_post, cov, mu), band) == {"mean": True, "comp_var": True, "eig": True}
    off = exact + 0.5 * lam[0].sqrt() * Q[:, 0]  # half a posterior std along the tightest direction
    assert not inside(statistics(off, m_post, cov, mu), band)["mean"]
    narrow = m_post.reshape(1, -1) + math.sqrt(0.7) * (exact - m_post.reshape(1, -1))
    checks = inside(statistics(narrow, m_post, cov, mu), band)
    assert not checks["eig"] and not checks["comp_var"], checks


EXACT = [("projection", n) for n in ("inpaint", "blur-circular", "box2", "gray")] + \
        [("pigdm", n) for n in ("inpaint", "blur-circular", "box2")]


@pytest.mark.parametrize("method,name", EXACT, ids=[f"{m}-{n}" for m, n in EXACT])
def test_exact_methods_pass_the_whitened_checks(method, name):
    st, ok = _check(method, name)
    assert ok == {"mean": True, "comp_var": True, "eig": True}, (ok, st["mean_chi2"], st["comp_var"].min(),
                                                                 st["comp_var"].max(), st["eig"][[0, -1]])


def test_pigdm_exact_at_another_prior_variance_with_matching_data_var():
    """Prior N(μ, 0.04 I): ΠGDM with data_var = 0.04 passes; with the default ¼ (the VP assumption of a
    [-1, 1] network, wrong for this prior) its likelihood covariance r_t² is too large and the mean
    check fails (the whitened mean is several Monte-Carlo bands out)."""
    st, ok = _check("pigdm", "box2", v=0.04, options=(("data_var", 0.04),))
    assert ok == {"mean": True, "comp_var": True, "eig": True}, (ok, st["mean_chi2"])
    st, ok = _check("pigdm", "box2", v=0.04, options=(("steps", 200),))
    assert not ok["mean"], st["mean_chi2"]


def test_projection_exact_noiseless():
    """σ_y = 0: the measured components are y's exactly (A x = y for every sample), the rest is the
    posterior on the null space (rank 48 of 64), checked whitened on that support."""
    A, _, _, y, _, _ = _problem("box2", 0.0)
    out = _samples("projection", "box2", 0.0)
    torch.testing.assert_close(A(out), y.expand(K, -1, -1, -1), rtol=0, atol=1e-10)
    st, ok = _check("projection", "box2", 0.0)
    assert st["comp_var"].shape == (48,)
    assert ok == {"mean": True, "comp_var": True, "eig": True}, ok


CRITERIA = ["inpaint", "blur-circular", "box2"]
SAMPLERS = ["projection", "pigdm", "ddrm", "ddnm", "diffpir", "daps", "dps"]


@pytest.mark.parametrize("name", CRITERIA)
def test_samples_api_meets_the_closed_form_criteria(name):
    """Issue 18: per operator, the best method's debiased mean error < 0.1 of the shift with a variance
    ratio in (0.5, 2); every method's < 0.5 — all at ``sample_posterior``'s defaults (K = 256 draws
    for the exact methods, 128 for the approximate ones: the debiased error removes the Monte-Carlo
    part in expectation, and their margins to ½ are wide, benchmarks/EXACTNESS.md)."""
    results = {m: _check(m, name, k=K if m in ("projection", "pigdm") else K_APPROX)[0] for m in SAMPLERS}
    deb = {m: st["err_debiased"] for m, st in results.items()}
    good = [m for m, st in results.items() if st["err_debiased"] < 0.1 and 0.5 < st["var"] < 2]
    assert good, {m: (round(st["err_debiased"], 3), round(st["var"], 2)) for m, st in results.items()}
    assert max(deb.values()) < 0.5, deb


def test_tweedie_is_the_closed_form_posterior_mean_of_denoising():
    """y = x + σ_y z under x ~ N(μ, vI): tweedie returns m_post = μ + v/(v + σ_y²) (y − μ), per image's σ_y."""
    c, h, w = 1, 8, 8
    mu = torch.full((c, h, w), 0.4, dtype=torch.float64)
    prior = GaussianPrior(mu, V)
    A = O.Identity()
    x = prior.sample(2, seed=1)
    sig = torch.tensor([0.05, 0.2], dtype=torch.float64)
    y = x + sig.view(-1, 1, 1, 1) * O.randn(x.shape, 2, dtype=torch.float64)
    out = restore.solve(y, A, prior, method="tweedie", sigma_y=sig, clamp=False)
    for b in range(2):
        m_post, _ = gaussian_posterior(A, mu, V, y[b:b + 1], float(sig[b]))
        torch.testing.assert_close(out[b].reshape(-1), m_post.reshape(-1))
    torch.testing.assert_close(restore.solve(y[1:], A, prior, method="tweedie", sigma_y=sig[1:], clamp=False), out[1:])
    torch.testing.assert_close(restore.solve(y, A, prior, method="tweedie", sigma_y=0.0, clamp=False), y)
    with pytest.raises(ValueError, match="denoising only"):
        restore.solve(y, O.GaussianBlur(3, 1.0), prior, method="tweedie", sigma_y=0.05)
    with pytest.raises(ValueError, match="no posterior samples"):
        restore.sample_posterior(y, A, prior, method="tweedie", sigma_y=0.05, samples=2)
