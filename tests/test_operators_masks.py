"""Inpainting masks: seeded generators, files, and shape checks."""
import cv2
import numpy as np
import pytest
import torch

import operators as O


def test_random_mask():
    m = O.random_mask((17, 23), 0.3, seed=1)
    assert m.shape == (1, 1, 17, 23) and set(m.unique().tolist()) <= {0.0, 1.0}
    assert int((m == 0).sum()) == round(0.3 * 17 * 23)
    assert torch.equal(m, O.random_mask((17, 23), 0.3, seed=1))
    assert not torch.equal(m, O.random_mask((17, 23), 0.3, seed=2))
    mb = O.random_mask((2, 3, 8, 9), 0.5, seed=0)
    assert mb.shape == (2, 3, 8, 9) and not torch.equal(mb[0, 0], mb[1, 2])
    with pytest.raises(ValueError, match="fraction_missing"):
        O.random_mask((8, 8), 1.5, seed=0)


def test_box_mask():
    for seed in range(20):
        m = O.box_mask((32, 40), (8, 10), margin=4, seed=seed)[0, 0]
        rows, cols = torch.nonzero(m == 0, as_tuple=True)
        assert len(rows) == 80
        assert int(rows.min()) >= 4 and int(rows.max()) <= 32 - 5 and int(cols.min()) >= 4 and int(cols.max()) <= 40 - 5
        assert int(rows.max() - rows.min()) == 7 and int(cols.max() - cols.min()) == 9
    positions = {tuple(torch.nonzero(O.box_mask((32, 40), 8, 4, seed=s)[0, 0] == 0)[0].tolist()) for s in range(10)}
    assert len(positions) > 1
    assert torch.equal(O.box_mask((32, 40), 8, 4, seed=3), O.box_mask((32, 40), 8, 4, seed=3))
    with pytest.raises(ValueError, match="does not fit"):
        O.box_mask((16, 16), 12, margin=4, seed=0)


def test_freeform_mask():
    m = O.freeform_mask((64, 48), seed=5)
    assert m.shape == (1, 1, 64, 48) and set(m.unique().tolist()) <= {0.0, 1.0}
    assert 0 < float((m == 0).float().mean()) < 1
    assert torch.equal(m, O.freeform_mask((64, 48), seed=5))
    assert not torch.equal(m, O.freeform_mask((64, 48), seed=6))


def test_mask_from_file(tmp_path):
    known = np.zeros((12, 15), bool)
    known[2:9, 3:11] = True
    img = np.where(known, 255, 0).astype(np.uint8)
    img[0, 0] = 100  # dark grey (< half scale) counts as missing
    cv2.imwrite(str(tmp_path / "m.png"), img)
    cv2.imwrite(str(tmp_path / "m16.png"), np.where(known, 65535, 0).astype(np.uint16))
    cv2.imwrite(str(tmp_path / "mrgb.png"), np.repeat(img[..., None], 3, axis=2))
    np.save(tmp_path / "m.npy", known.astype(np.float32) * 0.3)
    for name in ["m.png", "m16.png", "mrgb.png", "m.npy"]:
        m = O.mask_from_file(tmp_path / name, shape=(1, 3, 12, 15))
        assert m.shape == (1, 1, 12, 15)
        assert torch.equal(m[0, 0].bool(), torch.from_numpy(known)), name
    with pytest.raises(ValueError, match=r"is 12x15 but the image is 16x16"):
        O.mask_from_file(tmp_path / "m.png", shape=(16, 16))
    with pytest.raises(ValueError, match="does not exist"):
        O.mask_from_file(tmp_path / "none.png")


def test_inpainting_mask_checks():
    A = O.Inpainting(O.random_mask((8, 9), 0.5, seed=0))
    with pytest.raises(ValueError, match=r"mask size 8x9 does not match the image size 8x10"):
        A(torch.rand(1, 3, 8, 10))
    with pytest.raises(ValueError, match="only 0"):
        O.Inpainting(torch.full((8, 9), 0.5))
    with pytest.raises(ValueError, match="broadcast"):
        O.Inpainting(O.random_mask((2, 1, 8, 9), 0.5, seed=0))(torch.rand(3, 1, 8, 9))
    x = torch.rand(2, 3, 8, 9)
    y = A(x)
    assert torch.equal(y, x * A.mask.float()) and bool((y[:, :, A.mask[0, 0] == 0] == 0).all())
    assert torch.equal(O.Inpainting(A.mask[0, 0].bool())(x), y)
