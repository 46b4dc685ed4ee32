"""The `restore` command line (entry point ``restore.cli:main``).

Modules, one idea each:

- `app`       the click group, top-level error handling (one ``restore: error: ...`` line, exit 2)
- `tasks`     ``deblur``, ``sr``, ``inpaint``, ``denoise``, ``colorize``: options → `pipeline.run`
- `specs`     operator descriptions (plain dicts, JSON-able) ↔ `operators` objects; sidecars
- `pipeline`  read → measurement → solve (whole or tiled) → write, metrics, report
- `tiling`    overlapping tiles with smooth blending for large images
- `outputs`   the command's output files: validated before any work, staged, committed all or nothing
- `input_files` kernel and mask files checked (headers, size caps, NaN) before a reader allocates
- `memory`    the run's peak-memory estimate against the memory available (refuse, or smaller tiles)
- `simulate`  ``restore simulate``: degrade a sharp image, record the operator and seed
- `figure`    the ``--compare`` figure (matplotlib, Agg)
- `methods`   the guidance-method registry as the CLI sees it; ``restore methods``
- `train`     ``restore train``
"""
from .app import main

__all__ = ["main"]
from . import bench as _bench  # noqa: E402,F401  registers 'restore bench'
