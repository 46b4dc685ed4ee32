"""restore.io: exact round trips, alpha and channel handling, clear errors, atomic safe writes."""
import os

import pytest
import torch

import restore.io as rio
from restore.io import ImageReadError, merge_alpha, read_image, split_alpha, to_uint8, write_image


def _img(c, h=13, w=17, levels=255, seed=0):
    """A random image exactly representable at `levels` + 1 grey levels."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.randint(0, levels + 1, (1, c, h, w), generator=gen)
    return v.float() / levels


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("c", [1, 3])
def test_roundtrip_8bit_exact(tmp_path, ext, c):
    x = _img(c)
    p = write_image(tmp_path / f"a{ext}", x)
    y, info = read_image(p)
    assert y.dtype == torch.float32 and y.shape == (1, c, 13, 17)
    assert info.bit_depth == 8 and info.mode == ("gray" if c == 1 else "RGB") and info.alpha is None
    assert info.path == str(p)
    assert torch.equal(y, x)


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("c", [1, 3])
def test_roundtrip_16bit_exact(tmp_path, ext, c):
    x = _img(c, levels=65535, seed=1)
    write_image(tmp_path / f"a{ext}", x, bit_depth=16)
    y, info = read_image(tmp_path / f"a{ext}")
    assert info.bit_depth == 16
    assert torch.equal(torch.round(y.double() * 65535), torch.round(x.double() * 65535))
    # 16-bit precision is kept: values between 8-bit levels survive
    assert (torch.round(y * 65535) % 257 != 0).any()
    # writing back with the read info keeps 16 bits
    write_image(tmp_path / f"b{ext}", y, info=info)
    z, info2 = read_image(tmp_path / f"b{ext}")
    assert info2.bit_depth == 16 and torch.equal(z, y)


def test_channel_order_is_rgb(tmp_path):
    import cv2

    x = torch.zeros(1, 3, 4, 5)
    x[:, 0] = 1.0  # pure red
    write_image(tmp_path / "red.png", x)
    bgr = cv2.imread(str(tmp_path / "red.png"), cv2.IMREAD_UNCHANGED)
    assert (bgr[..., 2] == 255).all() and (bgr[..., :2] == 0).all()
    y, _ = read_image(tmp_path / "red.png")
    assert torch.equal(y, x)


def test_jpeg_within_tolerance(tmp_path):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 40), indexing="ij")
    x = torch.stack([xx, yy, 0.5 * (xx + yy)]).unsqueeze(0)  # smooth, JPEG-friendly
    write_image(tmp_path / "a.jpg", x, quality=95)
    y, info = read_image(tmp_path / "a.jpg")
    assert info.bit_depth == 8 and info.mode == "RGB" and y.shape == x.shape
    assert (y - x).abs().mean() < 0.01 and (y - x).abs().max() < 0.08
    with pytest.raises(ValueError, match="8-bit"):
        write_image(tmp_path / "b.jpeg", x, bit_depth=16)


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("bits", [8, 16])
def test_rgba_alpha_kept(tmp_path, ext, bits):
    levels = 2**bits - 1
    rgba = _img(4, levels=levels, seed=2)
    write_image(tmp_path / f"a{ext}", rgba, bit_depth=bits)
    x, info = read_image(tmp_path / f"a{ext}")
    assert x.shape == (1, 3, 13, 17) and info.mode == "RGBA" and info.bit_depth == bits
    assert torch.equal(info.alpha, rgba[:, 3:]) and torch.equal(x, rgba[:, :3])
    # a processed result written with the info gets its alpha back
    write_image(tmp_path / f"b{ext}", 1 - x, info=info)
    y, info2 = read_image(tmp_path / f"b{ext}")
    assert torch.equal(info2.alpha, rgba[:, 3:])
    assert torch.allclose(y, 1 - x, atol=0.5 / levels)


def test_gray_alpha_png(tmp_path):
    la = _img(2, seed=3)
    write_image(tmp_path / "la.png", la)
    x, info = read_image(tmp_path / "la.png")
    assert x.shape == (1, 1, 13, 17) and info.mode == "gray_alpha"
    assert torch.equal(x, la[:, :1]) and torch.equal(info.alpha, la[:, 1:])


def test_alpha_resized_for_larger_output(tmp_path):
    rgba = torch.ones(1, 4, 8, 8)
    rgba[:, 3] = 0.5
    write_image(tmp_path / "a.png", rgba)
    x, info = read_image(tmp_path / "a.png")
    up = torch.nn.functional.interpolate(x, scale_factor=2)
    write_image(tmp_path / "up.png", up, info=info)
    y, info2 = read_image(tmp_path / "up.png")
    assert y.shape == (1, 3, 16, 16) and info2.alpha.shape == (1, 1, 16, 16)
    assert torch.allclose(info2.alpha, torch.full_like(info2.alpha, 128 / 255))


def test_jpeg_drops_alpha_with_warning(tmp_path):
    with pytest.warns(UserWarning, match="alpha"):
        write_image(tmp_path / "a.jpg", _img(4, seed=4))
    y, info = read_image(tmp_path / "a.jpg")
    assert y.shape[1] == 3 and info.alpha is None


def test_clamp_and_round(tmp_path):
    x = torch.tensor([-0.5, 0.0, 0.3 / 255, 0.7 / 255, 1.0, 2.0]).view(1, 1, 1, 6)
    assert to_uint8(x[0]).ravel().tolist() == [0, 0, 0, 1, 255, 255]
    assert to_uint8(x).shape == (1, 1, 6, 1)
    write_image(tmp_path / "c.png", x)
    y, _ = read_image(tmp_path / "c.png")
    assert (y * 255).round().ravel().tolist() == [0, 0, 0, 1, 255, 255]


def test_nan_rejected(tmp_path):
    x = torch.rand(1, 3, 4, 4)
    x[0, 1, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        write_image(tmp_path / "n.png", x)
    assert list(tmp_path.iterdir()) == []


def test_bad_shape_and_extension(tmp_path):
    with pytest.raises(ValueError, match="unsupported extension"):
        write_image(tmp_path / "a.xyz", torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="one image"):
        write_image(tmp_path / "a.png", torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="one image"):
        write_image(tmp_path / "a.png", torch.rand(1, 5, 4, 4))


def test_missing_file(tmp_path):
    p = tmp_path / "nope.png"
    with pytest.raises(ImageReadError, match="nope.png") as e:
        read_image(p)
    assert isinstance(e.value, ValueError) and "no such file" in str(e.value)


@pytest.mark.parametrize("content", [b"", b"this is not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_unreadable_file(tmp_path, content):
    p = tmp_path / "broken.png"
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(p)


def test_directory_is_unreadable(tmp_path):
    with pytest.raises(ImageReadError, match=tmp_path.name):
        read_image(tmp_path)


def test_refuses_to_overwrite(tmp_path):
    p = tmp_path / "a.png"
    write_image(p, _img(3))
    before = p.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True") as e:
        write_image(p, _img(3, seed=9))
    assert str(p) in str(e.value)
    assert p.read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.png"]
    write_image(p, _img(3, seed=9), overwrite=True)
    assert torch.equal(read_image(p)[0], _img(3, seed=9))
    mask = os.umask(0o022)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_failed_write_leaves_existing_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "a.tif"
    write_image(p, _img(3))
    before = p.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(rio.os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        write_image(p, _img(3, seed=5), overwrite=True)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.tif"]

    # a failure while writing the temporary file (after it was created) cleans up too
    def bad_fsync(fd):
        raise OSError("I/O error (simulated)")

    monkeypatch.setattr(rio.os, "fsync", bad_fsync)
    with pytest.raises(OSError, match="simulated"):
        write_image(tmp_path / "new.png", _img(3))
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.tif"]


def test_alpha_helpers():
    x = torch.rand(2, 4, 5, 6)
    rgb, a = split_alpha(x)
    assert rgb.shape == (2, 3, 5, 6) and a.shape == (2, 1, 5, 6)
    assert torch.equal(merge_alpha(rgb, a), x)
    g, none = split_alpha(torch.rand(1, 1, 5, 6))
    assert none is None and merge_alpha(g, None) is g


def test_fallback_reader(tmp_path, monkeypatch):
    """Files OpenCV cannot decode are read with imageio (simulated by disabling the cv2 path)."""
    rgba = _img(4, seed=6)
    write_image(tmp_path / "a.png", rgba)
    monkeypatch.setattr(rio, "_decode_cv2", lambda data: None)
    x, info = read_image(tmp_path / "a.png")
    assert info.mode == "RGBA" and info.bit_depth == 8
    assert torch.equal(x, rgba[:, :3]) and torch.equal(info.alpha, rgba[:, 3:])
    gray16 = _img(1, levels=65535, seed=7)
    write_image(tmp_path / "g.png", gray16, bit_depth=16)
    y, info = read_image(tmp_path / "g.png")
    assert y.shape == (1, 1, 13, 17) and info.bit_depth == 16 and torch.equal(y, gray16)


def test_atomic_write_permissions_follow_umask_without_touching_it(tmp_path, monkeypatch):
    """New files get 0o666 & ~umask, as any new file would, and the process umask is never changed."""
    import os
    from restore.io import atomic_write
    old = os.umask(0o027)
    try:
        def no_umask(*a):
            raise AssertionError("os.umask must not be called")
        monkeypatch.setattr(os, "umask", no_umask)
        atomic_write(tmp_path / "a.bin", b"x")
        assert (os.stat(tmp_path / "a.bin").st_mode & 0o777) == 0o640
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]  # no temporary left
    finally:
        monkeypatch.undo()
        os.umask(old)
