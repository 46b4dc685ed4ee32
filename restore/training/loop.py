"""Training the denoiser prior on any device, in one process or several (torchrun + DDP).

One step (`_step`): a seeded batch of patches drawn on the device, σ from the objective
(`restore.training.objective`), ε from a device generator, optional bf16 autocast (CUDA, or a CPU with
native bf16), Adam, gradient-norm clip 1, an EMA of the weights. Under ``torchrun`` each rank has its
own patch stream (seed, rank) and DistributedDataParallel averages the gradients, so the weights of
every rank stay identical; rank 0 alone validates and writes.

A checkpoint (`restore.training.state`) is written every ``ckpt_every`` steps, every ``ckpt_minutes``
of wall time, when ``max_minutes`` is reached, at the last step, and on Ctrl-C: the full state
(``state.pt``, read back with ``weights_only=True``), the EMA weights as a restore checkpoint
(``last``) and, when the validation PSNR of the EMA denoiser at σ = 25/255 on held-out training images
improves, ``best``.
"""
from __future__ import annotations

import copy
import hashlib
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import distributed
from ..metrics import psnr
from ..models.precond import Preconditioned
from ..models.unet import UNet
from .data import PatchSampler, load_sources, parse_source
from .objective import DenoisingLoss, linear_alpha_bar, sample_sigma
from . import state as S

__all__ = ["TrainConfig", "train", "validate", "sample_sigma", "linear_alpha_bar", "native_bf16"]


@dataclass
class TrainConfig:
    data: str | list = ""  # one "DIR" or "DIR:N" (downscale by N) or a list of them
    out: str = ""
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
    bf16: bool | str = "auto"  # auto: on CUDA, and on CPUs with native bf16 (13× slower without, measured)
    threads: int = 0
    gray_prob: float = 0.1
    device: str = "auto"
    compile: bool = False
    max_minutes: float = 0.0  # stop (with a checkpoint) after this much wall time; 0: no limit
    ckpt_minutes: float = 0.0  # also checkpoint every this many minutes; 0: by steps only
    skip_small: bool = False  # drop images smaller than the patch instead of refusing them

    @property
    def sources(self):
        specs = [self.data] if isinstance(self.data, str) else list(self.data)
        return [parse_source(s) for s in specs]

    @property
    def unet(self) -> dict:
        return dict(base=self.base, mults=tuple(int(m) for m in self.mults), blocks=self.blocks)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 math is native on ``device`` (CUDA: compute capability; CPU: AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@torch.no_grad()
def validate(model: Preconditioned, images: list[torch.Tensor], sigma01: float, seed: int = 1234) -> float:
    """Mean PSNR (dB) of the one-step denoiser on ``images`` (each (1,3,H,W) in [0,1]) at σ (0–1 units)."""
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    psnrs = []
    for img in images:
        noisy = (img + sigma01 * torch.randn(img.shape, generator=gen)).to(dev)
        s = torch.full((1, 1, 1, 1), 2 * sigma01, device=dev)
        den = ((model(2 * noisy - 1, s) + 1) / 2).clamp(0, 1)
        psnrs.append(float(psnr(den.cpu(), img)[0]))
    return sum(psnrs) / len(psnrs)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Run:
    """Everything that changes during training."""

    model: Preconditioned
    ema: Preconditioned
    opt: torch.optim.Optimizer
    gen: torch.Generator  # CPU: patches and σ
    noise_gen: torch.Generator  # the device's: ε
    step: int = 0
    best: float = -math.inf
    history: list = field(default_factory=list)


def check_config(cfg: TrainConfig) -> None:
    """Refuse settings that cannot train, before any data is decoded."""
    if cfg.steps < 1 or cfg.batch < 1 or cfg.ckpt_every < 1:
        raise ValueError("--steps, --batch and --ckpt-every must be ≥ 1")
    multiple = 2 ** (len(cfg.mults) - 1)
    if cfg.patch < 8 or cfg.patch % multiple:
        raise ValueError(f"--patch {cfg.patch}: must be ≥ 8 and a multiple of {multiple} "
                         f"(the UNet halves the image {len(cfg.mults) - 1} time(s))")
    if cfg.lr <= 0 or not 0 <= cfg.ema < 1:
        raise ValueError("--lr must be > 0 and the EMA decay in [0, 1)")
    if cfg.objective not in ("edm", "eps"):
        raise ValueError(f"unknown objective {cfg.objective!r} (edm or eps)")


def build(cfg: TrainConfig, device: torch.device, rank: int = 0) -> Run:
    """Network (initialised from ``cfg.seed``, identical on every rank), EMA, Adam, generators."""
    torch.manual_seed(cfg.seed)
    net = UNet(3, 3, **cfg.unet)
    model = Preconditioned(net, cfg.objective).to(device)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    seed = cfg.seed if rank == 0 else cfg.seed + 7919 * rank  # one patch stream per rank
    gen = torch.Generator().manual_seed(seed)
    noise_gen = gen if device.type == "cpu" else torch.Generator(device).manual_seed(seed)
    return Run(model, ema, opt, gen, noise_gen)


def _step(run: Run, loss_fn, cfg: TrainConfig, sampler: PatchSampler, alpha_bar, device, amp: bool):
    x0 = sampler.batch(cfg.batch, cfg.patch, run.gen).contiguous(memory_format=torch.channels_last)
    sigma = sample_sigma(cfg, cfg.batch, run.gen, alpha_bar).view(-1, 1, 1, 1).to(device)
    noise = torch.randn(x0.shape, generator=run.noise_gen, device=device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        loss = loss_fn(x0, sigma, noise).mean()
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.opt.step()
    run.step += 1
    decay = min(cfg.ema, (1 + run.step) / (10 + run.step))
    with torch.no_grad():
        torch._foreach_lerp_(list(run.ema.parameters()), list(run.model.parameters()), 1 - decay)
    return loss.detach()


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, init: str | None = None,
          on_checkpoint=None) -> Path:
    """Run (or resume) training; returns the output folder.

    ``resume``: continue from ``OUT/state.pt`` (weights, EMA, optimiser, every rank's data stream)
    when present; a state of another architecture is refused.  ``init``: otherwise start from a
    shipped restore checkpoint (e.g. ``restore/weights/default``): network and EMA take its weights, the
    step count continues from its recorded ``step``, the optimiser starts fresh.  ``on_checkpoint(out)``
    is called on rank 0 after each checkpoint is written (e.g. to export the weights).
    """
    check_config(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = distributed.device_for(distributed.from_env(), cfg.device)
    out = Path(cfg.out)
    if resume:
        S.check_resumable(out, cfg)  # before decoding any data
    d = distributed.init(device)
    try:
        path = _train(cfg, d, device, out, resume, progress, init, on_checkpoint)
        # every rank done before the group is torn down: a rank whose peer had already destroyed the gloo
        # group aborted at exit now and then ("terminate called without an active exception", SIGABRT)
        d.barrier()
        return path
    finally:
        d.close()


def _train(cfg, d, device, out: Path, resume, progress, init, on_checkpoint) -> Path:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    images, val, train_files = load_sources(cfg.sources, cfg.patch, cfg.val_images, cfg.skip_small)
    sampler = PatchSampler(images, gray_prob=cfg.gray_prob, device=device)
    del images
    run = build(cfg, device, d.rank)
    if resume and (out / S.STATE).exists():
        S.resume(run, out, cfg, d)
        if d.is_main:
            _log(f"resumed from step {run.step} (best val {run.best:.2f} dB)")
    elif init:
        S.initialise(run, init, cfg)
        if d.is_main:
            _log(f"initialised from {init} at step {run.step} (val {run.best:.2f} dB)")
    for group in run.opt.param_groups:  # a resumed run takes this run's learning rate
        group["lr"] = cfg.lr
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
        S.write_config(out, cfg)
        nparams = sum(p.numel() for p in run.model.net.parameters())
        _log(f"UNet {nparams / 1e6:.2f}M parameters, {len(train_files)} training images "
             f"({sampler.pixels / 1e6:.0f} MP on {device}) / {len(val)} validation, {d.world} rank(s)")
    amp = native_bf16(device) if cfg.bf16 == "auto" else bool(cfg.bf16)
    loss_fn = DenoisingLoss(run.model)
    if d.initialized:
        ids = [device.index] if device.type == "cuda" else None
        loss_fn = torch.nn.parallel.DistributedDataParallel(loss_fn, device_ids=ids)
    if cfg.compile:
        loss_fn = torch.compile(loss_fn)
    alpha_bar = linear_alpha_bar()
    run.model.train()

    bar = None
    if progress and d.is_main and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=run.step, unit="step", dynamic_ncols=True)
    t_start = t_ckpt = time.time()
    first, seen, loss_acc, n_acc = run.step, 0, torch.zeros((), device=device), 0
    try:
        while run.step < cfg.steps:
            loss_acc += _step(run, loss_fn, cfg, sampler, alpha_bar, device, amp)
            n_acc += 1
            seen += cfg.batch * d.world
            if bar is not None:
                bar.update(1)
            now = time.time()
            if run.step - first == 10 and d.is_main:
                _log(f"throughput: {seen / (now - t_start):.1f} patches/s "
                     f"({d.world} rank(s) × batch {cfg.batch} of {cfg.patch}², {device}, bf16 {amp})")
            stop = bool(cfg.max_minutes) and now - t_start >= 60 * cfg.max_minutes
            due = (run.step % cfg.ckpt_every == 0 or run.step == cfg.steps or stop
                   or (bool(cfg.ckpt_minutes) and now - t_ckpt >= 60 * cfg.ckpt_minutes))
            due, stop = distributed.broadcast_flags(d, [due, stop], device)
            if due:
                rate = seen / (now - t_start)
                _checkpoint(run, cfg, d, out, val, float(loss_acc) / max(n_acc, 1), rate)
                if on_checkpoint is not None and d.is_main:
                    on_checkpoint(out)
                loss_acc.zero_()
                n_acc, t_ckpt = 0, time.time()
            if stop:
                if d.is_main:
                    _log(f"stopped after {cfg.max_minutes:g} min at step {run.step}")
                break
    except KeyboardInterrupt:
        if not d.initialized and n_acc:  # one process: keep the work done since the last checkpoint
            _checkpoint(run, cfg, d, out, val, float(loss_acc) / n_acc, seen / (time.time() - t_start))
        raise
    finally:
        if bar is not None:
            bar.close()
    return out


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of the parameters' bytes: equal on every rank iff the replicas hold identical weights."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _checkpoint(run: Run, cfg, d, out: Path, val, loss: float, rate: float) -> None:
    gens = distributed.gather_objects(d, S.generator_states(run))  # collective: every rank
    digests = distributed.gather_objects(d, weights_digest(run.model))
    if len(set(digests)) > 1:
        raise RuntimeError(f"step {run.step}: the ranks' weights differ ({digests}); gradients were not synchronised")
    if not d.is_main:
        return
    score = validate(run.ema, val, cfg.val_sigma) if val else float("nan")
    rec = {"step": run.step, "loss": loss, "val_psnr": score, "patches_per_s": rate, "lr": cfg.lr,
           "ranks": d.world, "weights": digests[0], "time": time.time()}
    run.history.append(rec)
    improved = not val or score > run.best
    if improved:
        run.best = score
    S.save(run, out, cfg, gens, score, improved)
    _log(f"step {run.step}: loss {loss:.4f}  val PSNR(σ=25) {score:.2f} dB  best {run.best:.2f}  "
         f"{rate:.1f} patches/s")
