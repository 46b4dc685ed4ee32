"""The set of files one command writes: validated before any work, committed together at the end.

    outs = OutputSet(inputs=[image, reference, ...], overwrite=False)
    outs.add("output", "out.png", "image")
    outs.add("--compare", "cmp.pdf", "figure")
    outs.validate()                     # before the prior is loaded: fails in milliseconds
    with outs:                          # any exception, Ctrl-C or SIGTERM: the staged temporaries go
        ... solve ...
        outs.write("output", png_bytes)     # staged as a hidden temporary beside the target
        outs.write("--compare", pdf_bytes)
        outs.commit()                   # every target appears, or none does

Guarantees:

- `validate` refuses, naming the path as the user typed it: an extension the writer of that kind
  cannot produce, a folder that does not exist or is not writable (checked by creating and
  removing a probe file there, so read-only mounts and ACLs are caught too), a path that is a
  folder, the same file as an input (after resolving links), two outputs that are the same file,
  and an existing file unless ``overwrite``.
- nothing is visible under a target name before `commit`; temporaries are ``.NAME.XXXX.tmp`` in
  the target's folder (so the final rename stays on one filesystem) and are removed on failure.
- `commit` runs with SIGINT/SIGTERM held back (`interrupts.deferred_signals`).  Without
  ``overwrite`` each target is created with ``link()``, which fails if a file appeared there since
  `validate`; with ``overwrite`` an existing target is first moved aside.  If any step fails, the
  targets already placed are removed and the moved-aside files put back: all or nothing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..io import SUPPORTED_WRITE_EXTENSIONS, create_temp
from .files import same_file
from ..interrupts import deferred_signals

#: what each kind of output can be written as (by extension)
EXTENSIONS = {
    "image": SUPPORTED_WRITE_EXTENSIONS,
    "figure": (".png", ".pdf", ".svg", ".jpg", ".jpeg"),
    "json": (".json",),
    "kernel": (".png", ".npy"),
}


@dataclass
class Output:
    label: str   # how the user named it: "output", "--compare", ...
    path: str    # as the user typed it (or derived from what they typed)
    kind: str    # a key of EXTENSIONS
    tmp: str | None = None

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path) or "."


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def check_folder_writable(folder: str) -> None:
    """Raise OSError unless a file can be created (and removed) in ``folder``."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(13, "Permission denied")
    fd, probe = create_temp(folder, "restore-probe")
    try:
        os.close(fd)
    finally:
        os.unlink(probe)


class OutputSet:
    """Every output path of one command (see the module docstring for the guarantees)."""

    def __init__(self, inputs=(), overwrite: bool = False):
        self.inputs = [str(p) for p in inputs if p not in (None, "")]
        self.overwrite = overwrite
        self.outputs: dict[str, Output] = {}

    def add(self, label: str, path, kind: str) -> None:
        """Register an output (``path`` None: the option was not given, nothing to do)."""
        if path is None:
            return
        if kind not in EXTENSIONS:
            raise ValueError(f"internal: unknown output kind {kind!r}")
        self.outputs[label] = Output(label, str(path), kind)

    def __iter__(self):
        return iter(self.outputs.values())

    # ------------------------------------------------------------------------------- before the run
    def validate(self) -> None:
        """Raise ValueError / FileExistsError (one line, the user's path) for the first bad output."""
        seen: list[Output] = []
        for o in self:
            name = f"{o.label} {o.path!r}"
            if not o.path.strip():
                raise ValueError(f"{o.label}: the path is empty")
            ext = Path(o.path).suffix.lower()
            if ext not in EXTENSIONS[o.kind]:
                got = f"extension {Path(o.path).suffix!r}" if ext else "no extension"
                raise ValueError(f"cannot write {name}: {got} is not a supported format "
                                 f"(use {', '.join(EXTENSIONS[o.kind])})")
            for inp in self.inputs:
                if same_file(o.path, inp):
                    raise ValueError(f"refusing to write {name}: it is an input file")
            for other in seen:
                if same_file(o.path, other.path):
                    raise ValueError(f"{o.label} and {other.label} are the same file {o.path!r}")
            if os.path.isdir(o.path):
                raise ValueError(f"cannot write {name}: it is a folder")
            if not os.path.isdir(o.folder):
                what = "is not a folder" if os.path.exists(o.folder) else "does not exist"
                raise ValueError(f"cannot write {name}: folder {o.folder!r} {what}")
            try:
                check_folder_writable(o.folder)
            except OSError as e:
                raise ValueError(f"cannot write {name}: folder {o.folder!r} is not writable "
                                 f"({e.strerror or e})") from None
            if os.path.lexists(o.path) and not self.overwrite:
                raise FileExistsError(f"{name} already exists (use --overwrite to replace it)")
            seen.append(o)

    # ------------------------------------------------------------------------------- during the run
    def write(self, label: str, data: bytes) -> None:
        """Stage ``data`` for output ``label`` in a temporary file beside its target (fsynced)."""
        o = self.outputs[label]
        if o.tmp is not None:
            _unlink(o.tmp)
            o.tmp = None
        try:
            fd, tmp = create_temp(o.folder, Path(o.path).name)
        except OSError as e:
            raise ValueError(f"cannot write {o.label} {o.path!r}: {e.strerror or e}") from None
        o.tmp = tmp
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            self.discard()
            raise ValueError(f"cannot write {o.label} {o.path!r}: {e.strerror or e}") from None

    def discard(self) -> None:
        """Remove every staged temporary (targets are untouched)."""
        for o in self:
            if o.tmp is not None:
                _unlink(o.tmp)
                o.tmp = None

    def commit(self) -> list[str]:
        """Move every staged output into place, all or nothing; returns the paths written."""
        staged = [o for o in self if o.tmp is not None]
        missing = [o.label for o in self if o.tmp is None]
        if missing:
            self.discard()
            raise ValueError(f"internal: outputs {', '.join(missing)} were never written")
        placed, aside = [], []  # targets created; (backup, target) of replaced files
        current = None
        with deferred_signals():
            try:
                for o in staged:
                    current = o
                    if self.overwrite and os.path.lexists(o.path):
                        backup = f"{o.tmp}.old"
                        os.replace(o.path, backup)
                        aside.append((backup, o.path))
                    self._place(o)
                    placed.append(o.path)
            except BaseException as e:
                for p in placed:
                    _unlink(p)
                for backup, target in aside:
                    os.replace(backup, target)
                self.discard()
                name = f"{current.label} {current.path!r}"
                if isinstance(e, FileExistsError):
                    raise FileExistsError(f"{name} appeared while restore was running; nothing was written "
                                          f"(use --overwrite to replace it)") from None
                if isinstance(e, OSError):
                    raise ValueError(f"cannot write {name}: {e.strerror or e}; nothing was written") from None
                raise
            for backup, _ in aside:
                _unlink(backup)
            self.discard()
        return [o.path for o in staged]

    @staticmethod
    def _place(o: Output) -> None:
        try:
            os.link(o.tmp, o.path)  # fails if the target exists: never clobbers a file that appeared
        except FileExistsError:
            raise FileExistsError(17, "File exists", o.path) from None
        except OSError:  # a filesystem without hard links
            if os.path.lexists(o.path):
                raise FileExistsError(17, "File exists", o.path) from None
            os.replace(o.tmp, o.path)
            o.tmp = None
            return
        _unlink(o.tmp)
        o.tmp = None

    # ------------------------------------------------------------------------------- context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()
        return False
