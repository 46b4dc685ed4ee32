"""Checkpoints of our own networks: safetensors weights + a small JSON config.

Nothing is ever unpickled: weights are read with ``safetensors`` and the architecture is rebuilt
from the JSON config, so a checkpoint cannot execute code.

Layout of a checkpoint ``NAME``:  ``NAME.safetensors`` (tensors, optionally float16) and
``NAME.json`` (``{"format": "restore-unet", "unet": {...}, "precond": "edm", "sigma_data": 0.5,
"data_range": [-1, 1], ...}``).  Weights larger than ``max_shard_bytes`` are split by whole tensors into
``NAME-00001-of-0000N.safetensors`` … and the JSON lists them under ``"shards"`` (so that every file
stays under a size limit, e.g. 16 MB).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from ..io import atomic_write

from .precond import Preconditioned
from .unet import UNet

FORMAT = "restore-unet"


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def _shards(state: dict, max_bytes: int | None) -> list[dict]:
    """Split a state dict, in order and by whole tensors, into parts of at most ``max_bytes`` each."""
    if not max_bytes:
        return [state]
    parts, part, size = [], {}, 0
    for k, v in state.items():
        n = v.numel() * v.element_size()
        if part and size + n > max_bytes:
            parts.append(part)
            part, size = {}, 0
        part[k] = v
        size += n
    return parts + [part]


def save_denoiser(model: Preconditioned, path, meta: dict | None = None, half: bool = False,
                  max_shard_bytes: int | None = None) -> Path:
    """Write ``model`` (a `Preconditioned` UNet) as safetensors + JSON, each file atomically.

    ``max_shard_bytes``: split the weights into several files of at most about that size (a file
    holds at least one tensor; the safetensors header adds a few kB).
    """
    weights, config = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.net.state_dict().items()}
    cfg = {"format": FORMAT, "unet": model.net.config, "precond": model.kind,
           "sigma_data": model.sigma_data, "data_range": [-1, 1], **(meta or {})}
    cfg.pop("shards", None)
    parts = _shards(state, max_shard_bytes)
    if len(parts) > 1:
        n = len(parts)
        names = [f"{weights.stem}-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
        for name, part in zip(names, parts):
            atomic_write(weights.with_name(name), save(part))
        cfg["shards"] = names
    else:
        atomic_write(weights, save(state))
    atomic_write(config, json.dumps(cfg, indent=2).encode())
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
    files = [weights.with_name(Path(name).name) for name in cfg["shards"]] if cfg.get("shards") else [weights]
    state = {}
    for f in files:
        if not f.exists():
            raise FileNotFoundError(f"checkpoint weights not found: {f}")
        state.update({k: v.float() for k, v in load_file(str(f)).items()})
    net = UNet(**{**cfg["unet"], "mults": tuple(cfg["unet"]["mults"])})
    net.load_state_dict(state)
    model = Preconditioned(net, cfg["precond"], cfg.get("sigma_data", 0.5)).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg


def export_checkpoint(src, dst, half: bool = True, meta: dict | None = None, max_shard_bytes: int | None = None) -> Path:
    """Re-save a training checkpoint for shipping (float16 by default), keeping its config."""
    model, cfg = load_denoiser(src)
    keep = {k: v for k, v in cfg.items()
            if k not in ("format", "unet", "precond", "sigma_data", "data_range", "shards")}
    return save_denoiser(model, dst, {**keep, **(meta or {})}, half=half, max_shard_bytes=max_shard_bytes)
