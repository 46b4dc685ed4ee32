"""Samplers reproduce a known distribution; one-step updates are exactly DDPM/DDIM; seeds and batches.

Distribution test (``test_sampler_reproduces_the_mixture``): a 3-component Gaussian mixture on
C=1, H=1, W=2 in [0, 1] units (means ≥ 0.5 apart, component std 0.08-0.12, distinct covariances),
N = 4000 samples per sampler with its default steps, float64, seed 0.  Statistics (weights, component
means, covariances) are computed by assigning each sample to its most responsible component; the
reference values come from the same estimator on 400 000 exact samples, so assignment effects cancel.
Tolerance per statistic = 4 Monte-Carlo standard errors at N (weights √(w(1−w)/N); means, in units of
the component std, 1/√(N w_k); covariance entries / √(S_ii S_jj), √((1 + ρ²)/(N w_k))) + the
discretisation bias measured with N = 40 000 (seed 7), rounded up (BIAS below).  Measured biases:
ddpm 0.003 / 0.02 / 0.023, sde 0.003 / 0.02 / 0.024, pc 0.002 / 0.03 / 0.05, ode 0.007 / 0.045 / 0.025,
ddim 0.010 / 0.07 / 0.095 (weights / means / covariances; pure MC at that N: 0.003 / 0.005 / 0.016).
DDIM's larger bias comes from the uniform-t sub-grid of the linear table, coarse at low σ.
"""
import pytest
import torch

import restore
from restore.priors import GaussianMixturePrior, GaussianPrior
from restore.sampling import (DEFAULT_STEPS, SAMPLERS, ddim_step, ddpm_step, get_sigmas_karras, get_sigmas_vp,
                              sample_ddim, sample_ode, vp_timesteps)
from restore.diffusion import VPSchedule

N = 4000
# allowances for discretisation bias: (weights, means [std units], covariances [correlation units])
BIAS = {"ddpm": (0.01, 0.04, 0.04), "sde": (0.01, 0.04, 0.04), "pc": (0.01, 0.05, 0.08),
        "ode": (0.015, 0.07, 0.05), "ddim": (0.02, 0.11, 0.15)}


def mixture():
    means = torch.tensor([[0.2, 0.25], [0.8, 0.3], [0.45, 0.8]], dtype=torch.float64).view(3, 1, 1, 2)
    covs = torch.stack([torch.tensor([[0.012, 0.006], [0.006, 0.010]]), torch.diag(torch.tensor([0.006, 0.015])),
                        0.009 * torch.eye(2)]).double()
    return GaussianMixturePrior(means, covs, torch.tensor([0.5, 0.3, 0.2]))


def estimate(prior, x):
    k = prior.responsibilities(x, 0.0).argmax(1)
    xf = x.reshape(len(x), -1)
    w = torch.stack([(k == j).double().mean() for j in range(prior.K)])
    m = torch.stack([xf[k == j].mean(0) for j in range(prior.K)])
    c = torch.stack([torch.cov(xf[k == j].T) for j in range(prior.K)])
    return w, m, c


@pytest.fixture(scope="module")
def reference():
    prior = mixture()
    return prior, estimate(prior, prior.sample(400000, seed=123))


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sampler_reproduces_the_mixture(sampler, reference):
    prior, (wr, mr, cr) = reference
    x = restore.sample(prior, (N, 1, 1, 2), sampler=sampler, seed=0, dtype=torch.float64)
    assert x.shape == (N, 1, 1, 2) and x.dtype == torch.float64 and torch.isfinite(x).all()
    w, m, c = estimate(prior, x)
    bw, bm, bc = BIAS[sampler]
    nk = wr * N
    sd = torch.diagonal(cr, dim1=1, dim2=2).sqrt()                      # (K, D)
    rho = cr / (sd[:, :, None] * sd[:, None, :])
    assert ((w - wr).abs() <= 4 * (wr * (1 - wr) / N).sqrt() + bw).all(), (w, wr)
    assert (((m - mr) / sd).abs() <= 4 / nk.sqrt()[:, None] + bm).all(), ((m - mr) / sd)
    dc = (c - cr) / (sd[:, :, None] * sd[:, None, :])
    assert (dc.abs() <= 4 * ((1 + rho**2) / nk[:, None, None]).sqrt() + bc).all(), dc


def _gauss():
    return GaussianPrior(torch.tensor([0.3, 0.7]).view(1, 1, 2), torch.tensor([[0.02, 0.01], [0.01, 0.03]]))


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_same_seed_same_output(sampler):
    prior = _gauss()
    a = restore.sample(prior, (6, 1, 1, 2), sampler=sampler, steps=20, seed=3)
    b = restore.sample(prior, (6, 1, 1, 2), sampler=sampler, steps=20, seed=3)
    c = restore.sample(prior, (6, 1, 1, 2), sampler=sampler, steps=20, seed=4)
    assert a.dtype == torch.float32 and torch.equal(a, b) and not torch.allclose(a, c)


def test_ddim_eta0_is_deterministic_and_draws_no_noise():
    prior = _gauss()
    sigmas = get_sigmas_vp(VPSchedule.linear(), 50)
    x = 0.5 + sigmas[0] * torch.randn(5, 1, 1, 2, dtype=torch.float64)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(99)
    state = g1.get_state().clone()
    a = sample_ddim(prior.denoise, x, sigmas, generator=g1, eta=0.0)
    b = sample_ddim(prior.denoise, x, sigmas, generator=g2, eta=0.0)
    assert torch.equal(a, b) and torch.equal(g1.get_state(), state)
    c = sample_ddim(prior.denoise, x, sigmas, generator=torch.Generator().manual_seed(0), eta=1.0)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("loop", [sample_ddim, sample_ode])
def test_batch_size_does_not_change_a_deterministic_sample(loop):
    prior = mixture()
    sigmas = get_sigmas_karras(15, 0.005, 80.0) if loop is sample_ode else get_sigmas_vp(VPSchedule.linear(), 30)
    x = 0.5 + sigmas[0] * torch.randn(9, 1, 1, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    full = loop(prior.denoise, x, sigmas)
    assert torch.allclose(loop(prior.denoise, x[:2], sigmas), full[:2], rtol=0, atol=1e-12)
    assert torch.allclose(loop(prior.denoise, x[5:6], sigmas), full[5:6], rtol=0, atol=1e-12)


def _vp(sigma, k=2.0):
    return 1 / (1 + (k * sigma) ** 2)   # ᾱ of a [0,1]-units σ for a network on (-1, 1)


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_ddpm_step_is_the_ddpm_update(variance):
    """Ho et al. eq. (11) in the VP variable (network units, respaced ᾱ_prev), vs ddpm_step in VE [0,1] units."""
    g = torch.Generator().manual_seed(0)
    sch = VPSchedule.linear()
    t = vp_timesteps(1000, 25)
    for i in [0, 5, 20, 23]:
        ab, ab_prev = sch.alpha_bar[t[i]], sch.alpha_bar[t[i + 1]]
        s, sn = sch.sigmas[t[i]], sch.sigmas[t[i + 1]]
        x_t = torch.randn(4, 1, 2, 2, generator=g, dtype=torch.float64)
        eps = torch.randn(4, 1, 2, 2, generator=g, dtype=torch.float64)
        z = torch.randn(4, 1, 2, 2, generator=g, dtype=torch.float64)
        alpha, beta = ab / ab_prev, 1 - ab / ab_prev
        var = beta if variance == "beta" else (1 - ab_prev) / (1 - ab) * beta
        x_prev = (x_t - beta / (1 - ab).sqrt() * eps) / alpha.sqrt() + var.sqrt() * z
        # the same in VE [0, 1] units
        x_ve = (x_t / ab.sqrt() + 1) / 2
        den = ((x_t - (1 - ab).sqrt() * eps) / ab.sqrt() + 1) / 2
        out = ddpm_step(x_ve, den, s, sn, z, variance=variance)
        assert torch.allclose(out, (x_prev / ab_prev.sqrt() + 1) / 2, rtol=1e-10, atol=1e-10)
    # last step (σ' = 0) returns x̂0, no noise
    assert torch.equal(ddpm_step(x_ve, den, s, 0.0, z, variance=variance), den)


def test_ddim_step_is_the_ddim_update():
    """Song et al. (2021a) eq. (12) with σ_t(η) = η √((1−ᾱ')/(1−ᾱ)) √(1 − ᾱ/ᾱ')."""
    g = torch.Generator().manual_seed(1)
    sch = VPSchedule.linear()
    for eta in [0.0, 0.5, 1.0]:
        for ti, tn in [(999, 899), (300, 250), (20, 0)]:
            ab, ab_prev = sch.alpha_bar[ti], sch.alpha_bar[tn]
            x_t, eps, z = (torch.randn(3, 2, 2, 2, generator=g, dtype=torch.float64) for _ in range(3))
            st = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
            x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
            x_prev = ab_prev.sqrt() * x0 + (1 - ab_prev - st**2).sqrt() * eps + st * z
            out = ddim_step((x_t / ab.sqrt() + 1) / 2, (x0 + 1) / 2, sch.sigmas[ti], sch.sigmas[tn], eta, z)
            assert torch.allclose(out, (x_prev / ab_prev.sqrt() + 1) / 2, rtol=1e-10, atol=1e-10)


def test_grids():
    sch = VPSchedule.linear()
    s = get_sigmas_vp(sch, 50)
    assert len(s) == 51 and s[-1] == 0 and (s[1:] < s[:-1]).all()
    assert s[0] == sch.sigmas[-1] and s[-2] == sch.sigmas[0]
    assert torch.equal(get_sigmas_vp(sch.alpha_bar, 1000)[:-1], sch.sigmas.flip(0))
    k = get_sigmas_karras(10, 0.002, 80.0)
    assert len(k) == 11 and k[0].item() == pytest.approx(80.0) and k[-2].item() == pytest.approx(0.002) and k[-1] == 0
    with pytest.raises(ValueError):
        sample_ddim(lambda x, s: x, torch.zeros(1, 1, 1, 1), torch.tensor([1.0, 2.0, 0.0]))


def test_public_sample_options_callback_and_marginal_init():
    prior = _gauss()
    calls = []
    x = restore.sample(prior, (3, 1, 1, 2), sampler="ddpm", steps=7, seed=0, device="cpu",
                       callback=lambda i, x, den, s: calls.append((i, x.shape, den.shape, float(s))))
    assert x.dtype == torch.float32 and [c[0] for c in calls] == list(range(7))
    assert calls[0][3] == pytest.approx(VPSchedule.linear().sigma_max, rel=1e-6)
    with pytest.raises(ValueError):
        restore.sample(prior, (1, 1, 1, 2), sampler="nope")
    assert DEFAULT_STEPS == {"ddpm": 1000, "ddim": 100, "sde": 1000, "ode": 40, "pc": 500}
    # exact marginal start at a small σ_max: a short Heun grid reproduces the Gaussian's covariance
    sig = get_sigmas_karras(30, 0.002, 1.0)
    y = restore.sample(prior, (6000, 1, 1, 2), sampler="ode", sigmas=sig, init="marginal", seed=1, dtype=torch.float64)
    cov = torch.cov(y.flatten(1).T)
    assert torch.allclose(cov, prior.cov, atol=4 * (2 * 0.03**2 / 6000) ** 0.5 + 1e-3)
    assert torch.allclose(y.flatten(1).mean(0), torch.tensor([0.3, 0.7], dtype=torch.float64), atol=0.01)


def test_sample_is_dtype_stable_and_seeded():
    """restore.sample draws its noise on the CPU (float32 numbers) and moves it: float32 agrees with float64
    up to float32 rounding (the same numbers, not a different stream), and the same seed gives the same
    samples."""
    from restore.sampling import sample
    prior = mixture()
    full = sample(prior, (3, 1, 1, 2), sampler="ddpm", steps=40, seed=7, dtype=torch.float64)
    f32 = sample(prior, (3, 1, 1, 2), sampler="ddpm", steps=40, seed=7, dtype=torch.float32)
    assert (f32.double() - full).abs().max() < 1e-4
    assert torch.equal(full, sample(prior, (3, 1, 1, 2), sampler="ddpm", steps=40, seed=7, dtype=torch.float64))
    assert not torch.allclose(full[0], full[1])
    other = sample(prior, (3, 1, 1, 2), sampler="ddpm", steps=40, seed=8, dtype=torch.float64)
    assert not torch.allclose(full, other)


def test_samplers_draw_from_the_injected_noise_sampler_only():
    """A k-diffusion style noise_sampler(σ, σ') feeds every draw; the global RNG is never touched."""
    prior = _gauss()
    sigmas = get_sigmas_vp(VPSchedule.linear(), 20)
    x = 0.5 + sigmas[0] * torch.ones(2, 1, 1, 2, dtype=torch.float64)
    calls = []

    def zeros(s, sn):
        calls.append((float(s), float(sn)))
        return torch.zeros_like(x)

    state = torch.random.get_rng_state()
    for name in ("ddpm", "sde", "pc"):
        calls.clear()
        SAMPLERS[name](prior.denoise, x, sigmas, noise_sampler=zeros)
        assert calls and all(sn <= s for s, sn in calls)
    assert torch.equal(torch.random.get_rng_state(), state)
    # zero noise turns DDIM with η = 1 into its deterministic mean path: equal to η = 1 with zero draws
    a = sample_ddim(prior.denoise, x, sigmas, eta=1.0, noise_sampler=zeros)
    b = sample_ddim(prior.denoise, x, sigmas, eta=1.0, noise_sampler=lambda s, sn: torch.zeros_like(x))
    assert torch.equal(a, b)
