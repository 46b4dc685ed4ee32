"""Training the denoiser prior: a continuous-σ denoising objective on random patches.

Loss (per image, see `restore.models.precond`):  E_σ E_{x₀,ε} ‖F_θ(c_in(x₀+σε), c_noise) − target‖².
With ``objective="eps"`` this is DDPM's simple loss ‖ε − ε_θ(x_t, t)‖² with t uniform on the
1000-step linear-β table; with ``objective="edm"`` σ is log-normal (Karras et al. 2022) mixed with
a log-uniform tail so every level in [σ_min, σ_max] is visited.

Each step: a seeded batch of patches, optional bf16 autocast (only where the CPU has native bf16), Adam,
an EMA of the weights. Every ``ckpt_every`` steps: the full training state (``state.pt``, loaded
with ``weights_only=True``), the EMA weights as a restore checkpoint (``last``), and a validation
PSNR of the EMA denoiser at σ = 25/255 on held-out training images; the best one is kept as ``best``.
"""
from __future__ import annotations

import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..metrics import psnr
from ..models.checkpoint import save_denoiser
from ..models.precond import Preconditioned
from ..models.unet import UNet
from .data import PatchSampler, list_images, load_rgb_uint8


@dataclass
class TrainConfig:
    data: str
    out: str
    steps: int = 100_000
    batch: int = 16
    patch: int = 64
    lr: float = 5e-4
    ema: float = 0.999
    objective: str = "edm"
    base: int = 32
    mults: tuple = (1, 2, 4)
    blocks: int = 2
    p_mean: float = -1.2
    p_std: float = 1.2
    tail_prob: float = 0.15
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    ckpt_every: int = 250
    val_images: int = 8
    val_sigma: float = 25 / 255
    seed: int = 0
    bf16: bool = False  # bf16 autocast: 13x slower on CPUs without native bf16 (measured here)
    threads: int = 0
    gray_prob: float = 0.1


def sample_sigma(cfg: TrainConfig, n: int, gen: torch.Generator, alpha_bar=None) -> torch.Tensor:
    """Noise levels in [-1, 1] units for one batch."""
    if cfg.objective == "eps":
        t = torch.randint(len(alpha_bar), (n,), generator=gen)
        ab = alpha_bar[t]
        return ((1 - ab) / ab).sqrt()
    ln = cfg.p_mean + cfg.p_std * torch.randn(n, generator=gen)
    tail = math.log(cfg.sigma_min) + torch.rand(n, generator=gen) * math.log(cfg.sigma_max / cfg.sigma_min)
    use_tail = torch.rand(n, generator=gen) < cfg.tail_prob
    return torch.where(use_tail, tail, ln).exp().clamp(cfg.sigma_min, cfg.sigma_max)


def linear_alpha_bar(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """ᾱ_t = Π_{s≤t}(1 − β_s) for DDPM's linear β schedule."""
    return torch.cumprod(1 - torch.linspace(beta_start, beta_end, T, dtype=torch.float64), 0).float()


@torch.no_grad()
def validate(model: Preconditioned, images: list[torch.Tensor], sigma01: float, seed: int = 1234) -> float:
    """Mean PSNR (dB) of the one-step denoiser on ``images`` (each (1,3,H,W) in [0,1]) at σ (0–1 units)."""
    gen = torch.Generator().manual_seed(seed)
    psnrs = []
    for img in images:
        noisy = img + sigma01 * torch.randn(img.shape, generator=gen)
        s = torch.full((1, 1, 1, 1), 2 * sigma01)
        den = ((model(2 * noisy - 1, s) + 1) / 2).clamp(0, 1)
        psnrs.append(float(psnr(den, img)[0]))
    return sum(psnrs) / len(psnrs)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, init: str | None = None) -> Path:
    """Run (or resume) training; returns the output folder.

    ``resume``: continue from ``OUT/state.pt`` (weights, EMA, optimiser, data stream) when present.
    ``init``: otherwise start from a shipped restore checkpoint (e.g. ``restore/weights/default``):
    network and EMA take its weights, the step count continues from its recorded ``step``, and the
    optimiser starts fresh — so training can go on in a new checkout that has only the shipped weights.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = list_images(cfg.data)
    # hold out a few training images for validation (every k-th file, deterministic)
    k = max(1, len(files) // max(cfg.val_images, 1))
    val_files = files[::k][: cfg.val_images] if cfg.val_images else []
    train_files = [f for f in files if f not in val_files] or files
    sampler = PatchSampler(train_files, gray_prob=cfg.gray_prob)
    val = []
    for f in val_files:
        v = load_rgb_uint8(f).float()[None] / 255
        H, W = v.shape[-2:]
        c = 128
        v = v[..., H // 2 - c: H // 2 + c, W // 2 - c: W // 2 + c]
        val.append(v)

    torch.manual_seed(cfg.seed)  # weight initialisation
    net = UNet(3, 3, base=cfg.base, mults=tuple(cfg.mults), blocks=cfg.blocks)
    model = Preconditioned(net, cfg.objective)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    alpha_bar = linear_alpha_bar()
    step, best, history = 0, -math.inf, []
    state_path = out / "state.pt"
    if resume and state_path.exists():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        model.net.load_state_dict(st["net"])
        ema.net.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        step, best = int(st["step"]), float(st["best"])
        hist_path = out / "history.json"
        history = json.loads(hist_path.read_text()) if hist_path.exists() else []
        _log(f"resumed from step {step} (best val {best:.2f} dB)")
    elif init:
        from ..models.checkpoint import load_denoiser
        start, start_cfg = load_denoiser(init)
        if start_cfg["unet"] != net.config or start_cfg["precond"] != cfg.objective:
            raise ValueError(f"--init {init}: architecture/objective differ from this run's configuration")
        model.net.load_state_dict(start.net.state_dict())
        ema.net.load_state_dict(start.net.state_dict())
        step = int(start_cfg.get("step", 0))
        best = float(start_cfg.get("val_psnr_sigma25", -math.inf))
        hist_path = Path(init).with_name(Path(init).name + "_history.json")
        history = json.loads(hist_path.read_text()) if hist_path.exists() else []
        _log(f"initialised from {init} at step {step} (val {best:.2f} dB)")
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    nparams = sum(p.numel() for p in net.parameters())
    _log(f"UNet {nparams/1e6:.2f}M parameters, {len(train_files)} training / {len(val)} validation images")

    model.train()
    model = model.to(memory_format=torch.channels_last)
    t0, seen, loss_acc, n_acc = time.time(), 0, 0.0, 0
    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=step, unit="step", dynamic_ncols=True)
    while step < cfg.steps:
        x0 = sampler.batch(cfg.batch, cfg.patch, gen).contiguous(memory_format=torch.channels_last)
        sigma = sample_sigma(cfg, cfg.batch, gen, alpha_bar).view(-1, 1, 1, 1)
        noise = torch.randn(x0.shape, generator=gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            loss = model.loss(x0, sigma, noise).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        seen += cfg.batch
        loss_acc += loss.item()
        n_acc += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{seen / (time.time() - t0):.1f}")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            psnr = validate(ema, val, cfg.val_sigma) if val else float("nan")
            rate = seen / (time.time() - t0)
            rec = {"step": step, "loss": loss_acc / n_acc, "val_psnr": psnr, "patches_per_s": rate,
                   "time": time.time()}
            history.append(rec)
            loss_acc, n_acc = 0.0, 0
            meta = {"step": step, "val_psnr_sigma25": psnr, "train": asdict(cfg)}
            save_denoiser(ema, out / "last", meta)
            if psnr > best:
                best = psnr
                save_denoiser(ema, out / "best", meta)
            torch.save({"net": model.net.state_dict(), "ema": ema.net.state_dict(), "opt": opt.state_dict(),
                        "gen": gen.get_state(), "step": step, "best": best}, out / "state.tmp")
            (out / "state.tmp").replace(state_path)
            (out / "history.json").write_text(json.dumps(history, indent=1))
            _log(f"step {step}: loss {rec['loss']:.4f}  val PSNR(σ=25) {psnr:.2f} dB  best {best:.2f}  "
                 f"{rate:.1f} patches/s")
    if bar is not None:
        bar.close()
    return out
