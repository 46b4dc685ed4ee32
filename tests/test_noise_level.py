"""--noise auto: the flattest-pixel Immerkær estimate on smooth and on half-textured images, with holes."""
import torch

from restore.cli.noise_level import estimate_sigma


def _image(texture: bool, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 96, dtype=torch.float64), torch.linspace(0, 1, 128, dtype=torch.float64),
                            indexing="ij")
    x = 0.3 + 0.4 * xx * yy
    if texture:  # the right half: strong fine texture, which the plain mean mistakes for noise
        x[:, 64:] += 0.15 * torch.sign(torch.sin(40 * xx[:, 64:]) * torch.sin(37 * yy[:, 64:]))
    return x.expand(1, 3, 96, 128).clone()


def test_estimate_on_smooth_and_textured_images():
    for sigma in (0.005, 0.02, 0.08):
        for texture in (False, True):
            x = _image(texture)
            y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
            assert abs(estimate_sigma(y) / sigma - 1) < 0.1, (sigma, texture, estimate_sigma(y))


def test_holes_are_left_out():
    x = _image(False)
    y = x + 0.02 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mask = torch.ones(1, 1, 96, 128, dtype=torch.float64)
    mask[..., 20:60, 30:90] = 0
    holed = y * mask
    assert abs(estimate_sigma(holed) / 0.02 - 1) > 0.5  # blind, the flat (zero) hole is taken for noise-free image
    assert abs(estimate_sigma(holed, mask) / 0.02 - 1) < 0.1
    assert estimate_sigma(holed, torch.zeros_like(mask)) == 0.0


def test_strips_do_not_change_the_estimate():
    """The estimate runs in strips of rows (bounded memory on a 12 MP photo): any strip height, including
    one row and one that does not divide the height, gives the whole-image value."""
    x = _image(True)
    y = x + 0.03 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mask = torch.ones(1, 1, 96, 128, dtype=torch.float64)
    mask[..., 10:50, 70:120] = 0
    for valid in (None, mask):
        whole = estimate_sigma(y, valid, rows=10**6)
        assert whole > 0
        for rows in (1, 7, 64):
            assert abs(estimate_sigma(y, valid, rows=rows) - whole) <= 1e-12 * whole, (rows, valid is None)
