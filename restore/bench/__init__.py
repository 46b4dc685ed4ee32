"""``restore bench``: quality/speed comparison of every method on standard tasks (issue 8).

Modules, one idea each:

- `tasks`        task presets and their conventions (crop, σ_y units, seeds) → measurement
- `methods`      diffusion methods via `restore.solve`, baselines (pinv, wiener, rl, tv), deepinv adapter,
                 the counting prior (network evaluations)
- `results`      the resumable CSV table and the Markdown summary
- `plots`        PSNR vs network evaluations, grid of example restorations
- `distributed`  torchrun sharding (gloo / nccl), gather on rank 0
- `runner`       the loop tying them together (`run_bench`)

See benchmarks/README.md for the conventions of the committed tables.
"""
from .runner import run_bench

__all__ = ["run_bench"]
