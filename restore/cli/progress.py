"""A tqdm progress bar fed by the solver's ``callback`` (one call per step)."""
from __future__ import annotations

import sys


def enabled(quiet: bool) -> bool:
    """Bars only for people: not with --quiet, not when stderr is a pipe or a file."""
    try:
        return not quiet and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``with Progress(total, desc, on) as p: solve(..., callback=p.callback)``."""

    def __init__(self, total: int, desc: str, on: bool):
        self.bar = None
        if on:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="step", file=sys.stderr, dynamic_ncols=True,
                            leave=False, smoothing=0.1)

    def callback(self, *args, **kwargs):
        if self.bar is not None:
            self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False
