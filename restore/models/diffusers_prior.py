"""diffusers ``UNet2DModel`` folders as restore priors (optional extra: ``pip install restore[diffusers]``).

The network is loaded by the ``diffusers`` library itself (not re-implemented) from a folder holding
``config.json`` + ``diffusion_pytorch_model.safetensors`` (or ``.bin``), either a bare UNet folder or
a pipeline folder with ``unet/`` and ``scheduler/`` (e.g. a local copy of ``google/ddpm-celebahq-256``).
The ᾱ table comes from the scheduler config (``DDPMScheduler.from_config``: linear, scaled_linear,
squaredcos_cap_v2, sigmoid or trained_betas) when one is found, else DDPM linear defaults
(β ∈ [1e-4, 0.02], T = 1000). The prediction is turned into ε in the VP variable
x_t = √ᾱ·x0' + √(1 − ᾱ)·ε (data x0' ∈ [−1, 1]):

    epsilon:       ε̂ = out
    v_prediction:  ε̂ = √ᾱ·v̂ + √(1 − ᾱ)·x_t       (v = √ᾱ ε − √(1 − ᾱ) x0')
    sample:        ε̂ = (x_t − √ᾱ·x̂0')/√(1 − ᾱ)

and the result is wrapped by `EpsilonNetworkPrior`. Nothing is unpickled with code: safetensors, or a
``.bin`` that must first load under ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["load_diffusers_prior", "DiffusersEpsilon", "find_unet_folder", "find_scheduler_config",
           "alpha_bar_from_scheduler_config"]

_INSTALL = "diffusers is not installed: pip install 'restore[diffusers]' (or: pip install diffusers)"


def _diffusers():
    try:
        import diffusers
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL) from e
    return diffusers


def find_unet_folder(folder) -> Path:
    """The folder holding the UNet's ``config.json``: ``folder`` itself or ``folder/unet``."""
    folder = Path(folder)
    for cand in (folder, folder / "unet"):
        cfg = cand / "config.json"
        if cfg.is_file():
            try:
                name = json.loads(cfg.read_text()).get("_class_name", "UNet2DModel")
            except json.JSONDecodeError as e:
                raise ValueError(f"{cfg}: not valid JSON: {e}") from e
            if name != "UNet2DModel":
                raise ValueError(f"{cfg}: a {name}, but only diffusers UNet2DModel (pixel-space) is supported")
            return cand
    raise FileNotFoundError(f"{folder}: no config.json (diffusers UNet2DModel folder) here or in unet/")


def find_scheduler_config(folder, scheduler_config=None) -> Path | None:
    """``scheduler_config`` (a file or a folder with scheduler_config.json), else the first of
    folder/scheduler/, folder/, folder/../scheduler/ that has a ``scheduler_config.json``; None if none."""
    if scheduler_config is not None:
        p = Path(scheduler_config)
        if p.is_dir():
            p = p / "scheduler_config.json"
        if not p.is_file():
            raise FileNotFoundError(f"scheduler config not found: {p}")
        return p
    folder = Path(folder)
    for cand in (folder / "scheduler", folder, folder.parent / "scheduler"):
        if (cand / "scheduler_config.json").is_file():
            return cand / "scheduler_config.json"
    return None


def alpha_bar_from_scheduler_config(path: Path | None) -> tuple[Tensor, str]:
    """(ᾱ table (T,) float64, prediction_type) from a diffusers scheduler config, or DDPM linear defaults."""
    if path is None:
        from ..diffusion import VPSchedule
        return VPSchedule.linear(1000, 1e-4, 0.02).alpha_bar, "epsilon"
    cfg = json.loads(Path(path).read_text())
    if "beta_start" not in cfg and "trained_betas" not in cfg and "beta_schedule" not in cfg:
        raise ValueError(f"{path}: {cfg.get('_class_name', 'scheduler')} has no DDPM β/ᾱ table "
                         "(only DDPM-type discrete-time schedulers are supported)")
    sched = _diffusers().DDPMScheduler.from_config(cfg)
    return sched.alphas_cumprod.to(torch.float64), cfg.get("prediction_type", "epsilon")


class DiffusersEpsilon(nn.Module):
    """``unet(x_t, t).sample`` as ε̂(x_t, t) for a continuous table index t (see module docstring)."""

    def __init__(self, unet, alpha_bar: Tensor, prediction_type: str = "epsilon", data_range=(-1.0, 1.0)):
        super().__init__()
        from ..diffusion import VPSchedule
        if prediction_type not in ("epsilon", "v_prediction", "sample"):
            raise ValueError(f"unsupported prediction_type {prediction_type!r}")
        self.unet = unet
        self.prediction_type = prediction_type
        self.schedule = VPSchedule(torch.as_tensor(alpha_bar, dtype=torch.float64), tuple(data_range))
        self.channels = int(unet.config.in_channels)

    def _alpha_bar(self, t: Tensor, like: Tensor) -> Tensor:
        """ᾱ at a continuous table index: 1/(1 + σ'(t)²), σ' interpolated log-linearly (as the prior's t(σ))."""
        sn = self.schedule.sigma_at(t.detach().to(torch.float64)) * self.schedule.scale
        return (1 / (1 + sn**2)).to(like.dtype).view(-1, 1, 1, 1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        out = self.unet(x, t).sample
        if out.shape[1] == 2 * self.channels:  # learned variance: [ε̂ | variance values]
            out = out[:, : self.channels]
        if self.prediction_type == "epsilon":
            return out
        a = self._alpha_bar(torch.as_tensor(t, device=x.device).expand(x.shape[0]), x)
        if self.prediction_type == "v_prediction":
            return a.sqrt() * out + (1 - a).sqrt() * x
        return (x - a.sqrt() * out) / (1 - a).sqrt()


def _check_weights(unet_dir: Path) -> None:
    """Refuse folders whose only weights are a pickle that does not load as plain tensors."""
    if any(unet_dir.glob("*.safetensors")):
        return
    bins = sorted(unet_dir.glob("*.bin"))
    if not bins:
        raise FileNotFoundError(f"{unet_dir}: no diffusion_pytorch_model.safetensors or .bin weights")
    for b in bins:
        try:
            torch.load(str(b), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"{b}: not loadable as plain tensors with torch.load(weights_only=True) "
                             f"(it may contain code, which restore never unpickles): {e}") from e


def load_diffusers_prior(folder, scheduler_config=None, device=None, clip=False, dtype=None):
    """A diffusers ``UNet2DModel`` folder as a restore prior ([0, 1] units, any size).

    ``scheduler_config``: path to a ``scheduler_config.json`` (or its folder); default: looked up next to
    the UNet (see `find_scheduler_config`), else DDPM linear β ∈ [1e-4, 0.02], T = 1000.
    H, W are reflect-padded to a multiple of 2^(number of down blocks − 1) and cropped back; the
    model's training size is ``prior.native_size`` (``config.sample_size``).
    """
    diffusers = _diffusers()
    from ..priors.epsilon import EpsilonNetworkPrior

    unet_dir = find_unet_folder(folder)
    _check_weights(unet_dir)
    use_st = any(unet_dir.glob("*.safetensors"))
    unet = diffusers.UNet2DModel.from_pretrained(str(unet_dir), use_safetensors=use_st, local_files_only=True)
    unet.eval().requires_grad_(False)
    if dtype is not None:
        unet.to(dtype=dtype)
    if device is not None:
        unet.to(device)
    alpha_bar, pred = alpha_bar_from_scheduler_config(find_scheduler_config(Path(folder), scheduler_config))
    net = DiffusersEpsilon(unet, alpha_bar, pred)
    multiple = 2 ** max(len(unet.config.down_block_types) - 1, 0)
    prior = EpsilonNetworkPrior(net, alpha_bar, data_range=(-1.0, 1.0), clip=clip, channels=net.channels,
                                size_multiple=multiple)
    prior.native_size = unet.config.sample_size
    prior.network = unet
    prior.prediction_type = pred
    return prior
