"""``restore train``: train a denoiser prior (see `restore.training`)."""
from __future__ import annotations

import click


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training images.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (checkpoints, history).")
@click.option("--steps", default=100_000, show_default=True, help="Total optimisation steps.")
@click.option("--batch", default=16, show_default=True)
@click.option("--patch", default=64, show_default=True, help="Patch side in pixels.")
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--objective", type=click.Choice(["edm", "eps"]), default="edm", show_default=True,
              help="edm: log-normal σ with EDM preconditioning; eps: DDPM simple ε-loss, uniform t.")
@click.option("--base", default=32, show_default=True, help="UNet channels at full resolution.")
@click.option("--mults", default="1,2,4", show_default=True, help="Channel multipliers per level.")
@click.option("--blocks", default=2, show_default=True, help="Residual blocks per level.")
@click.option("--ckpt-every", default=250, show_default=True, help="Checkpoint + validation interval (steps).")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=0, help="torch threads (0: torch default).")
@click.option("--resume", is_flag=True, help="Continue from OUT/state.pt if present.")
@click.option("--init", "init", default=None, type=click.Path(),
              help="Without a state to resume: start from this restore checkpoint (e.g. restore/weights/default).")
def train(data, out, steps, batch, patch, lr, objective, base, mults, blocks, ckpt_every, seed, threads, resume, init):
    """Train a denoiser prior on random patches of the images in DATA."""
    from ..training.loop import TrainConfig, train as run

    cfg = TrainConfig(data=data, out=out, steps=steps, batch=batch, patch=patch, lr=lr, objective=objective,
                      base=base, mults=tuple(int(m) for m in mults.split(",")), blocks=blocks,
                      ckpt_every=ckpt_every, seed=seed, threads=threads)
    path = run(cfg, resume=resume, init=init)
    click.echo(f"checkpoints in {path}")
