"""`LinearOperator.warm_start(y)`: the classical estimate a warm-started solve (``start=f``) begins from."""
import pytest
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


def test_started_at_replaces_the_warm_start_only():
    """`A.started_at(x0)`: the same operator (forward, adjoint) whose warm start is x0; A keeps its own; a
    warm start for another batch size is refused."""
    A = O.GaussianBlur(5, 1.0)
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    y = A(x)
    B = A.started_at(x)
    assert torch.equal(B.warm_start(y), x) and torch.equal(B(x), y) and torch.equal(B.adjoint(y), A.adjoint(y))
    torch.testing.assert_close(A.warm_start(y), A.pinv(y))
    with pytest.raises(ValueError, match="2 images for 1 measurements"):
        B.warm_start(y[:1])


def test_daps_warm_start_tops_its_grid_at_the_table_sigma_and_starts_from_the_given_image():
    """DAPS with ``start=f``: its Karras grid's first level is the σ of the table at ⌈f·T⌉, and the chain
    starts from the operator's warm start diffused to it (here: the true image, so the first denoiser input
    is x + σ_0 z)."""
    import math

    A = O.GaussianBlur(5, 1.0)
    prior = GaussianPrior(torch.full((1, 16, 16), 0.5, dtype=torch.float64), 0.2)
    y = A(torch.rand(1, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    x0 = torch.full_like(y, 0.7)
    seen = []
    restore.solve(y, A.started_at(x0), prior, method="daps", sigma_y=0.01, steps=6, start=0.05, seed=0,
                  callback=lambda i, x, d, s: seen.append((float(s), x.clone())))
    from restore.guidance.base import Problem
    schedule = Problem(y, A, prior, 0.01, 1, 0).schedule
    top = float(schedule.sigmas[math.ceil(0.05 * schedule.T) - 1])
    assert len(seen) == 6 and seen[0][0] == pytest.approx(top) and seen[-1][0] < top
    first = seen[0][1]
    assert float((first - x0).mean().abs()) < 0.2 * top and float((first - x0).std()) == pytest.approx(top, rel=0.2)
