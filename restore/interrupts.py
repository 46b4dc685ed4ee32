"""Ctrl-C and SIGTERM as exceptions, and short sections that neither can split.

`sigterm_raises()` makes SIGTERM raise `Terminated` (a KeyboardInterrupt) in the main thread, so
the ``finally``/``except`` clauses that clean up after Ctrl-C (temporary files, locks, half-staged
outputs) run for ``kill`` too.  `deferred_signals()` blocks SIGINT and SIGTERM for the duration of
a short critical section (renaming a set of finished files into place, appending a result row):
a signal that arrives meanwhile is delivered, and raises, right after the section, never inside it.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_held: list | None = None  # signals recorded by the outermost `deferred_signals` block in progress


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises `Terminated`; the previous handler is restored afterwards.

    Outside the main thread (where Python cannot install handlers) the block runs unchanged.
    """
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals():
    """SIGINT and SIGTERM that arrive while the block runs are held back and raised right after it.

    The Python-level handlers are swapped for a recorder during the block (signal masks would not
    do: any thread may take a process signal), so the block is never split by Ctrl-C or ``kill``;
    afterwards the first held signal raises KeyboardInterrupt (SIGINT) or `Terminated` (SIGTERM).
    Nested blocks are part of the outermost one.
    """
    global _held
    if not _main_thread() or _held is not None:
        yield
        return
    held = _held = []
    try:
        previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in SIGNALS}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
    finally:
        _held = None
    if held:
        if held[0] == signal.SIGTERM:
            raise Terminated()
        raise KeyboardInterrupt()
