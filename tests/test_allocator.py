"""restore.allocator: large blocks come from the heap (not one mmap each), and the opt-out holds."""
import os
import platform
import subprocess
import sys

import pytest

from restore.allocator import ENV, keep_freed_memory

LIBC, LIBC_VERSION = platform.libc_ver()
# mallinfo2 (the probe's witness) is in glibc since 2.33
GLIBC = platform.system() == "Linux" and LIBC == "glibc" and tuple(map(int, LIBC_VERSION.split(".")[:2])) >= (2, 33)

# Holds a 64 MiB array and prints the bytes glibc has in separately mmapped blocks (mallinfo2's
# hblkhd) while it lives, then the minor page faults of touching a fresh one after freeing it.
# glibc's default maps a block this large on its own; kept in the heap it is not.
PROBE = """
import ctypes, sys
import numpy as np
from restore.allocator import keep_freed_memory
on = keep_freed_memory() if sys.argv[1] == "on" else False
class Info(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
a = np.ones(64 << 20, np.uint8)
print(int(on), libc.mallinfo2().hblkhd)
"""


def _probe(mode, env=None):
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(not GLIBC, reason="mallopt/mallinfo2 are glibc's (>= 2.33)")
def test_freed_blocks_are_reused_without_page_faults():
    on, mapped_on = _probe("on")
    off, mapped_off = _probe("off")
    assert on == 1 and off == 0
    assert mapped_off >= 64 << 20  # the default maps the block on its own (and unmaps it when freed)
    assert mapped_on < 1 << 20     # kept: served from the heap, which keeps it after free


@pytest.mark.skipif(not GLIBC, reason="mallopt/mallinfo2 are glibc's (>= 2.33)")
def test_environment_opt_out_leaves_the_allocator_alone():
    on, mapped = _probe("on", {ENV: "system"})
    assert on == 0 and mapped >= 64 << 20


def test_outside_glibc_it_is_a_no_op(monkeypatch):
    import restore.allocator as alloc
    monkeypatch.setattr(alloc, "_applied", False)
    monkeypatch.setattr(alloc, "_glibc", lambda: None)
    assert keep_freed_memory() is False
