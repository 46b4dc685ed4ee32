"""`LinearOperator.warm_start(y)`: the classical estimate a warm-started solve (``start=f``) begins from."""
import torch

import operators as O
import restore
from restore.priors import GaussianPrior


def test_default_is_the_pseudo_inverse():
    A = O.GaussianBlur(5, 1.0)
    y = A(torch.rand(1, 3, 16, 16, dtype=torch.float64))
    torch.testing.assert_close(A.warm_start(y), A.pinv(y))


def test_inpainting_fill_keeps_known_pixels_and_stays_in_their_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 37, 29, generator=g, dtype=torch.float64)  # odd sides: the pyramid pads
    masks = torch.cat([O.random_mask((37, 29), 0.6, seed=1), O.box_mask((37, 29), 12, seed=2)]).reshape(2, 1, 37, 29)
    A = O.Inpainting(masks)
    y = A(x)
    w = A.warm_start(y)
    m = masks.expand_as(x) > 0
    assert torch.equal(w[m], y[m])  # 𝒜w = y exactly
    for b in range(2):  # a hole is a convex combination of known pixels of its own image and channel
        for c in range(3):
            known = y[b, c][m[b, c]]
            assert float(w[b, c].min()) >= float(known.min()) - 1e-12
            assert float(w[b, c].max()) <= float(known.max()) + 1e-12
    # each image is filled from its own mask only: the batch does not change a result
    torch.testing.assert_close(O.Inpainting(masks[1:]).warm_start(y[1:]), w[1:])
    # a smooth image is filled closely (a linear ramp: the fill is a local average of its neighbours)
    ramp = torch.linspace(0, 1, 29, dtype=torch.float64).expand(1, 1, 37, 29).contiguous()
    hole = O.Inpainting(O.box_mask((37, 29), 6, seed=3))
    assert float((hole.warm_start(hole(ramp)) - ramp).abs().max()) < 0.1
    # a constant image is filled exactly
    const = torch.full((1, 1, 37, 29), 0.3, dtype=torch.float64)
    first = O.Inpainting(masks[:1])
    torch.testing.assert_close(first.warm_start(first(const)), const)


def test_grayscale_start_is_grey_and_explains_y():
    A = O.Grayscale()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    y = A(x)
    w = A.warm_start(y)
    assert w.shape == x.shape and torch.equal(w[:, 0], w[:, 1]) and torch.equal(w[:, 1], w[:, 2])
    torch.testing.assert_close(A(w), y)


def test_warm_started_solve_begins_at_the_warm_start():
    """start=f begins at x₀ + σ z with x₀ = warm_start(y): a tiny start with one step returns D(x₀ + σz),
    which for a nearly flat Gaussian prior (huge variance) is x₀ up to the tiny noise."""
    prior = GaussianPrior(torch.full((3, 16, 16), 0.5), 1e6)
    A = O.Inpainting(O.box_mask((16, 16), 6, seed=0))
    y = A(torch.rand(1, 3, 16, 16, dtype=torch.float64))
    x = restore.solve(y, A, prior, method="diffpir", sigma_y=0.0, steps=1, start=1e-3, zeta=0.0)
    assert float((x - A.warm_start(y)).abs().max()) < 0.05
