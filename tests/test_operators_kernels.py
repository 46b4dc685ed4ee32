"""Blur kernels: file formats, normalisation, validation, and the seeded generators."""
import cv2
import numpy as np
import pytest
import scipy.io
import torch

import operators as O

RAW = np.array([[0, 1, 2], [1, 4, 1], [2, 1, 0]], dtype=np.float64)  # sum 12
EXPECTED = torch.from_numpy(RAW / RAW.sum())


def test_kernel_formats(tmp_path):
    cv2.imwrite(str(tmp_path / "k8.png"), (RAW * 50).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "k16.png"), (RAW * 5000).astype(np.uint16))
    cv2.imwrite(str(tmp_path / "krgb.png"), np.repeat((RAW * 50).astype(np.uint8)[..., None], 3, axis=2))
    np.save(tmp_path / "k.npy", RAW.astype(np.float32))
    np.savez(tmp_path / "k.npz", kernel=RAW * 3, other=np.ones((2, 2)))  # first array in the archive
    np.savez(tmp_path / "named.npz", a=np.ones((2, 2)), kernel=RAW)
    scipy.io.savemat(tmp_path / "k.mat", {"name": "x", "kernel": RAW * 7})
    scipy.io.savemat(tmp_path / "two.mat", {"a": np.ones((3, 3)), "b": RAW})
    for name in ["k8.png", "k16.png", "krgb.png", "k.npy", "k.npz", "k.mat"]:
        k = O.load_kernel(tmp_path / name)
        assert k.dtype == torch.float64 and abs(float(k.sum()) - 1) < 1e-12
        assert torch.allclose(k, EXPECTED, atol=1e-7), name
    assert torch.allclose(O.load_kernel(tmp_path / "named.npz", key="kernel"), EXPECTED)
    assert torch.allclose(O.load_kernel(tmp_path / "two.mat", key="b"), EXPECTED)
    assert torch.allclose(O.Blur(str(tmp_path / "k.mat")).kernel, EXPECTED)
    assert torch.allclose(O.Blur(tmp_path / "two.mat", key="b").kernel, EXPECTED)
    with pytest.raises(ValueError, match="no array 'missing'"):
        O.load_kernel(tmp_path / "named.npz", key="missing")
    with pytest.raises(ValueError, match="no variable"):
        O.load_kernel(tmp_path / "k.mat", key="missing")


def test_kernel_from_tensor_and_array():
    for k in [RAW, torch.from_numpy(RAW).float(), torch.from_numpy(RAW)[None, None], RAW.astype(np.int64)]:
        assert torch.allclose(O.as_kernel(k), EXPECTED, atol=1e-7)


@pytest.mark.parametrize(
    "kernel,match",
    [
        (np.array([[1.0, np.nan], [0, 1]]), "NaN"),
        (np.array([[1.0, np.inf], [0, 1]]), "NaN or infinite"),
        (np.array([[-1.0, 0.2], [0, 0.1]]), "positive sum"),
        (np.zeros((3, 3)), "positive sum"),
        (np.ones((2, 3, 3)), "2-D"),
        (np.ones(5), "2-D"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_invalid_kernels(kernel, match):
    with pytest.raises(ValueError, match=match):
        O.Blur(kernel)


def test_invalid_kernel_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        O.load_kernel(tmp_path / "nope.png")
    (tmp_path / "k.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="unknown kernel file type"):
        O.load_kernel(tmp_path / "k.txt")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        O.load_kernel(tmp_path / "bad.png")
    scipy.io.savemat(tmp_path / "s.mat", {"v": np.ones(5)})
    with pytest.raises(ValueError, match="no numeric 2-D array"):
        O.load_kernel(tmp_path / "s.mat")
    np.save(tmp_path / "nan.npy", np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        O.load_kernel(tmp_path / "nan.npy")


def test_kernel_too_big():
    A = O.UniformBlur(9)
    with pytest.raises(ValueError, match="blur kernel 9x9 is larger than the image 8x20"):
        A(torch.rand(1, 1, 8, 20))
    with pytest.raises(ValueError, match="larger than the image"):
        O.UniformBlur(9, boundary="reflect").adjoint(torch.rand(1, 1, 20, 8))


def test_gaussian_and_uniform_kernels():
    g = O.gaussian_kernel(7, 1.5)
    assert g.shape == (7, 7) and abs(float(g.sum()) - 1) < 1e-12
    assert torch.allclose(g, g.T) and torch.allclose(g, g.flip(0)) and g.argmax() == 24
    assert torch.allclose(g[3, 4] / g[3, 3], torch.tensor(np.exp(-1 / (2 * 1.5**2)), dtype=torch.float64))
    assert O.gaussian_kernel((5, 9), (1.0, 2.0)).shape == (5, 9)
    u = O.uniform_kernel((3, 4))
    assert torch.allclose(u, torch.full((3, 4), 1 / 12, dtype=torch.float64))
    with pytest.raises(ValueError):
        O.gaussian_kernel(5, 0.0)


def test_motion_kernels_seeded():
    a = O.motion_kernel(25, 0.5, seed=7)
    b = O.motion_kernel(25, 0.5, seed=7)
    c = O.motion_kernel(25, 0.5, seed=8)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert a.shape == (25, 25) and abs(float(a.sum()) - 1) < 1e-12 and bool((a >= 0).all())
    # centred: the kernel's centroid is at the centre pixel (to within the splatting error)
    idx = torch.arange(25, dtype=torch.float64)
    cy, cx = float((a.sum(1) * idx).sum()), float((a.sum(0) * idx).sum())
    assert abs(cy - 12) < 0.5 and abs(cx - 12) < 0.5
    # the path is scaled to fill the kernel: its farthest point from the centroid reaches the border
    rows, cols = torch.nonzero(a > 0, as_tuple=True)
    assert min(int(rows.min()), int(cols.min())) <= 1 or max(int(rows.max()), int(cols.max())) >= 23
    # MotionBlur records its seed, and the same seed rebuilds the same operator
    m = O.MotionBlur(15, 0.8)
    assert torch.equal(O.MotionBlur(15, 0.8, seed=m.seed).kernel, m.kernel)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(O.motion_kernel(15, 0.5, g1), O.motion_kernel(15, 0.5, g2))


def test_motion_intensity_zero_is_a_line():
    """intensity 0: constant heading and speed — the samples lie on one straight line."""
    path = O.kernels.shake_trajectory(200, 0.0, seed=1)
    d = path - path.mean(0)
    sv = torch.linalg.svdvals(d)
    assert float(sv[1] / sv[0]) < 1e-10
    curly = O.kernels.shake_trajectory(200, 1.0, seed=1)
    sv = torch.linalg.svdvals(curly - curly.mean(0))
    assert float(sv[1] / sv[0]) > 1e-3
