"""The cosine-basis preconditioner of a mirror-boundary blur's prox (`operators.cosine_precond`, issue 19).

Checks the math (cosine transforms against their sums; the preconditioned spectrum of a reflect blur
in [1, 4] for every λ, exactly 1 for the half-sample mirror), that the preconditioned prox is the same
prox as plain CG to a tight tolerance (reflect and symmetric, odd, even and non-symmetric kernels,
per-image σ and ρ, batch = single images), and that the fast path is taken (counted 𝒜ᵀ𝒜 products).
"""
import math

import pytest
import torch

import operators as O
from operators.blur import fft_size
from operators.cosine import cosine, cosine_inverse
from operators.cosine_precond import cosine_preconditioner, edge_weights, even_power_spectrum

F64 = torch.float64


def _cosine_matrix(n, mirror):
    j = torch.arange(n, dtype=F64)
    k = j[:, None]
    if mirror == "reflect":  # DCT-I: x₀ + (−1)^k x_{n−1} + 2 Σ x_j cos(πjk/(n−1))
        W = 2 * torch.cos(math.pi * k * j[None] / (n - 1))
        W[:, 0], W[:, -1] = 1.0, (-1.0) ** j
        return W
    return 2 * torch.cos(math.pi * k * (2 * j[None] + 1) / (2 * n))  # DCT-II


@pytest.mark.parametrize("mirror", ["reflect", "symmetric"])
@pytest.mark.parametrize("n", [2, 3, 8, 11])
def test_cosine_is_the_cosine_sum_and_inverts(mirror, n):
    x = O.randn((2, 3, n), 0, dtype=F64)
    c = cosine(x, mirror)
    assert torch.allclose(c, x @ _cosine_matrix(n, mirror).T, atol=1e-12)
    assert torch.allclose(cosine_inverse(c, mirror), x, atol=1e-12)


def _counted(A):
    """A with its 𝒜ᵀ𝒜 products counted (the prox's CG calls normal once per step plus once at the start)."""
    count = [0]
    normal = A.normal

    def counted(v):
        count[0] += 1
        return normal(v)

    A.normal = counted
    return count


def _problem(A, shape, seed=0):
    x = O.rand(shape, seed, dtype=F64)
    z = x + 0.2 * O.randn(shape, seed + 1, dtype=F64)
    y = A(x) + 0.05 * O.randn(shape, seed + 2, dtype=F64)
    return z, y


def _reference(A, z, y, sigma, rho):
    """Plain CG on (𝒜ᵀ𝒜 + λI)x = 𝒜ᵀy + λz, λ = ρσ², to 1e-13."""
    lam = O.per_image(rho, z) * O.per_image(sigma, z) ** 2
    return O.conjugate_gradient(lambda v: A.normal(v) + lam * v, A.adjoint(y) + lam * z, z, tol=1e-13,
                                max_iter=5000)


KERNELS = {
    "gauss5": O.gaussian_kernel(5, 1.2),
    "gauss4-even": O.gaussian_kernel(4, 1.0),
    "motion7": O.motion_kernel(7, 0.5, seed=3),
    "random3x6": torch.rand(3, 6, generator=torch.Generator().manual_seed(0), dtype=F64),
}
SIGMA = torch.tensor([0.05, 0.02], dtype=F64)
RHO = torch.tensor([0.5, 30.0], dtype=F64)  # λ = ρσ² = 1.25e-3 and 1.2e-2


@pytest.mark.parametrize("boundary", ["reflect", "symmetric"])
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_preconditioned_prox_is_the_cg_prox(boundary, kernel):
    A = O.Blur(KERNELS[kernel], boundary=boundary)
    A.cg_tol, A.cg_max_iter = 1e-12, 5000
    z, y = _problem(A, (2, 3, 17, 14))
    count = _counted(A)
    x = A.prox(z, y, SIGMA, RHO)
    steps, count[0] = count[0], 0
    ref = _reference(A, z, y, SIGMA, RHO)
    assert float((x - ref).norm() / ref.norm()) < 1e-9
    # the fast path was taken: fewer 𝒜ᵀ𝒜 products than plain CG needs to the same tolerance (measured
    # to 1e-12: 17 against 171 for the Gaussian, 55–84 against 213–221 for the others)
    assert steps < count[0] / 2, (steps, count[0])
    # per image: a batch of two gives the single-image results
    for b in range(2):
        one = A.prox(z[b:b + 1], y[b:b + 1], SIGMA[b:b + 1], RHO[b:b + 1])
        assert torch.allclose(one, x[b:b + 1], rtol=0, atol=1e-12)


def test_symmetric_kernel_half_sample_mirror_is_solved_in_one_step():
    A = O.GaussianBlur(7, 1.5, boundary="symmetric")
    A.cg_tol = 1e-11
    z, y = _problem(A, (2, 1, 16, 21), seed=4)
    count = _counted(A)
    x = A.prox(z, y, SIGMA, RHO)
    assert count[0] == 2  # the initial residual and one step: (𝒜ᵀ𝒜 + λI)⁻¹ = R (K² + λ)⁻¹ E exactly
    assert float((x - _reference(A, z, y, SIGMA, RHO)).norm() / x.norm()) < 1e-10


def test_reflect_converges_in_a_few_steps_for_any_lambda():
    A = O.GaussianBlur(9, 2.0, boundary="reflect")
    A.cg_tol = 1e-8
    z, y = _problem(A, (1, 1, 24, 20), seed=6)
    count = _counted(A)
    for lam in (1e-9, 1e-5, 1e-2, 1.0):
        count[0] = 0
        A.prox(z, y, 1.0, lam)
        # spectrum in [1, 4]: error × 1/3 per step at worst, 1e-8 within ~17 steps (measured ≤ 10)
        assert count[0] <= 18, (lam, count[0])


@pytest.mark.parametrize("boundary", ["reflect", "symmetric"])
def test_preconditioned_spectrum_matches_the_theory(boundary):
    """Q⁻¹(𝒜ᵀ𝒜 + λI) for a mirror-symmetric kernel: eigenvalues in [1, 4] (reflect), all 1 (symmetric)."""
    h, w = 6, 7
    A = O.GaussianBlur(5, 1.0, boundary=boundary)
    basis = torch.eye(h * w, dtype=F64).reshape(h * w, 1, h, w)
    normal = A.normal(basis).reshape(h * w, -1).T
    for lam in (1e-8, 1e-3, 1.0):
        pre = cosine_preconditioner(even_power_spectrum(A.kernel, h, w, boundary), edge_weights(h, w, boundary),
                                    lam, boundary)
        Q_inv = pre(basis).reshape(h * w, -1).T
        assert torch.allclose(Q_inv, Q_inv.T, atol=1e-10 / lam)  # symmetric
        eig = torch.linalg.eigvals(Q_inv @ (normal + lam * torch.eye(h * w, dtype=F64))).real
        if boundary == "symmetric":
            assert torch.allclose(eig, torch.ones_like(eig), atol=1e-7)
        else:
            assert float(eig.min()) > 1 - 1e-7 and float(eig.max()) < 4 + 1e-6


def test_zero_lambda_images_keep_the_projection():
    """σ = 0 (λ = 0) is the projection nearest z: that image runs plain CG (Q⁻¹ = I), its neighbour is unaffected."""
    A = O.GaussianBlur(5, 1.0, boundary="reflect")
    A.cg_max_iter, A.cg_warn = 30, False  # σ = 0: a singular system, stopped at the cap
    z, y = _problem(A, (2, 1, 12, 13), seed=8)
    sigma = torch.tensor([0.0, 0.1], dtype=F64)
    x = A.prox(z, y, sigma, 1.0)
    A.cg_precondition = False
    plain = A.prox(z[:1], y[:1], 0.0, 1.0)
    assert torch.allclose(x[:1], plain, atol=1e-12)
    A.cg_precondition = True
    assert torch.allclose(x[1:], A.prox(z[1:], y[1:], 0.1, 1.0), atol=1e-12)


@pytest.mark.parametrize("boundary", ["reflect", "symmetric", "zero"])
def test_fft_path_on_a_fast_grid_equals_direct_convolution(boundary):
    """The padded FFT path runs on an enlarged even 2·3·5·7-smooth grid; forward and adjoint stay exact."""
    assert [fft_size(n) for n in (11, 13, 25, 146, 274, 306)] == [12, 14, 28, 150, 280, 320]
    k = O.motion_kernel(9, 0.5, seed=1)  # 81 taps: FFT path; 17 + 8 = 25, 23 + 8 = 31 → grid 28 × 32
    fft, direct = O.Blur(k, boundary=boundary), O.Blur(k, boundary=boundary)
    direct.fft_min_taps = 10**9
    x = O.randn((2, 3, 17, 23), 0, dtype=F64)
    assert torch.allclose(fft(x), direct(x), atol=1e-12)
    assert torch.allclose(fft.adjoint(x), direct.adjoint(x), atol=1e-12)
    assert fft.check_adjoint((2, 3, 17, 23)) < 1e-12


def test_cosine_diagonal_names_the_exact_cases():
    assert O.GaussianBlur(19, 3.0, boundary="reflect").cosine_diagonal
    assert O.UniformBlur(9, boundary="symmetric").cosine_diagonal
    assert not O.GaussianBlur(19, 3.0, boundary="zero").cosine_diagonal
    assert not O.GaussianBlur(19, 3.0).cosine_diagonal  # circular: closed form, no CG
    assert not O.Blur(O.gaussian_kernel(4, 1.0), boundary="reflect").cosine_diagonal  # even size: off-centre
    assert not O.MotionBlur(31, 0.5, seed=0, boundary="reflect").cosine_diagonal


def test_cli_operator_takes_the_fast_data_step():
    """The CLI deblur default (reflect): 3 preconditioned CG steps for a Gaussian, 8 plain ones for a motion kernel."""
    from restore.cli import specs
    g = specs.build({"op": "blur", "boundary": "reflect", "kernel": "gauss", "kernel_size": 19, "kernel_std": 3.0},
                    (1, 3, 64, 64))
    m = specs.build({"op": "blur", "boundary": "reflect", "kernel": "motion", "kernel_size": 31, "intensity": 0.5,
                     "kernel_seed": 0}, (1, 3, 64, 64))
    assert g.cg_precondition and g.cg_max_iter == specs.PCG_MAX_ITER
    assert not m.cg_precondition and m.cg_max_iter == specs.CG_MAX_ITER
    z, y = _problem(g, (1, 3, 64, 64))
    count = _counted(g)
    g.prox(z.float(), y.float(), 0.025, 7.0 / 0.5**2)
    assert count[0] <= specs.PCG_MAX_ITER + 1


def test_adjoint_of_the_measurement_is_remembered_only_while_unchanged():
    A = O.GaussianBlur(5, 1.0, boundary="reflect")
    z, y = _problem(A, (1, 1, 12, 12), seed=9)
    first = A.prox(z, y, 0.1, 1.0)
    y.mul_(2.0)  # in place: the remembered 𝒜ᵀy is stale and must not be used
    assert torch.allclose(A.prox(z, y, 0.1, 1.0), O.GaussianBlur(5, 1.0, boundary="reflect").prox(z, y, 0.1, 1.0))
    assert not torch.allclose(first, A.prox(z, y, 0.1, 1.0))
    with torch.inference_mode():  # no version counter: no memo, same result
        assert torch.allclose(A.prox(z.clone(), y.clone(), 0.1, 1.0), A.prox(z, y, 0.1, 1.0))
