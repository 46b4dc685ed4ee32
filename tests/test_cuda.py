"""GPU paths (issue 17): run with ``python -m pytest -m cuda`` on a machine with a CUDA GPU.

On CPU-only machines (CI) every test here is skipped with its reason; nothing else in the suite needs
a GPU.  What each test checks is the same promise the CPU tests make, on ``cuda``: exact adjoints and
A A† A = A, seeded draws identical to the CPU's, every method and operator through ``restore.solve``,
one training step and the CLI.
"""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny_prior import write_tiny_prior

import operators as O
import restore
from restore.guidance import REGISTRY
from restore.priors import GaussianPrior

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run with -m cuda there)")]

DEV = torch.device("cuda")
OPERATORS = {
    "blur-circular": lambda: O.GaussianBlur(7, 1.5),
    "blur-reflect": lambda: O.GaussianBlur(5, 0.6, boundary="reflect"),  # well conditioned: CG converges
    "sr": lambda: O.Downsample(2, "bicubic"),
    "inpaint": lambda: O.Inpainting(O.random_mask((16, 16), 0.5, seed=0)),
    "denoise": lambda: O.Identity(),
}


@pytest.mark.parametrize("name", list(OPERATORS))
def test_operators_on_cuda(name):
    A = OPERATORS[name]()
    shape = (2, 3, 16, 16)
    assert A.check_adjoint(shape, device=DEV) < 1e-10
    x = O.randn(shape, 0, DEV, torch.float64)
    ax = A(x)
    rel = float((A(A.pinv(ax)) - ax).norm() / ax.norm())
    assert rel < 1e-5
    torch.testing.assert_close(A(x).cpu(), A(x.cpu()), rtol=1e-10, atol=1e-10)


def test_seeded_draws_are_the_same_on_cpu_and_gpu():
    for shape in ((3, 5), (2, 3, 8, 8)):
        torch.testing.assert_close(O.randn(shape, 7, DEV).cpu(), O.randn(shape, 7))
    assert torch.equal(O.random_mask((16, 16), 0.3, seed=2), O.random_mask((16, 16), 0.3, seed=2))
    torch.testing.assert_close(O.MotionBlur(9, seed=4).kernel, O.MotionBlur(9, seed=4).kernel)
    y = torch.zeros(1, 3, 8, 8)
    torch.testing.assert_close(O.GaussianNoise(0.1)(y.to(DEV), seed=3).cpu(), O.GaussianNoise(0.1)(y, seed=3))


def _gaussian_on(device):
    """The analytic N(½, ¼ I) prior's exact denoiser, evaluated on the CPU and returned on ``device``."""
    prior = GaussianPrior(torch.full((3, 16, 16), 0.5), 0.25)

    def denoise(x, sigma):
        s = torch.as_tensor(sigma).reshape(-1).cpu()
        return prior.denoise(x.cpu().double(), s.double()).to(x.device, x.dtype)

    return denoise


@pytest.mark.parametrize("method", [m for m, spec in REGISTRY.items() if spec.samples])
@pytest.mark.parametrize("name", list(OPERATORS))
def test_every_method_on_every_operator_on_cuda(method, name):
    """The same seeded streams on both devices: a CUDA solve equals the CPU solve (float64)."""
    A = OPERATORS[name]()
    x = O.rand((1, 3, 16, 16), 0, dtype=torch.float64)
    y = O.GaussianNoise(0.05)(A(x), seed=1)
    out = restore.solve(y.to(DEV), A, _gaussian_on(DEV), method=method, sigma_y=0.05, steps=10, seed=0)
    cpu = restore.solve(y, A, _gaussian_on(torch.device("cpu")), method=method, sigma_y=0.05, steps=10, seed=0)
    assert out.device.type == DEV.type and bool(torch.isfinite(out).all())
    assert float((out.cpu() - cpu).abs().max()) < 1e-6


def test_closed_form_posterior_mean_on_cuda():
    """Projection draws on CUDA average to the closed-form posterior mean within Monte-Carlo error."""
    from restore.guidance.exact import gaussian_posterior
    A = O.Inpainting(O.random_mask((16, 16), 0.5, seed=0))
    x = torch.full((1, 3, 16, 16), 0.7, dtype=torch.float64)
    y = O.GaussianNoise(0.05)(A(x), seed=2)
    K = 256
    xs = restore.sample_posterior(y.to(DEV), A, _gaussian_on(DEV), method="projection", sigma_y=0.05, samples=K,
                                  seed=0, clamp=False)
    m, cov = gaussian_posterior(A, torch.full((3, 16, 16), 0.5, dtype=torch.float64), 0.25, y, 0.05)
    err = (xs.cpu().mean(0) - m).abs().max()
    assert float(err) < 5 * float(cov.diagonal().max().sqrt()) / K**0.5


def test_training_step_and_cli_on_cuda(tmp_path):
    import cv2
    from restore.cli import main
    from restore.training.loop import TrainConfig, train
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(d / f"im{i}.png"), (rng.random((40, 48, 3)) * 255).astype(np.uint8))
    cfg = TrainConfig(data=str(d), out=str(tmp_path / "run"), steps=3, batch=2, patch=16, base=8, mults=(1, 2),
                      blocks=1, ckpt_every=3, val_images=1, device="cuda")
    train(cfg, progress=False)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert hist[-1]["step"] == 3 and np.isfinite(hist[-1]["loss"])
    write_tiny_prior(tmp_path / "tiny")
    r = CliRunner().invoke(main, ["denoise", str(d / "im0.png"), "--prior", str(tmp_path / "tiny"),
                                  "--device", "cuda", "-o", str(tmp_path / "o.png"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["device"].startswith("cuda")
