"""operators.kernel_fit: the projection onto valid kernels and the least-squares kernel fit."""
import pytest
import torch

import operators as ops
from operators.kernel_fit import (center_of_mass, connected_pieces, delta_kernel, fit_kernel, project_kernel,
                                  shift_kernel)


def _image(n=48, seed=0):
    """A piecewise-constant test image (random rectangles) with a little texture: rich gradients."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, n), 0.5, dtype=torch.float64)
    for _ in range(12):
        r, c = torch.randint(0, n - 8, (2,), generator=g).tolist()
        h, w = torch.randint(4, 16, (2,), generator=g).tolist()
        x[r:r + h, c:c + w] = torch.rand((), generator=g, dtype=torch.float64)
    return x + 0.02 * torch.rand(n, n, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_gives_a_valid_centred_kernel(seed):
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(15, 15, generator=g, dtype=torch.float64)
    raw[2:5, 9:13] += 4.0  # an off-centre blob
    k = project_kernel(raw, 11)
    assert k.shape == (11, 11)
    assert bool((k >= 0).all())
    assert abs(float(k.sum()) - 1) < 1e-12
    r, c = center_of_mass(k)
    assert abs(r - 5) <= 0.5 + 1e-9 and abs(c - 5) <= 0.5 + 1e-9
    # the threshold zeroes entries below 5 % of the peak
    assert bool(((k == 0) | (k >= 0.05 * k.max() - 1e-15)).all())


def test_projection_keeps_a_valid_centred_kernel():
    k = ops.gaussian_kernel(9, 1.5)
    assert torch.allclose(project_kernel(k, 9, threshold=0.0), k, atol=1e-15)
    assert torch.equal(project_kernel(-k, 9), delta_kernel(9))  # nothing positive: no blur
    with pytest.raises(ValueError, match="odd"):
        project_kernel(k, 8)


def test_small_pieces_dropped_and_shift_moves_mass():
    k = torch.zeros(9, 9, dtype=torch.float64)
    k[3:6, 3:6] = 1.0
    k[0, 8] = 0.5  # an isolated speckle with 0.5/9.5 ≈ 5 % of the mass
    lab = connected_pieces(k > 0)
    assert len(set(lab[k > 0].tolist())) == 2
    p = project_kernel(k, 9, threshold=0.0, min_piece=0.1)
    assert float(p[0, 8]) == 0 and torch.allclose(p[3:6, 3:6], torch.full((3, 3), 1 / 9, dtype=torch.float64))
    s = shift_kernel(k, 1, -2)
    assert float(s[4, 1]) == 1.0 and float(s[3, 3]) == 0.0


def test_fit_recovers_a_known_kernel_from_a_noise_free_blur():
    x = _image()
    k = ops.motion_kernel(9, 0.5, seed=3)
    y = ops.Blur(k, boundary="circular")(x[None, None])[0, 0]
    raw = fit_kernel(x, y, 9, gamma=1e-12, iters=300, project=False)
    assert float((raw - k).norm() / k.norm()) < 1e-4
    # the kernel window may be larger than the true support: the extra taps come out zero
    big = fit_kernel(x, y, 13, gamma=1e-12, iters=300, project=False)
    assert float((big - project_kernel(k, 13, threshold=0.0)).norm() / k.norm()) < 1e-4


def test_fit_rejects_a_kernel_larger_than_the_image():
    x = _image(16)
    with pytest.raises(ValueError, match="larger than the image"):
        fit_kernel(x, x, 17)


def test_one_sided_spectra_match_the_full_ones():
    """The fit and the latent step use rfft2 spectra: the same kernel window and the same spectral mean
    as the full fft2 ones, for odd and even grid widths."""
    from operators.kernel_fit import kernel_from_otf, onesided_mean, otf

    g = torch.Generator().manual_seed(0)
    k = torch.rand(7, 7, generator=g, dtype=torch.float64)
    for h, w in ((24, 31), (24, 32)):
        full, half = otf(k, h, w), otf(k, h, w, onesided=True)
        assert torch.allclose(half, full[:, : w // 2 + 1])
        P = full.abs() ** 2
        assert abs(onesided_mean(half.abs() ** 2, w) - float(P.mean())) < 1e-12 * float(P.mean())
        assert torch.allclose(kernel_from_otf(half * half.conj(), 9, (h, w)), kernel_from_otf(full * full.conj(), 9),
                              atol=1e-13)


def test_is_delta_is_the_identity_kernel_only():
    from operators.kernel_fit import is_delta

    assert is_delta(delta_kernel(9)) and is_delta(delta_kernel(1))
    assert not is_delta(shift_kernel(delta_kernel(9), 1, 0))  # a shift is not "no blur"
    assert not is_delta(ops.gaussian_kernel(9, 1.0).double())
