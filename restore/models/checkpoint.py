"""Checkpoints of our own networks: safetensors weights + a small JSON config.

Nothing is ever unpickled: weights are read with ``safetensors`` and the architecture is rebuilt
from the JSON config, so a checkpoint cannot execute code.

Layout of a checkpoint ``NAME``:  ``NAME.safetensors`` (tensors, optionally float16) and
``NAME.json`` (``{"format": "restore-unet", "unet": {...}, "precond": "edm", "sigma_data": 0.5,
"data_range": [-1, 1], ...}``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .precond import Preconditioned
from .unet import UNet

FORMAT = "restore-unet"


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_denoiser(model: Preconditioned, path, meta: dict | None = None, half: bool = False) -> Path:
    """Write ``model`` (a `Preconditioned` UNet) as safetensors + JSON, atomically."""
    weights, config = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.net.state_dict().items()}
    cfg = {"format": FORMAT, "unet": model.net.config, "precond": model.kind,
           "sigma_data": model.sigma_data, "data_range": [-1, 1], **(meta or {})}
    _atomic_write(weights, lambda p: save_file(state, str(p)))
    _atomic_write(config, lambda p: p.write_text(json.dumps(cfg, indent=2)))
    return weights


def read_config(path) -> dict:
    _, config = _paths(path)
    if not config.exists():
        raise FileNotFoundError(f"checkpoint config not found: {config}")
    cfg = json.loads(config.read_text())
    if cfg.get("format") != FORMAT:
        raise ValueError(f"{config}: not a restore checkpoint (format={cfg.get('format')!r})")
    return cfg


def load_denoiser(path, device="cpu") -> tuple[Preconditioned, dict]:
    """Rebuild the network from the JSON config and load float32 weights from safetensors."""
    weights, _ = _paths(path)
    cfg = read_config(path)
    if not weights.exists():
        raise FileNotFoundError(f"checkpoint weights not found: {weights}")
    net = UNet(**{**cfg["unet"], "mults": tuple(cfg["unet"]["mults"])})
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    net.load_state_dict(state)
    model = Preconditioned(net, cfg["precond"], cfg.get("sigma_data", 0.5)).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg


def export_checkpoint(src, dst, half: bool = True, meta: dict | None = None) -> Path:
    """Re-save a training checkpoint for shipping (float16 by default), keeping its config."""
    model, cfg = load_denoiser(src)
    keep = {k: v for k, v in cfg.items() if k not in ("format", "unet", "precond", "sigma_data", "data_range")}
    return save_denoiser(model, dst, {**keep, **(meta or {})}, half=half)
