"""Training, preconditioning and checkpoints of our own denoiser network."""
import json

import numpy as np
import pytest
import torch
import cv2

from restore.models import NetworkPrior, Preconditioned, UNet, load_prior
from restore.models.checkpoint import load_denoiser, save_denoiser
from restore.training.loop import TrainConfig, linear_alpha_bar, sample_sigma, train


class Oracle(torch.nn.Module):
    """A 'network' returning a fixed tensor, to check the preconditioning algebra."""

    def __init__(self, value):
        super().__init__()
        self.value = value
        self.config = {"in_channels": 3}

    def forward(self, x, c_noise):
        return self.value


@pytest.mark.parametrize("kind", ["edm", "eps"])
def test_loss_target_gives_exact_denoiser(kind):
    """If F equals the loss target, D(x, σ) = x₀ exactly and the loss is 0."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    sigma = torch.tensor([0.01, 0.3, 5.0], dtype=torch.float64).view(-1, 1, 1, 1)
    x = x0 + sigma * noise
    probe = Preconditioned(Oracle(None), kind)
    c_skip, c_out, _, _ = probe.coefficients(sigma)
    target = (x0 - c_skip * x) / c_out if kind == "edm" else noise
    model = Preconditioned(Oracle(target), kind)
    torch.testing.assert_close(model(x, sigma), x0)
    assert model.loss(x0, sigma, noise).abs().max() < 1e-10


def test_eps_preconditioning_is_ddpm_state():
    """eps kind: the network sees x_t = √ᾱ x̃ with ᾱ = 1/(1+σ²), i.e. DDPM's VP state."""
    seen = {}

    class Spy(Oracle):
        def forward(self, x, c_noise):
            seen["x"] = x
            return torch.zeros_like(x)

    sigma = torch.tensor([0.5]).view(-1, 1, 1, 1)
    x = torch.randn(1, 3, 4, 4)
    Preconditioned(Spy(None), "eps")(x, sigma)
    alpha_bar = 1 / (1 + sigma**2)
    torch.testing.assert_close(seen["x"], alpha_bar.sqrt() * x)


def test_sigma_sampling_ranges():
    cfg = TrainConfig(data="", out="")
    s = sample_sigma(cfg, 20000, torch.Generator().manual_seed(0))
    assert s.min() >= cfg.sigma_min * 0.999 and s.max() <= 80 * 50
    # the level that matters for the quality bar (σ=25/255 on [0,1] → 0.196 on [-1,1]) is well covered
    assert ((s > 0.1) & (s < 0.4)).float().mean() > 0.15
    ab = linear_alpha_bar()
    se = sample_sigma(TrainConfig(data="", out="", objective="eps"), 1000, torch.Generator().manual_seed(0), ab)
    table = ((1 - ab) / ab).sqrt()
    assert torch.isin(se, table).all()


def _tiny_data(tmp_path, n=4):
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(d / f"im{i}.png"), img)
    return d


def _cfg(tmp_path, data, out, steps):
    return TrainConfig(data=str(data), out=str(tmp_path / out), steps=steps, batch=2, patch=16, base=8,
                       mults=(1, 2), blocks=1, ckpt_every=2, val_images=1, threads=1)


def test_resume_continues_exactly(tmp_path):
    """4 steps in one go == 2 steps, stop, resume for 2 more (same weights, bit for bit)."""
    data = _tiny_data(tmp_path)
    train(_cfg(tmp_path, data, "a", 4), progress=False)
    train(_cfg(tmp_path, data, "b", 2), progress=False)
    train(_cfg(tmp_path, data, "b", 4), resume=True, progress=False)
    a = torch.load(tmp_path / "a" / "state.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "state.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for k in a["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), k
    hist = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [h["step"] for h in hist] == [2, 4]


def test_checkpoint_roundtrip_and_prior(tmp_path):
    torch.manual_seed(0)
    net = UNet(3, 3, base=8, mults=(1, 2, 2), blocks=1)
    for p in net.parameters():  # non-trivial weights (the init zeroes the output layers)
        p.data.normal_(0, 0.05)
    model = Preconditioned(net, "edm").eval()
    save_denoiser(model, tmp_path / "ck")
    loaded, cfg = load_denoiser(tmp_path / "ck.safetensors")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    s = torch.full((2, 1, 1, 1), 0.4)
    torch.testing.assert_close(loaded(x, s), model(x, s))
    prior = load_prior(str(tmp_path / "ck"), device="cpu")
    assert isinstance(prior, NetworkPrior)
    # odd size: padded internally, cropped back; per-image (batch does not change a result)
    y = torch.rand(3, 3, 17, 23)
    d = prior.denoise(y, 0.1)
    assert d.shape == y.shape
    torch.testing.assert_close(prior.denoise(y[1:2], 0.1), d[1:2], atol=1e-5, rtol=1e-5)
    # [0,1] units: D01(x, σ) = (D(2x−1, 2σ) + 1)/2 at a size that needs no padding
    z = torch.rand(1, 3, 16, 16)
    manual = (model(2 * z - 1, torch.full((1, 1, 1, 1), 0.2)) + 1) / 2
    torch.testing.assert_close(prior.denoise(z, 0.1), manual, atol=1e-5, rtol=1e-5)
    # grayscale: lifted to independent channel noise (h = g·1 + 0.1·√3(e − ē), at σ√3), output averaged
    g = torch.rand(1, 1, 16, 16)
    lifted = g.repeat(1, 3, 1, 1) + 0.1 * prior.lift_pattern(16, 16, g)
    torch.testing.assert_close(prior.denoise(g, 0.1), prior.denoise(lifted, 0.1 * 3 ** 0.5).mean(1, keepdim=True))
    # half-precision weights load as float32 and give nearly the same denoiser
    save_denoiser(model, tmp_path / "half", half=True)
    half = load_prior(str(tmp_path / "half"), device="cpu")
    assert (half.denoise(z, 0.1) - prior.denoise(z, 0.1)).abs().max() < 1e-2


def test_checkpoint_rejects_foreign_config(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a restore checkpoint"):
        load_denoiser(tmp_path / "x")


def test_init_from_shipped_checkpoint_continues(tmp_path):
    """--init: a new run starts from a shipped (float16) checkpoint's weights and step count."""
    from restore.models.checkpoint import export_checkpoint

    data = _tiny_data(tmp_path)
    train(_cfg(tmp_path, data, "a", 2), progress=False)
    export_checkpoint(tmp_path / "a" / "best", tmp_path / "ship" / "default", half=True)
    train(_cfg(tmp_path, data, "d", 4), progress=False, init=str(tmp_path / "ship" / "default"))
    hist = json.loads((tmp_path / "d" / "history.json").read_text())
    assert [h["step"] for h in hist] == [4]  # continued from step 2, not from 0
    # a mismatched architecture is refused
    bad = _cfg(tmp_path, data, "e", 4)
    bad.base = 16
    with pytest.raises(ValueError, match="architecture"):
        train(bad, progress=False, init=str(tmp_path / "ship" / "default"))


def _torchrun():
    import shutil
    import sys
    from pathlib import Path
    exe = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(exe).exists():
        pytest.skip("torchrun not available")
    return exe


def test_ddp_two_gloo_ranks_identical_weights_and_exact_resume(tmp_path):
    """torchrun, 2 CPU ranks: the ranks' weights agree at every checkpoint (digests gathered from both),
    one checkpoint writer, and 2 steps + resume to 4 == 4 steps in one go, bit for bit.  The three
    trainings run in one launch (tests/ddp_runs.py), which sets up the process group once; each
    `train` uses that group and leaves it up."""
    import os
    import subprocess
    from pathlib import Path
    exe = _torchrun()
    data = _tiny_data(tmp_path, n=5)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = Path(__file__).with_name("ddp_runs.py")
    p = subprocess.run([exe, "--standalone", "--nproc_per_node", "2", str(script), str(data), str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    ha = json.loads((tmp_path / "a" / "history.json").read_text())
    hb = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [h["step"] for h in ha] == [h["step"] for h in hb] == [2, 4]
    assert all(h["ranks"] == 2 for h in ha + hb)
    assert [h["weights"] for h in ha] == [h["weights"] for h in hb]
    a = torch.load(tmp_path / "a" / "state.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "state.pt", weights_only=True)
    assert len(a["gens"]) == 2 and not torch.equal(a["gens"][0]["cpu"], a["gens"][1]["cpu"])  # one stream per rank
    for k in a["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), k
    # a single process with the same seed is a different run (one stream, half the batch per step)
    train(_cfg(tmp_path, data, "s", 4), progress=False)
    s = torch.load(tmp_path / "s" / "state.pt", weights_only=True)
    assert any(not torch.equal(a["ema"][k], s["ema"][k]) for k in a["ema"])


def test_resume_refuses_another_architecture(tmp_path):
    data = _tiny_data(tmp_path)
    train(_cfg(tmp_path, data, "a", 2), progress=False)
    other = _cfg(tmp_path, data, "a", 4)
    other.base = 16
    with pytest.raises(ValueError, match="different model"):
        train(other, resume=True, progress=False)


def test_time_budget_stops_with_a_checkpoint_that_resumes(tmp_path):
    """max_minutes: stops early with a full checkpoint; resuming continues from that step."""
    data = _tiny_data(tmp_path)
    cfg = _cfg(tmp_path, data, "t", 10_000)
    cfg.ckpt_every = 10_000
    cfg.max_minutes = 1e-9  # stop after the first step
    train(cfg, progress=False)
    st = torch.load(tmp_path / "t" / "state.pt", weights_only=True)
    assert st["step"] == 1
    cfg.max_minutes, cfg.steps = 0.0, 3
    train(cfg, resume=True, progress=False)
    assert torch.load(tmp_path / "t" / "state.pt", weights_only=True)["step"] == 3


def test_sharded_checkpoint_roundtrip(tmp_path):
    """Weights split into files of at most ~max_shard_bytes load back to the same denoiser."""
    torch.manual_seed(0)
    net = UNet(3, 3, base=8, mults=(1, 2), blocks=1)
    for p in net.parameters():
        p.data.normal_(0, 0.05)
    model = Preconditioned(net, "edm").eval()
    save_denoiser(model, tmp_path / "big", half=True, max_shard_bytes=4000)
    cfg = json.loads((tmp_path / "big.json").read_text())
    files = [tmp_path / f for f in cfg["shards"]]
    assert len(files) > 2 and not (tmp_path / "big.safetensors").exists()
    biggest = max(v.numel() * 2 for v in net.state_dict().values())
    assert all(f.stat().st_size <= max(4000, biggest) + 4096 for f in files)
    loaded, _ = load_denoiser(tmp_path / "big")
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    s = torch.full((1, 1, 1, 1), 0.3)
    assert (loaded(x, s) - model(x, s)).abs().max() < 1e-2
    files[1].unlink()
    with pytest.raises(FileNotFoundError):
        load_denoiser(tmp_path / "big")


def test_shipped_prior_names(tmp_path, monkeypatch):
    """'large' is used on CUDA only when installed; a missing shipped prior is one clear error."""
    from restore.models import registry

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    assert registry.auto_prior("cpu") == registry.auto_prior("cuda") == "default"
    with pytest.raises(FileNotFoundError, match="'large' prior is not installed"):
        registry.load_prior("large", device="cpu")
    torch.manual_seed(0)
    save_denoiser(Preconditioned(UNet(3, 3, base=8, mults=(1, 2), blocks=1), "edm"), tmp_path / "large", half=True,
                  max_shard_bytes=2000)
    assert registry.auto_prior("cuda") == "large" and registry.auto_prior("cpu") == "default"
    prior = registry.load_prior("large", device="cpu")
    assert prior.denoise(torch.rand(1, 3, 8, 8), 0.1).shape == (1, 3, 8, 8)
