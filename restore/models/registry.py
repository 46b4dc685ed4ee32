"""`load_prior(name_or_path)`: the default prior shipped in the package, or a checkpoint on disk."""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import load_denoiser
from .network_prior import NetworkPrior

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


ADM_SUFFIXES = (".pt", ".pth")

#: the priors shipped in ``restore/weights``: name → what it is
SHIPPED = {
    "default": "the CPU prior (2.6 M parameters, fast on a laptop)",
    "large": "the GPU prior (11.4 M parameters, trained on a GPU by benchmarks/gpu/train.sh)",
}


def installed(name: str) -> bool:
    """Whether the shipped prior ``name`` has its weights in ``restore/weights``."""
    return (WEIGHTS_DIR / f"{name}.json").is_file()


def auto_prior(device) -> str:
    """The prior a command uses when none is named: ``large`` on a CUDA device when it is installed,
    else ``default``."""
    return "large" if torch.device(device).type == "cuda" and installed("large") else "default"


def load_prior(name="default", device=None, **kw):
    """Load a prior (anything returned satisfies the `restore.priors.Prior` protocol).

    - ``"default"`` (the CPU prior) or ``"large"`` (the GPU prior): UNets trained by us and shipped in
      ``restore/weights`` (`SHIPPED`); ``"auto"``: ``auto_prior(device)``;
    - a directory with ``config.json`` (or ``unet/config.json``): a diffusers ``UNet2DModel``
      (`restore.models.diffusers_prior.load_diffusers_prior`; keywords ``scheduler_config``, ``clip``);
    - a ``.pt`` / ``.pth`` file: an OpenAI guided-diffusion (ADM) UNet
      (`restore.models.adm.load_adm_prior`; keywords ``preset="ffhq" | "imagenet256" | "auto"``, ``clip``,
      or guided-diffusion script flags such as ``num_channels=...``);
    - otherwise a restore checkpoint (``.safetensors`` + ``.json`` beside it).

    ``device``: ``None``/"auto" picks CUDA when available. Nothing is ever unpickled with code.
    """
    device = default_device() if device in (None, "auto") else torch.device(device)
    if name == "auto":
        name = auto_prior(device)
    if name in SHIPPED:
        if not installed(name):
            raise FileNotFoundError(f"the {name!r} prior is not installed in {WEIGHTS_DIR} ({SHIPPED[name]}; "
                                    f"none has been shipped yet)")
        path = WEIGHTS_DIR / name
    else:
        path = Path(name)
        if path.is_dir() and ((path / "config.json").is_file() or (path / "unet" / "config.json").is_file()):
            from .diffusers_prior import load_diffusers_prior
            return load_diffusers_prior(path, device=device, **kw)
        if path.suffix.lower() in ADM_SUFFIXES:
            from .adm import load_adm_prior
            return load_adm_prior(path, device=device, **kw)
    if kw:
        raise TypeError(f"unexpected options for a restore checkpoint: {sorted(kw)}")
    model, cfg = load_denoiser(path, device=device)
    return NetworkPrior(model, cfg)
