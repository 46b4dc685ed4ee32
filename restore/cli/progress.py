"""Progress of a solve, fed by the solver's ``callback`` (one call per step).

On a terminal: a tqdm bar.  When stderr is a pipe or a file (a log, a batch job): a plain line every
``LOG_INTERVAL`` seconds — steps done, elapsed time and an ETA from the mean step time so far — so a long
run can be followed with ``tail -f``.  Nothing with ``--quiet`` or ``--json``.
"""
from __future__ import annotations

import os
import sys
import time

#: seconds between two progress lines when stderr is not a terminal (env RESTORE_PROGRESS_SECONDS overrides)
LOG_INTERVAL = 5.0


def log_interval() -> float:
    """``RESTORE_PROGRESS_SECONDS`` if set to a number ≥ 0, else ``LOG_INTERVAL``."""
    try:
        v = float(os.environ.get("RESTORE_PROGRESS_SECONDS", LOG_INTERVAL))
    except ValueError:
        return LOG_INTERVAL
    return v if v >= 0 else LOG_INTERVAL


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def mode(quiet: bool, stream=None) -> str | None:
    """"bar" on a terminal, "log" when stderr is a pipe or file, None when quiet."""
    if quiet:
        return None
    return "bar" if _isatty(stream if stream is not None else sys.stderr) else "log"


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """``with Progress(total, desc, mode) as p: solve(..., callback=p.callback)``."""

    def __init__(self, total: int | None, desc: str, on, interval: float | None = None, stream=None,
                 clock=time.monotonic):
        self.bar = None
        self.total, self.desc, self.done = total, desc, 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.interval = clock, log_interval() if interval is None else interval
        self.log = on == "log"
        self.start = self.last = clock()
        if on == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="step", file=self.stream, dynamic_ncols=True,
                            leave=False, smoothing=0.1)

    def line(self) -> str:
        """``desc: 37/100 steps (37 %), 0:12 elapsed, ETA 0:21``."""
        elapsed = self.clock() - self.start
        if self.total:
            eta = elapsed / max(self.done, 1) * (self.total - self.done)
            return (f"{self.desc}: {self.done}/{self.total} steps ({100 * self.done // self.total} %), "
                    f"{_clock(elapsed)} elapsed, ETA {_clock(eta)}")
        return f"{self.desc}: {self.done} steps, {_clock(elapsed)} elapsed"

    def callback(self, *args, **kwargs):
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.log and self.clock() - self.last >= self.interval:
            self.last = self.clock()
            print(self.line(), file=self.stream, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False
