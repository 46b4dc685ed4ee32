"""``restore bench``: run the quality/speed benchmark (`restore.bench`); resumable, torchrun-aware."""
from __future__ import annotations

import click

from .app import main


@main.command()
@click.option("--data", required=True, metavar="DIR[,DIR2]", help="Image folders (comma-separated).")
@click.option("--task", "task", required=True, metavar="T1,T2",
              help="gauss-deblur, motion-deblur, sr4, inpaint-random, inpaint-box, denoise, "
                   "levin-deblur[-kN]; TASK@S sets σ_y = S/255.")
@click.option("--method", "method", required=True, metavar="M1,M2",
              help="Guidance methods (restore methods) and baselines pinv, wiener, rl, tv, dinv-dps, dinv-diffpir, dinv-ddrm.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Results folder (resumed if it exists).")
@click.option("--steps", default=None, metavar="N|M=N,...",
              help="Sampler steps: N for every diffusion method, or per method (e.g. dps=100,projection=100).  "
                   "[default: each method's own]")
@click.option("--average", type=click.IntRange(min=1), default=None, metavar="M",
              help="Chains each of our diffusion methods averages (1: one chain, NFE = steps; give the run its own "
                   "--out).  [default: each method's tuned value]")
@click.option("--limit", type=int, default=None, metavar="N", help="First N images (by name) of each folder.")
@click.option("--crop", type=int, default=256, show_default=True, metavar="S",
              help="Center crop side (smaller images: min(H, W), rounded down to a multiple of 8; never padded).")
@click.option("--prior", default="default", show_default=True, metavar="default|PATH")
@click.option("--sigma-y", "sigma_y", type=float, default=None, metavar="σ",
              help="Override every task's σ_y ([0, 1] units).  [default: the task's own]")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed (recorded).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary.")
def bench(data, task, method, out, steps, average, limit, crop, prior, sigma_y, seed, device, no_plots, quiet):
    """Benchmark methods × tasks on image folders: RESULTS/results.csv, summary.md, plots.

    \b
    restore bench --data ../shared/data/test/Set3C --task gauss-deblur,sr4 --method diffpir,pinv --out res
    torchrun --nproc_per_node 2 -m restore.cli bench ...   # shards the jobs over ranks
    """
    from ..bench import run_bench

    if limit is not None and limit < 1:
        raise click.BadParameter("must be ≥ 1", param_hint="--limit")
    if crop < 8:
        raise click.BadParameter("must be ≥ 8", param_hint="--crop")

    def echo(msg):
        if not quiet or msg.startswith("# "):
            click.echo(msg)

    run_bench(data, task, method, out, steps=steps, limit=limit, crop=crop, prior=prior, sigma_y=sigma_y,
              seed=seed, device=device, echo=echo, plots_enabled=not no_plots, average=average)
