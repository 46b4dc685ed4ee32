"""A training run on disk: resume exactly, initialise from a shipped prior, checkpoint atomically.

``OUT/state.pt`` holds the network, its EMA, the optimiser, every rank's generator states, the step,
the best validation figure and the architecture; it is read with ``torch.load(weights_only=True)``
(tensors, numbers, strings and containers only: no code is unpickled). ``OUT/last`` and ``OUT/best``
are restore checkpoints of the EMA weights (`restore.models.checkpoint`), ``history.json`` the curve.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import torch

from ..io import atomic_write
from ..models.checkpoint import load_denoiser, save_denoiser

STATE = "state.pt"
HISTORY = "history.json"


def architecture(cfg) -> dict:
    """What a state must match to be resumed: the UNet's shape and the objective."""
    return {"unet": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.unet.items()},
            "objective": cfg.objective}


def _describe(arch: dict) -> str:
    u = arch["unet"]
    return f"base {u['base']}, mults {','.join(map(str, u['mults']))}, blocks {u['blocks']}, {arch['objective']}"


def _load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or carrying code: refused either way
        raise ValueError(f"cannot resume from {path}: not a readable training state ({type(err).__name__})") from None


def check_resumable(out: Path, cfg) -> None:
    """Refuse, before any data is decoded, a ``--resume`` folder whose state is another architecture."""
    path = out / STATE
    if not path.exists():
        return
    st = _load(path)
    saved = st.get("arch")
    if saved is not None and saved != architecture(cfg):
        raise ValueError(f"--resume {out}: its state is a different model ({_describe(saved)}) than this run "
                         f"asks for ({_describe(architecture(cfg))}); use the same architecture options or another --out")


def generator_states(run) -> dict:
    """This rank's generator states (CPU patch stream, device noise stream)."""
    states = {"cpu": run.gen.get_state()}
    if run.noise_gen is not run.gen:
        states["device"] = run.noise_gen.get_state()
    return states


def resume(run, out: Path, cfg, d) -> None:
    st = _load(out / STATE)
    try:
        run.model.net.load_state_dict(st["net"])
        run.ema.net.load_state_dict(st["ema"])
    except RuntimeError:
        raise ValueError(f"--resume {out}: its state does not fit this architecture "
                         f"({_describe(architecture(cfg))})") from None
    run.opt.load_state_dict(st["opt"])
    gens = st.get("gens") or [{"cpu": st["gen"]}]  # states written before DDP held one CPU stream
    if d.rank < len(gens):
        run.gen.set_state(gens[d.rank]["cpu"])
        if "device" in gens[d.rank] and run.noise_gen is not run.gen:
            run.noise_gen.set_state(gens[d.rank]["device"])
    elif d.is_main:
        print(f"warning: {out} was trained with {len(gens)} rank(s); new ranks start fresh streams", flush=True)
    run.step, run.best = int(st["step"]), float(st["best"])
    hist = out / HISTORY
    run.history = json.loads(hist.read_text()) if hist.exists() else []


def initialise(run, init: str, cfg) -> None:
    """Start from a restore checkpoint's weights (network and EMA), step count and curve."""
    start, start_cfg = load_denoiser(init)
    if start_cfg["unet"] != run.model.net.config or start_cfg["precond"] != cfg.objective:
        raise ValueError(f"--init {init}: architecture/objective differ from this run's configuration")
    run.model.net.load_state_dict(start.net.state_dict())
    run.ema.net.load_state_dict(start.net.state_dict())
    run.step = int(start_cfg.get("step", 0))
    run.best = float(start_cfg.get("val_psnr_sigma25", -math.inf))
    hist = Path(init).with_name(Path(init).name + "_history.json")
    run.history = json.loads(hist.read_text()) if hist.exists() else []


def write_config(out: Path, cfg) -> None:
    atomic_write(out / "train_config.json", json.dumps(asdict(cfg), indent=2, default=str).encode())


def save(run, out: Path, cfg, gens: list, score: float, improved: bool) -> None:
    """Write last (and best when ``improved``), the full state and the curve, each atomically."""
    meta = {"step": run.step, "val_psnr_sigma25": score, "train": json.loads(json.dumps(asdict(cfg), default=str))}
    save_denoiser(run.ema, out / "last", meta)
    if improved:
        save_denoiser(run.ema, out / "best", meta)
    state = {"net": run.model.net.state_dict(), "ema": run.ema.net.state_dict(), "opt": run.opt.state_dict(),
             "gens": gens, "step": run.step, "best": run.best, "arch": architecture(cfg)}
    tmp = out / f".{STATE}.tmp"
    torch.save(state, tmp)
    tmp.replace(out / STATE)
    atomic_write(out / HISTORY, json.dumps(run.history, indent=1).encode())
