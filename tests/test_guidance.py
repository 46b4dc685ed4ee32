"""restore.solve: API contract of every guidance method (shapes, devices, seeds, batch independence)."""
import warnings

import pytest
import torch

import operators as O
import restore
from restore.guidance import DEFAULTS, METHODS, REGISTRY, image_seeds
from restore.priors import GaussianPrior

FAST = {  # tiny step counts: these tests check plumbing, the exactness tests check the math
    "dps": {"steps": 4}, "pigdm": {"steps": 4}, "ddrm": {"steps": 4}, "ddnm": {"steps": 4},
    "diffpir": {"steps": 4}, "daps": {"steps": 3, "ode_steps": 2, "langevin_steps": 2},
    "projection": {"steps": 4}, "pinv": {}, "wiener": {}, "tweedie": {},
}


def _prior(channels=1, size=8):
    return GaussianPrior(torch.full((channels, size, size), 0.5, dtype=torch.float64), 0.05)


def _operators():
    mask2 = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    return {
        "identity": (O.Identity(), 1),
        "inpaint-per-image": (O.Inpainting(mask2), 1),
        "blur-circular": (O.GaussianBlur(3, 1.0), 1),
        "blur-reflect": (O.UniformBlur(3, boundary="reflect"), 1),
        "down-box": (O.Downsample(2, "box"), 1),
        "down-bicubic": (O.Downsample(2, "bicubic"), 1),
        "down-strided": (O.Downsample(2, "strided"), 1),
        "grayscale": (O.Grayscale(), 3),
        "compose": (O.Downsample(2, "box") @ O.GaussianBlur(3, 1.0), 1),
    }


def _measure(A, channels, sigma_y, dtype=torch.float64, batch=2, seed=0):
    x = _prior(channels).sample(batch, seed=seed, dtype=dtype)
    ax = A(x)
    return x, (ax + sigma_y * O.randn(ax.shape, seed + 7, dtype=dtype)).clamp(0, 1)


def test_registry_lists_every_method_with_defaults():
    from restore.guidance import REGISTRY
    assert {"dps", "pigdm", "ddrm", "ddnm", "diffpir", "daps", "projection", "pinv", "wiener"} <= set(METHODS)
    for name, info in METHODS.items():
        assert set(info) == {"description", "noise", "svd"} and info["description"]
        m = REGISTRY[name]
        assert set(DEFAULTS[name]) <= set(m.options), name  # every documented default is an option of run
        assert m.fallback is None or m.fallback in REGISTRY
    assert restore.solve is restore.guidance.solve


def test_unknown_option_refused_before_anything_runs():
    """Options are checked against the method's run signature, naming the ones it takes."""
    A = O.Identity()
    y = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(TypeError, match="takes no option.*zetta.*its options: steps, zeta"):
        restore.solve(y, A, _prior(), method="dps", sigma_y=0.05, zetta=1.0)
    with pytest.raises(TypeError, match="takes no option.*foo"):
        restore.solve(y, A, _prior(), method="pinv", foo=1)


def test_bad_method_name_lists_methods():
    A = O.Identity()
    y = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown method 'dpss'.*did you mean 'dps'.*diffpir"):
        restore.solve(y, A, _prior(), method="dpss")


@pytest.mark.parametrize("sigma_y", [0.0, 0.05])
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_on_every_operator(method, sigma_y):
    for name, (A, channels) in _operators().items():
        x, y = _measure(A, channels, sigma_y)
        if REGISTRY[method].tasks == ("denoise",) and not A.is_identity:  # one clear error elsewhere
            with pytest.raises(ValueError, match="denoising only"):
                restore.solve(y, A, _prior(channels), method=method, sigma_y=sigma_y)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # ddrm → ddnm / projection → pigdm fallbacks
            out = restore.solve(y, A, _prior(channels), method=method, sigma_y=sigma_y, seed=3, clamp=False,
                                **FAST[method])
        assert out.shape == x.shape, name
        assert out.dtype == y.dtype and out.device == y.device
        assert bool(torch.isfinite(out).all()), name  # on the raw iterate: clamping would hide ±inf


def test_fallbacks_warn():
    A = O.GaussianBlur(3, 1.0, boundary="reflect")
    _, y = _measure(A, 1, 0.05)
    with pytest.warns(UserWarning, match="using ddnm"):
        restore.solve(y, A, _prior(), method="ddrm", sigma_y=0.05, steps=3)
    with pytest.warns(UserWarning, match="using pigdm"):
        restore.solve(y, A, _prior(), method="projection", sigma_y=0.05, steps=3)


@pytest.mark.parametrize("method", ["dps", "pigdm", "ddrm", "ddnm", "diffpir", "daps", "projection"])
def test_same_seed_same_output_and_batch_independence(method):
    A = O.Inpainting((torch.rand(8, 8, generator=torch.Generator().manual_seed(2)) < 0.6).double())
    _, y = _measure(A, 1, 0.05, batch=2)
    kw = dict(method=method, sigma_y=0.05, samples=2, **FAST[method])
    a = restore.sample_posterior(y, A, _prior(), seed=11, **kw)
    b = restore.sample_posterior(y, A, _prior(), seed=11, **kw)
    c = restore.sample_posterior(y, A, _prior(), seed=12, **kw)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # each image alone with its per-image seed gives the same rows (sample-major: row k·B + b)
    seeds = image_seeds(11, 2)
    for i in range(2):
        alone = restore.sample_posterior(y[i:i + 1], A, _prior(), seed=[seeds[i]], **kw)
        torch.testing.assert_close(alone, a.view(2, 2, 1, 8, 8)[:, i], rtol=1e-10, atol=1e-12)
    # the point estimate too: one row per image, the same alone as in the batch
    point = dict(method=method, sigma_y=0.05, **FAST[method])
    est = restore.solve(y, A, _prior(), seed=11, **point)
    assert est.shape == (2, 1, 8, 8)
    for i in range(2):
        torch.testing.assert_close(restore.solve(y[i:i + 1], A, _prior(), seed=[seeds[i]], **point), est[i:i + 1],
                                   rtol=1e-10, atol=1e-12)


def test_per_image_sigma_and_masks_batch_independent():
    mask2 = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(5)) < 0.5).double()
    A = O.Inpainting(mask2)
    _, y = _measure(A, 1, 0.05)
    sy = torch.tensor([0.0, 0.05], dtype=torch.float64)
    out = restore.sample_posterior(y, A, _prior(), method="ddnm", sigma_y=sy, seed=4, samples=3, steps=5)
    seeds = image_seeds(4, 2)
    for i in range(2):
        alone = restore.sample_posterior(y[i:i + 1], O.Inpainting(mask2[i:i + 1]), _prior(), method="ddnm",
                                         sigma_y=float(sy[i]), seed=[seeds[i]], samples=3, steps=5)
        torch.testing.assert_close(alone, out.view(3, 2, 1, 8, 8)[:, i])


def test_float32_matches_float64_and_clamp_option():
    A = O.GaussianBlur(3, 1.0)
    _, y = _measure(A, 1, 0.05)
    o64 = restore.solve(y, A, _prior(), method="pigdm", sigma_y=0.05, steps=6, seed=1, clamp=False)
    o32 = restore.solve(y.float(), A, _prior(), method="pigdm", sigma_y=0.05, steps=6, seed=1, clamp=False)
    assert o32.dtype == torch.float32
    torch.testing.assert_close(o32.double(), o64, atol=2e-3, rtol=0)
    # clamp=True clamps once, at the very end: the same chain, then clamped (never the intermediate states)
    clamped = restore.solve(y, A, _prior(), method="pigdm", sigma_y=0.05, steps=6, seed=1)
    torch.testing.assert_close(clamped, o64.clamp(0, 1), rtol=0, atol=0)


def test_callback_and_noiseless_consistency():
    A = O.Downsample(2, "box")
    _, y = _measure(A, 1, 0.0)
    seen = []
    out = restore.solve(y, A, _prior(), method="projection", sigma_y=0.0, steps=5, seed=0, clamp=False,
                        callback=lambda i, x, d, s: seen.append((i, s)))
    assert [i for i, _ in seen] == list(range(5))
    torch.testing.assert_close(A(out), y, atol=1e-10, rtol=0)  # σ_y = 0: y is reproduced exactly
    out = restore.solve(y, A, _prior(), method="ddnm", sigma_y=0.0, steps=5, seed=0, clamp=False)
    torch.testing.assert_close(A(out), y, atol=1e-10, rtol=0)


def test_ddnm_plus_noisy_is_sane():
    """σ_y = 0.05 through DDNM+: no amplified noise (output close to the truth, unlike A†y on blur)."""
    A = O.GaussianBlur(5, 2.0)
    prior = _prior()
    x, y = _measure(A, 1, 0.05)
    out = restore.solve(y, A, prior, method="ddnm", sigma_y=0.05, steps=20, seed=0)
    err = (out - x).pow(2).mean().sqrt()
    assert float(err) < 0.3
    assert float(err) < float((A.pinv(y) - x).pow(2).mean().sqrt())


def test_input_errors():
    A = O.Identity()
    with pytest.raises(ValueError, match="NaN"):
        restore.solve(torch.full((1, 1, 8, 8), float("nan")), A, _prior(), method="pinv")
    with pytest.raises(ValueError, match="sigma_y"):
        restore.solve(torch.rand(1, 1, 8, 8), A, _prior(), method="pinv", sigma_y=-1.0)
    with pytest.raises(ValueError, match="channels"):
        restore.solve(torch.rand(1, 3, 8, 8), A, _prior(), method="pinv")
    with pytest.raises(TypeError, match="dps"):
        restore.solve(torch.rand(1, 1, 8, 8), A, _prior(), method="dps", bogus=1)


def test_ddnm_refuses_eta_zero_with_noisy_measurements():
    """DDNM+ admits y only up to the fresh noise η σ_t: η = 0 with σ_y > 0 would ignore y — refused."""
    A = O.GaussianBlur(3, 1.0)
    x, y = _measure(A, 1, 0.05)
    with pytest.raises(ValueError, match="needs eta > 0"):
        restore.solve(y, A, _prior(), "ddnm", sigma_y=0.05, steps=4, eta=0.0)
    out = restore.solve(A(x), A, _prior(), "ddnm", sigma_y=0.0, steps=4, eta=0.0)  # noiseless: plain DDNM
    assert torch.isfinite(out).all()


# -- DAPS's conjugate-gradient inner solve --------------------------------------------------------------
def test_daps_cg_inner_solve_is_the_gaussian_map_and_its_krylov_truncation():
    """gaussian_map_cg: with as many steps as unknowns it is the exact minimiser of
    ‖x − x̂‖²/(2r²) + ‖𝒜x − y‖²/(2σ²) (dense solve); one step is steepest descent with the exact line
    search; each image of a batch is its own system."""
    from restore.guidance.daps import gaussian_map_cg
    A = O.UniformBlur(3, boundary="reflect")
    g = torch.Generator().manual_seed(3)
    shape = (1, 1, 3, 3)
    xhat, y = torch.rand(2, *shape[1:], generator=g, dtype=torch.float64), torch.rand(2, *shape[1:], generator=g,
                                                                                      dtype=torch.float64)
    r2, sy2 = 0.3, torch.tensor([0.05, 0.2], dtype=torch.float64).reshape(2, 1, 1, 1)
    aty = A.adjoint(y) / sy2
    M = torch.stack([A(e.reshape(shape)).reshape(-1) for e in torch.eye(9, dtype=torch.float64)], 1)
    for i in range(2):
        H = torch.eye(9, dtype=torch.float64) / r2 + M.T @ M / sy2[i].item()
        exact = torch.linalg.solve(H, xhat[i].reshape(-1) / r2 + aty[i].reshape(-1))
        torch.testing.assert_close(gaussian_map_cg(A, xhat, aty, r2, sy2, 9)[i].reshape(-1), exact)
        grad = H @ xhat[i].reshape(-1) - (xhat[i].reshape(-1) / r2 + aty[i].reshape(-1))
        step = xhat[i].reshape(-1) - (grad @ grad) / (grad @ H @ grad) * grad
        torch.testing.assert_close(gaussian_map_cg(A, xhat, aty, r2, sy2, 1)[i].reshape(-1), step)
        alone = gaussian_map_cg(A, xhat[i:i + 1], aty[i:i + 1], r2, sy2[i:i + 1], 2)
        torch.testing.assert_close(alone, gaussian_map_cg(A, xhat, aty, r2, sy2, 2)[i:i + 1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("bad,match", [({"inner": "newton"}, "inner"), ({"inner": "cg", "noise": 1.0}, "noise=0"),
                                       ({"inner": "cg", "noise": 0.0, "cg_steps": 0}, "cg_steps")])
def test_daps_inner_options_are_checked(bad, match):
    A = O.UniformBlur(3, boundary="reflect")
    _, y = _measure(A, 1, 0.05, batch=1)
    with pytest.raises(ValueError, match=match):
        restore.solve(y, A, _prior(), method="daps", sigma_y=0.05, steps=2, **bad)
