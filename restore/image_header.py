"""Image file headers: the format and pixel size of an encoded image, read before any decoding.

`check_image_bytes(data, name)` is the gate every image reader passes first.  It guarantees that
a file whose header announces more than `MAX_PIXELS` pixels (a decompression bomb: a few hundred
bytes that claim 100000×100000 pixels) is refused *before* a decoder allocates anything, and that
a PNG or JPEG cut short (a truncated download or copy) is refused with a message that says so
instead of decoding into a partly grey picture or a decoder warning on stderr.

Formats whose headers are read here: PNG, JPEG, BMP, GIF, TIFF (classic), PNM, WebP.  Other formats
are left to the decoders, whose own pixel limit (OpenCV's ``CV_IO_MAX_IMAGE_PIXELS``, set from
`MAX_PIXELS` by `restore.io`) applies.
"""
from __future__ import annotations

import struct
import zlib

#: the largest image accepted (width × height): 200 megapixels, e.g. 16000 × 12500
MAX_PIXELS = 200_000_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class HeaderError(ValueError):
    """The header says the file cannot (or must not) be decoded; the message says why."""


def _png(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG whose chunk sequence is complete (IHDR … IEND) and whose critical
    chunks' CRCs match (a bad CRC in an ancillary chunk, e.g. tEXt, is tolerated as libpng does)."""
    pos, first = 8, True
    size = None
    while True:
        if pos + 8 > len(data):
            raise HeaderError("the PNG file is truncated (it ends before its IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length + 4
        if length > 0x7FFFFFFF or end > len(data):
            raise HeaderError("the PNG file is truncated (it ends inside the "
                              f"{kind.decode('latin-1')!r} chunk)")
        body = data[pos + 4:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        critical = not kind[0] & 0x20  # IHDR, PLTE, IDAT, IEND; libpng only warns about ancillary chunks
        if critical and zlib.crc32(body) & 0xFFFFFFFF != crc:
            raise HeaderError(f"the PNG file is corrupt (checksum mismatch in its {kind.decode('latin-1')!r} chunk)")
        if first:
            if kind != b"IHDR" or length != 13:
                raise HeaderError("the PNG file is corrupt (it does not start with an IHDR chunk)")
            size = struct.unpack(">II", body[4:12])
            first = False
        if kind == b"IEND":
            return size
        pos = end


_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOF marker; the scan data must be followed by an EOI marker."""
    pos, size = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise HeaderError("the JPEG file is corrupt (bad marker)")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in _SOF and pos + 9 <= len(data):
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            size = (w, h)
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to the EOI marker
            if size is None:
                raise HeaderError("the JPEG file is corrupt (image data before the frame header)")
            if data.rfind(b"\xff\xd9", pos + 2 + length) < 0:
                raise HeaderError("the JPEG file is truncated (no end-of-image marker after the image data)")
            return size
        pos += 2 + length
    raise HeaderError("the JPEG file is truncated (it ends before the image data)")


def _tiff(data: bytes) -> tuple[int, int] | None:
    endian = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack(endian + "H", data[2:4])
    if magic != 42:  # BigTIFF (43): left to the decoder
        return None
    (ifd,) = struct.unpack(endian + "I", data[4:8])
    if ifd + 2 > len(data):
        raise HeaderError("the TIFF file is truncated (its directory lies beyond the end of the file)")
    (n,) = struct.unpack(endian + "H", data[ifd:ifd + 2])
    tags = {}
    for i in range(n):
        e = ifd + 2 + 12 * i
        if e + 12 > len(data):
            raise HeaderError("the TIFF file is truncated (inside its directory)")
        tag, typ = struct.unpack(endian + "HH", data[e:e + 4])
        if tag in (256, 257):
            fmt = {3: "H", 4: "I"}.get(typ)
            if fmt is None:
                raise HeaderError("the TIFF file is corrupt (bad width/height field)")
            (tags[tag],) = struct.unpack(endian + fmt, data[e + 8:e + 8 + struct.calcsize(fmt)])
    if 256 not in tags or 257 not in tags:
        raise HeaderError("the TIFF file is corrupt (no image width/height)")
    return tags[256], tags[257]


def _pnm(data: bytes) -> tuple[int, int]:
    tokens, pos = [], 2
    while len(tokens) < 2 and pos < min(len(data), 4096):
        c = data[pos:pos + 1]
        if c == b"#":
            nl = data.find(b"\n", pos)
            pos = len(data) if nl < 0 else nl + 1
        elif c.isspace():
            pos += 1
        else:
            start = pos
            while pos < len(data) and not data[pos:pos + 1].isspace():
                pos += 1
            tokens.append(data[start:pos])
    try:
        w, h = (int(t) for t in tokens)
    except ValueError:
        raise HeaderError("the PNM file is corrupt (bad width/height)") from None
    return w, h


def _webp(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if kind == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def probe(data: bytes) -> tuple[str, tuple[int, int] | None]:
    """(format, (width, height)) from the header; size None when the header does not say it here.

    Format is "png", "jpeg", "bmp", "gif", "tiff", "pnm", "webp" or "other".  Raises HeaderError
    for a PNG or JPEG that is truncated or corrupt, or a header that cannot be parsed.
    """
    try:
        if data[:8] == PNG_SIGNATURE:
            return "png", _png(data)
        if data[:2] == b"\xff\xd8":
            return "jpeg", _jpeg(data)
        if data[:2] == b"BM" and len(data) >= 26:
            (hsize,) = struct.unpack("<I", data[14:18])
            w, h = struct.unpack("<HH", data[18:22]) if hsize == 12 else struct.unpack("<ii", data[18:26])
            return "bmp", (abs(w), abs(h))
        if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            return "gif", struct.unpack("<HH", data[6:10])
        if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+") and len(data) >= 8:
            return "tiff", _tiff(data)
        if len(data) >= 3 and data[:1] == b"P" and data[1:2] in b"123456" and data[2:3].isspace():
            return "pnm", _pnm(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "webp", _webp(data)
    except struct.error:
        raise HeaderError("the file is truncated (inside its header)") from None
    return "other", None


def check_image_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> str:
    """Refuse a truncated/corrupt PNG or JPEG and any image announcing more than ``max_pixels`` pixels.

    Returns the format name (see `probe`); raises HeaderError with a message for the user.
    """
    fmt, size = probe(data)
    if size is not None:
        w, h = size
        if w <= 0 or h <= 0:
            raise HeaderError(f"the {fmt.upper()} header gives an empty image ({w}x{h})")
        if w * h > max_pixels:
            raise HeaderError(f"the {fmt.upper()} header announces {w}x{h} = {w * h / 1e6:.0f} megapixels, "
                              f"more than the {max_pixels / 1e6:.0f}-megapixel limit")
    return fmt
