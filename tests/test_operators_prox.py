"""prox(z, y, σ, ρ) = argmin_x ‖Ax − y‖²/(2σ²) + (ρ/2)‖x − z‖²  against CG and its optimality condition

    (AᵀA/σ² + ρI) x = Aᵀy/σ² + ρz.
"""
import pytest
import torch

import operators as O


def cases():
    return [
        ("identity", O.Identity(), (2, 3, 17, 23)),
        ("gauss-circular", O.GaussianBlur(7, 1.5), (2, 3, 17, 23)),
        ("gauss-reflect", O.GaussianBlur(5, 1.0, boundary="reflect"), (2, 1, 17, 23)),
        ("motion-symmetric", O.MotionBlur(7, 0.5, seed=0, boundary="symmetric"), (2, 3, 17, 23)),
        ("box", O.Downsample(2, "box"), (2, 3, 24, 40)),
        ("bicubic", O.Downsample(4, "bicubic"), (2, 1, 24, 40)),
        ("strided", O.Downsample(2, "strided"), (2, 3, 24, 40)),
        ("inpaint", O.Inpainting(O.box_mask((17, 23), 6, 2, seed=0)), (2, 3, 17, 23)),
        ("grayscale", O.Grayscale(), (2, 3, 17, 23)),
        ("compose", O.Downsample(2, "box") @ O.GaussianBlur(5, 1.0), (2, 3, 24, 40)),
    ]


CASES = cases()
SIGMA = torch.tensor([0.05, 0.3], dtype=torch.float64)
RHO = torch.tensor([4.0, 0.5], dtype=torch.float64)


def _problem(A, shape, seed=0):
    x = O.randn(shape, seed, dtype=torch.float64)
    z = O.randn(shape, seed + 1, dtype=torch.float64)
    y = A(x) + 0.1 * O.randn(A.out_shape(shape), seed + 2, dtype=torch.float64)
    return z, y


def _optimality(A, x, z, y, sigma, rho):
    """Relative residual of (AᵀA/σ² + ρI) x − (Aᵀy/σ² + ρz), per image."""
    s2, r = sigma.view(-1, 1, 1, 1) ** 2, rho.view(-1, 1, 1, 1)
    res = A.normal(x) / s2 + r * x - (A.adjoint(y) / s2 + r * z)
    rhs = A.adjoint(y) / s2 + r * z
    return (res.flatten(1).norm(dim=1) / rhs.flatten(1).norm(dim=1)).max().item()


@pytest.mark.parametrize("name,A,shape", CASES, ids=[c[0] for c in CASES])
def test_prox_matches_cg_and_optimality(name, A, shape):
    z, y = _problem(A, shape)
    x = A.prox(z, y, SIGMA, RHO)
    assert x.shape == z.shape
    assert _optimality(A, x, z, y, SIGMA, RHO) < 1e-5
    # an independent CG solve of the optimality system, with a tight tolerance
    s2, r = SIGMA.view(-1, 1, 1, 1) ** 2, RHO.view(-1, 1, 1, 1)
    ref = O.conjugate_gradient(lambda v: A.normal(v) / s2 + r * v, A.adjoint(y) / s2 + r * z, z, tol=1e-10,
                               max_iter=1000)
    assert float((x - ref).norm() / ref.norm()) < 1e-5


@pytest.mark.parametrize("name,A,shape", CASES, ids=[c[0] for c in CASES])
def test_prox_scalar_parameters_and_limits(name, A, shape):
    z, y = _problem(A, shape, seed=5)
    # floats equal constant per-image tensors
    a = A.prox(z, y, 0.1, 2.0)
    b = A.prox(z, y, torch.full((2,), 0.1, dtype=torch.float64), torch.tensor([2.0, 2.0], dtype=torch.float64))
    assert torch.allclose(a, b, atol=1e-12)
    # huge ρ: x → z
    far = A.prox(z, y, 0.1, 1e12)
    assert float((far - z).norm() / z.norm()) < 1e-6
    # σ = 0: the projection of z onto {Ax = A x0}
    x0 = O.randn(shape, 9, dtype=torch.float64)
    p = A.prox(z, A(x0), 0.0, 1.0)
    # exact with an SVD; by CG the singular system AᵀA(x − z) = Aᵀ(y − Az) of a blur with |H| down to
    # ~1e-4 only reaches ~1e-3 in cg_max_iter = 200 steps (CG decreases ‖A(x_k − x)‖ monotonically)
    tol = 1e-10 if A.svd is not None else 1e-2
    assert float((A(p) - A(x0)).norm() / A(x0).norm()) < tol
    # ... which moves z only within range(Aᵀ): p − z = A†(A x0 − A z) (well-conditioned cases exactly)
    if name in ("identity", "box", "strided", "inpaint", "grayscale", "bicubic"):
        assert torch.allclose(p, z + A.pinv(A(x0) - A(z)), atol=1e-10)


def test_prox_per_image_matches_single_images():
    A = O.GaussianBlur(5, 1.0, boundary="reflect")
    z, y = _problem(A, (2, 3, 17, 23))
    x = A.prox(z, y, SIGMA, RHO)
    for i in range(2):
        xi = A.prox(z[i : i + 1], y[i : i + 1], SIGMA[i : i + 1], RHO[i : i + 1])
        assert torch.allclose(x[i : i + 1], xi, atol=1e-12)


def test_cg_batch_dot_is_per_image():
    a = torch.arange(12.0).view(2, 6)
    assert torch.equal(O.batch_dot(a, a), (a * a).sum(1))
    # a system where image 0 is solved in one step and image 1 needs more: results stay per image
    d = torch.tensor([[1.0, 1.0, 1.0], [1.0, 10.0, 100.0]], dtype=torch.float64)
    b = torch.ones(2, 3, dtype=torch.float64)
    x = O.conjugate_gradient(lambda v: d * v, b, tol=1e-12)
    assert torch.allclose(x, 1 / d)


def test_cg_warns_at_its_cap_unless_told_not_to():
    """CG stops on a relative tolerance; stopping at the cap above it warns, once per call site, unless the
    operator's cap is deliberate (cg_warn = False)."""
    import warnings
    from operators.cg import CGCapWarning
    A = O.GaussianBlur(7, 2.0, boundary="reflect")
    A.cg_max_iter = 3
    y = O.randn((1, 1, 16, 16), 0, dtype=torch.float64)
    with pytest.warns(CGCapWarning, match="cap of 3 iterations"):
        A.pinv(y)
    A.cg_warn = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A.pinv(y)
        A.prox(y, y, 0.01, 10.0)
    A.cg_max_iter, A.cg_warn = 2000, True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A.prox(y, y, 0.05, 1.0)  # converges well before the cap: no warning


def test_cg_in_place_and_under_autograd_agree_and_differentiate():
    """Without autograd CG updates in place; with it, out of place: the same iterates (a batch where one
    image stops early and the other runs on), and the autograd path gives the gradient of the solve."""
    d = torch.tensor([[1.0, 1.0, 1.0], [1.0, 10.0, 100.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    x0 = torch.full_like(b, 0.5)
    for steps in (3, 2, 1):  # three distinct eigenvalues: 3 steps solve image 1 exactly, 1 and 2 do not
        with torch.no_grad():
            fast = O.conjugate_gradient(lambda v: d * v, b, x0, tol=1e-12, max_iter=steps, warn=False)
        slow = O.conjugate_gradient(lambda v: d * v, b, x0, tol=1e-12, max_iter=steps, warn=False)
        torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)  # addcmul_ rounds once
    bb = b.clone().requires_grad_(True)
    x = O.conjugate_gradient(lambda v: d * v, bb, tol=1e-12)  # converged: x = b / d, so ∂Σx/∂b = 1/d
    x.sum().backward()
    torch.testing.assert_close(bb.grad, 1 / d)
    assert not torch.allclose(fast[1], b[1] / d[1])  # the 1-step solve stopped short of it
