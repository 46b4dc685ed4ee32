"""One `restore bench` per results folder: an exclusive advisory lock on ``RESULTS/.restore-bench.lock``.

`ResultsLock(folder)` takes ``flock(LOCK_EX | LOCK_NB)`` on the lock file and records its pid there;
a second process (another `restore bench`, or rank 0 of another torchrun job) gets a ValueError
naming the folder and the holder's pid instead of appending to the same table.  The lock goes with
the process: released on `release`, on exit, and by the kernel when the process is killed, so a
killed run never blocks its resume.  (Advisory locks are not reliable on some network filesystems.)
The lock file itself stays in the folder (removing it would let two processes lock two inodes).
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = ".restore-bench.lock"


class ResultsLock:
    """Hold the folder's lock from construction until `release` (or use it as a context manager)."""

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_NAME
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self.fd)
            self.fd = None
            raise ValueError(f"results folder {str(folder)!r} is in use by another 'restore bench' (pid {holder}); "
                             f"wait for it to finish or use another --out") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False
