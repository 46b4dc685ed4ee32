"""restore.metrics agrees with scikit-image image by image, and reduces per image."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restore.metrics import gaussian_window, mse, psnr, ssim


def _sk_ssim(x, ref):
    return structural_similarity(
        x.numpy(), ref.numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1, channel_axis=0,
    )


def _sk_psnr(x, ref):
    return peak_signal_noise_ratio(ref.numpy(), x.numpy(), data_range=1)


def _structured(b, c, h, w, gen, dtype):
    """Smooth gradients + edges + texture, then a noisy / blurred / shifted estimate of it."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h, dtype=dtype), torch.linspace(0, 1, w, dtype=dtype), indexing="ij")
    base = []
    for i in range(b * c):
        f = 2 + i
        img = 0.5 + 0.3 * torch.sin(f * math.pi * xx) * torch.cos((f + 1) * math.pi * yy)
        img = img + 0.2 * ((xx + 0.3 * i / (b * c)) > 0.5).to(dtype)  # an edge
        base.append(img)
    ref = torch.stack(base).view(b, c, h, w).clamp(0, 1)
    est = ref + 0.05 * torch.randn(ref.shape, generator=gen, dtype=dtype)
    est = torch.roll(est, shifts=1, dims=-1)
    return est.clamp(0, 1), ref


SIZES = [(1, 37, 53), (3, 37, 53), (1, 11, 11), (3, 64, 48), (3, 16, 29)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("c,h,w", SIZES)
@pytest.mark.parametrize("kind", ["random", "structured"])
def test_matches_skimage_per_image(kind, c, h, w, dtype):
    gen = torch.Generator().manual_seed(h * 1000 + w * 10 + c)
    if kind == "random":
        ref = torch.rand((3, c, h, w), generator=gen, dtype=dtype)
        # different noise level for each element so the batch entries really differ
        scale = torch.tensor([0.02, 0.1, 0.3], dtype=dtype).view(3, 1, 1, 1)
        x = (ref + scale * torch.randn((3, c, h, w), generator=gen, dtype=dtype)).clamp(0, 1)
    else:
        x, ref = _structured(3, c, h, w, gen, dtype)
    s, p, m = ssim(x, ref), psnr(x, ref), mse(x, ref)
    assert s.shape == p.shape == m.shape == (3,)
    assert s.dtype == p.dtype == dtype
    tol = 1e-6 if dtype == torch.float64 else 1e-4
    for b in range(3):
        xb, rb = x[b].double(), ref[b].double()
        assert abs(float(s[b]) - _sk_ssim(xb, rb)) < tol
        assert abs(float(p[b]) - _sk_psnr(xb, rb)) < 1e-4
        assert abs(float(m[b]) - float(np.mean((xb.numpy() - rb.numpy()) ** 2))) < 1e-6


def test_batch_independent_and_broadcast_ref():
    gen = torch.Generator().manual_seed(0)
    ref = torch.rand((4, 3, 24, 20), generator=gen)
    x = (ref + 0.1 * torch.randn(ref.shape, generator=gen)).clamp(0, 1)
    full = ssim(x, ref)
    for b in range(4):
        torch.testing.assert_close(ssim(x[b : b + 1], ref[b : b + 1])[0], full[b])
        torch.testing.assert_close(psnr(x[b : b + 1], ref[b : b + 1])[0], psnr(x, ref)[b])
    # a single reference is compared with every estimate
    torch.testing.assert_close(psnr(x, ref[:1]), psnr(x, ref[:1].expand(4, -1, -1, -1)))


def test_identical_images():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    assert torch.isinf(psnr(x, x)).all() and (psnr(x, x) > 0).all()
    with np.errstate(divide="ignore"):
        assert math.isinf(_sk_psnr(x[0], x[0]))
    torch.testing.assert_close(ssim(x, x), torch.ones(2, dtype=torch.float64))
    # constant images: SSIM is still 1 (the constants C1, C2 keep it finite)
    c = torch.full((1, 1, 12, 12), 0.3, dtype=torch.float64)
    torch.testing.assert_close(ssim(c, c), torch.ones(1, dtype=torch.float64))


def test_data_range_and_window():
    g = gaussian_window(1.5)
    assert g.numel() == 11 and abs(float(g.sum()) - 1) < 1e-12
    x = torch.rand(2, 1, 20, 20, dtype=torch.float64)
    y = (x + 0.05).clamp(0, 1)
    # metrics are invariant to scaling image and data_range together
    torch.testing.assert_close(psnr(255 * x, 255 * y, data_range=255.0), psnr(x, y))
    torch.testing.assert_close(ssim(255 * x, 255 * y, data_range=255.0), ssim(x, y))


def test_differentiable():
    ref = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    x = (ref + 0.1 * torch.randn_like(ref)).clamp(0, 1).requires_grad_(True)
    (ssim(x, ref).sum() + psnr(x, ref).sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # each image's SSIM depends only on that image
    x2 = x.detach().clone().requires_grad_(True)
    ssim(x2, ref)[0].backward()
    assert x2.grad[1].abs().max() == 0 and x2.grad[0].abs().max() > 0


def test_errors():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 9))
    with pytest.raises(ValueError, match="B, C, H, W"):
        ssim(torch.rand(1, 8, 8), torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(1, 1, 10, 30), torch.rand(1, 1, 10, 30))
