"""Speed bookkeeping of the guidance methods (issue 5; timings in benchmarks/SPEED.md).

What is checked here is what makes the time outside the network small and that can silently
regress: every method calls the prior exactly ``steps`` times (network evaluations), and the
operator's spectral quantities (kernel transfer function, |H| and phases, the bicubic matrices'
SVDs, the problem's ȳ/σ_c) are computed once per solve, not once per step.
"""
import warnings

import pytest
import torch

import operators as O
import restore
from operators.blur import FourierSVD
from restore.guidance import base as guidance_base
from restore.priors import GaussianPrior

SIZE = 16
ONE_CALL_PER_STEP = ("dps", "pigdm", "ddrm", "ddnm", "diffpir", "projection")


class CountingPrior:
    def __init__(self, prior):
        self.prior, self.calls = prior, 0

    def denoise(self, x, sigma):
        self.calls += 1
        return self.prior.denoise(x, sigma)

    def __getattr__(self, name):
        return getattr(self.prior, name)


def _prior():
    return GaussianPrior(torch.full((3, SIZE, SIZE), 0.5, dtype=torch.float64), 0.05)


def _operators():
    return {
        "blur-circular": lambda: O.GaussianBlur(5, 1.0),
        "blur-reflect": lambda: O.GaussianBlur(5, 1.0, boundary="reflect"),  # no SVD: CG paths, fallbacks
        "sr4-bicubic": lambda: O.Downsample(4, "bicubic"),
        "inpaint-box": lambda: O.Inpainting(O.box_mask((SIZE, SIZE), 6, 2, seed=0)),
        "identity": lambda: O.Identity(),
    }


def _solve(method, A, steps, sigma_y=0.025, **kw):
    x = _prior().sample(1, seed=0, dtype=torch.float64)
    y = O.GaussianNoise(sigma_y)(A(x), seed=1)
    prior = CountingPrior(_prior())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ddrm → ddnm and projection → pigdm fallbacks warn
        restore.solve(y, A, prior, method=method, sigma_y=sigma_y, steps=steps, seed=0, **kw)
    return prior.calls


@pytest.mark.parametrize("op", list(_operators()))
@pytest.mark.parametrize("method", ONE_CALL_PER_STEP)
@pytest.mark.parametrize("sigma_y", [0.025, 0.0])
def test_network_evaluations_equal_steps(method, op, sigma_y):
    for steps in (1, 3):
        assert _solve(method, _operators()[op](), steps, sigma_y) == steps


def test_daps_network_evaluations():
    # one Euler step per level when ode_steps = 1.  Otherwise n Heun steps (2 calls each, 1 on the
    # last step to 0), except at the last level σ_min, which takes a single step to 0.
    assert _solve("daps", O.GaussianBlur(5, 1.0), 4, ode_steps=1, langevin_steps=2) == 4
    n = 3
    assert _solve("daps", O.GaussianBlur(5, 1.0), 3, ode_steps=n, langevin_steps=2, sigma_min=0.01) == 2 * (2 * n - 1) + 1


def _count_calls(monkeypatch, owner, name):
    counter = {"n": 0}
    original = getattr(owner, name)

    def wrapped(*args, **kwargs):
        counter["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)
    return counter


@pytest.mark.parametrize("method", ["ddrm", "ddnm", "pigdm", "diffpir", "projection", "dps", "daps"])
def test_blur_spectrum_computed_once_per_solve(monkeypatch, method):
    """The kernel's FFT (transfer function) and |H|/phase are cached on the operator: their count
    does not grow with the number of steps."""
    counts = []
    for steps in (2, 5):
        A = O.GaussianBlur(5, 1.0)
        kernel = _count_calls(monkeypatch, A, "_kernel")  # called once per transfer-function build
        phase = _count_calls(monkeypatch, FourierSVD, "_phase")
        _solve(method, A, steps, **({"langevin_steps": 2, "ode_steps": 2} if method == "daps" else {}))
        counts.append((kernel["n"], phase["n"]))
        monkeypatch.undo()
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 2 and counts[0][1] <= 1, counts  # full + one-sided FFT of the kernel; one phase


@pytest.mark.parametrize("method", ["ddrm", "ddnm", "pigdm", "diffpir", "projection", "pinv", "wiener"])
def test_bicubic_svd_computed_once_per_solve(monkeypatch, method):
    """The 1-D bicubic matrices' SVD is computed once per axis length (square image: once), not per step."""
    svd = _count_calls(monkeypatch, torch.linalg, "svd")
    A = O.Downsample(4, "bicubic")
    _solve(method, A, 4)
    assert svd["n"] == 1


@pytest.mark.parametrize("method", ["ddrm", "ddnm", "projection", "daps", "wiener"])
def test_problem_spectral_built_once(monkeypatch, method):
    built = _count_calls(monkeypatch, guidance_base.Spectral, "__init__")
    # DAPS: the gradient inner loop reads ‖𝒜‖² from it (the deblur default's CG inner loop needs no spectrum)
    _solve(method, O.GaussianBlur(5, 1.0), 4,
           **({"langevin_steps": 2, "ode_steps": 1, "inner": "langevin"} if method == "daps" else {}))
    assert built["n"] == 1


def test_fourier_svd_cache_is_exact():
    """The cached |H| and phase give exactly what the uncached formulas give."""
    A = O.GaussianBlur(5, 1.0)
    y = torch.rand(2, 3, SIZE, SIZE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    svd = A.svd
    H = A.transfer(SIZE, SIZE, y.device, y.dtype)
    a = H.abs()
    phase = torch.where(a > 0, H / torch.where(a > 0, a, torch.ones_like(a)), torch.ones_like(H))
    assert torch.equal(svd.singular_values(y.shape, y.device, y.dtype), a)
    assert torch.equal(svd.Ut(y), torch.fft.fft2(y, norm="ortho") * (phase.conj() * (a > 0)))
    c = svd.Vt(y)
    assert torch.equal(svd.U(c), torch.fft.ifft2(c * phase, norm="ortho").real)
    assert A.svd.singular_values(y.shape, y.device, y.dtype) is svd.singular_values(y.shape, y.device, y.dtype)
