"""Kernel and mask files from the user: checked before a library reader allocates anything.

`read_kernel(path)` and `read_mask(path, shape)` guarantee that whatever the file holds
(truncated or corrupt data, a header announcing absurd dimensions, an array of the wrong type or
shape, NaN/Inf), the result is either a valid tensor or a ValueError whose one-line message names
the file as the user typed it.  Decoder chatter never reaches stderr (`restore.io.quiet_decoders`).

Headers are read first: images through `restore.image_header` (pixel cap), ``.npy`` arrays and the
members of ``.npz`` archives through NumPy's header reader, ``.mat`` files through
``scipy.io.whosmat`` — so a few bytes that claim a 100000×100000 array are refused without reading on.
"""
from __future__ import annotations

import math
import os
import zipfile

import numpy as np
import torch

import operators as ops

from ..image_header import MAX_PIXELS, HeaderError, check_image_bytes
from ..io import quiet_decoders

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: the largest kernel accepted, in entries (a kernel must also be smaller than the image)
MAX_KERNEL_ENTRIES = 4096 * 4096
#: a kernel is refused when its negative entries weigh more than this fraction of its positive ones
#: (a sharpening kernel, not a blur); smaller negative ripples (kernel estimation noise) are kept
MAX_NEGATIVE_MASS = 0.01


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _npy_header(f) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, offset of the data) of the .npy stream ``f`` (positioned at its start)."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    return tuple(shape), np.dtype(dtype), f.tell()


def _check_array_header(shape, dtype, what: str, max_entries: int) -> int:
    if dtype.kind not in "biuf":
        raise ValueError(f"{what} holds a {dtype} array, not numbers")
    n = math.prod(shape)
    if n > max_entries:
        raise ValueError(f"{what} holds a {'x'.join(map(str, shape))} array, more than the "
                         f"{max_entries:,}-entry limit")
    return n * dtype.itemsize


def check_array_file(path: str, what: str, max_entries: int) -> None:
    """Refuse a .npy/.npz/.mat file whose headers announce too many entries, non-numbers or
    more data than the file holds (ValueError naming ``what``)."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npy":
            with open(path, "rb") as f:
                shape, dtype, offset = _npy_header(f)
            nbytes = _check_array_header(shape, dtype, what, max_entries)
            if os.path.getsize(path) < offset + nbytes:
                raise ValueError(f"{what} is truncated (the header announces {nbytes:,} bytes of data)")
        elif ext == ".npz":
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.filename.endswith(".npy"):
                        with z.open(info) as f:
                            shape, dtype, offset = _npy_header(f)
                        nbytes = _check_array_header(shape, dtype, what, max_entries)
                        if info.file_size < offset + nbytes:
                            raise ValueError(f"{what} is truncated (array {info.filename!r})")
        elif ext == ".mat":
            from scipy.io import whosmat

            for name, shape, cls in whosmat(path):
                if math.prod(shape) > max_entries:
                    raise ValueError(f"{what} holds a {'x'.join(map(str, shape))} variable {name!r}, more "
                                     f"than the {max_entries:,}-entry limit")
    except ValueError:
        raise
    except Exception as e:  # zipfile, struct, scipy and numpy raise many kinds for broken files
        raise ValueError(f"{what} is not a readable {ext} file ({_first_line(e)})") from None


def check_image_file(path: str, what: str, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse an unreadable, empty, truncated (PNG/JPEG) or oversized image file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"cannot read {what}: {e.strerror or e}") from None
    if not data:
        raise ValueError(f"{what} is empty")
    try:
        check_image_bytes(data, max_pixels)
    except HeaderError as e:
        raise ValueError(f"{what}: {e}") from None


def _guard(path: str, what: str, max_entries: int) -> None:
    if not os.path.isfile(path):
        raise ValueError(f"{what} does not exist" if not os.path.exists(path) else f"{what} is not a file")
    if os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES:
        check_image_file(path, what, max_entries)
    else:
        check_array_file(path, what, max_entries)


def _call(reader, what: str):
    """Run an `operators` reader: its ValueErrors gain the file's name, other failures become one."""
    try:
        with quiet_decoders():
            return reader()
    except ValueError as e:
        msg = _first_line(e)
        raise ValueError(msg if what.split(" ", 2)[-1] in msg else f"{what}: {msg}") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # zlib.error, EOFError, MemoryError, ...
        raise ValueError(f"cannot read {what} ({_first_line(e)})") from None


def read_kernel(path: str) -> torch.Tensor:
    """The normalised blur kernel in ``path`` (see `operators.load_kernel`), refusing files that are
    not a blur: a kernel whose negative entries weigh more than `MAX_NEGATIVE_MASS` of its positive
    ones (a sharpening or edge kernel)."""
    what = f"kernel file {path!r}"
    _guard(path, what, MAX_KERNEL_ENTRIES)
    k = _call(lambda: ops.load_kernel(path), what)
    neg, pos = float(-k.clamp(max=0).sum()), float(k.clamp(min=0).sum())
    if neg > MAX_NEGATIVE_MASS * pos:
        raise ValueError(f"{what} has negative entries (min {float(k.min()):.3g}, {neg / pos:.0%} of the positive "
                         f"weight after normalising): a blur kernel is non-negative; this looks like a "
                         f"sharpening or edge filter")
    return k


def read_mask(path: str, shape) -> torch.Tensor:
    """The inpainting mask in ``path`` (1 = known), checked to be (H, W) = ``shape[-2:]``."""
    what = f"mask file {path!r}"
    _guard(path, what, MAX_PIXELS)
    if os.path.splitext(path)[1].lower() in (".npy", ".npz"):
        def finite():
            a = np.load(path, allow_pickle=False)
            if isinstance(a, np.lib.npyio.NpzFile):
                with a:
                    a = a[a.files[0]] if a.files else np.zeros(0)
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise ValueError(f"{what} contains NaN or Inf values")
        _call(finite, what)
    return _call(lambda: ops.mask_from_file(path, shape=shape), what)
