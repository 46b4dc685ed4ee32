"""restore.solve_blind: kernel estimation from the image itself, then the non-blind solve."""
import warnings

import pytest
import torch

import operators as ops
import restore
from operators.kernel_fit import delta_kernel, project_kernel
from restore.blind.estimate import pyramid_sizes
from restore.priors import GaussianPrior

SIZE = 64


def _scene(n=SIZE, seed=0, count=14):
    """A drawn pattern: ``count`` random rectangles on a grey background (sharp steps in every direction)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, n), 0.5, dtype=torch.float64)
    for _ in range(count):
        r, c = torch.randint(0, n - 10, (2,), generator=g).tolist()
        h, w = torch.randint(5, 20, (2,), generator=g).tolist()
        x[r:r + h, c:c + w] = 0.1 + 0.8 * torch.rand((), generator=g, dtype=torch.float64)
    return x[None, None]


def _prior():
    return GaussianPrior(torch.full((1, SIZE, SIZE), 0.5, dtype=torch.float64), 0.08)


@pytest.fixture(scope="module")
def prior():
    return restore.load_prior("default")


def _psnr(a, b):
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


def _blurred(k, sigma=0.005, seed=1):
    x = _scene()
    y = ops.GaussianNoise(sigma)(ops.Blur(k, boundary="circular")(x), seed=seed)
    return x, y


def test_pyramid_sizes_are_odd_and_end_at_the_kernel_size():
    for n in (3, 9, 31, 75):
        s = pyramid_sizes(n)
        assert s[-1] == n and all(v % 2 == 1 for v in s) and s == sorted(s) and s[0] <= 5


def test_blind_beats_the_delta_and_the_input(prior):
    k = ops.motion_kernel(9, 0.3, seed=2)
    x, y = _blurred(k)
    x_hat, k_hat = restore.solve_blind(y.float(), prior, kernel_size=11, boundary="circular", sigma_y=0.005)
    assert x_hat.shape == y.shape and k_hat.shape == (1, 11, 11)
    kt = project_kernel(k, 11, threshold=0.0)
    err, err_delta = float((k_hat[0] - kt).norm()), float((delta_kernel(11) - kt).norm())
    assert err < 0.2 * err_delta  # measured 0.36·‖k‖ against 3.2·‖k‖ for the delta
    assert _psnr(x_hat.double(), x) > _psnr(y, x) + 2.0  # measured 30.3 dB from 26.6 dB
    kk = k_hat[0]
    assert bool((kk >= 0).all()) and abs(float(kk.sum()) - 1) < 1e-12


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_unblurred_image_gives_a_near_delta_and_comes_back_unchanged(prior, sigma):
    # σ_y 0.02: the estimate finds a blur in the noise; the E-step's noise-scaled regulariser (α ≥ 2σ_y, level
    # ≥ 4σ_y) lets the residual check reject it (with α 3e-3 and level 3σ_y it was kept: the image moved 5.3σ_y)
    x = _scene()
    y = ops.GaussianNoise(sigma)(x, seed=4)
    with warnings.catch_warnings():  # the delta comes from the snap (sub-pixel estimate) or the residual check
        warnings.simplefilter("ignore", RuntimeWarning)
        x_hat, k_hat = restore.solve_blind(y.float(), prior, kernel_size=11, boundary="circular", sigma_y=sigma)
    assert torch.equal(k_hat[0], delta_kernel(11))
    assert float((x_hat.double() - y).pow(2).mean().sqrt()) < 2 * sigma


def test_same_seed_same_output_and_batch_independent():
    k = ops.motion_kernel(7, 0.3, seed=5)
    _, y1 = _blurred(k, seed=6)
    _, y2 = _blurred(ops.gaussian_kernel(7, 1.2), seed=7)
    kw = dict(kernel_size=7, boundary="circular", sigma_y=0.005, method="diffpir", steps=5, seed=11,
              estimate={"starts": ("bar", "box")})  # two starts: the multi-start path, at half the time of four
    a = restore.solve_blind(torch.cat([y1, y2]), _prior(), **kw)
    b = restore.solve_blind(torch.cat([y1, y2]), _prior(), **kw)
    assert torch.equal(a.image, b.image) and torch.equal(a.kernel, b.kernel)
    from restore.guidance import image_seeds
    one = restore.solve_blind(y2, _prior(), **{**kw, "seed": [image_seeds(11, 2)[1]]})
    assert torch.allclose(one.image[0], a.image[1], atol=1e-12) and torch.equal(one.kernel[0], a.kernel[1])
    other = restore.solve_blind(torch.cat([y1, y2]), _prior(), **{**kw, "seed": 12})
    assert not torch.equal(other.image, a.image)  # the seed reaches the sampler


def test_bad_inputs_give_one_clear_error():
    flat = torch.full((1, 1, 32, 32), 0.4)
    with pytest.raises(ValueError, match="flat") as e:
        restore.solve_blind(flat, _prior(), kernel_size=7)
    assert "\n" not in str(e.value)
    y = _scene()
    with pytest.raises(ValueError, match="larger than the image"):
        restore.solve_blind(y, _prior(), kernel_size=65)
    with pytest.raises(ValueError, match="odd"):
        restore.solve_blind(y, _prior(), kernel_size=8)


def test_unreliable_estimate_falls_back_to_the_delta_with_a_warning():
    """Never silently worse: a too noisy input, a scattered kernel or one whose deblurred image leaves a
    residual far above the noise gives the delta and one warning."""
    from restore.blind import checked_blur, kernel_problem
    from restore.blind.reliability import NOISE_LIMIT

    _, y = _blurred(ops.motion_kernel(9, 0.5, seed=3), sigma=0.03)
    k, why = checked_blur(y[0], _prior(), 9, sigma_y=0.03, boundary="circular")
    assert "noise" in why and torch.equal(k, delta_kernel(9))
    with pytest.warns(RuntimeWarning, match="could not be estimated.*--kernel"):
        xb, kb = restore.solve_blind(y, _prior(), kernel_size=9, sigma_y=2 * NOISE_LIMIT, boundary="circular")
    assert torch.equal(kb[0], delta_kernel(9)) and xb.shape == y.shape
    scattered = torch.zeros(9, 9, dtype=torch.float64)
    scattered[0, 0] = scattered[0, 8] = scattered[8, 0] = scattered[8, 8] = scattered[4, 4] = 0.2
    assert "scattered" in kernel_problem(y[0, 0], scattered, _prior())
    # a plausible, compact kernel that does not explain the photo: the deblurred image leaves a residual
    # well above the noise (measured 3.3× for this wrong kernel against 0.74× for the true one)
    k = ops.motion_kernel(9, 0.5, seed=3).double()
    _, y = _blurred(k.float(), sigma=0.005)
    assert kernel_problem(y[0, 0], k, _prior(), sigma_y=0.005, boundary="circular") is None
    wrong = torch.zeros(9, 9, dtype=torch.float64)
    wrong[:, 4] = 1 / 9
    why = kernel_problem(y[0, 0], wrong, _prior(), sigma_y=0.005, boundary="circular")
    assert "does not explain" in why
    # a rejected estimate may be a sharp photo's: the warning says so; a too noisy input made no estimate
    from restore.blind import fallback_warning
    assert "without blur" in fallback_warning(why) and "--kernel PATH" in fallback_warning(why)
    assert "without blur" not in fallback_warning(kernel_problem(y[0, 0], wrong, _prior(), sigma_y=0.03))


@pytest.mark.parametrize("h,w,m", [(432, 512, 31), (160, 160, 15), (37, 50, 9)])
def test_taper_pad_smooth_grid(h, w, m):
    """``smooth``: each side becomes 2·3·5·7-smooth, the photo still sits at (m, m) (``crop`` undoes it), the
    top/left margins are those of the plain padding, and the periodic seam stays continuous."""
    from operators.blur import fft_size
    from restore.blind.taper import crop, taper_pad

    y = torch.rand(h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    plain, smooth = taper_pad(y, m), taper_pad(y, m, smooth=True)
    assert tuple(smooth.shape) == (fft_size(h + 2 * m), fft_size(w + 2 * m))
    assert torch.allclose(crop(smooth, m, h, w), y, rtol=0, atol=1e-12)
    assert torch.equal(smooth[:m + h, :m + w], plain[:m + h, :m + w])
    jump = max(float((smooth[0] - smooth[-1]).abs().max()), float((smooth[:, 0] - smooth[:, -1]).abs().max()))
    assert jump < 0.05 * float(y.max() - y.min())


def test_the_budget_buys_more_starts_on_smaller_windows():
    from restore.blind import ESTIMATE_PIXELS, START_ORDER, budget_starts

    assert budget_starts(512, 512) == START_ORDER[:1] and budget_starts(432, 512) == START_ORDER[:1]
    assert budget_starts(362, 362) == START_ORDER[:2] and budget_starts(255, 255) == START_ORDER
    assert budget_starts(4000, 3000) == START_ORDER[:1] and len(budget_starts(8, 8)) == len(START_ORDER)
    assert all(len(budget_starts(h, h)) * h * h <= ESTIMATE_PIXELS for h in (255, 300, 362, 400))


def test_multi_start_keeps_the_start_that_explains_y_best():
    """Every start runs; the estimate is the kernel of the smallest `fit_score`; that score ranks the true
    kernel above the delta and a wrong kernel on a sharp-edged scene; unknown starts are one clear error."""
    from restore.blind import one_thread
    from restore.blind.estimate import STARTS, estimate_kernel, fit_score

    k = ops.motion_kernel(9, 0.3, seed=2).double()
    _, y = _blurred(k, sigma=0.0)
    g = y[0, 0]
    wrong = torch.zeros(9, 9, dtype=torch.float64)
    wrong[:, 4] = 1 / 9
    assert fit_score(g, k) < min(fit_score(g, delta_kernel(9)), fit_score(g, wrong))
    scores = []
    best = estimate_kernel(g, 9, boundary="circular", starts=tuple(STARTS), scores=scores)
    assert [s for s, _, _ in scores] == list(STARTS)
    name, score, kernel = min(scores, key=lambda t: t[1])
    assert torch.equal(best, kernel) and score == fit_score(g, kernel)
    alone = estimate_kernel(g, 9, boundary="circular", starts=(name,))
    assert torch.equal(alone, kernel)  # a start's estimate does not depend on the others
    # the starts run in threads at once: the same scores, in the same order, the same kernel, bit for bit
    # (single-threaded threads, as estimate_blur runs them: more intra-op threads than cores would spin)
    threaded = []
    with one_thread():
        assert torch.equal(estimate_kernel(g, 9, boundary="circular", starts=tuple(STARTS), scores=threaded,
                                           workers=3), best)
    assert [(s, v) for s, v, _ in threaded] == [(s, v) for s, v, _ in scores]
    with pytest.raises(ValueError, match="starts must name"):
        estimate_kernel(g, 9, boundary="circular", starts=("bar", "spiral"))
    with pytest.raises(ValueError, match="workers"):
        estimate_kernel(g, 9, boundary="circular", workers=0)


def test_refinement_continues_from_the_kept_kernel():
    """``refine`` = that many more alternations at λ = REFINE_LAM from the kept start's kernel, on its grid."""
    from operators.kernel_fit import fit_kernel
    from restore.blind.estimate import ESTIMATE_DEFAULTS as ED, REFINE_LAM, estimate_kernel, salient_gradients
    from restore.blind.latent import l0_latent

    k = ops.motion_kernel(9, 0.3, seed=2).double()
    _, y = _blurred(k, sigma=0.0)
    g = y[0, 0]
    kept = estimate_kernel(g, 9, boundary="circular", starts=("bar", "box"))
    x = l0_latent(g, kept, REFINE_LAM)
    by_hand = fit_kernel(x, g, 9, gamma=ED["gamma"], threshold=ED["threshold"], min_piece=ED["min_piece"],
                         grads=salient_gradients(x, 9, ED["salient"]), init=kept)
    assert torch.equal(estimate_kernel(g, 9, boundary="circular", starts=("bar", "box"), refine=1), by_hand)


def test_the_valid_model_fits_the_border_of_a_valid_blur():
    """`gradient_wiener` with ``valid_iters``: x on the padded grid, only y's own pixels in the data term.  On the
    valid part of a blurred scene (no noise, small α) it explains y on every pixel and recovers the scene near
    the border, where the tapered periodic closed form (its start) rings."""
    from restore.blind.deconv import gradient_wiener

    k = ops.motion_kernel(11, 0.5, seed=5).double()
    big = _scene(96, seed=3, count=40)
    m = 5
    y = ops.Blur(k, boundary="circular")(big)[0, 0, m:-m, m:-m]
    x = big[0, 0, m:-m, m:-m]
    closed = gradient_wiener(y, k, 1e-4, "reflect")
    valid = gradient_wiener(y, k, 1e-4, "reflect", valid_iters=300)

    def fit(z):  # ‖k ⊛ z − y‖ on the pixels whose blur stays inside z's frame
        return float((ops.Blur(k, boundary="circular")(z[None, None])[0, 0, m:-m, m:-m] - y[m:-m, m:-m]).abs().max())

    def edge_err(z):  # the error in the 8-px band along the border
        band = torch.ones_like(z, dtype=torch.bool)
        band[8:-8, 8:-8] = False
        return float((z - x)[band].pow(2).mean().sqrt())

    # measured: fit 0.0017 against 0.0025; border error 0.023 against 0.070, whole frame 0.018 against 0.060
    assert fit(valid) < 0.005 and fit(valid) <= fit(closed)
    assert edge_err(valid) < 0.5 * edge_err(closed)
    assert float((valid - x).pow(2).mean()) < 0.25 * float((closed - x).pow(2).mean())


def test_the_polish_keeps_the_valid_model_and_its_seed(prior):
    """`restore.blind.polish`: DAPS warm-started from the E-step, on the E-step's padded grid with the valid model
    (𝒜 = M ∘ k⊛) — closer to the scene along the border of a valid blur than the polish with `operators.Blur`'s
    padded model (measured 0.034 against 0.048 rms in the 8-px band) — and the same seed gives the same image."""
    from restore.blind.polish import polished_deconvolution

    k = ops.motion_kernel(9, 0.5, seed=5).double()
    big = _scene(80, seed=4, count=30)
    m = 4
    x = big[0, 0, m:-m, m:-m]
    y = ops.GaussianNoise(0.005)(ops.Blur(k, boundary="circular")(big), seed=2)[0, :, m:-m, m:-m].float()

    def band_err(z):
        band = torch.ones_like(x, dtype=torch.bool)
        band[8:-8, 8:-8] = False
        return float((z[0].double() - x)[band].pow(2).mean().sqrt())

    valid = polished_deconvolution(y, k, prior, 0.005, seed=3, steps=6)
    padded = polished_deconvolution(y, k, prior, 0.005, seed=3, steps=6, valid=False)
    assert valid.shape == y.shape and band_err(valid) < 0.85 * band_err(padded)
    assert torch.equal(valid, polished_deconvolution(y, k, prior, 0.005, seed=3, steps=6))
