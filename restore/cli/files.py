"""Output-file policy: never touch an input, never overwrite without --overwrite, write atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..io import SUPPORTED_WRITE_EXTENSIONS


def same_file(a, b) -> bool:
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


def check_outputs(outputs: dict, inputs: list, overwrite: bool) -> None:
    """Raise ValueError before any work is done when an output would clobber an input, repeat another
    output, has an unknown image extension, or exists without --overwrite."""
    seen = {}
    for label, out in outputs.items():
        if out is None:
            continue
        out = Path(out)
        for inp in inputs:
            if inp is not None and same_file(out, inp):
                raise ValueError(f"refusing to write {label} {str(out)!r}: it is an input file")
        for other, p in seen.items():
            if same_file(out, p):
                raise ValueError(f"{label} and {other} are the same file {str(out)!r}")
        if out.is_dir():
            raise ValueError(f"{label} {str(out)!r} is a directory")
        if not out.parent.is_dir():
            raise ValueError(f"cannot write {label} {str(out)!r}: folder {str(out.parent)!r} does not exist")
        if out.exists() and not overwrite:
            raise FileExistsError(f"{label} {str(out)!r} already exists (use --overwrite to replace it)")
        seen[label] = out


def check_image_extension(label: str, path) -> None:
    if Path(path).suffix.lower() not in SUPPORTED_WRITE_EXTENSIONS:
        raise ValueError(f"{label} {str(path)!r}: unsupported image extension (use one of "
                         f"{', '.join(SUPPORTED_WRITE_EXTENSIONS)})")


def atomic_write_bytes(path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and move it into place."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists (use --overwrite to replace it)")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path, text: str, overwrite: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)
