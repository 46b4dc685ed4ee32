"""Train (or continue) a shipped prior on one GPU within a wall-time budget; see README.md here.

    python benchmarks/gpu/recipe.py MODEL OUT [--pack gpu_pack] [--device cuda] [--minutes 8.5] [--work DIR]

MODEL is a preset of `restore.training.presets` (large, default; tiny rehearses on CPU). It starts from,
in this order: the run's own state in ``--work`` (same machine: exact resume), the weights of a
previous run in ``PACK/init`` (``MODEL.json``), the shipped ``restore/weights/MODEL``, or scratch.
Every checkpoint (each minute) exports into OUT: ``MODEL[-k-of-n].safetensors`` (float16, ≤ 15 MB a
file), ``MODEL.json``, ``MODEL_history.json`` (loss and validation curve) and ``MODEL_training.png``.
Throughput (patches/s) is printed after 10 steps.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # runs from a bare checkout (nothing installed)

from restore.models.checkpoint import export_checkpoint  # noqa: E402
from restore.models.registry import WEIGHTS_DIR  # noqa: E402
from restore.training.loop import TrainConfig, native_bf16, train  # noqa: E402
from restore.training.presets import SHARD_BYTES, preset  # noqa: E402


def describe_device(device: str) -> str:
    if device == "cuda" and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        dev = torch.device("cuda")
        return (f"{p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
                f"bf16 {native_bf16(dev)}, {torch.cuda.device_count()} GPU(s)")
    return f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, bf16 {native_bf16(torch.device('cpu'))}"


def starting_point(model: str, work: Path, pack: Path) -> tuple[bool, str | None, str]:
    """(resume, init, why)."""
    if (work / "state.pt").exists():
        return True, None, f"resuming {work}"
    for cand in (pack / "init" / model, WEIGHTS_DIR / model):
        if cand.with_suffix(".json").exists():
            return False, str(cand), f"initialised from {cand}"
    return False, None, "from scratch"


def export(model: str, work: Path, out: Path, plot: bool = True) -> None:
    """best (else last) EMA weights → OUT/MODEL*, float16 shards, with the history (and its plot when
    ``plot``: the checkpoints' exports skip it, ~1 s each; the history alone redraws it)."""
    src = work / "best" if (work / "best.json").exists() else work / "last"
    for old in out.glob(f"{model}*.safetensors"):
        old.unlink()
    export_checkpoint(src, out / model, half=True, max_shard_bytes=SHARD_BYTES)
    shutil.copyfile(work / "history.json", out / f"{model}_history.json")
    if not plot:
        return
    try:
        import plot_training
        plot_training.main(str(work / "history.json"), str(out / f"{model}_training.png"))
    except Exception as err:  # a plot is never worth losing the weights over
        print(f"(no plot: {err})", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--pack", default=str(ROOT / "gpu_pack"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--minutes", type=float, default=8.5)
    ap.add_argument("--work", default=None, help="training state folder (default: runs/gpu_MODEL)")
    ap.add_argument("--steps", type=int, default=10**7)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--batch", type=int, default=None, help="override the preset's batch (e.g. a smaller GPU)")
    a = ap.parse_args(argv)
    t0 = time.time()
    pack, out = Path(a.pack), Path(a.out)
    work = Path(a.work) if a.work else ROOT / "runs" / f"gpu_{a.model}"
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((pack / "pack.json").read_text())
    print(f"device: {describe_device(a.device)}", flush=True)
    resume, init, why = starting_point(a.model, work, pack)
    print(f"model {a.model}: {why}; data {manifest['images']}", flush=True)
    cfg = TrainConfig(data=[str(pack / s) for s in manifest["sources"]], out=str(work), steps=a.steps,
                      device=a.device, max_minutes=a.minutes, ckpt_minutes=1.0, ckpt_every=10**9,
                      compile=a.compile, **{**preset(a.model), **({"batch": a.batch} if a.batch else {})})
    train(cfg, resume=resume, init=init, progress=False, on_checkpoint=lambda w: export(a.model, w, out, plot=False))
    export(a.model, work, out)
    best = json.loads((out / f"{a.model}.json").read_text())
    print(f"done in {(time.time() - t0) / 60:.1f} min: step {best['step']}, validation PSNR(σ=25) "
          f"{best['val_psnr_sigma25']:.2f} dB; weights in {out}", flush=True)


if __name__ == "__main__":
    main()
