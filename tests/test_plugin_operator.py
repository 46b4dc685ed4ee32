"""Adding an operator is one file and one registration per surface: a toy operator, described once by
`operators.register_spec`, runs through restore.solve, the CLI (a sidecar and ``--from-json``) and
``restore bench`` (`register_task`) with no other edit."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny_prior import write_tiny_prior

import operators as O
import restore
from restore.bench import tasks as T
from restore.bench.runner import run_bench
from restore.cli import main
from restore.guidance.tuned import task_of
from restore.io import read_image, write_image
from restore.priors import GaussianPrior


class Gain(O.LinearOperator):
    """𝒜x = g·x (a toy: exposure), self-adjoint; pinv and prox come from the base class (CG)."""

    task = "denoise"

    def __init__(self, gain: float):
        if not gain > 0:
            raise ValueError(f"gain must be positive, got {gain}")
        self.gain = float(gain)

    def forward(self, x):
        return self.gain * x

    def adjoint(self, y):
        return self.gain * y


@pytest.fixture
def toy():
    O.register_spec("toy-gain", Gain, lambda A: {"gain": A.gain}, lambda s, x_shape, read_file: Gain(s["gain"]))
    T.register_task("toy-gain", lambda side, kseed, mseed: {"op": "toy-gain", "gain": 0.5}, sigma_y=0.01)
    yield
    del O.SPEC_KINDS["toy-gain"], T.PRESETS["toy-gain"], T.EXTRA_SIGMA["toy-gain"]


def test_spec_round_trip_and_measure(toy):
    A = Gain(0.5)
    s = O.to_spec(A)
    assert s == {"op": "toy-gain", "gain": 0.5}
    B = O.from_spec(s)
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    assert torch.equal(B(x), A(x)) and O.to_spec(B) == s
    y = O.measure(x, B, 0.01, seed=3)
    torch.testing.assert_close(y, O.GaussianNoise(0.01)(A(x), seed=3))
    with pytest.raises(ValueError, match="unknown operator 'nope'"):
        O.from_spec({"op": "nope"})


def test_toy_operator_through_solve_cli_and_bench(toy, tmp_path):
    write_tiny_prior(tmp_path / "tiny")
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    A = O.from_spec({"op": "toy-gain", "gain": 0.5})
    y = O.measure(x, A, 0.01, seed=1)
    # Python: tuned defaults come from the operator's own task attribute
    assert task_of(A) == "denoise"
    assert restore.solve(y, A, GaussianPrior(torch.full((3, 1, 1), 0.5), 0.25), method="pinv").shape == x.shape
    # CLI: a sidecar naming the toy operator is read back by --from-json
    write_image(tmp_path / "y.png", y.clamp(0, 1).float())
    (tmp_path / "y.json").write_text(json.dumps({
        "format": "restore-measurement", "version": 1, "task": "denoise", "operator": O.to_spec(A),
        "noise": {"model": "gaussian", "sigma": 0.01, "seed": 1}}))
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "y.png"), "--from-json", "--method", "pinv", "--prior",
                                  str(tmp_path / "tiny"), "-o", str(tmp_path / "out.png"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["operator"] == {"op": "toy-gain", "gain": 0.5}
    out, _ = read_image(tmp_path / "out.png")
    assert (out.double() - x).abs().max() < 0.1  # 𝒜†y = 2y: the gain is undone
    # bench: one register_task line, rows with PSNR for a method run on the toy task
    (tmp_path / "data").mkdir()
    write_image(tmp_path / "data" / "a.png", x.float())
    rows = run_bench(str(tmp_path / "data"), "toy-gain", "pinv", tmp_path / "bench", prior=str(tmp_path / "tiny"),
                     echo=lambda m: None, plots_enabled=False)
    assert [r["task"] for r in rows] == ["toy-gain"] and float(rows[0]["psnr"]) > 30
    rec = json.loads(next((tmp_path / "bench").rglob("pinv*.json")).read_text())
    assert rec["operator"]["op"] == "toy-gain" and np.isclose(rec["operator"]["sigma_y"], 0.01)
