"""Estimates built from the samplers: ``solve(average=M)`` (the point estimate as the mean of M chains),
the samples API ``sample_posterior`` (K draws, never averaged) and ``start=f`` (warm start from 𝒜†y
diffused to the level of the table at time f·T)."""
import math
import warnings

import pytest
import torch

import operators as O
import restore
from restore.guidance import image_seeds
from restore.guidance import base as guidance_base
from restore.guidance.base import Problem
from restore.guidance.exact import compare, gaussian_posterior
from restore.priors import GaussianPrior

V = 0.25


def _gaussian_problem(A, shape=(1, 8, 8), sigma_y=0.05, seed=0):
    c, h, w = shape
    i = torch.arange(h, dtype=torch.float64)[:, None]
    mu = (0.5 + 0.1 * torch.sin(2 * math.pi * i / h)).expand(c, h, w).clone()
    prior = GaussianPrior(mu, V)
    x = prior.sample(1, seed=seed)
    ax = A(x)
    y = ax + sigma_y * O.randn(ax.shape, seed + 1, dtype=torch.float64)
    return prior, mu, y


def _mask(seed=3):
    return (torch.rand(8, 8, generator=torch.Generator().manual_seed(seed)) < 0.5).double()


# -- average ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ddrm", "projection", "diffpir"])
def test_average_is_the_mean_of_that_many_samples(method):
    """solve(average=M) is the mean of the M draws sample_posterior gives with the same options."""
    A = O.Inpainting(_mask())
    prior, _, y = _gaussian_problem(A)
    y = torch.cat([y, y.flip(-1)])  # B = 2
    # start=None: a cold start for both (the tuned inpainting defaults of solve warm-start DiffPIR)
    kw = dict(method=method, sigma_y=0.05, seed=5, **{**restore.guidance.sampling_defaults(method), "steps": 6,
                                                      "start": None})
    avg = restore.solve(y, A, prior, average=3, **kw)
    draws = restore.sample_posterior(y, A, prior, samples=3, **kw)  # the same streams: rows m·B + b
    assert avg.shape == (2, 1, 8, 8) and draws.shape == (6, 1, 8, 8)
    torch.testing.assert_close(avg, draws.view(3, 2, 1, 8, 8).mean(0), rtol=0, atol=1e-14)
    # batch independence holds for the averaged estimate too
    seeds = image_seeds(5, 2)
    alone = restore.solve(y[1:], A, prior, average=3, **{**kw, "seed": [seeds[1]]})
    torch.testing.assert_close(alone, avg[1:], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["ddrm", "dps"])
def test_chain_grouping_changes_memory_not_results(method, monkeypatch):
    """Chains run in groups bounded by CHAIN_BATCH_PIXELS; every chain owns its generator, so one
    chain at a time gives the same numbers as all at once (samples and averaged estimates)."""
    A = O.Inpainting(torch.stack([_mask(3), _mask(4)])[:, None])
    prior, _, y = _gaussian_problem(O.Identity())
    y = A(torch.cat([y, y.flip(-1)]))
    kw = dict(method=method, sigma_y=0.05, seed=4, steps=5)
    together = restore.sample_posterior(y, A, prior, samples=3, **kw), restore.solve(y, A, prior, average=2, **kw)
    monkeypatch.setattr(guidance_base, "CHAIN_BATCH_PIXELS", 1)
    monkeypatch.setattr(guidance_base, "CHAIN_BATCH_PIXELS_CPU", 1)
    assert len(guidance_base.chain_groups(6, 2, 64)) == 6
    assert len(guidance_base.chain_groups(6, 2, 64, "cpu")) == 6
    torch.testing.assert_close(restore.sample_posterior(y, A, prior, samples=3, **kw), together[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(restore.solve(y, A, prior, average=2, **kw), together[1], rtol=0, atol=1e-12)


def test_chain_groups_bound_pixels_per_batch():
    sizes = lambda *a: [len(g) for g in guidance_base.chain_groups(*a)]  # noqa: E731
    assert sizes(8, 1, 128 * 128) == [8]
    assert sizes(8, 1, 256 * 256) == [8]
    assert sizes(8, 1, 512 * 512) == [2, 2, 2, 2]
    assert sizes(3, 4, 1024 * 1024) == [1, 1, 1]
    assert [list(g) for g in guidance_base.chain_groups(5, 1, 256 * 256 * 2)] == [[0, 1, 2, 3], [4]]
    # on a CPU the groups are smaller (a large batch is slower per image there): 2¹⁷ pixels
    assert sizes(8, 1, 128 * 128, "cpu") == [8]
    assert sizes(8, 1, 256 * 256, "cpu") == [2, 2, 2, 2]
    assert sizes(3, 1, 512 * 512, "cpu") == [1, 1, 1]
    assert sizes(8, 1, 256 * 256, torch.device("cuda")) == [8]  # no CUDA needed to name the device


def test_average_of_exact_sampler_has_posterior_mean_and_variance_over_m():
    """projection is exact for an isotropic Gaussian prior: the point estimates of K copies of y,
    each the average of M draws, are distributed as N(m_post, Σ_post/M): their mean is m_post and
    their variance Σ_post/M."""
    A = O.Downsample(2, "box")
    prior, mu, y = _gaussian_problem(A, sigma_y=0.05)
    m_post, cov = gaussian_posterior(A, mu, V, y, 0.05)
    K, M = 64, 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est = restore.solve(y.expand(K, -1, -1, -1), A, prior, method="projection", sigma_y=0.05, steps=100, seed=0,
                            average=M, clamp=False)
    err, ratio = compare(est, m_post, cov, mu)
    # Monte-Carlo error of the mean of K·M draws relative to the prior→posterior shift
    mc = math.sqrt(float(torch.trace(cov)) / (K * M)) / float((m_post - mu).norm())
    assert err < 0.05 + 3 * mc, (err, mc)
    assert ratio * M == pytest.approx(1.0, abs=0.3), ratio * M  # variance shrinks by M, not 1 or M²


def test_samples_and_point_estimates_cannot_be_confused():
    """solve takes no samples (one point estimate per image), sample_posterior never averages and
    refuses the deterministic baselines; both name the other call in the error."""
    A = O.Identity()
    prior, _, y = _gaussian_problem(A)
    with pytest.raises(TypeError, match="sample_posterior"):
        restore.solve(y, A, prior, method="ddrm", sigma_y=0.05, steps=3, samples=4)
    with pytest.raises(ValueError, match="solve"):
        restore.sample_posterior(y, A, prior, method="ddrm", sigma_y=0.05, steps=3, samples=4, average=2)
    for bad in (0, 1.5, True, "four"):
        with pytest.raises(ValueError, match="samples"):
            restore.sample_posterior(y, A, prior, method="ddrm", sigma_y=0.05, steps=3, samples=bad)
    with pytest.raises(ValueError, match="pinv"):
        restore.sample_posterior(y, A, prior, method="pinv", sigma_y=0.05, samples=2)


def test_sample_posterior_uses_the_sampling_table_not_the_tuned_one():
    """For a task whose tuned point estimate averages (×2 box SR), sample_posterior draws at the
    sampling settings: the same numbers as solve with those options passed and average=1."""
    from restore.guidance import SAMPLING, defaults, sampling_defaults
    A = O.Downsample(2, "box")
    prior, _, y = _gaussian_problem(A)
    assert defaults("ddrm", A)["average"] > 1 and "average" not in sampling_defaults("ddrm")
    assert all("average" not in v for v in SAMPLING.values())
    opts = sampling_defaults("ddrm")
    draws = restore.sample_posterior(y, A, prior, method="ddrm", sigma_y=0.05, samples=3, seed=2)
    assert draws.shape == (3, 1, 8, 8)
    seeds = image_seeds(2, 1)
    for k in range(3):  # sample k is chain k of image 0: a single chain seeded chain_seed(s_0, k)
        one = restore.solve(y, A, prior, method="ddrm", sigma_y=0.05, seed=[guidance_base.chain_seed(seeds[0], k)],
                            average=1, **opts)
        torch.testing.assert_close(draws[k:k + 1], one, rtol=0, atol=1e-14)


@pytest.mark.parametrize("option,bad", [("average", v) for v in (0, -2, 1.5, True, "four", None)]
                         + [("start", v) for v in (0.0, -0.1, 1.5)])
def test_bad_average_or_start_is_one_clear_error(option, bad):
    """average must be a count ≥ 1, start a fraction of the diffusion time in (0, 1]."""
    A = O.Identity()
    prior, _, y = _gaussian_problem(A)
    with pytest.raises(ValueError, match=option):
        restore.solve(y, A, prior, method="ddrm", sigma_y=0.05, steps=3, **{option: bad})


def test_average_is_ignored_by_the_deterministic_baselines():
    A = O.Downsample(2, "box")
    prior, _, y = _gaussian_problem(A)
    torch.testing.assert_close(restore.solve(y, A, prior, method="pinv", average=4), A.pinv(y).clamp(0, 1))


# -- start ---------------------------------------------------------------------------------------------
def test_warm_start_grid_is_the_head_of_the_table():
    A = O.Downsample(2, "box")
    prior, _, y = _gaussian_problem(A)
    p = Problem(y, A, prior, 0.05, 1, 0, start=0.3)
    T = p.schedule.T
    g = p.sigmas(10)
    assert g.shape == (11,) and g[-1] == 0
    assert float(g[0]) == pytest.approx(float(p.schedule.sigmas[math.ceil(0.3 * T) - 1]))
    assert float(g[-2]) == pytest.approx(float(p.schedule.sigmas[0]))
    assert bool((g[1:] < g[:-1]).all())
    # never more points than the shortened table has
    assert Problem(y, A, prior, 0.05, 1, 0, start=3 / T).sigmas(50).shape == (4,)
    # and the full-table grid without start
    full = Problem(y, A, prior, 0.05, 1, 0).sigmas(10)
    assert float(full[0]) == pytest.approx(float(p.schedule.sigmas[-1]))


def test_warm_start_initial_state_is_the_pseudo_inverse_diffused_to_sigma():
    A = O.Downsample(2, "box")
    prior, _, y = _gaussian_problem(A)
    p = Problem(y, A, prior, 0.05, 4000, 0, start=0.2)
    x = p.initial(0.3)
    torch.testing.assert_close(x.mean(0, keepdim=True), A.pinv(y), rtol=0, atol=0.03)
    assert float(x.std(0).mean()) == pytest.approx(0.3, rel=0.03)
    cold = Problem(y, A, prior, 0.05, 4000, 0).initial(0.3)
    assert float((cold.mean(0) - 0.5).abs().max()) < 0.03  # the VP start is centred on the table's centre


def test_warm_start_and_explicit_grid_are_exclusive():
    A = O.Identity()
    prior, _, y = _gaussian_problem(A)
    with pytest.raises(ValueError, match="start"):
        restore.solve(y, A, prior, method="projection", sigma_y=0.05, start=0.5, sigmas=[1.0, 0.5, 0.0])


def test_warm_start_from_the_top_keeps_the_exact_sampler_exact():
    """At f = 1 the start 𝒜†y + σ_T z differs from the VP start only by a centre shift ≪ σ_T, so the
    exact method still lands on the closed-form posterior."""
    A = O.Inpainting(_mask())
    prior, mu, y = _gaussian_problem(A, sigma_y=0.05)
    m_post, cov = gaussian_posterior(A, mu, V, y, 0.05)
    out = restore.sample_posterior(y, A, prior, method="projection", sigma_y=0.05, steps=200, seed=0, samples=400,
                                   start=1.0, clamp=False)
    err, ratio = compare(out, m_post, cov, mu)
    assert err < 0.1 and ratio == pytest.approx(1.0, abs=0.12), (err, ratio)


def test_warm_start_with_few_steps_stays_near_the_data():
    """A short warm start from 𝒜†y keeps the measured pixels (σ_y = 0 inpainting: exactly) and
    spends only min(steps, ⌈f·T⌉) network evaluations."""
    A = O.Inpainting(_mask())
    prior, _, y = _gaussian_problem(A, sigma_y=0.0)
    calls = []
    out = restore.solve(y, A, prior, method="projection", sigma_y=0.0, steps=50, start=0.02, seed=1,
                        callback=lambda i, x, d, s: calls.append(s), clamp=False)
    assert len(calls) == min(50, math.ceil(0.02 * 1000))
    torch.testing.assert_close(A(out), y, rtol=0, atol=1e-10)


# -- operator norm ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["gauss", "motion"])
def test_operator_norm_by_power_iteration_matches_the_dense_matrix(kernel):
    """‖𝒜‖² of a reflect-boundary blur (no SVD): the early-stopped power iteration is within 1 % below the
    largest eigenvalue of the dense 𝒜ᵀ𝒜 (plus the 5 % margin), and a batch of 3 gives each image the same."""
    g = torch.Generator().manual_seed(4)
    k = (torch.rand(5, 5, generator=g, dtype=torch.float64) if kernel == "motion"
         else torch.exp(-(torch.arange(-2, 3.0, dtype=torch.float64) ** 2) / 2)[:, None].expand(5, 5) ** 2)
    A = O.Blur(k, boundary="reflect")
    shape = (1, 12, 10)
    n = math.prod(shape)
    M = torch.stack([A(e.reshape(1, *shape)).reshape(-1) for e in torch.eye(n, dtype=torch.float64)], 1)
    top = float(torch.linalg.eigvalsh(M.T @ M)[-1])
    prior, _, y = _gaussian_problem(A, shape=shape)
    one = Problem(y, A, prior, 0.05, 1, 0).operator_norm2()
    assert one.shape == (1, 1, 1, 1)
    assert 0.99 * 1.05 * top <= float(one) <= 1.05 * top * (1 + 1e-9)
    three = Problem(y.expand(3, *shape).clone(), A, prior, 0.05, 1, 0).operator_norm2()
    torch.testing.assert_close(three, one.expand(3, 1, 1, 1), rtol=1e-12, atol=0)
