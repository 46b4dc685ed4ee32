"""Adjointness, shapes, errors and batch independence of every measurement operator."""
import pytest
import torch

import operators as O

BLUR_BOUNDARIES = ["circular", "reflect", "symmetric", "replicate", "zero"]


def make(name):
    """Operator factories keyed by name (kernels small enough for 17x23 images)."""
    return {
        "identity": lambda: O.Identity(),
        **{f"gauss-{b}": (lambda b=b: O.GaussianBlur(7, 1.5, boundary=b)) for b in BLUR_BOUNDARIES},
        "uniform-even-reflect": lambda: O.UniformBlur((4, 6), boundary="reflect"),
        "uniform-even-circular": lambda: O.UniformBlur((4, 6)),
        "motion-circular": lambda: O.MotionBlur(9, 0.6, seed=3),
        "motion-replicate": lambda: O.MotionBlur(9, 0.6, seed=3, boundary="replicate"),
        "inpaint": lambda: O.Inpainting(O.random_mask((17, 23), 0.4, seed=0)),
        "compose": lambda: O.Inpainting(O.random_mask((17, 23), 0.4, seed=0)) @ O.GaussianBlur(5, 1.0, "reflect"),
    }[name]()


SAME_SIZE = ["identity", *[f"gauss-{b}" for b in BLUR_BOUNDARIES], "uniform-even-reflect", "uniform-even-circular",
             "motion-circular", "motion-replicate"]
SHAPES = [(1, 1, 17, 23), (2, 3, 17, 23), (2, 3, 32, 32), (1, 1, 24, 40)]


@pytest.mark.parametrize("name", SAME_SIZE)
@pytest.mark.parametrize("shape", SHAPES)
def test_adjoint_same_size(name, shape):
    assert make(name).check_adjoint(shape) < 1e-5


@pytest.mark.parametrize("name", ["inpaint", "compose"])
@pytest.mark.parametrize("shape", [(1, 1, 17, 23), (2, 3, 17, 23)])
def test_adjoint_masked(name, shape):
    assert make(name).check_adjoint(shape) < 1e-5


@pytest.mark.parametrize("filt", ["box", "bicubic", "strided"])
@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("shape", [(1, 1, 24, 40), (2, 3, 24, 40), (1, 3, 32, 32)])
def test_adjoint_downsample(filt, factor, shape):
    A = O.Downsample(factor, filt)
    assert A.out_shape(shape) == (*shape[:2], shape[2] // factor, shape[3] // factor)
    assert A.check_adjoint(shape) < 1e-5


@pytest.mark.parametrize("shape", [(1, 3, 17, 23), (2, 3, 32, 32)])
def test_adjoint_grayscale(shape):
    A = O.Grayscale()
    assert A.out_shape(shape) == (shape[0], 1, *shape[2:])
    assert A.check_adjoint(shape) < 1e-5


def test_adjoint_compose_chain():
    A = O.Downsample(2, "bicubic") @ O.MotionBlur(7, 0.5, seed=1, boundary="reflect") @ O.Identity()
    assert isinstance(A, O.Compose) and len(A.factors) == 2  # identities dropped
    assert A.out_shape((2, 3, 24, 40)) == (2, 3, 12, 20)
    assert A.check_adjoint((2, 3, 24, 40)) < 1e-5
    x = torch.rand(1, 3, 24, 40, dtype=torch.float64)
    assert torch.allclose(A(x), A.factors[0](A.factors[1](x)))


def test_grayscale_weights():
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    y = O.Grayscale()(x)
    assert torch.allclose(y[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])
    with pytest.raises(ValueError, match="3-channel"):
        O.Grayscale()(torch.rand(1, 1, 5, 6))


def test_blur_convention_circular_matches_reflect_inside():
    """All boundary models compute the same centred convolution away from the border."""
    k = torch.rand(5, 4, dtype=torch.float64)
    x = torch.rand(2, 3, 20, 21, dtype=torch.float64)
    ys = [O.Blur(k, boundary=b)(x) for b in BLUR_BOUNDARIES]
    for y in ys[1:]:
        assert torch.allclose(y[..., 4:-4, 4:-4], ys[0][..., 4:-4, 4:-4], atol=1e-12)
    # a delta kernel is the identity, the kernel centre is pixel (kh//2, kw//2)
    d = torch.zeros(5, 4, dtype=torch.float64)
    d[2, 2] = 1
    for b in BLUR_BOUNDARIES:
        assert torch.allclose(O.Blur(d, boundary=b)(x), x)
    # a shifted delta shifts the image: k[c0 + 1, c1] = 1 → y[i, j] = x[i − 1, j]
    d = torch.zeros(5, 5, dtype=torch.float64)
    d[3, 2] = 1
    assert torch.allclose(O.Blur(d)(x), torch.roll(x, 1, dims=-2))


def test_blur_per_channel_and_constant_preserved():
    x = torch.rand(1, 3, 17, 23, dtype=torch.float64)
    A = O.MotionBlur(9, 0.5, seed=2, boundary="reflect")
    y = A(x)
    for c in range(3):
        assert torch.allclose(y[:, c : c + 1], A(x[:, c : c + 1]))
    ones = torch.ones(1, 1, 17, 23, dtype=torch.float64)
    for b in ["circular", "reflect", "symmetric", "replicate"]:
        assert torch.allclose(O.GaussianBlur(7, 1.5, boundary=b)(ones), ones)


def test_size_errors():
    with pytest.raises(ValueError, match="larger than the image"):
        O.GaussianBlur(25, 3.0)(torch.rand(1, 1, 17, 23))
    with pytest.raises(ValueError, match="larger than the image"):
        O.GaussianBlur(25, 3.0, boundary="reflect")(torch.rand(1, 1, 40, 20))
    with pytest.raises(ValueError, match=r"17x23 is not a multiple of the downsampling factor 2"):
        O.Downsample(2, "box")(torch.rand(1, 1, 17, 23))
    with pytest.raises(ValueError, match="not a multiple"):
        O.Downsample(4, "bicubic").out_shape((1, 1, 24, 42))
    with pytest.raises(ValueError, match="boundary"):
        O.GaussianBlur(5, 1.0, boundary="mirror")
    with pytest.raises(ValueError, match="filter"):
        O.Downsample(2, "lanczos")


@pytest.mark.parametrize("name", ["gauss-circular", "gauss-reflect", "motion-replicate", "identity"])
def test_float32_and_dtype_follow_input(name):
    A = make(name)
    x = torch.rand(2, 3, 17, 23, dtype=torch.float32)
    y = A(x)
    assert y.dtype == torch.float32 and A.adjoint(y).dtype == torch.float32
    assert torch.allclose(y.double(), A(x.double()), atol=1e-5)
    assert A.check_adjoint((2, 3, 17, 23), dtype=torch.float32) < 1e-4
    assert A.prox(x, y, 0.1, 1.0).dtype == torch.float32


def _batch_ops():
    return [
        O.GaussianBlur(5, 1.0), O.GaussianBlur(5, 1.0, boundary="reflect"), O.Downsample(2, "box"),
        O.Downsample(2, "bicubic"), O.Inpainting(O.random_mask((2, 1, 16, 20), 0.5, seed=1)), O.Grayscale(),
        O.Downsample(2, "box") @ O.GaussianBlur(3, 0.8, boundary="reflect"),
    ]


@pytest.mark.parametrize("A", _batch_ops(), ids=repr)
def test_batch_independence(A):
    """Forward, adjoint, pinv and prox of a batch equal the per-image results."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 20, generator=g, dtype=torch.float64)
    z = torch.rand(2, 3, 16, 20, generator=g, dtype=torch.float64)
    y = A(x) + 0.05 * torch.randn(A.out_shape(x.shape), generator=g, dtype=torch.float64)
    sigma, rho = torch.tensor([0.05, 0.2], dtype=torch.float64), torch.tensor([3.0, 0.5], dtype=torch.float64)
    sub = A
    outs = {"forward": A(x), "adjoint": A.adjoint(y), "pinv": A.pinv(y), "prox": A.prox(z, y, sigma, rho)}
    for i in range(2):
        if isinstance(A, O.Inpainting):  # a per-image mask: the single image uses its own row
            sub = O.Inpainting(A.mask[i : i + 1])
        elif isinstance(A, O.Compose) and isinstance(A.factors[0], O.Inpainting):
            continue
        s = slice(i, i + 1)
        one = {"forward": sub(x[s]), "adjoint": sub.adjoint(y[s]), "pinv": sub.pinv(y[s]),
               "prox": sub.prox(z[s], y[s], sigma[s], rho[s])}
        for k in outs:
            assert torch.allclose(outs[k][s], one[k], atol=1e-10, rtol=1e-8), k


@pytest.mark.parametrize("boundary", ["reflect", "symmetric", "replicate", "zero"])
@pytest.mark.parametrize("kernel", ["gauss-25x19", "motion-31"])
def test_padded_blur_fft_path_equals_direct_convolution(boundary, kernel):
    """Large kernels convolve by FFT on the padded grid: same numbers as conv2d, both directions."""
    k = O.gaussian_kernel((25, 19), 3.0) if kernel == "gauss-25x19" else O.motion_kernel(31, 0.5, seed=1)
    A = O.Blur(k, boundary=boundary)
    assert A._use_fft()
    x = O.randn((2, 3, 40, 57), 0, dtype=torch.float64)
    u = O.randn((2, 3, 40, 57), 1, dtype=torch.float64)
    fast = (A(x), A.adjoint(u))
    A.fft_min_taps = 10**9
    assert not A._use_fft()
    direct = (A(x), A.adjoint(u))
    for f, d in zip(fast, direct):
        torch.testing.assert_close(f, d, rtol=0, atol=1e-12)


def test_operators_state_their_task_and_repeat_per_image_data():
    """Each operator names its task (what per-task defaults read); repeat(k, B) tiles only per-image data."""
    assert O.GaussianBlur(5, 1.0).task == "deblur" and O.Downsample(2, "box").task == "sr"
    assert O.Identity().task == "denoise" and O.Grayscale().task == "colorize"
    masks = (torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).double()
    A = O.Inpainting(masks)
    assert A.task == "inpaint" and (O.Downsample(2, "box") @ O.GaussianBlur(3, 1.0)).task is None
    assert (O.Identity() @ A).task == "inpaint"  # one factor left: its task
    R = A.repeat(2, 3)
    x = torch.rand(6, 2, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(R(x), torch.cat([A(x[:3]), A(x[3:])]))
    assert A.repeat(1, 3) is A and O.GaussianBlur(3, 1.0).repeat(4, 2).task == "deblur"
    C = (O.Downsample(2, "box") @ A).repeat(2, 3)
    torch.testing.assert_close(C(x), torch.cat([O.Downsample(2, "box")(A(x[:3])), O.Downsample(2, "box")(A(x[3:]))]))


@pytest.mark.parametrize("hw,pads", [((5, 7), (2, 1, 3, 0)), ((12, 9), (4, 1, 1, 5)), ((3, 3), (2, 2, 2, 2)),
                                     ((6, 6), (0, 0, 0, 0))])
def test_reflect_padding_fast_path_is_the_gather_and_its_adjoint(hw, pads):
    """pad2d/pad2d_adjoint's reflect fast path (torch's reflection kernel; the border strips folded back)
    equals the generic gather / scatter-add over `source_index` exactly, and ⟨Px, u⟩ = ⟨x, Pᵀu⟩."""
    from operators.padding import pad2d, pad2d_adjoint, source_index
    (h, w), (top, bottom, left, right) = hw, pads
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, h, w, generator=g, dtype=torch.float64)
    u = torch.rand(2, 1, h + top + bottom, w + left + right, generator=g, dtype=torch.float64)
    jh, jw = source_index(h, top, bottom, "reflect"), source_index(w, left, right, "reflect")
    assert torch.equal(pad2d(x, pads, "reflect"), x.index_select(-2, jh).index_select(-1, jw))
    v = u.new_zeros(2, 1, h, u.shape[-1]).index_add_(-2, jh, u)
    torch.testing.assert_close(pad2d_adjoint(u, pads, "reflect"), v.new_zeros(2, 1, h, w).index_add_(-1, jw, v),
                               rtol=0, atol=1e-15)
    torch.testing.assert_close((pad2d(x, pads, "reflect") * u).sum(), (x * pad2d_adjoint(u, pads, "reflect")).sum())
