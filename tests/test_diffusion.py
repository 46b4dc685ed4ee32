"""Schedules, SDE objects and the conversions of restore.diffusion (all checked against the algebra)."""
import math

import pytest
import torch

from restore import diffusion as d
from restore.priors import GaussianPrior

torch.set_default_dtype(torch.float64)


def test_linear_table_matches_ddpm():
    betas = d.linear_betas()
    assert betas.shape == (1000,) and betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)
    ab = d.alpha_bar_from_betas(betas)
    assert ab[-1] == pytest.approx(math.prod(1 - b for b in betas.tolist()), rel=1e-10)
    assert ab[-1] == pytest.approx(4.035e-5, rel=1e-3)  # well-known value of the DDPM linear table
    assert torch.allclose(d.betas_from_alpha_bar(ab), betas, atol=1e-14)


def test_cosine_table_matches_formula():
    T, s = 1000, 0.008
    ab = d.cosine_alpha_bar(T, s)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in [1, 10, 500, 900]:  # below the β clipping
        assert ab[t - 1].item() == pytest.approx(f(t) / f(0), rel=1e-10)
    assert (d.betas_from_alpha_bar(ab) <= 0.999 + 1e-12).all()


def test_sigma_alpha_bar_and_state_conversions_roundtrip():
    ab = torch.tensor([0.999, 0.5, 1e-3])
    sig = d.sigma_from_alpha_bar(ab)
    assert torch.allclose(d.alpha_bar_from_sigma(sig), ab)
    x_t = torch.randn(3, 1, 2, 2)
    a = ab.view(3, 1, 1, 1)
    x_ve = d.vp_to_ve(x_t, a)
    assert torch.allclose(d.ve_to_vp(x_ve, sig.view(3, 1, 1, 1)), x_t)


def test_units():
    x = torch.rand(2, 3, 4, 4)
    for rng in [(-1, 1), (0, 1), (-0.5, 2.0)]:
        assert torch.allclose(d.from_network_units(d.to_network_units(x, rng), rng), x)
    assert torch.allclose(d.to_network_units(x), 2 * x - 1)
    assert d.sigma_from_network_units(0.2) == pytest.approx(0.1)
    assert d.sigma_to_network_units(0.1, (0, 1)) == pytest.approx(0.1)
    sch = d.VPSchedule.linear()
    assert torch.allclose(sch.sigmas, d.sigma_from_alpha_bar(sch.alpha_bar) / 2)
    assert sch.init_center == 0.5 and sch.init_scale == 0.5
    sch01 = d.VPSchedule.linear(data_range=(0, 1))
    assert sch01.init_center == 0.0 and sch01.init_scale == 1.0 and torch.allclose(sch01.sigmas, 2 * sch.sigmas)


def test_continuous_timestep_interpolation():
    sch = d.VPSchedule.linear()
    idx = torch.tensor([0, 1, 37, 500, 998, 999])
    assert torch.allclose(sch.t_from_sigma(sch.sigmas[idx]), idx.double(), atol=1e-9)
    t = torch.tensor([0.25, 10.5, 400.75, 998.9])
    assert torch.allclose(sch.t_from_sigma(sch.sigma_at(t)), t, atol=1e-9)
    s = sch.sigma_at(torch.tensor(10.5))  # geometric mean of neighbours (log-linear)
    assert s.item() == pytest.approx(math.sqrt(sch.sigmas[10].item() * sch.sigmas[11].item()), rel=1e-12)
    assert sch.t_from_sigma(torch.tensor([1e-6, 1e6])).tolist() == [0.0, 999.0]  # clamped


def test_vpsde_continuous_view_of_the_discrete_table():
    sch = d.VPSchedule.linear()
    sde = sch.to_sde()
    t = (torch.arange(1000) + 1) / 1000
    assert torch.allclose(sde.alpha_bar(t), sch.alpha_bar, rtol=1e-10)
    # piecewise-constant β(t): ∫ β over ((i)/T, (i+1)/T] = −log(ᾱ_{i+1}/ᾱ_i)
    assert torch.allclose(sde.beta(t[1:]) / 1000, -(sch.alpha_bar[1:] / sch.alpha_bar[:-1]).log())
    # the linear VPSDE (β 0.1..20) is the T → ∞ limit of the same table: close in ᾱ
    lin = d.VPSDE()
    tt = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(lin.alpha_bar(tt).log(), sde.alpha_bar(tt).log(), rtol=1e-2)


def test_sde_objects_drift_diffusion_marginal():
    x0 = torch.randn(4, 1, 2, 2)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9])
    vp = d.VPSDE()
    beta = 0.1 + t * 19.9
    assert torch.allclose(vp.drift(x0, t), -0.5 * beta.view(-1, 1, 1, 1) * x0)
    assert torch.allclose(vp.diffusion(x0, t).flatten(), beta.sqrt())
    mean, std = vp.marginal(x0, t)
    ab = torch.exp(-0.5 * t**2 * 19.9 - 0.1 * t).view(-1, 1, 1, 1)
    assert torch.allclose(mean, ab.sqrt() * x0) and torch.allclose(std**2 + ab, torch.ones_like(ab))
    # d ᾱ/dt = −β ᾱ  (finite differences)
    h = 1e-6
    dab = (vp.alpha_bar(t + h) - vp.alpha_bar(t - h)) / (2 * h)
    assert torch.allclose(dab, -beta * vp.alpha_bar(t), rtol=1e-6)
    ve = d.VESDE(0.01, 50.0)
    ds2 = (ve.sigma(t + h) ** 2 - ve.sigma(t - h) ** 2) / (2 * h)
    assert torch.allclose(ve.diffusion(x0, t).flatten() ** 2, ds2, rtol=1e-6)
    assert torch.equal(ve.drift(x0, t), torch.zeros_like(x0))
    # reverse SDE / probability flow
    score = lambda x, t: -x  # noqa: E731
    rev, pf = vp.reverse(score), vp.reverse(score, probability_flow=True)
    g2 = beta.view(-1, 1, 1, 1)
    assert torch.allclose(rev.drift(x0, t), vp.drift(x0, t) + g2 * x0)
    assert torch.allclose(pf.drift(x0, t), vp.drift(x0, t) + 0.5 * g2 * x0)
    assert torch.equal(pf.diffusion(x0, t), torch.zeros_like(pf.diffusion(x0, t)))


def test_eps_score_x0_conversions_agree_with_an_exact_prior():
    """ε ↔ score ↔ x̂0 (Tweedie) in VE and VP form, against GaussianPrior's exact denoiser and autograd."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g)
    prior = GaussianPrior(torch.rand(1, 2, 2, generator=g), 0.02 * A @ A.T + 0.01 * torch.eye(4))
    sch = d.VPSchedule.linear()
    t = torch.tensor([5, 100, 300, 700])
    a = sch.alpha_bar[t].view(-1, 1, 1, 1)
    s01 = sch.sigmas[t].view(-1, 1, 1, 1)
    x01 = prior.sample(4, seed=1) + s01 * torch.randn(4, 1, 2, 2, generator=g)   # VE, [0,1] units
    D = prior.denoise(x01, s01.flatten())
    # VE (one line each)
    score_ve = d.score_from_denoiser(D, x01, s01)
    eps_ve = d.eps_from_denoiser(D, x01, s01)
    assert torch.allclose(d.denoiser_from_score(score_ve, x01, s01), D)
    assert torch.allclose(d.denoiser_from_eps(eps_ve, x01, s01), D)
    assert torch.allclose(score_ve, prior.score(x01, s01.flatten()))
    xg = x01.clone().requires_grad_(True)
    (gl,) = torch.autograd.grad(prior.log_prob(xg, s01.flatten()).sum(), xg)
    assert torch.allclose(gl, score_ve, rtol=1e-8, atol=1e-8)
    # VP, network units on [-1, 1]
    x_t = d.ve_to_vp(d.to_network_units(x01), 2 * s01)
    D_n = d.to_network_units(D)
    eps = d.vp_eps_from_x0(x_t, D_n, a)
    assert torch.allclose(eps, eps_ve, atol=1e-9)  # ε is unit-free
    assert torch.allclose(d.vp_x0_from_eps(x_t, eps, a), D_n)
    score_vp = d.vp_score_from_eps(eps, a)
    assert torch.allclose(d.vp_eps_from_score(score_vp, a), eps)
    assert torch.allclose(d.vp_x0_from_score(x_t, score_vp, a), D_n)
    # VP score = VE score (network units) / √ᾱ, by autograd of log p_t(x_t) = log p_σ(x_t/√ᾱ) + const
    xv = x_t.clone().requires_grad_(True)
    x01_of_xv = d.from_network_units(d.vp_to_ve(xv, a))
    (gv,) = torch.autograd.grad(prior.log_prob(x01_of_xv, s01.flatten()).sum(), xv)
    assert torch.allclose(gv, score_vp, rtol=1e-8, atol=1e-8)
    assert torch.allclose(d.vp_score_from_ve_score(score_ve / 2, a), score_vp)


def test_reverse_sde_step_is_the_samplers_update():
    """ReverseSDE.step integrates drift and variance over the interval: VP on the σ clock gives
    x' = x + (½x + score)Δs + √Δs z with Δs = log(ᾱ'/ᾱ); VE gives x' = x + (σ² − σ'²)score + √(σ² − σ'²) z;
    the probability-flow step halves the score term and adds no noise."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    score = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    z = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    s, sn = torch.tensor([0.7, 0.2], dtype=torch.float64).view(-1, 1, 1, 1), torch.tensor([0.4, 0.05], dtype=torch.float64).view(-1, 1, 1, 1)
    vp = d.SigmaClockVPSDE(2.0)
    ds = torch.log((1 + 4 * s**2) / (1 + 4 * sn**2))
    torch.testing.assert_close(vp.reverse(lambda *_: score).step(x, s, sn, z), x + (0.5 * x + score) * ds + ds.sqrt() * z)
    torch.testing.assert_close(vp.reverse(lambda *_: score, probability_flow=True).step(x, s, sn, z),
                               x + (0.5 * x + 0.5 * score) * ds)
    # β(t) = −d log ᾱ/dt on the σ clock (finite differences)
    t = torch.tensor([0.05, 0.3, 1.5], dtype=torch.float64)
    h = 1e-6
    fd = -(vp._log_alpha_bar(t + h) - vp._log_alpha_bar(t - h)) / (2 * h)
    torch.testing.assert_close(vp.beta(t), fd, rtol=1e-6, atol=1e-9)
    ve = d.VESDE(clock="sigma")
    dv = s**2 - sn**2
    torch.testing.assert_close(ve.reverse(lambda *_: score).step(x, s, sn, z), x + dv * score + dv.sqrt() * z)
    with pytest.raises(ValueError, match="clock"):
        d.VESDE(clock="linear")
