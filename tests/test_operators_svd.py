"""SVD consistency and Moore–Penrose properties: A = U diag(s) Vᵀ, A A† A = A, A† A A† = A†."""
import pytest
import torch

import operators as O


def rel(a, b):
    return float((a - b).norm() / b.norm())


def svd_cases():
    return [
        ("identity", O.Identity(), (2, 3, 17, 23)),
        ("gauss-circular", O.GaussianBlur(7, 1.5), (2, 3, 17, 23)),
        ("motion-circular", O.MotionBlur(9, 0.7, seed=5), (1, 1, 32, 32)),
        ("uniform-circular", O.UniformBlur(4), (1, 3, 24, 40)),  # |H| has exact zeros
        ("box2", O.Downsample(2, "box"), (2, 3, 24, 40)),
        ("box4", O.Downsample(4, "box"), (1, 1, 24, 40)),
        ("bicubic2", O.Downsample(2, "bicubic"), (2, 3, 24, 40)),
        ("bicubic4", O.Downsample(4, "bicubic"), (1, 1, 32, 32)),
        ("strided4", O.Downsample(4, "strided"), (1, 3, 24, 40)),
        ("inpaint", O.Inpainting(O.random_mask((2, 1, 17, 23), 0.5, seed=2)), (2, 3, 17, 23)),
        ("grayscale", O.Grayscale(), (2, 3, 17, 23)),
    ]


CASES = svd_cases()


@pytest.mark.parametrize("name,A,shape", CASES, ids=[c[0] for c in CASES])
def test_svd_consistency(name, A, shape):
    S = A.svd
    assert S is not None
    x = O.randn(shape, 0, dtype=torch.float64)
    c = S.Vt(x)
    assert c.shape == x.shape
    s = S.singular_values(shape, dtype=torch.float64)
    assert not s.is_complex() and bool((s >= 0).all())
    # A(x) = U(s · Vt(x))
    assert rel(S.U(s * c), A(x)) < 1e-12
    # V orthonormal: ‖Vt x‖ = ‖x‖ and V(Vt(x)) = x
    assert abs(float(c.abs().norm() / x.norm()) - 1) < 1e-12
    assert rel(S.V(c), x) < 1e-12
    # U orthonormal on the range: ‖Ut(A x)‖ = ‖A x‖ and Ut is zero where s = 0
    y = A(x) + 0.1 * O.randn(A.out_shape(shape), 1, dtype=torch.float64)
    cy = S.Ut(y)
    assert cy.shape == x.shape
    assert float((cy * (s == 0)).abs().max()) == 0
    assert abs(float(S.Ut(A(x)).abs().norm() / A(x).norm()) - 1) < 1e-12
    # pinv = V(Ut(y)/s on s > 0) (up to the documented rtol cut-off, inactive for these operators)
    keep = s > O.default_rtol(torch.float64) * s.max()
    inv = torch.where(keep, 1 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
    assert rel(A.pinv(y), S.V(cy * inv)) < 1e-10


@pytest.mark.parametrize("name,A,shape", CASES, ids=[c[0] for c in CASES])
def test_moore_penrose(name, A, shape):
    x = O.randn(shape, 3, dtype=torch.float64)
    y = O.randn(A.out_shape(shape), 4, dtype=torch.float64)
    Ax = A(x)
    assert rel(A(A.pinv(Ax)), Ax) < 1e-10  # A A† A = A
    p = A.pinv(y)
    assert rel(A.pinv(A(p)), p) < 1e-10  # A† A A† = A†
    # A†y is the minimum-norm least-squares solution: it lies in range(Aᵀ) (orthogonal to the
    # null space), i.e. A† A (A† y) = A† y was checked above; and the residual is ⊥ range(A)
    r = A(p) - y
    assert float(A.adjoint(r).norm() / A.adjoint(y).norm()) < 1e-10


def test_white_noise_coefficients_hermitian():
    """Vt of real white noise gives Hermitian-symmetric Fourier coefficients that map back to real."""
    S = O.GaussianBlur(5, 1.0).svd
    z = O.randn((1, 1, 16, 15), 0, dtype=torch.float64)
    c = S.Vt(z)
    flipped = torch.roll(torch.flip(c, (-2, -1)), (1, 1), (-2, -1))
    assert torch.allclose(c, flipped.conj(), atol=1e-12)
    assert torch.allclose(torch.fft.ifft2(c, norm="ortho").imag, torch.zeros((), dtype=torch.float64), atol=1e-12)


def test_fourier_svd_pinv_tolerance():
    """Tiny |H| are cut at pinv_rtol·max|H|: a strong blur's pinv stays bounded."""
    A = O.GaussianBlur(15, 3.0, pinv_rtol=1e-3)
    x = O.randn((1, 1, 32, 32), 0, dtype=torch.float64)
    p = A.pinv(A(x))
    assert p.norm() <= x.norm() * (1 + 1e-9)  # a projection of x onto well-measured frequencies
    s = A.svd.singular_values((1, 1, 32, 32), dtype=torch.float64)
    kept = (s > 1e-3).to(torch.complex128)
    assert torch.allclose(torch.fft.fft2(p, norm="ortho"), torch.fft.fft2(x, norm="ortho") * kept, atol=1e-9)


def test_box_pinv_is_replication_and_bicubic_rows():
    y = torch.rand(1, 2, 3, 5, dtype=torch.float64)
    assert torch.equal(O.Downsample(2, "box").pinv(y), y.repeat_interleave(2, -2).repeat_interleave(2, -1))
    R = O.bicubic_matrix(24, 4)
    assert R.shape == (6, 24) and torch.allclose(R.sum(1), torch.ones(6, dtype=torch.float64))
    # interior rows: the Keys kernel (a = −0.5) stretched by the factor, centred at (i + ½)f − ½
    t = (torch.arange(24, dtype=torch.float64) - (2 + 0.5) * 4 + 0.5) / 4
    w = O.downsample.cubic(t)
    assert torch.allclose(R[2], w / w.sum(), atol=1e-12)


CG_CASES = [
    ("gauss-reflect", O.GaussianBlur(5, 0.6, boundary="reflect"), (2, 3, 17, 23)),
    # asymmetric kernel with a dominant centre: |H| ≥ 0.2, so CG converges fast
    ("asym-replicate", O.Blur(torch.nn.functional.pad(torch.ones(1, 1), (1, 1, 1, 1)) + torch.rand(3, 3, generator=torch.Generator().manual_seed(0)) * 0.1, boundary="replicate"), (1, 1, 17, 23)),
    ("compose", O.Downsample(2, "bicubic") @ O.Inpainting(O.random_mask((24, 40), 0.3, seed=0)), (1, 3, 24, 40)),
    ("blur-then-sr", O.Downsample(2, "bicubic") @ O.GaussianBlur(7, 2.0), (1, 1, 16, 16)),
]


@pytest.mark.parametrize("name,A,shape", CG_CASES, ids=[c[0] for c in CG_CASES])
def test_moore_penrose_cg(name, A, shape):
    """No SVD: A† by CG on the normal equations from 0 (minimum-norm least squares).

    CG minimises ‖A(x_k − x)‖ over a growing Krylov space, so A A† A x → A x; these kernels are well
    enough conditioned to reach the CG tolerance (1e-6 relative normal-equation residual)."""
    assert A.svd is None
    x = O.randn(shape, 0, dtype=torch.float64)
    p = A.pinv(A(x))
    assert rel(A(p), A(x)) < 1e-6 * (1 + 1e-3)  # A A† A = A to the CG tolerance (relative)
    # minimum norm: p ⊥ null(A), so ‖p‖ ≤ ‖x‖ and A† A p = p
    assert float(p.norm()) <= float(x.norm()) * (1 + 1e-6)
    assert rel(A.pinv(A(p)), p) < 1e-4


def test_cg_pinv_of_a_wide_composition_is_the_minimum_norm_solution():
    """Blur then ×2 downsampling (condition number ~900, no SVD): 𝒜† by the dual system 𝒜𝒜ᵀz = y
    matches the dense Moore–Penrose pseudo-inverse, for y in range(𝒜) and for noisy y."""
    A = O.Downsample(2, "bicubic") @ O.GaussianBlur(7, 2.0)
    n = 16 * 16
    M = A(torch.eye(n, dtype=torch.float64).view(n, 1, 16, 16)).reshape(n, -1).T
    P = torch.linalg.pinv(M, rtol=1e-12)
    x = O.randn((1, 1, 16, 16), 3, dtype=torch.float64)
    for y in (A(x), A(x) + 0.05 * O.randn(A.out_shape(x.shape), 4, dtype=torch.float64)):
        dense = (P @ y.reshape(-1)).view(x.shape)
        assert rel(A.pinv(y), dense) < 1e-3  # the residual tolerance 1e-6 amplified by at most the conditioning
