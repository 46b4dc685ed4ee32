"""Path helpers of the output policy (the policy itself: `outputs.OutputSet`)."""
from __future__ import annotations

import os
from pathlib import Path

from ..io import SUPPORTED_WRITE_EXTENSIONS


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (links resolved; also for files not yet there)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def default_output(input_path, suffix: str, ext: str | None = None) -> Path:
    """``dir/name.png`` → ``dir/name<suffix>.png`` (PNG when the input's format cannot be written)."""
    p = Path(input_path)
    e = ext or p.suffix.lower()
    if e not in SUPPORTED_WRITE_EXTENSIONS:
        e = ".png"
    return p.with_name(p.stem + suffix + e)
