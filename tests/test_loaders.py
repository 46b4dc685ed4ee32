"""Loaders for public checkpoint formats: guided-diffusion (ADM) .pt files, diffusers UNet2DModel folders,
and `load_prior`'s dispatch. Each format is exercised on a small checkpoint written here in exactly
that format (the real files are hundreds of MB)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from restore.diffusion import VPSchedule
from restore.models.adm import (ADMUNet, PRESETS, adm_config, detect_preset, infer_adm_config, load_adm,
                                preset_config)
from restore.models.registry import load_prior
from restore.priors import EpsilonNetworkPrior

HAVE_DIFFUSERS = importlib.util.find_spec("diffusers") is not None
needs_diffusers = pytest.mark.skipif(not HAVE_DIFFUSERS, reason="diffusers not installed (pip install 'restore[diffusers]')")

# guided-diffusion script flags of a tiny model: 32x32, two levels, attention at 16x16 (ds = 2)
TINY = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult="1,2", attention_resolutions="16",
            num_heads=4, num_head_channels=16, learn_sigma=True, use_scale_shift_norm=True, resblock_updown=True)


def _randomize(net, seed=0):
    """ADM zero-initialises its output convs; give every parameter a random value so outputs are informative."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return net


def _tiny_adm(tmp_path, **over):
    net = _randomize(ADMUNet(**adm_config(**{**TINY, **over}))).eval()
    path = tmp_path / "tiny_adm.pt"
    torch.save(net.state_dict(), path)
    return net, path


class _RunsCode:
    """Unpickling this calls _mark_executed: a checkpoint loader must refuse it before that happens."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_mark_executed, (self.marker,))


def _mark_executed(marker):
    Path(marker).write_text("executed")
    return {}


# ------------------------------------------------------------------------------------------------
# ADM: key names
# ------------------------------------------------------------------------------------------------
def test_adm_tiny_key_names_are_guided_diffusions():
    sd = ADMUNet(**adm_config(**TINY)).state_dict()
    expected = {
        "time_embed.0.weight": (128, 32), "time_embed.0.bias": (128,), "time_embed.2.weight": (128, 128),
        "input_blocks.0.0.weight": (32, 3, 3, 3), "input_blocks.0.0.bias": (32,),
        "input_blocks.1.0.in_layers.0.weight": (32,), "input_blocks.1.0.in_layers.2.weight": (32, 32, 3, 3),
        "input_blocks.1.0.emb_layers.1.weight": (64, 128),          # scale-shift: 2 x out channels
        "input_blocks.1.0.out_layers.0.bias": (32,), "input_blocks.1.0.out_layers.3.weight": (32, 32, 3, 3),
        "input_blocks.2.0.in_layers.2.weight": (32, 32, 3, 3),      # ResBlock(down=True)
        "input_blocks.3.0.skip_connection.weight": (64, 32, 1, 1),
        "input_blocks.3.1.norm.weight": (64,), "input_blocks.3.1.qkv.weight": (192, 64, 1),
        "input_blocks.3.1.proj_out.weight": (64, 64, 1),
        "middle_block.0.in_layers.2.weight": (64, 64, 3, 3), "middle_block.1.qkv.weight": (192, 64, 1),
        "middle_block.1.qkv.bias": (192,), "middle_block.2.out_layers.3.bias": (64,),
        "output_blocks.0.0.in_layers.2.weight": (64, 128, 3, 3), "output_blocks.0.1.qkv.weight": (192, 64, 1),
        "output_blocks.1.2.in_layers.2.weight": (64, 64, 3, 3),     # ResBlock(up=True)
        "output_blocks.1.0.in_layers.2.weight": (64, 96, 3, 3),     # 64 + skip from input block 2 (32)
        "output_blocks.3.0.skip_connection.weight": (32, 64, 1, 1),
        "out.0.weight": (32,), "out.2.weight": (6, 32, 3, 3), "out.2.bias": (6,),
    }
    for k, shape in expected.items():
        assert k in sd, k
        assert tuple(sd[k].shape) == shape, (k, tuple(sd[k].shape))
    assert len(sd) == 4 + 2 + 10 + 10 + (12 + 6) + 26 + (12 + 6) + (12 + 6 + 10) + 12 + 12 + 4
    # without resblock_updown the resamplers are guided-diffusion's Downsample.op / Upsample.conv
    sd2 = ADMUNet(**adm_config(**{**TINY, "resblock_updown": False})).state_dict()
    assert tuple(sd2["input_blocks.2.0.op.weight"].shape) == (32, 32, 3, 3)
    assert tuple(sd2["output_blocks.1.2.conv.weight"].shape) == (64, 64, 3, 3)


@pytest.mark.parametrize("name, n_keys, n_params, shapes", [
    # DPS configs/model_config.yaml (ffhq_10m.pt): channel_mult (1,1,2,2,4,4), 1 res block, attention at 16x16
    ("ffhq", 362, 93_563_910, {
        "time_embed.0.weight": (512, 128), "input_blocks.9.1.qkv.weight": (1536, 512, 1),
        "input_blocks.9.0.skip_connection.weight": (512, 256, 1, 1),
        "output_blocks.3.0.in_layers.2.weight": (512, 768, 3, 3), "output_blocks.3.2.in_layers.2.weight": (512, 512, 3, 3),
        "middle_block.1.qkv.weight": (1536, 512, 1), "out.2.weight": (6, 128, 3, 3)}),
    # guided-diffusion 256x256_diffusion_uncond.pt: 256 ch, 2 res blocks, attention at 32, 16, 8
    ("imagenet256", 566, 552_814_086, {
        "time_embed.0.weight": (1024, 256), "input_blocks.10.1.qkv.weight": (1536, 512, 1),
        "input_blocks.13.0.skip_connection.weight": (1024, 512, 1, 1),
        "output_blocks.0.0.in_layers.2.weight": (1024, 2048, 3, 3), "output_blocks.8.1.qkv.weight": (1536, 512, 1),
        "middle_block.1.qkv.weight": (3072, 1024, 1), "out.2.weight": (6, 256, 3, 3)}),
])
def test_adm_presets_match_published_architecture(name, n_keys, n_params, shapes):
    with torch.device("meta"):       # shapes only: no 2 GB allocation
        net = ADMUNet(**preset_config(name))
    sd = net.state_dict()
    assert len(sd) == n_keys
    assert sum(v.numel() for v in sd.values()) == n_params
    for k, s in shapes.items():
        assert tuple(sd[k].shape) == s, k
    assert not any(".op." in k or ".conv." in k for k in sd)       # resblock_updown: parameter-free resampling
    heads = {m.num_heads * 64 == m.qkv.in_channels for m in net.modules() if hasattr(m, "qkv")}
    assert heads == {True}                                         # num_head_channels = 64
    assert detect_preset(sd) == name
    inferred = infer_adm_config(sd)
    assert inferred["channel_mult"] == (1, 1, 2, 2, 4, 4)
    assert inferred["attention_resolutions"] == tuple(256 // int(r) for r in PRESETS[name]["attention_resolutions"].split(","))


# ------------------------------------------------------------------------------------------------
# ADM: loading and the prior
# ------------------------------------------------------------------------------------------------
def test_adm_roundtrip_through_load_prior(tmp_path):
    net, path = _tiny_adm(tmp_path)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([3.0, 517.0])
    with torch.no_grad():
        ref = net(x, t)
    # (a) architecture inferred from the keys (head split given), (b) explicit script flags
    for kw in (dict(num_head_channels=16), dict(preset=None, **TINY)):
        prior = load_prior(path, device="cpu", **kw)
        assert isinstance(prior, EpsilonNetworkPrior)
        with torch.no_grad():
            out = prior.network(x, t)
        assert torch.equal(out, ref)
        assert prior.channels == 3 and prior.size_multiple == 2
        assert torch.allclose(prior.alpha_bar, VPSchedule.linear(1000, 1e-4, 0.02).alpha_bar)
    with pytest.warns(UserWarning, match="matches no preset"):       # head split not given: 64 assumed, said so
        load_prior(path, device="cpu")


def test_adm_prior_denoise_matches_manual_ddpm_algebra(tmp_path):
    net, path = _tiny_adm(tmp_path)
    prior = load_prior(path, device="cpu", num_head_channels=16)
    ab = VPSchedule.linear().alpha_bar
    i = 200
    sigma = float(((1 - ab[i]) / ab[i]).sqrt() / 2)             # table σ in [0, 1] units (σ' = 2σ)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 32, 32, generator=g) + sigma * torch.randn(2, 3, 32, 32, generator=g)
    a = float(ab[i])
    x_t = a**0.5 * (2 * x - 1)                                   # VP state in [-1, 1] units
    with torch.no_grad():
        eps = net(x_t, torch.full((2,), float(i)))[:, :3]
        manual = ((x_t - (1 - a) ** 0.5 * eps) / a**0.5 + 1) / 2
        got = prior.denoise(x, sigma)
    assert torch.allclose(got, manual, atol=1e-4)
    # any size: padded to the multiple and cropped back
    with torch.no_grad():
        assert prior.denoise(x[..., :29, :27], sigma).shape == (2, 3, 29, 27)


def test_adm_strict_loading_lists_missing_and_unexpected_keys(tmp_path):
    net, _ = _tiny_adm(tmp_path)
    sd = net.state_dict()
    del sd["middle_block.1.qkv.weight"]
    sd["middle_block.1.extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pt"
    torch.save(sd, bad)
    with pytest.raises(ValueError, match=r"missing keys: middle_block\.1\.qkv\.weight.*unexpected keys: middle_block\.1\.extra\.weight"):
        load_adm(bad, preset=None, **TINY)
    with pytest.raises(ValueError, match="does not match the ADM architecture"):
        load_adm(tmp_path / "tiny_adm.pt", preset="ffhq")


def test_adm_loader_refuses_pickled_code(tmp_path):
    marker = tmp_path / "executed.txt"
    path = tmp_path / "evil.pt"
    torch.save({"input_blocks.0.0.weight": torch.zeros(1), "payload": _RunsCode(marker)}, path)
    with pytest.raises(ValueError, match="weights_only"):
        load_prior(path, device="cpu")
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------
# diffusers UNet2DModel folders
# ------------------------------------------------------------------------------------------------
def _tiny_unet():
    from diffusers import UNet2DModel
    torch.manual_seed(0)
    return UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
                       block_out_channels=(16, 32), norm_num_groups=8, attention_head_dim=8,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D")).eval()


@needs_diffusers
def test_diffusers_pipeline_folder_roundtrip(tmp_path):
    from diffusers import DDPMScheduler
    unet = _tiny_unet()
    unet.save_pretrained(tmp_path / "pipe" / "unet")                       # safetensors by default
    sched = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    sched.save_pretrained(tmp_path / "pipe" / "scheduler")
    assert (tmp_path / "pipe" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    prior = load_prior(tmp_path / "pipe", device="cpu")
    assert torch.allclose(prior.alpha_bar, sched.alphas_cumprod.double())   # ᾱ from the scheduler config
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 16, 16, generator=g)
    t = torch.tensor([10.0, 700.0])
    with torch.no_grad():
        assert torch.allclose(prior.net(x, t), unet(x, t).sample, atol=1e-6)
    # denoise at a table σ against the DDPM algebra by hand
    ab = sched.alphas_cumprod.double()
    i = 300
    a = float(ab[i])
    sigma = ((1 - a) / a) ** 0.5 / 2
    x01 = torch.rand(2, 3, 16, 16, generator=g) + sigma * torch.randn(2, 3, 16, 16, generator=g)
    x_t = a**0.5 * (2 * x01 - 1)
    with torch.no_grad():
        eps = unet(x_t, torch.full((2,), float(i))).sample
        manual = ((x_t - (1 - a) ** 0.5 * eps) / a**0.5 + 1) / 2
        assert torch.allclose(prior.denoise(x01, sigma), manual, atol=1e-4)
        assert prior.denoise(x01[..., :15, :13], sigma).shape == (2, 3, 15, 13)


@needs_diffusers
def test_diffusers_bare_folder_defaults_and_v_prediction(tmp_path):
    unet = _tiny_unet()
    unet.save_pretrained(tmp_path / "unet")
    prior = load_prior(tmp_path / "unet", device="cpu")                    # no scheduler: DDPM linear
    assert torch.allclose(prior.alpha_bar, VPSchedule.linear().alpha_bar)
    # an explicit scheduler config with v-prediction: ε̂ = √ᾱ v̂ + √(1−ᾱ) x_t, i.e. x̂0' = √ᾱ x_t − √(1−ᾱ) v̂
    cfg = tmp_path / "sched.json"
    cfg.write_text(json.dumps({"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 1e-4,
                               "beta_end": 0.02, "beta_schedule": "linear", "prediction_type": "v_prediction"}))
    prior = load_prior(tmp_path / "unet", device="cpu", scheduler_config=cfg)
    ab = VPSchedule.linear().alpha_bar
    i = 120
    a = float(ab[i])
    sigma = ((1 - a) / a) ** 0.5 / 2
    x01 = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    x_t = a**0.5 * (2 * x01 - 1)
    with torch.no_grad():
        v = unet(x_t, torch.tensor([float(i)])).sample
        manual = (a**0.5 * x_t - (1 - a) ** 0.5 * v + 1) / 2
        assert torch.allclose(prior.denoise(x01, sigma), manual, atol=1e-4)


@needs_diffusers
def test_diffusers_bin_with_code_is_refused(tmp_path):
    unet = _tiny_unet()
    folder = tmp_path / "unet"
    unet.save_pretrained(folder)
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    marker = tmp_path / "executed.txt"
    torch.save({"payload": _RunsCode(marker)}, folder / "diffusion_pytorch_model.bin")
    with pytest.raises(ValueError, match="weights_only"):
        load_prior(folder, device="cpu")
    assert not marker.exists()
    # a clean .bin (tensors only) loads
    torch.save(unet.state_dict(), folder / "diffusion_pytorch_model.bin")
    prior = load_prior(folder, device="cpu")
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(prior.net(x, torch.tensor([5.0])), unet(x, torch.tensor([5.0])).sample, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# dispatch keeps restore checkpoints working
# ------------------------------------------------------------------------------------------------
def test_load_prior_dispatches_restore_checkpoints(tmp_path):
    from restore.models import Preconditioned, UNet
    from restore.models.checkpoint import save_denoiser
    from restore.models.network_prior import NetworkPrior
    model = Preconditioned(UNet(base=8, mults=(1, 2), blocks=1, emb_dim=16), "edm")
    save_denoiser(model, tmp_path / "ours")
    prior = load_prior(tmp_path / "ours.safetensors", device="cpu")
    assert isinstance(prior, NetworkPrior)
    with pytest.raises(TypeError, match="unexpected options"):
        load_prior(tmp_path / "ours", device="cpu", preset="ffhq")
    with pytest.raises(FileNotFoundError):
        load_prior(tmp_path / "missing.pt", device="cpu")
