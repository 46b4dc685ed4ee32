"""`load_prior(name_or_path)`: the default prior shipped in the package, or a checkpoint on disk."""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import load_denoiser
from .network_prior import NetworkPrior

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_prior(name="default", device=None) -> NetworkPrior:
    """Load a prior.

    ``"default"``: the UNet trained by us on CBSD432 and shipped in ``restore/weights``.
    A path: a restore checkpoint (``.safetensors`` + ``.json`` beside it).
    ``device``: ``None``/"auto" picks CUDA when available.
    """
    device = default_device() if device in (None, "auto") else torch.device(device)
    path = WEIGHTS_DIR / "default" if name == "default" else Path(name)
    model, cfg = load_denoiser(path, device=device)
    return NetworkPrior(model, cfg)
