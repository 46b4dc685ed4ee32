"""``restore train``: train a denoiser prior (see `restore.training`), on any device, in one process or
several (``torchrun --nproc_per_node N restore train ...``: DistributedDataParallel, gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import click


@click.command()
@click.option("--data", "data", required=True, multiple=True, metavar="DIR[:N]",
              help="Folder of training images; repeat for several. DIR:N downscales DIR's images by N "
                   "(area averaging) before cropping, e.g. web JPEGs with block artefacts. Validation "
                   "images are held out of the first folder.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (checkpoints, history).")
@click.option("--steps", default=100_000, show_default=True, help="Total optimisation steps.")
@click.option("--batch", default=16, show_default=True, help="Patches per step and rank.")
@click.option("--patch", default=64, show_default=True, help="Patch side in pixels.")
@click.option("--lr", default=5e-4, show_default=True, help="Adam learning rate (a resumed run takes this one).")
@click.option("--objective", type=click.Choice(["edm", "eps"]), default="edm", show_default=True,
              help="edm: log-normal σ with EDM preconditioning; eps: DDPM simple ε-loss, uniform t.")
@click.option("--base", default=32, show_default=True, help="UNet channels at full resolution.")
@click.option("--mults", default="1,2,4", show_default=True, help="Channel multipliers per level.")
@click.option("--blocks", default=2, show_default=True, help="Residual blocks per level.")
@click.option("--ckpt-every", default=250, show_default=True, help="Checkpoint + validation interval (steps).")
@click.option("--ckpt-minutes", default=0.0, show_default=True, help="Also checkpoint every this many minutes (0: off).")
@click.option("--max-minutes", default=0.0, show_default=True,
              help="Stop, with a checkpoint, after this much wall time (0: run to --steps).")
@click.option("--val-images", default=8, show_default=True, help="Images of the first folder held out for validation.")
@click.option("--skip-small", is_flag=True, help="Leave out images smaller than the patch (default: refuse them).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--bf16", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="bf16 autocast; auto: on CUDA and on CPUs with native bf16 only.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the training step.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=0, help="torch threads (0: torch default).")
@click.option("--resume", is_flag=True, help="Continue from OUT/state.pt if present (same architecture).")
@click.option("--init", "init", default=None, type=click.Path(),
              help="Without a state to resume: start from this restore checkpoint (e.g. restore/weights/default).")
def train(data, out, steps, batch, patch, lr, objective, base, mults, blocks, ckpt_every, ckpt_minutes, max_minutes,
          val_images, skip_small, device, bf16, compile_, seed, threads, resume, init):
    """Train a denoiser prior on random patches of the images in DATA."""
    from ..training.loop import TrainConfig, train as run

    try:
        levels = tuple(int(m) for m in mults.split(","))
    except ValueError:
        raise click.BadParameter(f"{mults!r} is not a comma-separated list of integers", param_hint="--mults") from None
    cfg = TrainConfig(data=list(data), out=out, steps=steps, batch=batch, patch=patch, lr=lr, objective=objective,
                      base=base, mults=levels, blocks=blocks, ckpt_every=ckpt_every, ckpt_minutes=ckpt_minutes,
                      max_minutes=max_minutes, val_images=val_images, skip_small=skip_small, device=device,
                      bf16={"auto": "auto", "on": True, "off": False}[bf16], compile=compile_, seed=seed,
                      threads=threads)
    path = run(cfg, resume=resume, init=init)
    click.echo(f"checkpoints in {path}")
