"""restore bench: outputs, seeds, resume after a kill, torchrun sharding (2 CPU ranks)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import operators as ops
from restore.bench import results, tasks as T
from restore.bench.methods import richardson_lucy
from restore.bench.results import image_dir
from restore.bench.runner import run_bench
from tiny_prior import write_tiny_prior
from restore.io import read_image, write_image

TASKS = "gauss-deblur,inpaint-box"
METHODS = "pinv,diffpir"
STEPS = 2
N_ROWS = 3 * 2 * 2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = root / "tiny"
    data.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        x = (torch.rand(1, 3, 32, 32, generator=g) * 0.3 + torch.linspace(0, 0.7, 32)).clamp(0, 1)
        write_image(data / f"img{i}.png", x)
    write_tiny_prior(root / "tiny_prior")
    return root, data, root / "tiny_prior"


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    src = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _args(data, prior, out):
    return ["--data", str(data), "--task", TASKS, "--method", METHODS, "--steps", str(STEPS),
            "--prior", str(prior), "--out", str(out), "-q"]


@pytest.fixture(scope="module")
def single(setup):
    root, data, prior = setup
    out = root / "single"
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = run_bench(str(data), TASKS, METHODS, out, steps=STEPS, prior=str(prior), echo=lambda m: None)
    finally:
        torch.set_num_threads(n)
    return out, rows


def _table(path):
    return {results.key_of(r): r for r in results.read_rows(path)}


def test_outputs_written(single):
    out, rows = single
    assert len(rows) == N_ROWS
    for f in ("results.csv", "summary.md", "psnr_vs_nfe.png", "examples.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0
    with open(out / "results.csv") as f:
        header = next(csv.reader(f))
    assert header == results.COLUMNS
    table = results.read_rows(out / "results.csv")
    assert len({results.key_of(r) for r in table}) == N_ROWS
    for r in table:
        assert r["nfe"] == (0 if r["method"] == "pinv" else STEPS)
        assert r["sigma_y"] == pytest.approx(0.025) and r["sigma_y_units"] == "[0,1]"
        assert np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 and r["peak_mem_mb"] > 0
        d = image_dir(out, r["image"], r["task"])
        assert (d / f"{r['method']}_s{r['steps']}_seed0.png").is_file()
    md = (out / "summary.md").read_text()
    assert "| gauss-deblur | diffpir | 2 | 3 |" in md and "±" in md


def test_seed_recorded_and_reproduces_measurement(single):
    out, _ = single
    for task in TASKS.split(","):
        d = image_dir(out, "tiny/img1", task)
        rec = json.loads((d / f"diffpir_s{STEPS}_seed0.json").read_text())
        assert rec["job_seed"] == T.job_seed(0, "tiny/img1", task)
        truth, _ = read_image(d / "truth.png")
        m = T.build_task(task, truth, rec["job_seed"], rec["operator"]["sigma_y"])
        y_png, _ = read_image(d / "measurement.png")
        assert (m.y.clamp(0, 1) - y_png).abs().max() <= 0.5 / 255 + 1e-6
        m2 = T.build_task(task, truth, rec["job_seed"])
        assert torch.equal(m.y, m2.y)
        other = T.build_task(task, truth, T.job_seed(1, "tiny/img1", task))
        assert not torch.equal(m.y, other.y)
        # the recorded spec alone rebuilds the operator and, with the noise seed, the measurement (one codec)
        A = ops.from_spec(rec["operator"], truth.shape)
        assert torch.equal(ops.measure(truth, A, rec["operator"]["sigma_y"], rec["operator"]["noise_seed"]), m.y)


def test_resume_after_kill(setup, single):
    root, data, prior = setup
    out = root / "resume"
    env = dict(_env(), RESTORE_BENCH_CRASH_AFTER="5")
    p = subprocess.run([sys.executable, "-m", "restore.cli", "bench", *_args(data, prior, out), "--no-plots"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stderr
    before = results.read_rows(out / "results.csv")
    assert len(before) == 5
    with open(out / "results.csv", "a") as f:  # a row cut off mid-write
        f.write("tiny/img2,gauss-deblur,diffpir,2,0,12.3")
    p = subprocess.run([sys.executable, "-m", "restore.cli", "bench", *_args(data, prior, out), "--no-plots"],
                       env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    after = _table(out / "results.csv")
    assert len(after) == N_ROWS and len(results.read_rows(out / "results.csv")) == N_ROWS
    for r in before:  # not recomputed: same finish time
        assert after[results.key_of(r)]["finished"] == r["finished"]
    ref = _table(single[0] / "results.csv")
    for k, r in ref.items():
        assert after[k]["psnr"] == pytest.approx(r["psnr"], abs=1e-6)
        assert after[k]["ssim"] == pytest.approx(r["ssim"], abs=1e-6)


def test_torchrun_two_ranks_equal_single(setup, single):
    root, data, prior = setup
    if shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists():
        pytest.skip("torchrun not available")
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    out = root / "dist"
    p = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "restore.cli", "bench",
                        *_args(data, prior, out), "--no-plots"],
                       env=_env(), capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    rows = results.read_rows(out / "results.csv")
    assert not (out / "shards").exists()
    assert {r["rank"] for r in rows} == {0, 1}
    ref = results.read_rows(single[0] / "results.csv")
    drop = ("seconds", "peak_mem_mb", "finished", "rank")
    assert [results.key_of(r) for r in rows] == [results.key_of(r) for r in ref]  # same order
    for a, b in zip(rows, ref):
        assert a["psnr"] == pytest.approx(b["psnr"], abs=1e-6) and a["ssim"] == pytest.approx(b["ssim"], abs=1e-6)
        assert {k: v for k, v in a.items() if k not in drop + ("psnr", "ssim")} == \
               {k: v for k, v in b.items() if k not in drop + ("psnr", "ssim")}


# -------------------------------------------------------------------------------------------- units
def test_partial_last_line_tolerated(tmp_path):
    row = {c: "" for c in results.COLUMNS}
    row.update(image="a", task="denoise", method="pinv", steps=0, seed=0, psnr=20.0, ssim=0.5, seconds=0.1, nfe=0,
               peak_mem_mb=1.0, sigma_y=0.1, job_seed=1, rank=0)
    a = results.Appender(tmp_path / "r.csv")
    a.append(row)
    a.close()
    with open(tmp_path / "r.csv", "a") as f:
        f.write("b,denoise,pi")
    assert len(results.read_rows(tmp_path / "r.csv")) == 1
    a = results.Appender(tmp_path / "r.csv")  # repairs, then appends
    a.append({**row, "image": "b"})
    a.close()
    rows = results.read_rows(tmp_path / "r.csv")
    assert [r["image"] for r in rows] == ["a", "b"] and rows[0]["psnr"] == 20.0


def test_task_parsing_and_crop():
    assert T.parse_tasks("levin-deblur@7.65")[0] == "levin-deblur-k1@7.65"
    assert len(T.parse_tasks("levin-deblur")) == 8
    assert T.default_sigma("denoise") == pytest.approx(25 / 255)
    assert T.default_sigma("sr4") == 0.025 and T.default_sigma("levin-deblur-k3") == pytest.approx(0.01)
    with pytest.raises(ValueError):
        T.parse_tasks("deblur-everything")
    x = torch.rand(1, 3, 321, 481)
    assert T.center_crop(x, 256).shape[-2:] == (256, 256)
    assert T.center_crop(x[..., :100, :100], 256).shape[-2:] == (96, 96)  # never padded
    A, spec, mask = T.build_operator("inpaint-box", 256, 7)
    assert int((mask == 0).sum()) == 128 * 128
    A, spec, _ = T.build_operator("gauss-deblur", 256, 7)
    assert A.kernel.shape == (61, 61)


def test_richardson_lucy_matches_circular_blur():
    """skimage's convolution and our Blur agree (no kernel flip), and RL improves on y."""
    import scipy.signal

    k = ops.motion_kernel(9, 0.5, seed=1)
    A = ops.Blur(k, boundary="circular")
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    ref = scipy.signal.convolve(np.pad(x[0, 0].numpy(), 9, mode="wrap"), k.numpy(), mode="same")[9:-9, 9:-9]
    assert np.abs(ref - A(x)[0, 0].numpy()).max() < 1e-12
    xs = T.center_crop(torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64).contiguous(), 64)
    xs = (xs + 0.3 * (torch.arange(64) % 16 < 8).float().view(1, 1, 64, 1)).clamp(0, 1)
    m = T.build_task("motion-deblur", xs, 3, sigma_y=0.0)
    from restore.metrics import psnr
    assert float(psnr(richardson_lucy(m).double(), xs.double())) > float(psnr(m.y.double(), xs.double()))


def test_cli_bad_method_one_line(setup, tmp_path):
    from click.testing import CliRunner
    from restore.cli import main

    root, data, prior = setup
    r = CliRunner().invoke(main, ["bench", "--data", str(data), "--task", "sr4", "--method", "dpss",
                                  "--out", str(tmp_path / "o"), "--prior", str(prior)])
    assert r.exit_code == 2
    assert "unknown method 'dpss'" in r.output


def test_nfe_counts_every_chain_of_an_averaged_estimate(setup, tmp_path):
    """SR's tuned DDRM default averages M posterior samples run as one batch: the recorded NFE is
    steps × M network evaluations per image, not the number of batched calls."""
    from restore.guidance import defaults
    _, data, prior = setup
    M = defaults("ddrm", task="sr").get("average", 1)
    rows = run_bench(str(data), "sr4", "ddrm", tmp_path / "avg", steps=STEPS, limit=1, prior=str(prior),
                     echo=lambda m: None, plots_enabled=False)
    assert [r["nfe"] for r in rows] == [STEPS * M]
    assert M > 1  # the shipped SR default is an average (tuned.py); this test would not see a miscount otherwise


def test_average_one_runs_a_single_chain_and_is_recorded(setup, tmp_path):
    """--average 1 overrides SR's tuned average: NFE = steps, the image's JSON records it; 0 is refused."""
    _, data, prior = setup
    one = run_bench(str(data), "sr4", "ddrm", tmp_path / "one", steps=STEPS, limit=1, prior=str(prior),
                    echo=lambda m: None, plots_enabled=False, average=1)
    assert [r["nfe"] for r in one] == [STEPS]
    record = json.loads(next((tmp_path / "one").rglob(f"ddrm_s{STEPS}_seed0.json")).read_text())
    assert record["average"] == 1
    with pytest.raises(ValueError, match="average must be"):
        run_bench(str(data), "sr4", "ddrm", tmp_path / "bad", steps=STEPS, limit=1, prior=str(prior),
                  echo=lambda m: None, plots_enabled=False, average=0)
