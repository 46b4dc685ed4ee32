"""Hostile and odd input files: every reader of the CLI refuses them with one clean error line.

Seeded generators make truncated, corrupted, wrong-type, decompression-bomb (huge header), NaN/Inf
and wrong-shape variants of each input the restoration commands read: the image, the mask, the
kernel, the sidecar JSON (--from-json) and the checkpoint (--prior).  Each case asserts the
promises: exit status 2, exactly one stderr line ``restore: error: ...``, no traceback, nothing
printed by a C library on file descriptor 2, and no file created or changed in the folder.
The same seed gives the same bytes, so a failing case is reproducible from its id.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from tiny_prior import write_tiny_prior

from restore.cli import main

H, W = 24, 32
SEEDS = range(4)


# ----------------------------------------------------------------------------- corruptors (seeded)
def truncate(data: bytes, seed: int) -> bytes:
    """Cut the file at a seeded point in its second half or its last 16 bytes (never intact)."""
    rng = np.random.default_rng(seed)
    cut = int(rng.integers(len(data) // 2, len(data) - 1)) if seed % 2 else len(data) - int(rng.integers(1, 16))
    return data[:cut]


def flip_bytes(data: bytes, seed: int, start: int = 8) -> bytes:
    """Overwrite 1–8 bytes at seeded positions after ``start`` with different values."""
    rng = np.random.default_rng(1000 + seed)
    b = bytearray(data)
    for pos in rng.integers(start, len(b), size=int(rng.integers(1, 9))):
        b[pos] ^= int(rng.integers(1, 256))
    return bytes(b)


def random_bytes(seed: int, n: int = 300) -> bytes:
    return np.random.default_rng(2000 + seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(w: int = 100_000, h: int = 100_000) -> bytes:
    """A complete, checksummed PNG that announces w×h pixels (its pixel data is one empty row)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + png_chunk(b"IEND", b""))


def jpeg_bomb(data: bytes) -> bytes:
    """A real JPEG whose frame header (SOF0) is patched to 65000×65000."""
    i = data.index(b"\xff\xc0")
    return data[:i + 5] + struct.pack(">HH", 65000, 65000) + data[i + 9:]


def bmp_bomb() -> bytes:
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 60000, 60000, 1, 24, 0,
                                                                   0, 0, 0, 0, 0)


def tiff_bomb() -> bytes:
    entries = [(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 8), (259, 3, 1, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def npy_bomb(shape=(100_000, 100_000)) -> bytes:
    """A .npy file whose header announces ``shape`` float64 and which holds 64 bytes of data."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


def npz_of(name: str, member: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, member)
    return buf.getvalue()


# ----------------------------------------------------------------------------- the fixture folder
@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Valid files every case starts from (encoded once)."""
    d = tmp_path_factory.mktemp("fuzz_src")
    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur((rng.random((H, W, 3)) * 255).astype(np.uint8), (5, 5), 1.5)
    enc = {ext: cv2.imencode(ext, rgb)[1].tobytes() for ext in (".png", ".jpg", ".bmp", ".tif")}
    mask = np.full((H, W), 255, np.uint8)
    mask[8:16, 10:20] = 0
    write_tiny_prior(d / "tiny")
    sidecar = {"format": "restore-measurement", "version": 1, "task": "deblur", "seed": 0,
               "operator": {"op": "blur", "kernel": "gauss", "kernel_size": 5, "kernel_std": 1.0,
                            "boundary": "reflect"},
               "noise": {"model": "gaussian", "sigma": 0.01, "seed": 3}}
    return {"enc": enc, "rgb": rgb, "mask": cv2.imencode(".png", mask)[1].tobytes(),
            "kernel": np.outer([1, 2, 1], [1, 2, 1]).astype(np.float64), "sidecar": sidecar,
            "tiny": d / "tiny"}


def _cases():
    """(id, builder) pairs; a builder returns ({file name: bytes}, [CLI arguments])."""
    cases = []

    def add(name, fn):
        cases.append(pytest.param(fn, id=name))

    deblur = ["deblur", "in.png", "--kernel-size", "5"]
    # --- the image argument -----------------------------------------------------------------------
    for ext in (".png", ".jpg"):
        for s in SEEDS:
            add(f"image-truncated{ext}-{s}", lambda b, ext=ext, s=s: (
                {f"in{ext}": truncate(b["enc"][ext], s)}, ["deblur", f"in{ext}", "--kernel-size", "5"]))
    for s in SEEDS:
        add(f"image-corrupted.png-{s}", lambda b, s=s: ({"in.png": flip_bytes(b["enc"][".png"], s)}, deblur))
        add(f"image-random-bytes-{s}", lambda b, s=s: ({"in.png": random_bytes(s)}, deblur))
        add(f"image-bad-signature.jpg-{s}", lambda b, s=s: (
            {"in.jpg": flip_bytes(b["enc"][".jpg"][:4], s, start=0) + b["enc"][".jpg"][4:]},
            ["deblur", "in.jpg", "--kernel-size", "5"]))
    add("image-empty", lambda b: ({"in.png": b""}, deblur))
    add("image-text", lambda b: ({"in.png": b"hello, not an image\n"}, deblur))
    add("image-json", lambda b: ({"in.png": json.dumps(b["sidecar"]).encode()}, deblur))
    add("image-zip", lambda b: ({"in.png": npz_of("x.npy", npy_bytes(np.zeros(3)))}, deblur))
    add("image-bomb.png", lambda b: ({"in.png": png_bomb()}, deblur))
    add("image-bomb-wide.png", lambda b: ({"in.png": png_bomb(2**31 - 1, 1000)}, deblur))
    add("image-bomb.jpg", lambda b: ({"in.jpg": jpeg_bomb(b["enc"][".jpg"])}, ["deblur", "in.jpg"]))
    add("image-bomb.bmp", lambda b: ({"in.bmp": bmp_bomb()}, ["deblur", "in.bmp"]))
    add("image-bomb.tif", lambda b: ({"in.tif": tiff_bomb()}, ["deblur", "in.tif"]))
    add("image-bomb.gif", lambda b: ({"in.gif": b"GIF89a" + struct.pack("<HH", 60000, 60000) + b"\0" * 20},
                                     ["deblur", "in.gif"]))
    add("image-bomb.ppm", lambda b: ({"in.ppm": b"P6\n100000 100000\n255\n" + b"\0" * 30}, ["deblur", "in.ppm"]))
    add("image-zero-size.png", lambda b: ({"in.png": png_bomb(0, 10)}, deblur))
    add("image-nan.tif", lambda b: ({"in.tif": cv2.imencode(".tif", np.full((H, W), np.nan, np.float32))[1].tobytes()},
                                    ["deblur", "in.tif", "--kernel-size", "5"]))
    add("image-inf.tif", lambda b: ({"in.tif": cv2.imencode(".tif", np.full((H, W, 3), np.inf, np.float32))[1]
                                     .tobytes()}, ["denoise", "in.tif"]))
    add("image-too-small-for-kernel", lambda b: ({"in.png": cv2.imencode(".png", b["rgb"][:4, :4])[1].tobytes()},
                                                 deblur))
    add("image-folder", lambda b: ({"in.png/x": b"x"}, deblur))
    add("reference-truncated", lambda b: ({"in.png": b["enc"][".png"], "ref.png": truncate(b["enc"][".png"], 1)},
                                          deblur + ["--reference", "ref.png"]))
    add("reference-wrong-shape", lambda b: ({"in.png": b["enc"][".png"],
                                             "ref.png": cv2.imencode(".png", b["rgb"][:20])[1].tobytes()},
                                            deblur + ["--reference", "ref.png"]))
    add("sr-bomb-factor", lambda b: ({"in.png": b["enc"][".png"]}, ["sr", "in.png", "--factor", "100000"]))

    # --- the mask -----------------------------------------------------------------------------------
    inpaint = ["inpaint", "in.png", "--mask"]
    for s in SEEDS:
        add(f"mask-truncated.png-{s}", lambda b, s=s: (
            {"in.png": b["enc"][".png"], "m.png": truncate(b["mask"], s)}, inpaint + ["m.png"]))
        add(f"mask-corrupted.png-{s}", lambda b, s=s: (
            {"in.png": b["enc"][".png"], "m.png": flip_bytes(b["mask"], s)}, inpaint + ["m.png"]))
        add(f"mask-truncated.npy-{s}", lambda b, s=s: (
            {"in.png": b["enc"][".png"], "m.npy": truncate(npy_bytes(np.ones((H, W))), s)}, inpaint + ["m.npy"]))
    add("mask-bomb.png", lambda b: ({"in.png": b["enc"][".png"], "m.png": png_bomb()}, inpaint + ["m.png"]))
    add("mask-bomb.npy", lambda b: ({"in.png": b["enc"][".png"], "m.npy": npy_bomb()}, inpaint + ["m.npy"]))
    add("mask-bomb.npz", lambda b: ({"in.png": b["enc"][".png"], "m.npz": npz_of("m.npy", npy_bomb())},
                                    inpaint + ["m.npz"]))
    add("mask-wrong-size.png", lambda b: ({"in.png": b["enc"][".png"],
                                           "m.png": cv2.imencode(".png", np.zeros((H - 4, W), np.uint8))[1]
                                           .tobytes()}, inpaint + ["m.png"]))
    add("mask-3d.npy", lambda b: ({"in.png": b["enc"][".png"], "m.npy": npy_bytes(np.ones((2, H, W)))},
                                  inpaint + ["m.npy"]))
    add("mask-nan.npy", lambda b: ({"in.png": b["enc"][".png"], "m.npy": npy_bytes(np.full((H, W), np.nan))},
                                   inpaint + ["m.npy"]))
    add("mask-object.npy", lambda b: ({"in.png": b["enc"][".png"],
                                       "m.npy": npy_bytes(np.array([{"a": 1}] * 4, dtype=object))},
                                      inpaint + ["m.npy"]))
    add("mask-text.png", lambda b: ({"in.png": b["enc"][".png"], "m.png": b"not a mask"}, inpaint + ["m.png"]))
    add("mask-corrupt.npz", lambda b: ({"in.png": b["enc"][".png"], "m.npz": random_bytes(5)},
                                       inpaint + ["m.npz"]))

    # --- the kernel -----------------------------------------------------------------------------------
    kern = ["deblur", "in.png", "--kernel"]
    for s in SEEDS:
        add(f"kernel-truncated.npy-{s}", lambda b, s=s: (
            {"in.png": b["enc"][".png"], "k.npy": truncate(npy_bytes(b["kernel"]), s)}, kern + ["k.npy"]))
        add(f"kernel-truncated.png-{s}", lambda b, s=s: (
            {"in.png": b["enc"][".png"], "k.png": truncate(cv2.imencode(".png", (b["kernel"] * 60).astype(np.uint8))[1]
                                                         .tobytes(), s)}, kern + ["k.png"]))
        add(f"kernel-truncated.npz-{s}", lambda b, s=s: (
            {"in.png": b["enc"][".png"], "k.npz": truncate(npz_of("k.npy", npy_bytes(b["kernel"])), s)},
            kern + ["k.npz"]))
    for bad, name in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")):
        add(f"kernel-{name}.npy", lambda b, bad=bad: (
            {"in.png": b["enc"][".png"], "k.npy": npy_bytes(np.where(np.eye(3) > 0, bad, 1.0))}, kern + ["k.npy"]))
    add("kernel-sharpen.npy", lambda b: ({"in.png": b["enc"][".png"],
                                          "k.npy": npy_bytes(np.array([[0., -1, 0], [-1, 5, -1], [0, -1, 0]]))},
                                         kern + ["k.npy"]))
    add("kernel-zero-sum.npy", lambda b: ({"in.png": b["enc"][".png"], "k.npy": npy_bytes(np.zeros((3, 3)))},
                                          kern + ["k.npy"]))
    add("kernel-3d.npy", lambda b: ({"in.png": b["enc"][".png"], "k.npy": npy_bytes(np.ones((2, 3, 3)))},
                                    kern + ["k.npy"]))
    add("kernel-empty.npy", lambda b: ({"in.png": b["enc"][".png"], "k.npy": npy_bytes(np.ones((0, 3)))},
                                       kern + ["k.npy"]))
    add("kernel-strings.npy", lambda b: ({"in.png": b["enc"][".png"], "k.npy": npy_bytes(np.array(["a", "b"]))},
                                         kern + ["k.npy"]))
    add("kernel-object.npy", lambda b: ({"in.png": b["enc"][".png"],
                                         "k.npy": npy_bytes(np.array([None, 1], dtype=object))}, kern + ["k.npy"]))
    add("kernel-bomb.npy", lambda b: ({"in.png": b["enc"][".png"], "k.npy": npy_bomb()}, kern + ["k.npy"]))
    add("kernel-bomb.npz", lambda b: ({"in.png": b["enc"][".png"], "k.npz": npz_of("k.npy", npy_bomb())},
                                      kern + ["k.npz"]))
    add("kernel-bomb.png", lambda b: ({"in.png": b["enc"][".png"], "k.png": png_bomb()}, kern + ["k.png"]))
    add("kernel-larger-than-image.npy", lambda b: ({"in.png": b["enc"][".png"], "k.npy": npy_bytes(np.ones((41, 41)))},
                                                   kern + ["k.npy"]))
    add("kernel-garbage.mat", lambda b: ({"in.png": b["enc"][".png"], "k.mat": random_bytes(7, 500)},
                                         kern + ["k.mat"]))
    add("kernel-garbage.npz", lambda b: ({"in.png": b["enc"][".png"], "k.npz": random_bytes(8, 500)},
                                         kern + ["k.npz"]))
    add("kernel-even-gauss", lambda b: ({"in.png": b["enc"][".png"]}, ["deblur", "in.png", "--kernel-size", "4"]))

    # --- the sidecar (--from-json) ----------------------------------------------------------------------
    def side(mutate=None, raw=None):
        def build(b):
            if raw is not None:
                data = raw(b)
            else:
                d = json.loads(json.dumps(b["sidecar"]))
                mutate(d)
                data = json.dumps(d).replace('"__NaN__"', "NaN").replace('"__Inf__"', "Infinity").encode()
            return {"in.png": b["enc"][".png"], "in.json": data}, ["deblur", "in.png", "--from-json"]
        return build

    for s in SEEDS:
        add(f"sidecar-truncated-{s}", side(raw=lambda b, s=s: truncate(json.dumps(b["sidecar"]).encode(), s)))
        add(f"sidecar-random-bytes-{s}", side(raw=lambda b, s=s: random_bytes(s)))
    mutations = {
        "nan-sigma": lambda d: d["noise"].update(sigma="__NaN__"),
        "inf-sigma": lambda d: d["noise"].update(sigma="__Inf__"),
        "negative-sigma": lambda d: d["noise"].update(sigma=-0.1),
        "string-sigma": lambda d: d["noise"].update(sigma="0.01"),
        "no-noise": lambda d: d.pop("noise"),
        "operator-list": lambda d: d.update(operator=[1, 2]),
        "no-op": lambda d: d["operator"].pop("op"),
        "unknown-op": lambda d: d["operator"].update(op="warp"),
        "string-kernel-size": lambda d: d["operator"].update(kernel_size="5"),
        "huge-kernel-size": lambda d: d["operator"].update(kernel_size=10**9),
        "nan-kernel-std": lambda d: d["operator"].update(kernel_std="__NaN__"),
        "bad-boundary": lambda d: d["operator"].update(boundary="mirror"),
        "file-kernel-nan": lambda d: d.update(operator={"op": "blur", "kernel": "file", "boundary": "reflect",
                                                        "values": [[1, "__NaN__"], [1, 1]]}),
        "file-kernel-ragged": lambda d: d.update(operator={"op": "blur", "kernel": "file", "boundary": "reflect",
                                                           "values": [[1, 2], [1]]}),
        "file-kernel-text": lambda d: d.update(operator={"op": "blur", "kernel": "file", "boundary": "reflect",
                                                         "values": "abc"}),
        "wrong-task": lambda d: d.update(task="sr"),
        "wrong-format": lambda d: d.update(format="something-else"),
        "not-an-object": lambda d: (d.clear(), d.update({"format": "restore-measurement"})),
    }
    for name, m in mutations.items():
        add(f"sidecar-{name}", side(m))
    add("sidecar-deep-nesting", side(raw=lambda b: b"[" * 100_000 + b"]" * 100_000))
    add("sidecar-not-utf8", side(raw=lambda b: b'{"format": "\xff\xfe"}'))
    add("sidecar-inpaint-mask-missing", lambda b: (
        {"in.png": b["enc"][".png"], "in.json": json.dumps({**b["sidecar"], "task": "inpaint", "operator": {
            "op": "inpaint", "mask": "file", "path": "nowhere/mask.png"}}).encode()},
        ["inpaint", "in.png", "--from-json"]))
    add("sidecar-sr-huge-factor", lambda b: (
        {"in.png": b["enc"][".png"], "in.json": json.dumps({**b["sidecar"], "task": "sr", "operator": {
            "op": "downsample", "factor": 10**6, "filter": "bicubic"}}).encode()},
        ["sr", "in.png", "--from-json"]))

    # --- the checkpoint (--prior) ------------------------------------------------------------------------
    def ckpt(make):
        def build(b):
            files = make(b)
            return {"in.png": b["enc"][".png"], **files}, ["deblur", "in.png", "--kernel-size", "5",
                                                            "--prior", "p", "--steps", "1"]
        return build

    def tiny(b):
        return (b["tiny"].with_suffix(".safetensors").read_bytes(), b["tiny"].with_suffix(".json").read_bytes())

    for s in SEEDS:
        add(f"prior-truncated-weights-{s}", ckpt(lambda b, s=s: {"p.safetensors": truncate(tiny(b)[0], s),
                                                                 "p.json": tiny(b)[1]}))
        add(f"prior-random-weights-{s}", ckpt(lambda b, s=s: {"p.safetensors": random_bytes(s, 4000),
                                                              "p.json": tiny(b)[1]}))
        add(f"prior-truncated-config-{s}", ckpt(lambda b, s=s: {"p.safetensors": tiny(b)[0],
                                                                "p.json": truncate(tiny(b)[1], s)}))
    add("prior-huge-header", ckpt(lambda b: {"p.safetensors": struct.pack("<Q", 2**62) + b"{}",
                                             "p.json": tiny(b)[1]}))
    add("prior-wrong-architecture", ckpt(lambda b: {"p.safetensors": tiny(b)[0], "p.json": json.dumps(
        {**json.loads(tiny(b)[1]), "unet": {**json.loads(tiny(b)[1])["unet"], "base": 16}}).encode()}))
    add("prior-config-not-restore", ckpt(lambda b: {"p.safetensors": tiny(b)[0], "p.json": b'{"format": "x"}'}))
    add("prior-weights-only", ckpt(lambda b: {"p.safetensors": tiny(b)[0]}))
    add("prior-nan-weights", ckpt(lambda b: {"p.safetensors": _nan_weights(b["tiny"]), "p.json": tiny(b)[1]}))
    add("prior-image-file", lambda b: ({"in.png": b["enc"][".png"], "small.png": b["enc"][".png"]},
                                       deblur + ["--prior", "small.png"]))
    add("prior-folder-without-config", lambda b: ({"in.png": b["enc"][".png"], "pdir/readme.txt": b"x"},
                                                  deblur + ["--prior", "pdir"]))
    add("prior-garbage.pt", lambda b: ({"in.png": b["enc"][".png"], "p.pt": random_bytes(3, 1000)},
                                       deblur + ["--prior", "p.pt"]))
    return cases


def _nan_weights(tiny: Path) -> bytes:
    state = load_file(str(tiny.with_suffix(".safetensors")))
    k = sorted(state)[0]
    state[k] = state[k].clone()
    state[k].view(-1)[0] = float("nan")
    out = tiny.parent / "nan.safetensors"
    save_file(state, str(out))
    return out.read_bytes()


CASES = _cases()


# ----------------------------------------------------------------------------- the assertions
def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` (files and folders) with the SHA-256 of each file."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


def shown(caught) -> list[str]:
    """The warnings Python would print by default (ResourceWarning/DeprecationWarning are hidden)."""
    hidden = (ResourceWarning, DeprecationWarning, PendingDeprecationWarning)
    return [str(w.message) for w in caught if not issubclass(w.category, hidden)]


def assert_refused(result, fd_err: str, before: dict, after: dict):
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert fd_err == "", f"a library wrote to file descriptor 2: {fd_err!r}"
    assert after == before, "a file was created or changed"


@pytest.mark.parametrize("build", CASES)
def test_hostile_file_refused(build, base, tmp_path, monkeypatch, capfd):
    files, args = build(base)
    for name, data in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    monkeypatch.chdir(tmp_path)
    if "--prior" not in args:
        args = [*args, "--prior", str(base["tiny"]), "--steps", "1"]
    before = snapshot(tmp_path)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:  # a warning would be a second stderr line
        warnings.simplefilter("always")
        r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert_refused(r, capfd.readouterr().err, before, snapshot(tmp_path))
    assert shown(caught) == []


def test_case_count():
    """The number of hostile cases tried (reported in the notes): each reader gets every kind."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 130
    for reader in ("image", "mask", "kernel", "sidecar", "prior"):
        assert sum(i.startswith(reader) for i in ids) >= 10, reader


def test_truncation_is_seeded():
    data = bytes(range(256)) * 4
    assert truncate(data, 3) == truncate(data, 3) and truncate(data, 3) != data
    assert flip_bytes(data, 2) == flip_bytes(data, 2) != data


# ----------------------------------------------------------------------------- checkpoints never run code
class _Payload:
    """Unpickling this calls ``open(marker, "w")``: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("kind", ["torch-zip", "raw-pickle"])
def test_pickle_with_code_refused(kind, base, tmp_path, monkeypatch, capfd):
    marker = tmp_path / "pwned"
    payload = {"state_dict": {"w": torch.zeros(2)}, "evil": _Payload(str(marker))}
    if kind == "torch-zip":
        torch.save(payload, tmp_path / "evil.pt")
    else:
        (tmp_path / "evil.pt").write_bytes(pickle.dumps(payload))
    (tmp_path / "in.png").write_bytes(base["enc"][".png"])
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = CliRunner().invoke(main, ["deblur", "in.png", "--kernel-size", "5", "--prior", "evil.pt"],
                               catch_exceptions=False)
    assert_refused(r, capfd.readouterr().err, before, snapshot(tmp_path))
    assert shown(caught) == []
    assert not marker.exists()
    assert "evil.pt" in r.stderr and "weights_only" in r.stderr


# ----------------------------------------------------------------------------- no false refusals
@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".ppm", ".pgm", ".webp", ".gif", ".tga"])
def test_valid_files_pass_the_header_check(ext, base, tmp_path):
    """The header reader gets every format's true size, and a valid file of each format still reads
    (PIL writes the GIF and TGA, OpenCV the others; progressive JPEG and big-endian TIFF included)."""
    from PIL import Image

    from restore.image_header import probe
    from restore.io import read_image

    rgb = base["rgb"]
    if ext in (".gif", ".tga"):
        Image.fromarray(rgb[..., ::-1]).save(tmp_path / f"a{ext}")
    else:
        cv2.imwrite(str(tmp_path / f"a{ext}"), rgb[..., 1] if ext == ".pgm" else rgb)
    files = [tmp_path / f"a{ext}"]
    if ext == ".jpg":
        cv2.imwrite(str(tmp_path / "p.jpg"), rgb, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        files.append(tmp_path / "p.jpg")
    if ext == ".tif":
        tifffile.imwrite(tmp_path / "be.tif", rgb, byteorder=">")
        files.append(tmp_path / "be.tif")
    for f in files:
        fmt, size = probe(f.read_bytes())
        assert size in (None, (W, H)) and (size is not None or fmt == "other"), (f.name, fmt, size)
        x, _ = read_image(f)
        assert tuple(x.shape[-2:]) == (H, W)


def test_bad_checksum_in_an_ancillary_png_chunk_is_tolerated(base, tmp_path):
    """libpng only warns about a bad CRC outside the image data (here a tEXt chunk); so do we."""
    from restore.io import read_image

    png = base["enc"][".png"]
    text = png_chunk(b"tEXt", b"Comment\0hello")
    bad = text[:-4] + bytes(4)
    (tmp_path / "t.png").write_bytes(png[:33] + bad + png[33:])  # after the 8-byte signature and IHDR
    x, _ = read_image(tmp_path / "t.png")
    assert tuple(x.shape[-2:]) == (H, W)
