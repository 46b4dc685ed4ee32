"""The one-command GPU recipe (benchmarks/gpu/train.sh), rehearsed end to end in its CPU mode."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.models import load_prior

ROOT = Path(__file__).resolve().parents[1]


def _images(folder, n, h, w, seed):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"im{i}.jpg"), (rng.random((h, w, 3)) * 255).astype(np.uint8))


def _module(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"benchmarks/gpu/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_cpu_mode_packs_trains_exports_and_resumes(tmp_path, capsys):
    """Pack, then the shell recipe from scratch; the resume runs recipe.main in this process (the same
    code train.sh calls, without a second interpreter start)."""
    _images(tmp_path / "cbsd", 10, 40, 48, 0)
    _images(tmp_path / "imagenet", 3, 300, 320, 1)
    pack = tmp_path / "pack"
    packer = _module("pack")
    packer.main(["--out", str(pack), "--max-mb", "1", "--cbsd", str(tmp_path / "cbsd"),
                 "--imagenet", str(tmp_path / "imagenet")])
    manifest = json.loads((pack / "pack.json").read_text())
    assert manifest["images"] == {"data/CBSD432": 10, "data/imagenet": 3}
    assert manifest["bytes"] <= 2**20
    small = cv2.imread(str(next((pack / "data/imagenet").iterdir())))
    assert small.shape[:2] == (150, 160)  # area-downscaled by 2 at packing time

    out = tmp_path / "OUT"
    env = {**os.environ, "PACK": str(pack), "DEVICE": "cpu", "MINUTES": "0.01", "WORK": str(tmp_path / "work"),
           "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}

    def run():
        p = subprocess.run(["bash", str(ROOT / "benchmarks/gpu/train.sh"), "tiny", str(out)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        return p.stdout

    first = run()
    assert "throughput:" in first and "from scratch" in first
    files = sorted(f.name for f in out.iterdir())
    assert files == ["log.txt", "tiny.json", "tiny.safetensors", "tiny_history.json", "tiny_training.png"]
    step1 = json.loads((out / "tiny.json").read_text())["step"]
    capsys.readouterr()
    _module("recipe").main(["tiny", str(out), "--pack", str(pack), "--device", "cpu", "--minutes", "0.01",
                            "--work", str(tmp_path / "work")])
    second = "".join(capsys.readouterr())
    assert "resuming" in second and f"resumed from step {step1}" in second
    hist = json.loads((out / "tiny_history.json").read_text())
    assert hist[0]["step"] == step1 and hist[-1]["step"] > step1  # the curve carries on
    assert len(list(out.iterdir())) <= 8  # what a device run can return
    prior = load_prior(str(out / "tiny"), device="cpu")  # the exported float16 weights load as a prior
    x = torch.rand(1, 3, 16, 16)
    assert prior.denoise(x, 0.1).shape == x.shape
