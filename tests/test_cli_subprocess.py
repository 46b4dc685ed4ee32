"""The command line as a real process: `python -m restore.cli` and the installed `restore` script."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from tiny_prior import write_tiny_prior


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "restore.cli", *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_proc")
    write_tiny_prior(d / "tiny")
    rng = np.random.default_rng(1)
    cv2.imwrite(str(d / "in.png"), cv2.GaussianBlur((rng.random((24, 32, 3)) * 255).astype(np.uint8), (5, 5), 1.5))
    return d


def test_simulate_then_deblur(d):
    r = run("simulate", "in.png", "--task", "deblur", "--kernel-size", "5", "--seed", "1", "-o", "blurred.png",
            cwd=d)
    assert r.returncode == 0, r.stderr
    r = run("deblur", "blurred.png", "--prior", "tiny", "--steps", "2", "--reference", "in.png", "--json",
            "--from-json", cwd=d)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["output"] == "blurred_restored.png" and out["psnr"] > 0 and out["operator"]["kernel_size"] == 5
    assert cv2.imread(str(d / "blurred_restored.png")).shape == (24, 32, 3)
    assert r.stderr == ""  # not a terminal: no progress bar


def test_bad_input_one_line(d):
    r = run("deblur", "in.png", "--kernel", "nonsense", cwd=d)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["restore: error: unknown kernel 'nonsense' (use auto, gauss, motion, uniform, "
                                             "or the path of a kernel file: .png, .npy, .npz, .mat)"]
    assert r.stdout == ""


@pytest.mark.skipif(shutil.which("restore") is None, reason="console script not installed")
def test_console_script(d):
    r = subprocess.run(["restore", "--version"], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("restore ")
