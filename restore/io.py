"""Image files ↔ tensors.

``read_image(path) -> (x, info)``: ``x`` is a float32 tensor (1, C, H, W) in [0, 1] with C = 1
(grayscale) or 3 (RGB); an alpha channel, if the file has one, is kept aside in ``info.alpha``
(1, 1, H, W) so that ``write_image(path, y, info=info)`` can put it back.  Pixel values v of a
b-bit file map to v / (2^b - 1).

``write_image(path, x, info=None, bit_depth=None, overwrite=False)`` writes PNG, JPEG or TIFF
(chosen by extension), 8- or 16-bit (16 for PNG/TIFF only), as v = round(clamp(x, 0, 1)·(2^b - 1)).
The file is written atomically: encoded in memory, written to a temporary file in the target
directory, then moved into place, so a failed write never leaves a half-written image nor
touches an existing file.  An existing file is never replaced unless ``overwrite=True``.

OpenCV does the decoding and encoding (BGR/BGRA ↔ RGB/RGBA is handled here); files OpenCV cannot
decode are tried with imageio (which scikit-image uses).  Before any decoder runs, the header is
checked (`restore.image_header`): a truncated or corrupt PNG/JPEG and an image announcing more than
`MAX_PIXELS` pixels (a decompression bomb) are refused with an ImageReadError; decoder chatter on
stderr (OpenCV log lines, libpng/libjpeg warnings) is silenced, so the error is the only message.
TIFFs are written uncompressed (readable without LZW/Deflate codecs).
"""
from __future__ import annotations

import os
import secrets
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .image_header import MAX_PIXELS, HeaderError, check_image_bytes

# OpenCV's own pixel cap for the formats whose headers are not read here (read once, at first decode).
os.environ.setdefault("CV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

__all__ = [
    "ImageReadError",
    "ImageInfo",
    "read_image",
    "write_image",
    "to_uint8",
    "quantize",
    "split_alpha",
    "merge_alpha",
    "SUPPORTED_WRITE_EXTENSIONS",
    "MAX_PIXELS",
    "encode_image",
    "quiet_decoders",
]

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
SUPPORTED_WRITE_EXTENSIONS = tuple(_FORMATS)
_MODES = {1: "gray", 2: "gray_alpha", 3: "RGB", 4: "RGBA"}


class ImageReadError(ValueError):
    """A file is missing, unreadable, or not an image we can represent."""


@dataclass
class ImageInfo:
    """What ``read_image`` learned about a file, enough to write a result back in kind.

    path: the file read.  bit_depth: 8 or 16 (32 for floating-point TIFFs).
    mode: "gray", "gray_alpha", "RGB" or "RGBA".  alpha: (1, 1, H, W) float32 in [0, 1] or None.
    """

    path: str
    bit_depth: int
    mode: str
    alpha: torch.Tensor | None = field(default=None, repr=False)

    @property
    def has_alpha(self) -> bool:
        return self.alpha is not None


# ----------------------------------------------------------------------------- alpha helpers
def split_alpha(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B, C, H, W) → (colour, alpha): C = 4 → (RGB, A), C = 2 → (gray, A), otherwise (x, None)."""
    c = x.shape[-3]
    if c in (2, 4):
        return x[..., : c - 1, :, :], x[..., c - 1 :, :, :]
    return x, None


def merge_alpha(x: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    """Append an alpha channel (B|1, 1, H', W') to x (B, C, H, W); None returns x unchanged.

    An alpha of another size (e.g. after super-resolution) is resized bilinearly to (H, W).
    """
    if alpha is None:
        return x
    if x.shape[-3] not in (1, 3):
        raise ValueError(f"can only add alpha to 1- or 3-channel images, got {x.shape[-3]} channels")
    alpha = alpha.to(device=x.device, dtype=x.dtype)
    if alpha.ndim == 3:
        alpha = alpha.unsqueeze(0)
    if alpha.shape[-2:] != x.shape[-2:]:
        alpha = torch.nn.functional.interpolate(
            alpha, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False, antialias=True
        ).clamp(0, 1)
    alpha = alpha.expand(x.shape[0], 1, *x.shape[-2:])
    return torch.cat([x, alpha], dim=-3)


# ----------------------------------------------------------------------------- quantisation
def quantize(x: torch.Tensor, bit_depth: int = 8) -> np.ndarray:
    """Float image in [0, 1] → integer array, channels last: round(clamp(x, 0, 1)·(2^b − 1)).

    (C, H, W) → (H, W, C); (B, C, H, W) → (B, H, W, C).  uint8 for 8 bits, uint16 for 16.
    Raises ValueError on NaN or ±Inf.
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    x = torch.as_tensor(x).detach()
    if x.ndim not in (3, 4):
        raise ValueError(f"expected a (C, H, W) or (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("image contains NaN or Inf values; refusing to quantise it")
    peak = float(2**bit_depth - 1)
    v = torch.round(x.to(device="cpu", dtype=torch.float64).clamp(0.0, 1.0) * peak)
    arr = v.movedim(-3, -1).numpy()
    return arr.astype(np.uint8 if bit_depth == 8 else np.uint16)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Float image in [0, 1] → uint8 array, channels last (see ``quantize``)."""
    return quantize(x, 8)


# ----------------------------------------------------------------------------- reading
def _png_color_type(data: bytes) -> int | None:
    """Colour type byte of a PNG's IHDR (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 25 and data[12:16] == b"IHDR":
        return data[25]
    return None


@contextmanager
def quiet_decoders():
    """Silence decoder chatter for the duration: OpenCV's log (level SILENT) and anything the C
    libraries (libpng, libjpeg, libtiff) print straight to file descriptor 2.  Restores both after."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    saved = None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (embedded use): only the log level
        if saved is not None:
            os.close(saved)
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        cv2.utils.logging.setLogLevel(level)


def _decode_cv2(data: bytes) -> np.ndarray | None:
    import cv2

    try:
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if arr is None:
        return None
    if arr.ndim == 3:
        if arr.shape[2] == 3:
            arr = arr[:, :, ::-1]  # BGR → RGB
        elif arr.shape[2] == 4:
            arr = arr[:, :, [2, 1, 0, 3]]  # BGRA → RGBA
            if _png_color_type(data) == 4:  # OpenCV expands gray+alpha PNGs to BGRA
                arr = arr[:, :, [0, 3]]
    return arr


def _decode_imageio(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    with warnings.catch_warnings():  # imageio's legacy plugins warn while probing non-images
        warnings.simplefilter("ignore")
        try:
            return np.asarray(iio.imread(path, index=0))
        except TypeError:  # plugin without an `index` argument
            return np.asarray(iio.imread(path))


def _to_float(arr: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if arr.dtype == np.bool_:
        return arr.astype(np.float32), 8
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageReadError(f"cannot read image {str(path)!r}: it contains NaN or Inf pixels")
        return np.clip(arr.astype(np.float32), 0.0, 1.0), 32
    raise ImageReadError(f"cannot read image {str(path)!r}: unsupported pixel type {arr.dtype}")


def read_image(path: str | os.PathLike) -> tuple[torch.Tensor, ImageInfo]:
    """Read an image file as a float32 tensor (1, C, H, W) in [0, 1], C ∈ {1, 3}, plus its ImageInfo.

    Raises ImageReadError (a ValueError) naming the file if it is missing, unreadable or not an
    image with 1–4 channels.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"cannot read image {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"cannot read image {str(path)!r}: it is a directory") from None
    except OSError as e:
        raise ImageReadError(f"cannot read image {str(path)!r}: {e.strerror or e}") from None
    if not data:
        raise ImageReadError(f"cannot read image {str(path)!r}: the file is empty")
    try:
        check_image_bytes(data)
    except HeaderError as e:
        raise ImageReadError(f"cannot read image {str(path)!r}: {e}") from None

    with quiet_decoders():
        arr = _decode_cv2(data)
        if arr is None:
            try:
                arr = _decode_imageio(path)
            except Exception as e:  # imageio raises many types for non-images (and MemoryError for absurd ones)
                raise ImageReadError(f"cannot read image {str(path)!r}: not a readable image file") from e

    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in _MODES or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageReadError(f"cannot read image {str(path)!r}: unsupported image shape {arr.shape}")
    farr, bit_depth = _to_float(arr, path)
    t = torch.from_numpy(np.ascontiguousarray(farr)).permute(2, 0, 1).unsqueeze(0).contiguous()
    mode = _MODES[t.shape[1]]
    x, alpha = split_alpha(t)
    return x.contiguous(), ImageInfo(path=str(path), bit_depth=bit_depth, mode=mode,
                                     alpha=None if alpha is None else alpha.contiguous())


# ----------------------------------------------------------------------------- writing
def _encode(arr: np.ndarray, fmt: str, ext: str, quality: int) -> bytes:
    """Channels-last RGB(A)/gray(+alpha) integer array → encoded file bytes."""
    c = arr.shape[2]
    if c == 2:
        if fmt == "PNG":  # OpenCV cannot write gray+alpha; imageio (Pillow) can
            import imageio.v3 as iio

            return iio.imwrite("<bytes>", arr, extension=".png")
        gray, a = arr[:, :, :1], arr[:, :, 1:]
        arr = np.concatenate([gray, gray, gray, a], axis=2)  # TIFF: store as RGBA
        c = 4
    import cv2

    if c == 1:
        bgr = arr[:, :, 0]
    elif c == 3:
        bgr = arr[:, :, ::-1]
    else:
        bgr = arr[:, :, [2, 1, 0, 3]]
    params = {"JPEG": [cv2.IMWRITE_JPEG_QUALITY, int(quality)],
              "TIFF": [cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_NONE]}.get(fmt, [])
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(bgr), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {arr.shape} {arr.dtype} image as {fmt}")
    return buf.tobytes()


def create_temp(folder, name: str) -> tuple[int, str]:
    """A new hidden temporary file ``.NAME.XXXXXXXX.tmp`` in ``folder``: (open fd, path).

    Created exclusively with mode 0o666, so the process umask gives it the usual permissions (as for
    any new file) without ever changing the umask (which is process-wide, so toggling it races).
    """
    for _ in range(100):
        tmp = os.path.join(str(folder), f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file for {name!r} in {folder}")


def _atomic_write(path: Path, data: bytes, overwrite: bool) -> None:
    fd, tmp = create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target appeared meanwhile, so a concurrent file is never clobbered.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(
                    f"refusing to overwrite existing file {str(path)!r} (pass overwrite=True)"
                ) from None
            except OSError:  # filesystem without hard links
                if path.exists():
                    raise FileExistsError(
                        f"refusing to overwrite existing file {str(path)!r} (pass overwrite=True)"
                    ) from None
                os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def atomic_write(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    Readers see the old file or the new one, never a part; with ``overwrite=False`` an existing file
    (even one that appears meanwhile) is never clobbered.
    """
    _atomic_write(Path(path), data, overwrite)


def encode_image(
    path: str | os.PathLike,
    x: torch.Tensor,
    info: ImageInfo | None = None,
    bit_depth: int | None = None,
    *,
    quality: int = 95,
) -> bytes:
    """The bytes of image x (1, C, H, W) or (C, H, W) in [0, 1] encoded as PNG, JPEG or TIFF (by the
    extension of ``path``; nothing is written).

    C = 1 (gray), 3 (RGB), 2 or 4 (with alpha).  If ``info`` carries an alpha channel and x has
    1 or 3 channels, the alpha is re-attached (resized bilinearly if x's size differs).  The bit
    depth is ``bit_depth``, else ``info.bit_depth`` (16 stays 16 for PNG/TIFF), else 8; JPEG is
    always 8-bit and drops alpha (with a warning).  Values are clamped to [0, 1] and rounded.
    Raises ValueError for NaN/Inf, bad shapes or unknown extensions.
    """
    path = Path(path)
    ext = path.suffix.lower()
    fmt = _FORMATS.get(ext)
    if fmt is None:
        raise ValueError(
            f"cannot write {str(path)!r}: unsupported extension {path.suffix!r} "
            f"(use one of {', '.join(SUPPORTED_WRITE_EXTENSIONS)})"
        )
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] not in _MODES:
        raise ValueError(
            f"cannot write {str(path)!r}: expected one image of shape (1, C, H, W) with C in 1..4, "
            f"got {tuple(x.shape)}"
        )
    x = x.detach()
    if not torch.isfinite(x).all():
        raise ValueError(f"cannot write {str(path)!r}: the image contains NaN or Inf values")
    if x.shape[1] in (1, 3) and info is not None and info.alpha is not None:
        x = merge_alpha(x.float(), info.alpha)
    if fmt == "JPEG" and x.shape[1] in (2, 4):
        warnings.warn(f"JPEG has no alpha channel; dropping it when writing {str(path)!r}", stacklevel=3)
        x = split_alpha(x)[0]

    if bit_depth is None:
        bit_depth = 8 if info is None or info.bit_depth == 8 or fmt == "JPEG" else 16
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if fmt == "JPEG" and bit_depth != 8:
        raise ValueError(f"cannot write {str(path)!r}: JPEG supports only 8-bit images")
    return _encode(quantize(x[0], bit_depth), fmt, ext, quality)


def write_image(
    path: str | os.PathLike,
    x: torch.Tensor,
    info: ImageInfo | None = None,
    bit_depth: int | None = None,
    *,
    overwrite: bool = False,
    quality: int = 95,
) -> Path:
    """Write one image (see `encode_image` for shapes, bit depth and alpha) atomically.

    Raises ValueError for NaN/Inf, bad shapes or unknown extensions, FileExistsError if the file
    exists and ``overwrite`` is False.  Returns the path written.
    """
    path = Path(path)
    data = encode_image(path, x, info, bit_depth, quality=quality)
    if path.exists() and not overwrite:
        raise FileExistsError(f"refusing to overwrite existing file {str(path)!r} (pass overwrite=True)")
    _atomic_write(path, data, overwrite)
    return path
