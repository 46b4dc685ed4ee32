"""Training data: the device patch sampler's geometry, several folders, downscaling, bad data refused."""
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from restore.cli import main
from restore.training.data import (DataError, PatchSampler, _symmetry, load_sources, parse_source,
                                   split_validation)


def _write(folder, n, h=40, w=48, seed=0, ext=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"im{i}{ext}"), (rng.random((h, w, 3)) * 255).astype(np.uint8))
    return folder


def test_symmetries_are_flip_then_rot90():
    """Output pixel (u, v) of symmetry op reads crop[_symmetry(u, v)] = rot90(flip?(crop), op & 3)."""
    p = 5
    crop = torch.arange(p * p).view(p, p)
    u, v = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    for op in range(8):
        ref = crop.flip(-1) if op & 4 else crop
        ref = torch.rot90(ref, op & 3, dims=(-2, -1))
        su, sv = _symmetry(u[None], v[None], torch.tensor([op]), p)
        assert torch.equal(crop[su[0], sv[0]], ref), op


def test_patches_are_crops_of_the_images():
    """Every patch is a flipped/rotated crop of one training image (or its BT.601 grey), in [-1, 1]."""
    gen = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8) for h, w in [(20, 31), (17, 17), (40, 22)]]
    sampler = PatchSampler(imgs, gray_prob=0.3)
    batch = sampler.batch(64, 9, torch.Generator().manual_seed(1))
    assert batch.shape == (64, 3, 9, 9) and batch.min() >= -1 and batch.max() <= 1
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    n_gray = 0
    for patch in (batch + 1) / 2 * 255:
        found = False
        for img in imgs:
            f = img.float()
            g = (f * luma).sum(0, keepdim=True).expand_as(f)
            for src in (f, g):
                for op in range(8):  # undo rot90(flip(crop), k): search the crop in the image
                    cand = torch.rot90(patch, -(op & 3), dims=(-2, -1))
                    cand = cand.flip(-1) if op & 4 else cand
                    win = src.unfold(1, 9, 1).unfold(2, 9, 1)  # (3, H-8, W-8, 9, 9)
                    err = (win - cand[:, None, None]).abs().amax(dim=(0, 3, 4))
                    if err.min() < 1e-3:
                        found, n_gray = True, n_gray + (src is g)
                        break
                if found:
                    break
            if found:
                break
        assert found
    assert 5 <= n_gray <= 40  # about 30 % grey


def test_same_generator_state_same_batch():
    imgs = [torch.randint(0, 256, (3, 30, 30), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))]
    s = PatchSampler(imgs)
    g = torch.Generator().manual_seed(5)
    state = g.get_state()
    a = s.batch(4, 8, g)
    g.set_state(state)
    assert torch.equal(a, s.batch(4, 8, g))


def test_several_folders_downscale_and_validation(tmp_path):
    a = _write(tmp_path / "a", 5, 40, 48)
    b = _write(tmp_path / "b", 3, 64, 80, seed=1, ext=".jpg")
    images, val, files = load_sources([parse_source(str(a)), parse_source(f"{b}:2")], patch=16, n_val=2)
    assert len(val) == 2 and len(files) == 3 + 3 and len(images) == 6
    assert all(f.parent == a for f in files[:3]) and all(f.parent == b for f in files[3:])
    assert [tuple(im.shape) for im in images[3:]] == [(3, 32, 40)] * 3  # halved by area averaging
    # the area-averaged pixels are the 2×2 means of the decoded image
    full = cv2.imread(str(files[3]))[:, :, ::-1].astype(np.float64)
    means = full.reshape(32, 2, 40, 2, 3).mean(axis=(1, 3))
    assert np.abs(images[3].permute(1, 2, 0).numpy() - means).max() <= 1.0
    assert parse_source("x:y").folder.name == "x:y"  # only an integer suffix is a factor
    # images smaller than the patch: refused, or left out with --skip-small
    with pytest.raises(DataError, match="smaller than the 40×40 patch"):
        load_sources([parse_source(str(a)), parse_source(f"{b}:2")], patch=40, n_val=2)
    images, _, files = load_sources([parse_source(str(a)), parse_source(f"{b}:2")], 40, 2, skip_small=True)
    assert len(images) == len(files) == 3 and all(f.parent == a for f in files)


def test_validation_never_reuses_training_images(tmp_path):
    files = sorted(_write(tmp_path / "a", 3).iterdir())
    with pytest.raises(DataError, match="at least 9"):
        split_validation(files, 8)
    train, val = split_validation(files, 2)
    assert not set(train) & set(val) and len(train) == 1


@pytest.mark.parametrize("case", ["empty", "missing", "unreadable", "tiny", "few", "cuda", "patch"])
def test_train_bad_input_one_line_exit_2(tmp_path, case):
    data = tmp_path / "data"
    args = ["train", "--out", str(tmp_path / "out"), "--steps", "2", "--batch", "2", "--patch", "16",
            "--base", "8", "--mults", "1,2", "--blocks", "1", "--val-images", "1"]
    if case == "empty":
        data.mkdir()
    elif case == "unreadable":
        _write(data, 3)
        (data / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    elif case == "tiny":
        _write(data, 3)
        _write(data / "sub", 1, 10, 12, seed=2)
    elif case == "few":
        _write(data, 1)
    elif case == "cuda":
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA: --device cuda is valid here")
        _write(data, 3)
        args += ["--device", "cuda"]
    elif case == "patch":
        _write(data, 3)
        args[args.index("--patch") + 1] = "15"
    args += ["--data", str(data)]
    result = CliRunner().invoke(main, args, standalone_mode=False)
    lines = [line for line in result.output.strip().splitlines() if line]
    assert result.return_value == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("restore: error:") and "Traceback" not in result.output
    expected = {"empty": "no images", "missing": "not found", "unreadable": "cannot read", "tiny": "smaller than",
                "few": "at least 2", "cuda": "CUDA", "patch": "multiple of 2"}[case]
    assert expected in lines[0]
    assert not (tmp_path / "out" / "state.pt").exists()
