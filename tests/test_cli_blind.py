"""`restore deblur` without a kernel: the kernel (or a Gaussian's std) is estimated from the image."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny_prior import write_tiny_prior

import operators as ops
from restore.cli import main

S = 64


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A piecewise-constant grey scene (steps pin a kernel down) blurred by a known motion kernel and by a
    Gaussian of std 1.5, both circular and 8-bit."""
    d = tmp_path_factory.mktemp("blind")
    write_tiny_prior(d / "tiny")
    rng = np.random.default_rng(1)
    x = np.full((S, S), 0.5)
    for _ in range(14):
        r, c = rng.integers(0, S - 12, 2)
        h, w = rng.integers(6, 20, 2)
        x[r:r + h, c:c + w] = rng.uniform(0.05, 0.95)
    xt = torch.from_numpy(x)[None, None]
    k = ops.motion_kernel(9, 0.5, seed=3)
    np.save(d / "k_true.npy", k.numpy())
    for name, A in (("motion", ops.Blur(k, boundary="circular")), ("gauss", ops.GaussianBlur(11, 1.5, "circular"))):
        y = A(xt)[0, 0].numpy()
        cv2.imwrite(str(d / f"{name}.png"), np.round(np.clip(y, 0, 1) * 255).astype(np.uint8))
    cv2.imwrite(str(d / "sharp.png"), np.round(x * 255).astype(np.uint8))
    cv2.imwrite(str(d / "flat.png"), np.full((S, S), 128, np.uint8))
    return d


def run(files, *args):
    args = [str(a) for a in args] + ["--prior", str(files / "tiny"), "--noise", "0", "--boundary", "circular"]
    return CliRunner().invoke(main, ["deblur", *args], catch_exceptions=False)


def ok_json(r) -> dict:
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def assert_bad(r, *words):
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: error: "), r.stderr
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


def test_kernel_auto_is_the_default_and_is_recorded(files, tmp_path):
    out, kpng, knpy = tmp_path / "r.png", tmp_path / "k.png", tmp_path / "k.npy"
    d = ok_json(run(files, files / "motion.png", "--kernel-size", "15", "-o", out, "--save-kernel", knpy, "--json"))
    assert d["method"] == "deconv" and d["steps"] is None  # the E-step, not polished
    assert d["operator"]["kernel"] == "estimated" and d["operator"]["kernel_size"] == 15
    k = np.array(d["kernel"]["values"])
    assert d["kernel"]["estimated"] and k.shape == (15, 15)
    assert k.min() >= 0 and abs(k.sum() - 1) < 1e-6
    # centred: the centre of mass within a pixel of the middle
    r, c = np.indices(k.shape)
    assert abs((r * k).sum() - 7) <= 1 and abs((c * k).sum() - 7) <= 1
    # the estimate is the true kernel up to a small error, not a delta (which scores ≥ 1 here)
    kt = np.zeros((15, 15))
    kt[3:12, 3:12] = np.load(files / "k_true.npy")
    rt, ct = (r * kt).sum(), (c * kt).sum()
    shifted = np.roll(kt, (round((r * k).sum() - rt), round((c * k).sum() - ct)), (0, 1))
    assert np.linalg.norm(k - shifted) / np.linalg.norm(kt) < 0.6
    assert np.allclose(np.load(knpy), k, atol=1e-7)
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).shape == (S, S)
    # the PNG form reads back as the same kernel (16-bit quantisation) through --kernel PATH
    ok_json(run(files, files / "motion.png", "--kernel-size", "15", "-o", tmp_path / "r2.png",
                "--save-kernel", kpng, "--json"))
    back = ops.load_kernel(kpng).numpy()
    assert np.abs(back - k).max() < 1e-3


def test_steps_ask_for_the_polish_of_the_e_step(files, tmp_path):
    """--steps N with deconv (here the estimated kernel's default): the E-step polished by N DAPS levels."""
    d0 = ok_json(run(files, files / "motion.png", "--kernel-size", "15", "-o", tmp_path / "a.png", "--json"))
    d = ok_json(run(files, files / "motion.png", "--kernel-size", "15", "-o", tmp_path / "b.png", "--steps", "3",
                    "--json"))
    assert d["method"] == "deconv" and d["steps"] == 3 and d0["steps"] is None
    a, b = (cv2.imread(str(tmp_path / f), cv2.IMREAD_UNCHANGED) for f in ("a.png", "b.png"))
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_gauss_without_std_estimates_it(files, tmp_path):
    d = ok_json(run(files, files / "gauss.png", "--kernel", "gauss", "--method", "pinv",
                    "-o", tmp_path / "g.png", "--json"))
    assert d["kernel"]["estimated"] and d["operator"]["kernel_std_estimated"]
    d2 = ok_json(run(files, files / "gauss.png", "--kernel", "gauss", "-o", tmp_path / "g2.png", "--json"))
    assert d2["method"] == "deconv" and d2["steps"] is None  # an estimated (Gaussian) kernel: unpolished
    assert abs(d["kernel"]["std"] - 1.5) < 0.4, d["kernel"]["std"]
    assert d["operator"]["kernel_size"] == 2 * int(np.ceil(3 * d["kernel"]["std"])) + 1
    # an explicit std is used as given, nothing is estimated
    d = ok_json(run(files, files / "gauss.png", "--kernel-std", "2", "--method", "pinv", "-o", tmp_path / "h.png",
                    "--json"))
    assert not d["kernel"]["estimated"] and d["operator"]["kernel_std"] == 2.0


def test_sharp_image_gives_a_delta(files, tmp_path):
    d = ok_json(run(files, files / "sharp.png", "--kernel-size", "9", "-o", tmp_path / "s.png", "--json"))
    k = np.array(d["kernel"]["values"])
    assert k[4, 4] == pytest.approx(1.0)


@pytest.mark.parametrize("args, words", [
    (["--kernel-size", "101"], ["larger than the image"]),
    (["--kernel-size", "8"], ["odd"]),
    (["--kernel", "auto", "--kernel-std", "2"], ["--kernel-std"]),
    (["--samples", "2"], ["--samples"]),
    (["--save-kernel", "k.txt"], ["--save-kernel", ".npy"]),
])
def test_blind_bad_options(files, tmp_path, args, words):
    args = [a if a != "k.txt" else str(tmp_path / a) for a in args]
    assert_bad(run(files, files / "motion.png", "-o", tmp_path / "x.png", *args), *words)
    assert not (tmp_path / "x.png").exists()


def test_flat_image_is_refused(files, tmp_path):
    assert_bad(run(files, files / "flat.png", "-o", tmp_path / "x.png"), "flat")


def test_simulate_needs_a_kernel(files, tmp_path):
    r = CliRunner().invoke(main, ["simulate", str(files / "sharp.png"), "--task", "deblur", "--kernel", "auto",
                                  "-o", str(tmp_path / "b.png")], catch_exceptions=False)
    assert_bad(r, "auto")


def test_deconv_method_with_a_known_kernel(files, tmp_path):
    d = ok_json(run(files, files / "motion.png", "--kernel", files / "k_true.npy", "--method", "deconv",
                    "-o", tmp_path / "d.png", "--json"))
    assert d["method"] == "deconv" and not d["kernel"]["estimated"]
    assert_bad(CliRunner().invoke(main, ["sr", str(files / "sharp.png"), "--method", "deconv", "--prior",
                                         str(files / "tiny"), "-o", str(tmp_path / "e.png")]), "deblurring only")


def test_unreliable_estimate_warns_and_restores_without_deblurring(files, tmp_path):
    """Never silently worse: too noisy to estimate → one warning line, the delta kernel, exit 0."""
    r = CliRunner().invoke(main, ["deblur", str(files / "motion.png"), "--prior", str(files / "tiny"),
                                  "--boundary", "circular", "--noise", "0.05", "--kernel-size", "9",
                                  "-o", str(tmp_path / "n.png"), "--json"], catch_exceptions=False)
    d = ok_json(r)
    warn = [line for line in r.stderr.splitlines() if line.startswith("warning: the blur could not be estimated")]
    assert len(warn) == 1 and "--kernel gauss" in warn[0] and "--kernel PATH" in warn[0], r.stderr
    assert "without blur" not in warn[0]  # no estimate was made: the sharp-photo hint does not apply
    k = np.array(d["kernel"]["values"])
    assert k[4, 4] == pytest.approx(1.0) and "noise" in d["operator"]["kernel_fallback"]
    assert (tmp_path / "n.png").exists()
