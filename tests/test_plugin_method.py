"""Adding a guidance method is one registration: a toy method runs through restore.solve,
restore.sample_posterior, the CLI (`--method`, `restore methods`) and `restore bench` with no other edit."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny_prior import write_tiny_prior

import operators as O
import restore
from restore.bench.runner import run_bench
from restore.cli import main
from restore.guidance import REGISTRY, Method, register
from restore.io import write_image
from restore.priors import GaussianPrior


def toy_run(p, steps: int = 3, weight: float = 0.5):
    """x = (1 − w)·𝒜†y + w·D(𝒜†y, σ_last): one denoiser call per step on the pseudo-inverse."""
    x = p.A.pinv(p.y)
    for _ in range(int(steps)):
        x = (1 - weight) * p.A.pinv(p.y) + weight * p.denoise(x, 0.05)
    return x


@pytest.fixture
def toy():
    m = register(Method("toy", toy_run, "Toy: pseudo-inverse pulled toward the denoiser", {"steps": 3, "weight": 0.5}))
    yield m
    del REGISTRY["toy"]


def test_toy_method_through_solve_and_samples(toy):
    prior = GaussianPrior(torch.full((1, 4, 4), 0.5), 0.25)
    A = O.Inpainting((torch.arange(16).view(4, 4) % 3 > 0).double())
    y = A(torch.rand(2, 1, 4, 4, dtype=torch.float64))
    x = restore.solve(y, A, prior, method="toy", sigma_y=0.01, weight=0.0)
    torch.testing.assert_close(x, A.pinv(y).clamp(0, 1))  # weight 0 is the pseudo-inverse
    assert restore.solve(y, A, prior, method="TOY").shape == y.shape
    assert restore.sample_posterior(y, A, prior, method="toy", samples=2).shape == (4, 1, 4, 4)
    assert restore.guidance.defaults("toy", A) == {"steps": 3, "weight": 0.5}
    with pytest.raises(TypeError, match="its options: steps, weight"):
        restore.solve(y, A, prior, method="toy", zeta=1.0)


def test_toy_method_through_cli_and_bench(toy, tmp_path):
    write_tiny_prior(tmp_path / "tiny")
    img = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    write_image(tmp_path / "a.png", img)
    r = CliRunner().invoke(main, ["methods", "--json"])
    assert r.exit_code == 0 and "toy" in [m["name"] for m in json.loads(r.stdout)["methods"]]
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "a.png"), "--method", "toy", "--prior",
                                  str(tmp_path / "tiny"), "--noise", "0.05", "-o", str(tmp_path / "out.png"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["method"] == "toy" and d["steps"] == 3 and (tmp_path / "out.png").is_file()
    rows = run_bench(str(tmp_path), "denoise", "toy", tmp_path / "bench", prior=str(tmp_path / "tiny"),
                     echo=lambda m: None, plots_enabled=False, limit=1)
    assert [r["method"] for r in rows] == ["toy"] and np.isfinite(float(rows[0]["psnr"]))
