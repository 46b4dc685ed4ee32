"""Real signals to real processes: Ctrl-C (SIGINT) and SIGTERM leave no temporary file and no partial
output, for one image and for `restore bench` (which then resumes without recomputing or losing a
row); a second `restore bench` on the same results folder is refused instead of corrupting the table."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from tiny_prior import write_tiny_prior

from restore.bench import results
from restore.cli import main
from restore.io import write_image

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
       "PYTHONPATH": str(Path(__file__).resolve().parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    d = tmp_path_factory.mktemp("signals")
    write_tiny_prior(d / "tiny")
    (d / "data").mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        write_image(d / "data" / f"img{i}.png", torch.rand(1, 3, 32, 32, generator=g))
    write_image(d / "in.png", torch.rand(1, 3, 24, 32, generator=g))
    return d


def listing(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith(".restore-probe")]


def _default_sigint():
    """A shell that runs the suite in the background (``cmd &``) hands it SIGINT ignored, and Python keeps an
    ignored SIGINT; the child must see Ctrl-C as a user's terminal would send it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, cwd, env=None):
    return subprocess.Popen([sys.executable, "-m", "restore.cli", *map(str, args)], cwd=cwd, env={**ENV, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def test_sigterm_during_a_restoration_leaves_nothing(d):
    before = listing(d)
    p = start("denoise", "in.png", "--method", "ddrm", "--prior", "tiny", "--steps", "1000", "--samples", "4",
              "--uncertainty", "u.png", "--compare", "c.png", "-o", "o.png", cwd=d,
              env={"RESTORE_PROGRESS_SECONDS": "0.05"})
    try:
        first = p.stderr.readline()  # the first progress line (stderr is a pipe): the solve is under way
        assert first.startswith("denoise (ddrm): ") and " steps (" in first, first + p.stderr.read()
        time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 143, err
    assert err.strip().splitlines()[-1] == "restore: interrupted" and "Traceback" not in err
    assert listing(d) == before and temporaries(d) == []


def test_bench_interrupted_locked_and_resumed(d):
    out = d / "res"
    args = ["bench", "--data", d / "data", "--task", "gauss-deblur", "--method", "diffpir", "--steps", "120",
            "--prior", d / "tiny", "--out", out, "--no-plots", "-q"]
    p = start(*args, cwd=d)
    try:
        deadline = time.monotonic() + 90
        while not results.read_rows(out / "results.csv"):  # wait for the first row, then interrupt row 2
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.05)
        # a second run on the same folder is refused in one line, and leaves the table alone
        table = (out / "results.csv").read_bytes()
        r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert r.exit_code == 2 and r.stderr.strip().count("\n") == 0, r.output
        assert "is in use by another 'restore bench'" in r.stderr and str(p.pid) in r.stderr
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert (out / "results.csv").read_bytes().startswith(table)
    assert temporaries(out) == []
    rows = results.read_rows(out / "results.csv")
    assert 1 <= len(rows) < 3, "the run was not interrupted mid-way"
    done = {(r["image"].split("/")[-1], f"{r['method']}_s{r['steps']}_seed{r['seed']}") for r in rows}
    made = {(p.parent.parent.name, p.stem) for p in (out / "images").rglob("diffpir_*.png")}
    assert made == done, "an output image without its row (or a row without its image)"
    for p_ in (out / "images").rglob("diffpir_*.png"):
        assert p_.with_suffix(".json").is_file()

    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)  # resume
    assert r.exit_code == 0, r.output
    after = {results.key_of(x): x for x in results.read_rows(out / "results.csv")}
    assert len(after) == 3 and len(results.read_rows(out / "results.csv")) == 3
    for x in rows:  # not recomputed: the same finish time
        assert after[results.key_of(x)]["finished"] == x["finished"]
    assert temporaries(out) == []
