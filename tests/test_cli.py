"""The command line, driven in-process through click's CliRunner (tiny images, tiny random prior)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from tiny_prior import write_tiny_prior
from click.testing import CliRunner

from restore.cli import main

H, W = 24, 32


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    write_tiny_prior(d / "tiny")
    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur((rng.random((H, W, 3)) * 255).astype(np.uint8), (5, 5), 1.5)
    cv2.imwrite(str(d / "rgb.png"), rgb)
    cv2.imwrite(str(d / "gray.png"), rgb[:, :, 1])
    alpha = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    cv2.imwrite(str(d / "rgba.png"), np.dstack([rgb, alpha]))
    cv2.imwrite(str(d / "deep.png"), rgb.astype(np.uint16) * 257 + 100)
    cv2.imwrite(str(d / "small.png"), rgb[::4, ::4])  # 6x8, for sr
    mask = np.full((H, W), 255, np.uint8)
    mask[8:16, 10:20] = 0
    cv2.imwrite(str(d / "mask.png"), mask)
    cv2.imwrite(str(d / "mask_wrong.png"), mask[:20])
    np.save(d / "k_nan.npy", np.array([[1.0, np.nan], [1.0, 1.0]]))
    np.save(d / "k_neg.npy", np.array([[1.0, -2.0], [0.0, 0.0]]))
    np.save(d / "k_ok.npy", np.ones((3, 3)))
    (d / "notimage.png").write_text("hello")
    return d


def cli(files, *args, prior=True):
    args = [str(a) for a in args]
    if prior and args and args[0] in ("deblur", "sr", "inpaint", "denoise", "colorize"):
        args += ["--prior", str(files / "tiny")]
        if args[0] != "denoise" or "--method" in args:  # denoise's default (tweedie) has no steps
            args += ["--steps", "2"]
    if args and args[0] == "deblur" and not {"--kernel", "--kernel-std", "--from-json", "--method"} & set(args):
        args += ["--kernel", "gauss", "--kernel-std", "3"]  # a known kernel (the blind default has its own tests)
    return CliRunner().invoke(main, args, catch_exceptions=False)


def ok_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def assert_bad(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("restore: error: ")
    assert "Traceback" not in result.output
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


# ----------------------------------------------------------------------------- happy paths
def test_the_deblur_default_is_the_polished_e_step(files):
    """A given kernel: deconv polished by POLISH_STEPS DAPS levels (clean or noisy), POLISH_STEPS_TILED per tile of a
    tiled image; --samples: a sampler."""
    from restore.cli.methods import POLISH_STEPS, POLISH_STEPS_TILED, deconv_steps, default_method

    base = ["deblur", str(files / "rgb.png"), "--kernel-size", "5", "--kernel-std", "1.5",
            "--prior", str(files / "tiny"), "--json"]
    for noise in ("auto", "0.01"):
        d = ok_json(CliRunner().invoke(main, base + ["-o", str(files / f"d{noise}.png"), "--noise", noise],
                                       catch_exceptions=False))
        assert d["method"] == "deconv" and d["steps"] == POLISH_STEPS
    assert default_method("deblur") == "deconv" and default_method("deblur", sampling=True) == "daps"
    assert default_method("sr") == "daps"
    assert deconv_steps(False) == POLISH_STEPS and deconv_steps(True) is None  # an estimated kernel: unpolished
    # a tiled image: POLISH_STEPS_TILED levels per tile (issue 19's budget); --steps still wins
    tiled = base + ["--noise", "0.01", "--tile", "16"]
    d = ok_json(CliRunner().invoke(main, tiled + ["-o", str(files / "dt.png")], catch_exceptions=False))
    assert d["tiles"] > 1 and d["steps"] == POLISH_STEPS_TILED < POLISH_STEPS
    d = ok_json(CliRunner().invoke(main, tiled + ["-o", str(files / "dt3.png"), "--steps", "3"], catch_exceptions=False))
    assert d["tiles"] > 1 and d["steps"] == 3
    assert deconv_steps(False, tiled=True) == POLISH_STEPS_TILED and deconv_steps(True, tiled=True) is None


@pytest.mark.parametrize("task, extra, shape", [
    # the blur rgb.png was made with (deconv, its polish cut to --steps 2 levels)
    ("deblur", ["--kernel-size", "5", "--kernel-std", "1.5", "--noise", "0.01"], (H, W, 3)),
    ("deblur", ["--kernel", "motion", "--kernel-size", "5", "--boundary", "circular", "--noise", "0.01"], (H, W, 3)),
    ("sr", ["--factor", "4"], (H, W, 3)),
    ("inpaint", ["--mask", "mask.png"], (H, W, 3)),
    ("denoise", [], (H, W, 3)),
    ("colorize", [], (H, W, 3)),
])
def test_tasks_json(files, task, extra, shape):
    src = files / ("small.png" if task == "sr" else "rgb.png")
    out = files / f"out_{task}_{len(extra)}.png"
    extra = [str(files / e) if e.endswith(".png") else e for e in extra]
    r = cli(files, task, src, *extra, "-o", out, "--json")
    d = ok_json(r)
    # no progress bar, no messages when stderr is not a terminal — except the residual warning where the
    # model is wrong: rgb.png was blurred by a Gaussian, not by the motion kernel the second deblur case assumes
    lines = r.stderr.splitlines()
    assert lines == [] or (task == "deblur" and "motion" in extra and len(lines) == 1
                           and lines[0].startswith("warning:")), r.stderr
    assert read(out).shape == shape
    for key in ("input", "output", "method", "seed", "steps", "seconds", "psnr", "ssim", "operator", "noise"):
        assert key in d
    assert d["output"] == str(out) and d["steps"] == (None if task == "denoise" else 2)
    assert d["seed"] == 0 and d["psnr"] is None
    assert d["method"] == {"deblur": "deconv", "sr": "daps", "inpaint": "diffpir", "denoise": "tweedie",
                           "colorize": "ddnm"}[task]
    if task == "denoise":
        assert d["noise_estimated"] is True and d["noise"] > 0


def test_default_output_name_and_reference(files, tmp_path):
    src = tmp_path / "photo.png"
    src.write_bytes((files / "rgb.png").read_bytes())
    r = cli(files, "deblur", src, "--kernel-size", "3", "--reference", files / "rgb.png",
            "--compare", tmp_path / "cmp.png")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "photo_restored.png").is_file() and (tmp_path / "cmp.png").is_file()
    assert "PSNR" in r.stdout and "SSIM" in r.stdout
    d = ok_json(cli(files, "deblur", src, "--kernel-size", "3", "--reference", files / "rgb.png", "--json",
                    "-o", tmp_path / "b.png"))
    assert d["psnr"] > 0 and 0 < d["ssim"] <= 1


def test_overwrite_refused_and_input_protected(files, tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes((files / "rgb.png").read_bytes())
    out = tmp_path / "in_restored.png"
    out.write_bytes(b"keep me")
    assert_bad(cli(files, "deblur", src, "--kernel-size", "3"), "already exists", "--overwrite")
    assert out.read_bytes() == b"keep me"
    r = cli(files, "deblur", src, "--kernel-size", "3", "--overwrite", "-q")
    assert r.exit_code == 0 and read(out).shape == (H, W, 3)
    original = src.read_bytes()
    assert_bad(cli(files, "deblur", src, "--kernel-size", "3", "-o", src, "--overwrite"), "input")
    assert src.read_bytes() == original


def test_same_seed_same_output(files, tmp_path):
    outs = []
    for i, seed in enumerate((5, 5, 6)):
        outs.append(tmp_path / f"s{i}.png")
        assert cli(files, "denoise", files / "rgb.png", "--method", "daps", "--noise", "0.05", "--seed", seed,
                   "-o", outs[-1], "-q").exit_code == 0
    a, b, c = (o.read_bytes() for o in outs)
    assert a == b and a != c


def test_alpha_16bit_gray(files, tmp_path):
    r = cli(files, "deblur", files / "rgba.png", "--kernel-size", "3", "-o", tmp_path / "a.png", "-q")
    assert r.exit_code == 0, r.output
    a = read(tmp_path / "a.png")
    assert a.shape == (H, W, 4) and np.array_equal(a[:, :, 3], read(files / "rgba.png")[:, :, 3])
    assert cli(files, "denoise", files / "deep.png", "--noise", "0.02", "-o", tmp_path / "d.png", "-q").exit_code == 0
    assert read(tmp_path / "d.png").dtype == np.uint16
    assert cli(files, "deblur", files / "gray.png", "--kernel-size", "3", "-o", tmp_path / "g.png", "-q").exit_code == 0
    assert read(tmp_path / "g.png").shape == (H, W)
    assert cli(files, "colorize", files / "gray.png", "-o", tmp_path / "c.png", "-q").exit_code == 0
    assert read(tmp_path / "c.png").shape == (H, W, 3)
    assert cli(files, "sr", files / "rgba.png", "--factor", "2", "-o", tmp_path / "s.png", "-q").exit_code == 0
    assert read(tmp_path / "s.png").shape == (2 * H, 2 * W, 4)


def test_samples_uncertainty_and_tiles(files, tmp_path):
    d = ok_json(cli(files, "deblur", files / "rgb.png", "--kernel-size", "3", "--samples", "2",
                    "--uncertainty", tmp_path / "u.png", "-o", tmp_path / "x.png", "--json"))
    assert read(tmp_path / "u.png").shape == (H, W) and d["uncertainty_scale"] > 0
    d = ok_json(cli(files, "deblur", files / "rgb.png", "--kernel-size", "3", "--tile", "16",
                    "-o", tmp_path / "t.png", "--json"))
    assert d["tiles"] == 6 and read(tmp_path / "t.png").shape == (H, W, 3)


def test_simulate_reproducible_and_from_json(files, tmp_path):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = tmp_path / f"{name}.png"
        r = cli(files, "simulate", files / "rgb.png", "--task", "deblur", "--kernel", "motion", "--kernel-size", "7",
                "--noise", "0.02", "--seed", seed, "-o", out, "-q")
        assert r.exit_code == 0, r.output
        side = json.loads(out.with_suffix(".json").read_text())
        side.pop("measurement")
        runs.append((out.read_bytes(), side))
    assert runs[0] == runs[1] and runs[0][0] != runs[2][0]
    d = ok_json(cli(files, "deblur", tmp_path / "a.png", "--json", "-o", tmp_path / "r.png", "--from-json"))
    assert d["operator"] == runs[0][1]["operator"] and d["noise"] == 0.02 and d["from_json"]
    assert_bad(cli(files, "sr", tmp_path / "a.png", "--from-json"), "deblur")
    assert_bad(cli(files, "deblur", tmp_path / "a.png", "--kernel-size", "3", "--from-json"), "--from-json")
    # inpainting: the mask comes back from its seed
    out = tmp_path / "m.png"
    assert cli(files, "simulate", files / "rgb.png", "--task", "inpaint", "--mask-random", "0.5", "-o", out,
               "-q").exit_code == 0
    d = ok_json(cli(files, "inpaint", out, "--from-json", out.with_suffix(".json"), "--json",
                    "-o", tmp_path / "mr.png"))
    assert d["operator"]["mask"] == "random"


def test_methods_and_version(files):
    r = cli(files, "methods")
    assert r.exit_code == 0 and "diffpir" in r.stdout and "ddrm" in r.stdout
    r = cli(files, "--version")
    assert r.exit_code == 0 and r.stdout.startswith("restore ")


# ----------------------------------------------------------------------------- bad input
BAD = [
    (["deblur", "missing.png"], ["missing.png"]),
    (["deblur", "notimage.png"], ["notimage.png"]),
    (["deblur", "rgb.png", "--kernel", "gaus"], ["unknown kernel", "gaus"]),
    (["deblur", "rgb.png", "--kernel", "k_nan.npy"], ["nan"]),
    (["deblur", "rgb.png", "--kernel", "k_neg.npy"], ["positive sum"]),
    (["deblur", "rgb.png", "--kernel", "nofile.npy"], ["does not exist"]),
    (["deblur", "rgb.png", "--kernel-size", "31"], ["larger than the image"]),
    (["inpaint", "rgb.png", "--mask", "mask_wrong.png"], ["mask", "20x32"]),
    (["inpaint", "rgb.png"], ["--mask"]),
    (["sr", "small.png", "--factor", "0"], ["--factor"]),
    (["sr", "small.png", "--factor", "-2"], ["--factor"]),
    (["deblur", "rgb.png", "--method", "nosuch"], ["unknown method", "nosuch"]),
    (["deblur", "rgb.png", "--noise", "-1"], ["--noise"]),
    (["deblur", "rgb.png", "--nosuch-option"], ["--nosuch-option"]),
    (["deblur", "rgb.png", "--reference", "small.png"], ["--reference"]),
    (["simulate", "rgb.png", "--task", "sr", "--factor", "5"], ["multiple"]),
    (["simulate", "rgb.png", "--task", "deblur", "--factor", "2"], ["--factor"]),
]


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(files, args, words):
    args = [str(files / a) if a.endswith((".png", ".npy")) and not a.startswith("-") else a for a in args]
    assert_bad(cli(files, *args), *words)


def test_bad_prior(files, tmp_path):
    r = CliRunner().invoke(main, ["deblur", str(files / "rgb.png"), "--kernel-size", "3", "--prior",
                                  str(tmp_path / "none"), "-o", str(tmp_path / "x.png")])
    assert_bad(r, "prior")


def test_sr_default_is_the_point_estimate_and_samples_are_posterior_samples(files, tmp_path):
    """Without --samples, `restore sr` writes the point estimate: restore.solve at the tuned settings,
    the average of M chains (restore.guidance.tuned).  --samples K draws K posterior samples at the
    sampling settings (restore.sample_posterior: other steps, never the tuned average) and writes
    their mean; --uncertainty is refused without --samples (a point estimate has no spread)."""
    from restore.guidance import defaults, sampling_defaults
    M = defaults("ddrm", task="sr")["average"]
    runs = {}
    for name, extra in (("default", ()), ("again", ()), ("explicit", ("--samples", M)), ("one", ("--samples", 1))):
        out = tmp_path / f"{name}.png"
        runs[name] = ok_json(cli(files, "sr", files / "small.png", "--factor", "4", "--method", "ddrm", "-o", out,
                                 "--json", *extra))
        runs[name]["image"] = read(out)
    assert runs["default"]["samples"] == M > 1 and runs["one"]["samples"] == 1
    assert sampling_defaults("ddrm")["eta"] != defaults("ddrm", task="sr")["eta"]  # why the images differ
    assert np.array_equal(runs["default"]["image"], runs["again"]["image"])
    assert not np.array_equal(runs["default"]["image"], runs["explicit"]["image"])
    assert not np.array_equal(runs["explicit"]["image"], runs["one"]["image"])
    r = cli(files, "sr", files / "small.png", "--factor", "4", "--uncertainty", tmp_path / "u.png",
            "-o", tmp_path / "nu.png")
    assert_bad(r, "--samples")


def test_denoise_default_is_the_posterior_mean_and_samples_fall_back_to_a_sampler(files, tmp_path):
    """`restore denoise` writes D(y, σ_y) (tweedie, one network call, no steps); --steps with it is one
    clear error; --samples K picks the first sampling method of the task (daps) instead of refusing."""
    from restore.io import read_image
    from restore.models.registry import load_prior
    out = tmp_path / "d.png"
    d = ok_json(cli(files, "denoise", files / "rgb.png", "--noise", "0.05", "-o", out, "--json"))
    assert d["method"] == "tweedie" and d["steps"] is None
    y, _ = read_image(files / "rgb.png")
    y = y.reshape(1, *y.shape[-3:]).float()
    want = load_prior(str(files / "tiny"), device="cpu").denoise(y, 0.05).clamp(0, 1)
    assert np.abs(read(out)[..., ::-1].astype(float) - (want[0].permute(1, 2, 0).numpy() * 255)).max() <= 1
    assert_bad(cli(files, "denoise", files / "rgb.png", "--steps", "3", "-o", tmp_path / "e.png"), "--steps")
    s = ok_json(cli(files, "denoise", files / "rgb.png", "--samples", "2", "--steps", "2", "-o", tmp_path / "s.png",
                    "--json"))
    assert s["method"] == "daps" and s["samples"] == 2


def test_prior_auto_is_named_in_the_report(files, tmp_path, monkeypatch):
    """--prior auto (the default) resolves by device — 'default' on CPU, 'large' on CUDA when installed —
    and the report names the prior used."""
    from restore.cli import pipeline
    from restore.models import registry

    seen = []

    def fake_load(name, device):  # records the resolved name, loads the tiny prior instead
        seen.append(name)
        return registry.load_prior(str(files / "tiny"), device="cpu")

    monkeypatch.setattr(pipeline, "load_prior", fake_load)
    r = cli(files, "deblur", files / "rgb.png", "--kernel-size", "3", "-o", tmp_path / "a.png", prior=False)
    assert r.exit_code == 0, r.output
    assert seen == ["default"] and "prior default" in r.stdout
    monkeypatch.setattr(registry, "installed", lambda name: True)
    import torch
    assert pipeline.resolve_prior("auto", torch.device("cuda")) == "large"
    assert pipeline.resolve_prior("auto", torch.device("cpu")) == "default"
    assert pipeline.resolve_prior(str(files / "tiny"), torch.device("cuda")) == str(files / "tiny")


def test_simulate_noise_sweep_is_nested_along_one_path(files, tmp_path):
    """--noise a,b,c: one image per level, points of one Brownian path Y_t = 𝒜x + σ_max W_t; the σ_max
    image equals the single-level run, and each level's noise has the right size."""
    src = files / "rgb.png"
    common = ["simulate", src, "--task", "denoise", "--seed", "4", "--bit-depth", "16"]
    ok_json(cli(files, *common, "--noise", "0.2", "-o", tmp_path / "one.png", "--json"))
    items = ok_json(cli(files, *common, "--noise", "0.05,0.1,0.2", "-o", tmp_path / "s.png", "--json"))
    assert [i["noise"]["sigma"] for i in items] == [0.05, 0.1, 0.2]
    assert [round(i["noise"]["path"]["t"], 6) for i in items] == [0.0625, 0.25, 1.0]
    x = read(src).astype(np.float64) / 255
    ys = {s: read(tmp_path / f"s_{s:g}.png").astype(np.float64) / 65535 for s in (0.05, 0.1, 0.2)}
    assert np.array_equal(read(tmp_path / "s_0.2.png"), read(tmp_path / "one.png"))  # t = 1: the plain noise
    inside = (x > 0.35) & (x < 0.65)  # away from clipping
    for s, y in ys.items():
        assert abs(np.std((y - x)[inside]) / s - 1) < 0.15
    # nested: the increment from 0.1 to 0.2 is independent of the path up to 0.1
    d1, d2 = (ys[0.1] - x)[inside], (ys[0.2] - ys[0.1])[inside]
    assert abs(np.corrcoef(d1, d2)[0, 1]) < 0.15 and abs(np.std(d2) / np.sqrt(0.2**2 - 0.1**2) - 1) < 0.15
    assert_bad(cli(files, "simulate", src, "--task", "denoise", "--noise", "0.1,0.1", "-o", tmp_path / "d.png"),
               "twice")


def test_deblur_warns_when_the_kernel_does_not_explain_the_input(files, tmp_path):
    """A camera-shake blur restored with an assumed Gaussian of std 3: the residual check flags it (one
    warning line, the ratio in --json); the true kernel (from the sidecar) passes without a warning."""
    rng = np.random.default_rng(5)
    sharp = np.kron(rng.random((12, 16, 3)) > 0.5, np.ones((4, 4, 1))).astype(np.uint8) * 200 + 20  # 48x64
    cv2.imwrite(str(tmp_path / "sharp.png"), sharp)
    ok_json(cli(files, "simulate", tmp_path / "sharp.png", "--task", "deblur", "--kernel", "motion", "--kernel-size",
                "11", "--noise", "0.01", "--seed", "2", "-o", tmp_path / "m.png", "--json"))
    r = cli(files, "deblur", tmp_path / "m.png", "--from-json", "-o", tmp_path / "right.png", "--json")
    right = ok_json(r)
    assert r.stderr == "" and right["residual"]["ratio"] < 1.5
    r = cli(files, "deblur", tmp_path / "m.png", "--kernel", "gauss", "--kernel-std", "3", "--kernel-size", "11",
            "--noise", "0.01", "-o", tmp_path / "wrong.png", "--json")
    wrong = ok_json(r)
    assert wrong["residual"]["ratio"] > 1.5
    warn = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warn) == 1 and "does not explain the input" in warn[0]


def test_tiled_deblur_is_checked_on_a_window(files, tmp_path, monkeypatch):
    """A tiled run is checked on its most textured window (here 40² of 48×64): the wrong kernel is
    still flagged, the right one passes."""
    from restore.cli import pipeline
    monkeypatch.setattr(pipeline, "FIT_WINDOW", 40)
    rng = np.random.default_rng(5)
    sharp = np.kron(rng.random((12, 16, 3)) > 0.5, np.ones((4, 4, 1))).astype(np.uint8) * 200 + 20
    cv2.imwrite(str(tmp_path / "sharp.png"), sharp)
    ok_json(cli(files, "simulate", tmp_path / "sharp.png", "--task", "deblur", "--kernel", "motion", "--kernel-size",
                "11", "--noise", "0.01", "--seed", "2", "-o", tmp_path / "m.png", "--json"))
    right = ok_json(cli(files, "deblur", tmp_path / "m.png", "--from-json", "--tile", "32", "-o", tmp_path / "r.png",
                        "--json"))
    assert right["tiles"] > 1 and right["residual"]["ratio"] < 1.5
    r = cli(files, "deblur", tmp_path / "m.png", "--kernel", "gauss", "--kernel-std", "3", "--kernel-size", "11",
            "--noise", "0.01", "--tile", "32", "-o", tmp_path / "w.png", "--json")
    wrong = ok_json(r)
    assert wrong["tiles"] > 1 and wrong["residual"]["ratio"] > 1.5
    assert sum(line.startswith("warning:") for line in r.stderr.splitlines()) == 1
