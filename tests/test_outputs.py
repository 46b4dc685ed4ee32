"""Issue 16, "nothing lost, nothing wasted": every output is checked before the prior is loaded, the
outputs of a command appear together or not at all, messages name the paths as typed, and the
cases the issue lists (compare format, read-only folder, sharpening/even kernels, --prior that is
not a checkpoint, help of options that do not apply, 16-bit TIFF, memory) are refused in one line."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from tiny_prior import write_tiny_prior

from restore.cli import main, memory, pipeline
from restore.cli.outputs import OutputSet
from restore.guidance import chain_groups

H, W = 24, 32


@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    d = tmp_path_factory.mktemp("prior")
    write_tiny_prior(d / "tiny")
    return str(d / "tiny")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with in.png, small.png, deep.png (16-bit), sub/mask_wrong.png, a sharpening kernel and an
    unwritable folder 'rodir'; the working directory for relative paths."""
    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur((rng.random((H, W, 3)) * 255).astype(np.uint8), (5, 5), 1.5)
    cv2.imwrite(str(tmp_path / "in.png"), rgb)
    cv2.imwrite(str(tmp_path / "small.png"), rgb[::4, ::4])
    cv2.imwrite(str(tmp_path / "deep.png"), rgb.astype(np.uint16) * 257)
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "mask_wrong.png"), np.full((H - 4, W), 255, np.uint8))
    np.save(tmp_path / "sub" / "sharpen.npy", np.array([[0., -1, 0], [-1, 5, -1], [0, -1, 0]]))
    rodir = tmp_path / "rodir"
    rodir.mkdir()
    rodir.chmod(0o555)
    if os.access(rodir, os.W_OK):  # root ignores permission bits: use a folder nobody can create files in
        rodir.chmod(0o755)
        rodir.rmdir()
        rodir.symlink_to("/proc/self")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    if not rodir.is_symlink():
        rodir.chmod(0o755)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "rodir" not in p.parts}


def invoke(*args, prior=None):
    args = [str(a) for a in args]
    if prior:
        args += ["--prior", prior]
        if args[0] != "denoise" or "--method" in args:  # denoise's default (tweedie) has no steps
            args += ["--steps", "2"]
    if args and args[0] == "deblur" and not {"--kernel", "--kernel-std", "--from-json", "--method"} & set(args):
        args += ["--kernel", "gauss", "--kernel-std", "3"]  # a known kernel (the blind default: test_cli_blind.py)
    return CliRunner().invoke(main, args, catch_exceptions=False)


def assert_bad(r, *words, absent=()):
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: error: "), r.stderr
    assert "Traceback" not in r.output
    for w in words:
        assert w in lines[0], lines[0]
    for w in absent:
        assert w not in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def no_prior(monkeypatch):
    """Fail the test if the prior is loaded (the refusal must come before it)."""
    def refuse(*a, **k):
        raise AssertionError("the prior was loaded before the bad output was noticed")
    monkeypatch.setattr(pipeline, "load_prior", refuse)


# ----------------------------------------------------------------------------- 1, 2: outputs checked up front
@pytest.mark.parametrize("args, words", [
    (["-o", "c1.png", "--compare", "cmp.bmp"], ["--compare 'cmp.bmp'", "'.bmp'", ".pdf"]),
    (["-o", "c1.bmp"], ["output 'c1.bmp'", ".png"]),
    (["-o", "c1.png", "--samples", "2", "--uncertainty", "u.gif"], ["--uncertainty 'u.gif'"]),
    (["-o", "rodir/out.png"], ["output 'rodir/out.png'", "folder 'rodir' is not writable"]),
    (["-o", "ok.png", "--compare", "rodir/cmp.png"], ["--compare 'rodir/cmp.png'", "'rodir'"]),
    (["-o", "nodir/out.png"], ["folder 'nodir' does not exist"]),
    (["-o", "sub"], ["'sub'", "directory"]),
    (["-o", "ok.png", "--compare", "ok.png"], ["same file 'ok.png'"]),
    (["-o", "in.png", "--overwrite"], ["it is an input file"]),
    (["-o", "x.png", "--compare", "in.png", "--overwrite"], ["--compare 'in.png'", "input"]),
])
def test_bad_output_refused_before_the_prior(work, no_prior, args, words):
    before = snapshot(work)
    line = assert_bad(invoke("deblur", "in.png", "--kernel-size", "3", *args), *words, absent=(".tmp", str(work)))
    assert snapshot(work) == before, line
    assert not [p for p in work.rglob("*") if ".tmp" in p.name]


def test_existing_output_kept_and_rerun_works(work, prior):
    (work / "c1.png").write_bytes(b"keep")
    assert_bad(invoke("deblur", "in.png", "--kernel-size", "3", "-o", "c1.png", "--compare", "c.png", prior=prior),
               "output 'c1.png' already exists", "--overwrite")
    assert (work / "c1.png").read_bytes() == b"keep" and not (work / "c.png").exists()
    r = invoke("deblur", "in.png", "--kernel-size", "3", "-o", "c1.png", "--compare", "c.png", "--overwrite",
               "-q", prior=prior)
    assert r.exit_code == 0, r.output
    assert cv2.imread("c1.png").shape == (H, W, 3) and Path("c.png").stat().st_size > 0


def test_failure_after_the_solve_leaves_nothing(work, prior, monkeypatch):
    """An error while the outputs are being produced (here: the figure) leaves no output, no temporary."""
    import restore.cli.figure as figure

    def broken(*a, **k):
        raise ValueError("figure failed")
    monkeypatch.setattr(figure, "compare_figure", broken)
    before = snapshot(work)
    assert_bad(invoke("deblur", "in.png", "--kernel-size", "3", "-o", "o.png", "--samples", "2",
                      "--uncertainty", "u.png", "--compare", "c.png", prior=prior), "figure failed")
    assert snapshot(work) == before


def test_all_outputs_written_together(work, prior):
    r = invoke("deblur", "in.png", "--kernel-size", "3", "-o", "o.png", "--samples", "2", "--uncertainty", "u.png",
               "--compare", "c.pdf", "-q", prior=prior)
    assert r.exit_code == 0, r.output
    assert {"o.png", "u.png", "c.pdf"} <= set(os.listdir(work))
    assert Path("c.pdf").read_bytes().startswith(b"%PDF")
    assert not [p for p in work.rglob("*") if p.name.startswith(".")]


def test_simulate_outputs_together(work, no_prior):
    (work / "m.json").write_text("{}")
    before = snapshot(work)
    assert_bad(invoke("simulate", "in.png", "--task", "deblur", "--kernel-size", "3", "-o", "m.png"),
               "sidecar 'm.json' already exists")
    assert snapshot(work) == before  # the measurement was not written without its sidecar


# ----------------------------------------------------------------------------- OutputSet: all or nothing
def test_commit_rolls_back(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.json"
    a.write_bytes(b"old a")
    outs = OutputSet([], overwrite=True)
    outs.add("output", str(a), "image")
    outs.add("sidecar", str(b), "json")
    outs.validate()
    outs.write("output", b"new a")
    outs.write("sidecar", b"new b")
    os.unlink(outs.outputs["sidecar"].tmp)  # the second rename will fail
    with pytest.raises(ValueError, match="nothing was written"):
        outs.commit()
    assert a.read_bytes() == b"old a" and not b.exists()
    assert sorted(os.listdir(tmp_path)) == ["a.png"]


def test_commit_never_clobbers_a_file_that_appeared(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    outs = OutputSet([], overwrite=False)
    outs.add("output", str(a), "image")
    outs.add("--compare", str(b), "figure")
    outs.validate()
    outs.write("output", b"A")
    outs.write("--compare", b"B")
    b.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError, match="--compare"):
        outs.commit()
    assert not a.exists() and b.read_bytes() == b"someone else's"
    assert sorted(os.listdir(tmp_path)) == ["b.png"]


def test_interrupt_while_staging_leaves_nothing(work, prior, monkeypatch):
    """Ctrl-C (or SIGTERM, a KeyboardInterrupt too) between two staged outputs: exit 130, nothing left."""
    from restore.interrupts import Terminated

    real = OutputSet.write
    for exc, code in ((KeyboardInterrupt, 130), (Terminated, 143)):
        calls = []

        def write(self, label, data, exc=exc):
            calls.append(label)
            if len(calls) == 2:
                raise exc()
            return real(self, label, data)
        monkeypatch.setattr(OutputSet, "write", write)
        before = snapshot(work)
        r = invoke("deblur", "in.png", "--kernel-size", "3", "-o", "o.png", "--compare", "c.png", prior=prior)
        assert r.exit_code == code and r.stderr.strip().endswith("restore: interrupted"), r.output
        assert snapshot(work) == before and not [p for p in work.rglob("*") if p.name.startswith(".")]


# ----------------------------------------------------------------------------- 3, 5, 6: inputs, in the user's words
def test_sharpening_kernel_and_even_sizes_refused(work, no_prior):
    assert_bad(invoke("deblur", "in.png", "--kernel", "sub/sharpen.npy"), "kernel file 'sub/sharpen.npy'",
               "negative")
    for kind in ("gauss", "uniform"):
        assert_bad(invoke("deblur", "in.png", "--kernel", kind, "--kernel-size", "4"), "must be odd", kind)
    assert_bad(invoke("simulate", "in.png", "--task", "deblur", "--kernel-size", "6"), "must be odd")


def test_prior_that_is_not_a_checkpoint(work):
    line = assert_bad(invoke("deblur", "in.png", "--kernel-size", "3", "--prior", "small.png"),
                      "prior 'small.png' is not a checkpoint")
    assert "not found" not in line
    assert_bad(invoke("deblur", "in.png", "--kernel-size", "3", "--prior", "nothing"), "prior 'nothing' not found")
    assert_bad(invoke("deblur", "in.png", "--kernel-size", "3", "--prior", "sub"), "prior 'sub' is a folder")


@pytest.mark.parametrize("args, shown", [
    (["deblur", "sub/none.png"], "'sub/none.png'"),
    (["inpaint", "in.png", "--mask", "sub/mask_wrong.png"], "'sub/mask_wrong.png'"),
    (["inpaint", "in.png", "--mask", "sub/nomask.png"], "'sub/nomask.png'"),
    (["deblur", "in.png", "--kernel", "sub/nokernel.npy"], "'sub/nokernel.npy'"),
    (["deblur", "in.png", "--kernel-size", "3", "--reference", "small.png"], "'small.png'"),
    (["deblur", "in.png", "--from-json", "sub/none.json"], "'sub/none.json'"),
    (["deblur", "in.png", "--kernel-size", "3", "--prior", "sub/none"], "'sub/none'"),
    (["deblur", "in.png", "--kernel-size", "3", "-o", "sub/no/x.png"], "'sub/no/x.png'"),
    (["simulate", "in.png", "--task", "inpaint", "--mask", "sub/mask_wrong.png"], "'sub/mask_wrong.png'"),
])
def test_messages_name_paths_as_typed(work, args, shown):
    assert_bad(invoke(*args), shown, absent=(str(work),))


def test_sidecar_mask_path_relative_to_the_sidecar(work, prior):
    """A mask named in a sidecar is found beside the sidecar, and named from there in messages."""
    r = invoke("simulate", "in.png", "--task", "inpaint", "--mask-random", "0.3", "-o", "sub/m.png", "-q")
    assert r.exit_code == 0, r.output
    side = Path("sub/m.json")
    import json
    d = json.loads(side.read_text())
    d["operator"] = {"op": "inpaint", "mask": "file", "path": "mask_wrong.png"}
    side.write_text(json.dumps(d))
    assert_bad(invoke("inpaint", "sub/m.png", "--from-json", prior=prior), "'sub/mask_wrong.png'",
               absent=(str(work),))


# ----------------------------------------------------------------------------- 7, 8: help and TIFF
def test_help_lists_only_options_that_apply():
    for cmd in ("sr", "inpaint", "colorize"):
        assert "--tile" not in invoke(cmd, "--help").output
        assert_bad(invoke(cmd, "x.png", "--tile", "64"), "--tile")
    for cmd in ("deblur", "denoise"):
        assert "--tile" in invoke(cmd, "--help").output
    for cmd in ("denoise", "colorize"):
        text = " ".join(invoke(cmd, "--help").output.split())
        assert "noise level" in text and "operator" not in text


def test_16bit_tiff_is_uncompressed(work, prior):
    r = invoke("denoise", "deep.png", "--noise", "0.02", "-o", "d.tif", "-q", prior=prior)
    assert r.exit_code == 0, r.output
    with tifffile.TiffFile("d.tif") as t:
        page = t.pages[0]
        assert page.compression == 1 and page.dtype == np.uint16  # 1 = none: no codec needed
        data = page.asarray()
    assert np.array_equal(data, cv2.imread("d.tif", cv2.IMREAD_UNCHANGED)[..., ::-1])


# ----------------------------------------------------------------------------- memory
def test_memory_refusal(work, no_prior, monkeypatch):
    monkeypatch.setenv(memory.LIMIT_ENV, "1M")
    before = snapshot(work)
    line = assert_bad(invoke("sr", "small.png", "-o", "s.png"), "not enough memory", "needs about",
                      "1.0 MiB is available")
    assert snapshot(work) == before, line
    monkeypatch.setenv(memory.LIMIT_ENV, "lots")
    assert_bad(invoke("sr", "small.png", "-o", "s.png"), memory.LIMIT_ENV)


def test_memory_tiles_when_the_whole_image_does_not_fit(work, prior, monkeypatch):
    big = np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    cv2.imwrite("big.png", big)
    shape = (1, 3, 200, 200)
    whole = memory.estimate("diffpir", shape, 1, None, prior, chain_groups)
    tile = memory.estimate("diffpir", shape, 1, 128, prior, chain_groups)
    assert tile.solve < whole.solve
    monkeypatch.setenv(memory.LIMIT_ENV, str((tile.solve + tile.host + whole.solve + whole.host) // 2))
    import json
    r = invoke("deblur", "big.png", "--kernel-size", "3", "-o", "b.png", "--json", prior=prior)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tiles"] > 1
    assert_bad(invoke("deblur", "big.png", "--kernel-size", "3", "-o", "b2.png", "--tile", "off", prior=prior),
               "not enough memory", "--tile")


def test_memory_estimate_grows_with_work():
    e = lambda m, n, k=1, t=None: memory.estimate(m, (1, 3, n, n), k, t, "default", chain_groups)  # noqa: E731
    assert e("ddrm", 512).solve > e("ddrm", 256).solve > e("ddrm", 64).solve
    assert e("dps", 256).solve > 4 * (e("ddrm", 256).solve - memory.SAFETY * memory.FIXED) / 1.5
    assert e("ddrm", 64, k=8).solve > e("ddrm", 64, k=1).solve  # small images: chains batched together
    assert e("ddrm", 1024, t=256).solve < e("ddrm", 1024).solve
    assert memory.parse_size("2G") == 2 * 2**30 and memory.parse_size("500M") == 500 * 2**20
    assert memory.parse_size("1024") == 1024


def test_example_copy_keeps_existing_files(tmp_path):
    (tmp_path / "example.png").write_bytes(b"mine")
    r = invoke("example", "--copy", tmp_path)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "example.png").read_bytes() == b"mine" and "kept existing" in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["example.png", "example_blurred.json", "example_blurred.png"]
