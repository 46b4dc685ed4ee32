"""Noise models: seeding, the Brownian-path view of Gaussian noise, and Poisson statistics.

Tolerances: the statistics below average N ≈ 1.2e5 independent pixels (4 seeds × 30 000).  A sample
variance of N(0, v) has relative standard deviation √(2/N) ≈ 0.41 %, and the mean of a product XY of
jointly Gaussian X, Y (variances a, b, covariance c) has standard deviation √((ab + c²)/N); each check
allows 5 standard deviations, so a correct implementation fails with probability < 1e-6, while the
errors it guards against (e.g. a bridge with a fresh ξ per call, giving Cov(W_.3, W_.7) = 0.42
instead of 0.30) are 20+ standard deviations away.  Seeds are fixed, so the tests are deterministic.
"""
import math

import pytest
import torch

import operators as O

SIGMA = 0.1
SEEDS = [11, 12, 13, 14]
SHAPE = (1, 1, 200, 150)
N = len(SEEDS) * 200 * 150


def _ax():
    return torch.linspace(0, 1, 200 * 150, dtype=torch.float64).view(SHAPE)


def _w(t, seed):
    """(Y_t − Ax)/σ = W_t for the given seed, flattened."""
    ax = _ax()
    return ((O.GaussianNoise(SIGMA).path(ax, t, seed) - ax) / SIGMA).flatten()


def test_randn_seeded_and_dtype_independent():
    a = O.randn((3, 4), 5, dtype=torch.float64)
    assert torch.equal(a, O.randn((3, 4), 5, dtype=torch.float64))
    assert not torch.equal(a, O.randn((3, 4), 6, dtype=torch.float64))
    assert torch.equal(O.randn((3, 4), 5, dtype=torch.float32), a.float())  # drawn in float64, then cast
    g = torch.Generator().manual_seed(5)
    assert torch.equal(O.randn((3, 4), g, dtype=torch.float64), a)
    assert not torch.equal(O.randn((3, 4), g, dtype=torch.float64), a)  # the generator advanced
    assert O.rand((2,), 1).dtype == torch.float32
    assert O.derive_seed(1, 2) != O.derive_seed(1, 3) != O.derive_seed(2, 2)
    with pytest.raises(TypeError):
        O.randn((2,), 1.5)


def test_gaussian_noise_seeded():
    ax = torch.rand(2, 3, 8, 9)
    noise = O.GaussianNoise(0.05)
    y = noise(ax, seed=3)
    assert y.dtype == ax.dtype and y.shape == ax.shape
    assert torch.equal(y, noise.noise(ax, seed=3))
    assert not torch.equal(y, noise(ax, seed=4))
    assert torch.equal(y, noise(ax, torch.Generator().manual_seed(3)))
    assert torch.allclose(y, ax + 0.05 * O.randn(ax.shape, 3))
    # per-image σ
    ys = O.GaussianNoise(torch.tensor([0.0, 0.2]))(ax, seed=3)
    assert torch.equal(ys[0], ax[0]) and torch.allclose(ys[1], ax[1] + 0.2 * O.randn(ax.shape, 3)[1])
    with pytest.raises(ValueError):
        O.GaussianNoise(-1.0)


def test_path_endpoints():
    ax = torch.rand(2, 3, 8, 9, dtype=torch.float64)
    noise = O.GaussianNoise(0.05)
    assert torch.equal(noise.path(ax, 1.0, seed=7), noise.noise(ax, seed=7))
    assert torch.equal(noise.path(ax, 1, seed=7), noise(ax, seed=7))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(noise.path(ax, 1.0, g1), noise.noise(ax, g2))
    assert torch.equal(noise.path(ax, 0.0, seed=7), ax)
    for t in (0.25, 0.3):  # dyadic and not: reproducible with the same seed, not with another
        assert torch.equal(noise.path(ax, t, seed=7), noise.path(ax, t, seed=7))
        assert not torch.equal(noise.path(ax, t, seed=7), noise.path(ax, t, seed=8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        noise.path(ax, 1.5, seed=0)


@pytest.mark.parametrize("t", [0.25, 0.3, 0.5, 0.9])
def test_path_variance(t):
    """Var(Y_t − Ax) = σ² t."""
    w = torch.cat([_w(t, s) for s in SEEDS])
    assert abs(float(w.mean())) < 5 * math.sqrt(t / N)
    assert abs(float(w.var()) / t - 1) < 5 * math.sqrt(2 / N)


@pytest.mark.parametrize("s,t", [(0.3, 0.7), (0.25, 0.5), (0.5, 1.0), (0.1, 0.15)])
def test_path_covariance(s, t):
    """Cov(Y_s, Y_t) = σ² min(s, t) for two calls with the same seed; increments are independent."""
    ws = torch.cat([_w(s, k) for k in SEEDS])
    wt = torch.cat([_w(t, k) for k in SEEDS])
    c = min(s, t)
    cov = float((ws * wt).mean())
    assert abs(cov - c) < 5 * math.sqrt((s * t + c * c) / N)
    inc = float(((wt - ws) * ws).mean())  # Cov(W_t − W_s, W_s) = 0, Var = (t − s)·s
    assert abs(inc) < 5 * math.sqrt((t - s) * s / N)


def test_poisson_noise():
    ax = torch.full((1, 1, 300, 400), 0.5, dtype=torch.float64)
    p = O.PoissonNoise(gain=100.0)
    y = p(ax, seed=1)
    assert torch.equal(y, p(ax, seed=1)) and not torch.equal(y, p(ax, seed=2))
    assert torch.allclose(y * 100, torch.round(y * 100))  # counts / gain
    n = ax.numel()
    # mean 0.5, variance 0.5/gain; 5 standard deviations (sample variance: √((2 + 1/λ)/N) relative, λ = 50)
    assert abs(float(y.mean()) - 0.5) < 5 * math.sqrt(0.005 / n)
    assert abs(float(y.var()) / 0.005 - 1) < 5 * math.sqrt((2 + 1 / 50) / n)
    assert torch.equal(p(-ax, seed=1), torch.zeros_like(ax))
    with pytest.raises(ValueError):
        O.PoissonNoise(0.0)


class _Differences(O.LinearOperator):
    """(𝒜x)ᵢ = x_{i+1} − x_i on the last axis, and a zero last entry: rows that sum to zero, one zero row."""

    def forward(self, x):
        d = torch.zeros_like(x)
        d[..., :-1] = x[..., 1:] - x[..., :-1]
        return d

    def adjoint(self, y):
        x = torch.zeros_like(y)
        x[..., 1:] += y[..., :-1]
        x[..., :-1] -= y[..., :-1]
        return x


def test_measured_entries_finds_zero_rows_not_zero_sums():
    mask = torch.ones(1, 1, 6, 6)
    mask[..., 2:4, 1:5] = 0
    assert torch.equal(O.measured_entries(O.Inpainting(mask), (2, 3, 6, 6)), mask.expand(2, 3, 6, 6))
    m = O.measured_entries(_Differences(), (1, 1, 4, 5), torch.float64)
    assert torch.equal(m[..., :-1], torch.ones(1, 1, 4, 4, dtype=torch.float64))  # 𝒜1 = 0 there, yet measured
    assert not m[..., -1].any()
    y = O.measure(torch.rand(1, 1, 4, 5), _Differences(), 0.1, seed=3)
    assert not y[..., -1].any() and y[..., :-1].abs().min() > 0


def test_with_cg_caps_a_copy_and_leaves_the_operator_alone():
    A = O.Compose(O.GaussianBlur(1.0, boundary="reflect"), O.Downsample(2))
    capped = A.with_cg(3, warn=False)
    assert A.cg_max_iter == 200 and all(f.cg_max_iter == 200 and f.cg_warn for f in A.factors)
    assert capped.cg_max_iter == 3 and all(f.cg_max_iter == 3 and not f.cg_warn for f in capped.factors)
    x, z = torch.rand(1, 1, 16, 16, dtype=torch.float64), torch.rand(1, 1, 16, 16, dtype=torch.float64)
    y = A(x)
    exact, few = A.prox(z, y, 0.1, 1.0), capped.prox(z, y, 0.1, 1.0)
    assert torch.allclose(A.normal(exact) * 100 + exact, A.adjoint(y) * 100 + z, atol=1e-6)
    assert not torch.allclose(few, exact, atol=1e-6)
