"""The fit check: with the right operator and noise level the refitted residual is the size the model
predicts (ratio ≈ 1); with a deliberately wrong kernel or a noise level set too low it is not."""
import torch

import operators as O
import restore
from restore.guidance.residual import MISFIT_RATIO, residual_ratio
from restore.priors import GaussianPrior


def _scene(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(1, 1, 48, 48, dtype=torch.float64)
    for _ in range(12):  # sharp rectangles: lots of high frequencies
        i, j, h, w = (int(v) for v in torch.randint(0, 40, (4,), generator=g))
        x[..., i:i + 2 + h // 4, j:j + 2 + w // 4] += torch.rand(1, generator=g, dtype=torch.float64)
    return x.clamp(0, 1)


def test_right_model_fits_wrong_kernel_and_wrong_noise_do_not():
    x = _scene()
    true = O.MotionBlur(15, 0.5, seed=3, boundary="reflect")
    y = O.GaussianNoise(0.01)(true(x), seed=1)
    prior = GaussianPrior(torch.full((1, 48, 48), 0.3), 0.1)
    right = restore.solve(y, true, prior, method="diffpir", sigma_y=0.01, steps=10, seed=0)
    wrong_A = O.GaussianBlur(15, 3.0, boundary="reflect")  # the old CLI default on a camera-shake photo
    wrong = restore.solve(y, wrong_A, prior, method="diffpir", sigma_y=0.01, steps=10, seed=0)
    ok = residual_ratio(y, true, right, 0.01)["ratio"]
    bad = residual_ratio(y, wrong_A, wrong, 0.01)["ratio"]
    assert 0.8 < ok < 1.2 < MISFIT_RATIO < bad, (ok, bad)
    y_noisy = O.GaussianNoise(0.05)(true(x), seed=2)  # five times the noise the solver is told
    fit = restore.solve(y_noisy, true, prior, method="diffpir", sigma_y=0.01, steps=10, seed=0)
    assert residual_ratio(y_noisy, true, fit, 0.01)["ratio"] > 2 * MISFIT_RATIO
    assert residual_ratio(y_noisy, true, fit, 0.05)["ratio"] < 1.2  # told the right level, it fits


def test_inpainting_holes_are_not_counted():
    x = _scene(1)
    mask = (torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(0)) > 0.5).double()
    A = O.Inpainting(mask)
    y = O.GaussianNoise(0.02)(A(x), seed=3) * mask
    a = residual_ratio(y, A, x, 0.02)
    b = residual_ratio(y, A, x + 0.5 * (1 - mask), 0.02)  # changing only the holes changes nothing
    assert a == b and 0.8 < a["ratio"] < 1.2
