"""OpenAI guided-diffusion ("ADM", Dhariwal & Nichol 2021) UNets: our implementation, their key names.

Public pixel-space checkpoints used by the restoration literature are ADM UNets saved as plain
``state_dict``s with ``torch.save``:

- ``ffhq_10m.pt`` (DPS, DAPS, DiffPIR on FFHQ 256): preset ``"ffhq"``;
- ``256x256_diffusion_uncond.pt`` (guided-diffusion ImageNet 256 unconditional; DDNM, DiffPIR,
  DDRM): preset ``"imagenet256"``.

`ADMUNet` rebuilds the architecture so that ``state_dict()`` keys are exactly guided-diffusion's
(``time_embed.0.weight``, ``input_blocks.N.M...``, ``middle_block...``, ``output_blocks...``,
``out.2.weight``), and `load_adm_prior` wraps it through `EpsilonNetworkPrior`:

    ε̂ = net(x_t, t)[:, :C]      (learn_sigma: the last C channels are the variance interpolation v)
    x_t = √ᾱ_t·x0' + √(1 − ᾱ_t)·ε,  x0' ∈ [−1, 1],  ᾱ from linear β_t ∈ [1e-4, 0.02], T = 1000.

Files are read with ``torch.load(..., weights_only=True)``: tensors only, never code.

Architecture (what the keys encode), per guided-diffusion's ``UNetModel``:

- timestep embedding  e(t) = [cos(t·f_k), sin(t·f_k)],  f_k = 10000^(−k/half), k < half = ch/2,
  then ``time_embed`` = Linear(ch, 4ch) → SiLU → Linear(4ch, 4ch);
- ResBlock: ``in_layers`` = GN → SiLU → [resample] → conv3×3;  ``emb_layers`` = SiLU → Linear;
  ``out_layers`` = GN → (scale-shift: GN(h)·(1 + s) + b) → SiLU → Dropout → conv3×3;
  ``skip_connection`` = 1×1 conv when channels change; with ``up``/``down`` the input and the
  skip path are resampled by nearest ×2 / 2×2 average pooling (no parameters);
- AttentionBlock: GN → ``qkv`` (conv1d C→3C) → softmax(qᵀk/√d)·v per head → ``proj_out``;
  "legacy" order splits the 3C channels per head as [q|k|v], the new order as [q…|k…|v…];
- GroupNorm32: 32 groups, computed in float32 whatever the activation dtype.
"""
from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ADMUNet", "PRESETS", "adm_config", "preset_config", "infer_adm_config", "detect_preset",
           "load_adm_state_dict", "load_adm", "load_adm_prior", "EpsilonHead", "timestep_embedding"]


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------
def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """[cos(t·f_0..f_{h−1}), sin(t·f_0..f_{h−1})] with f_k = max_period^(−k/h), h = dim//2 (zero-padded if odd).

    ``t`` may be fractional (continuous table index).
    """
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(-math.log(max_period) * k / half)
    arg = t.reshape(-1).float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32, C) evaluated in float32 and cast back (ADM's ``normalization``)."""

    def __init__(self, channels: int):
        super().__init__(32, channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(),
                            self.eps).to(x.dtype)


class _Resample(nn.Module):
    """×2 nearest upsampling or ÷2 downsampling, optionally followed/implemented by a 3×3 conv.

    Key names: the upsampler's conv is ``conv``, the downsampler's strided conv is ``op``.
    """

    def __init__(self, channels: int, up: bool, use_conv: bool, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        self.up = up
        if up:
            if use_conv:
                self.conv = nn.Conv2d(channels, out_channels, 3, padding=1)
        elif use_conv:
            self.op = nn.Conv2d(channels, out_channels, 3, stride=2, padding=1)
        self.use_conv = use_conv

    def forward(self, x: Tensor) -> Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            return self.conv(x) if self.use_conv else x
        return self.op(x) if self.use_conv else F.avg_pool2d(x, 2, 2)


class ResBlock(nn.Module):
    """h = skip(x) + out_layers(GN(in_layers(x))·(1 + s) + b),  (s, b) = emb_layers(emb)  (scale-shift),
    or  out_layers(in_layers(x) + emb_layers(emb))  without scale-shift."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int | None = None,
                 dropout: float = 0.0, use_scale_shift_norm: bool = False, up: bool = False, down: bool = False):
        super().__init__()
        out_channels = out_channels or channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(GroupNorm32(channels), nn.SiLU(),
                                       nn.Conv2d(channels, out_channels, 3, padding=1))
        self.updown = up or down
        if self.updown:
            self.h_upd = _Resample(channels, up=up, use_conv=False)
            self.x_upd = _Resample(channels, up=up, use_conv=False)
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels if use_scale_shift_norm else out_channels))
        self.out_layers = nn.Sequential(GroupNorm32(out_channels), nn.SiLU(), nn.Dropout(dropout),
                                        nn.Conv2d(out_channels, out_channels, 3, padding=1))
        nn.init.zeros_(self.out_layers[3].weight)
        nn.init.zeros_(self.out_layers[3].bias)
        self.skip_connection = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        if self.updown:
            h = self.in_layers[:-1](x)
            h = self.in_layers[-1](self.h_upd(h))
            x = self.x_upd(x)
        else:
            h = self.in_layers(x)
        e = self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        if self.use_scale_shift_norm:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Global multi-head self-attention over all H·W positions, residual: x + proj_out(attn(qkv(GN(x))))."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1,
                 use_new_attention_order: bool = False):
        super().__init__()
        if num_head_channels == -1:
            self.num_heads = num_heads
        else:
            if channels % num_head_channels:
                raise ValueError(f"channels {channels} not divisible by num_head_channels {num_head_channels}")
            self.num_heads = channels // num_head_channels
        self.new_order = use_new_attention_order
        self.norm = GroupNorm32(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def _attend(self, qkv: Tensor) -> Tensor:
        B, C3, L = qkv.shape
        nh, d = self.num_heads, C3 // (3 * self.num_heads)
        if self.new_order:   # channels laid out [q (all heads) | k | v]
            q, k, v = (z.reshape(B * nh, d, L) for z in qkv.chunk(3, dim=1))
        else:                # legacy: per head [q | k | v]
            q, k, v = qkv.reshape(B * nh, 3 * d, L).split(d, dim=1)
        s = d ** -0.25       # scale q and k separately (as ADM does: better conditioned in fp16)
        w = torch.einsum("bct,bcs->bts", q * s, k * s)
        w = torch.softmax(w.float(), dim=-1).to(w.dtype)
        return torch.einsum("bts,bcs->bct", w, v).reshape(B, nh * d, L)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        B, C = x.shape[:2]
        h = x.reshape(B, C, -1)
        out = self.proj_out(self._attend(self.qkv(self.norm(h))))
        return (h + out).reshape(x.shape)


class _EmbedSequential(nn.Sequential):
    """Sequential that passes the timestep embedding to the blocks that take it."""

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        for layer in self:
            x = layer(x, emb) if isinstance(layer, (ResBlock, AttentionBlock)) else layer(x)
        return x


# --------------------------------------------------------------------------------------------
# the UNet
# --------------------------------------------------------------------------------------------
class ADMUNet(nn.Module):
    """guided-diffusion's ``UNetModel`` (2-D, unconditional or class-conditional), same ``state_dict`` keys.

    Parameters (model-level, as guided-diffusion's ``UNetModel``; see `adm_config` for script flags)
    ----------
    in_channels, model_channels, out_channels, num_res_blocks
    attention_resolutions : downsampling rates ds (1, 2, 4, ...) at which attention is used
    channel_mult : channel multiplier per level; level l runs at 1/2^l resolution
    num_heads, num_head_channels (−1: use num_heads), num_heads_upsample (−1: num_heads)
    use_scale_shift_norm, resblock_updown, conv_resample, use_new_attention_order, dropout
    num_classes : class-conditional models add ``label_emb`` (call with ``y``)
    """

    def __init__(self, in_channels: int = 3, model_channels: int = 128, out_channels: int = 6,
                 num_res_blocks: int = 2, attention_resolutions=(16,), channel_mult=(1, 2, 4, 8),
                 dropout: float = 0.0, conv_resample: bool = True, num_classes: int | None = None,
                 num_heads: int = 1, num_head_channels: int = -1, num_heads_upsample: int = -1,
                 use_scale_shift_norm: bool = False, resblock_updown: bool = False,
                 use_new_attention_order: bool = False, image_size: int | None = None):
        super().__init__()
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        attention_resolutions = tuple(int(a) for a in attention_resolutions)
        channel_mult = tuple(int(m) for m in channel_mult)
        self.config = dict(in_channels=in_channels, model_channels=model_channels, out_channels=out_channels,
                           num_res_blocks=num_res_blocks, attention_resolutions=attention_resolutions,
                           channel_mult=channel_mult, dropout=dropout, conv_resample=conv_resample,
                           num_classes=num_classes, num_heads=num_heads, num_head_channels=num_head_channels,
                           num_heads_upsample=num_heads_upsample, use_scale_shift_norm=use_scale_shift_norm,
                           resblock_updown=resblock_updown, use_new_attention_order=use_new_attention_order,
                           image_size=image_size)
        self.in_channels, self.out_channels, self.model_channels = in_channels, out_channels, model_channels
        self.image_size = image_size
        self.size_multiple = 2 ** (len(channel_mult) - 1)
        emb_dim = 4 * model_channels
        self.time_embed = nn.Sequential(nn.Linear(model_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        if num_classes is not None:
            self.label_emb = nn.Embedding(num_classes, emb_dim)

        def res(cin, cout, **kw):
            return ResBlock(cin, emb_dim, cout, dropout, use_scale_shift_norm, **kw)

        def attn(c, heads):
            return AttentionBlock(c, heads, num_head_channels, use_new_attention_order)

        ch = input_ch = int(channel_mult[0] * model_channels)
        self.input_blocks = nn.ModuleList([_EmbedSequential(nn.Conv2d(in_channels, ch, 3, padding=1))])
        skip_chans, ds = [ch], 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [res(ch, int(mult * model_channels))]
                ch = int(mult * model_channels)
                if ds in attention_resolutions:
                    layers.append(attn(ch, num_heads))
                self.input_blocks.append(_EmbedSequential(*layers))
                skip_chans.append(ch)
            if level != len(channel_mult) - 1:
                down = res(ch, ch, down=True) if resblock_updown else _Resample(ch, False, conv_resample, ch)
                self.input_blocks.append(_EmbedSequential(down))
                skip_chans.append(ch)
                ds *= 2

        self.middle_block = _EmbedSequential(res(ch, ch), attn(ch, num_heads), res(ch, ch))

        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                layers = [res(ch + skip_chans.pop(), int(model_channels * mult))]
                ch = int(model_channels * mult)
                if ds in attention_resolutions:
                    layers.append(attn(ch, num_heads_upsample))
                if level and i == num_res_blocks:
                    layers.append(res(ch, ch, up=True) if resblock_updown else _Resample(ch, True, conv_resample, ch))
                    ds //= 2
                self.output_blocks.append(_EmbedSequential(*layers))

        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(input_ch, out_channels, 3, padding=1))
        nn.init.zeros_(self.out[2].weight)
        nn.init.zeros_(self.out[2].bias)

    def forward(self, x: Tensor, timesteps: Tensor, y: Tensor | None = None) -> Tensor:
        """Raw network output (B, out_channels, H, W); ``timesteps`` (B,) or scalar, may be fractional."""
        t = torch.as_tensor(timesteps, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        emb = self.time_embed(timestep_embedding(t, self.model_channels).to(self.time_embed[0].weight.dtype))
        if (y is not None) != hasattr(self, "label_emb"):
            raise ValueError("pass y exactly when the model is class-conditional")
        if y is not None:
            emb = emb + self.label_emb(y)
        H, W = x.shape[-2:]
        m = self.size_multiple
        if H % m or W % m:
            raise ValueError(f"ADM UNet needs H, W divisible by {m}, got {H}x{W} (the prior pads automatically)")
        h = x.to(emb.dtype)
        hs = []
        for block in self.input_blocks:
            h = block(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h).to(x.dtype)


class EpsilonHead(nn.Module):
    """``net(x, t)[:, :channels]``: the ε half of a learn_sigma output (the rest is the variance)."""

    def __init__(self, net: nn.Module, channels: int = 3):
        super().__init__()
        self.net = net
        self.channels = channels

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.net(x, t)[:, : self.channels]


# --------------------------------------------------------------------------------------------
# configs: script flags (as in the public repos' yaml / argparse) → model arguments
# --------------------------------------------------------------------------------------------
def _default_channel_mult(image_size: int) -> tuple[int, ...]:
    table = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4)}
    if image_size in table:
        return table[image_size]
    if image_size <= 32:
        return (1, 2, 2, 2)
    raise ValueError(f"no default channel_mult for image_size {image_size}; pass channel_mult")


def adm_config(image_size: int = 256, num_channels: int = 128, num_res_blocks: int = 2, channel_mult="",
               learn_sigma: bool = True, class_cond: bool = False, attention_resolutions="16,8",
               num_heads: int = 4, num_head_channels: int = -1, num_heads_upsample: int = -1,
               use_scale_shift_norm: bool = True, dropout: float = 0.0, resblock_updown: bool = False,
               use_new_attention_order: bool = False, in_channels: int = 3, **ignored) -> dict:
    """Model arguments for `ADMUNet` from guided-diffusion's script flags (``create_model`` semantics).

    ``attention_resolutions`` are image resolutions ("32,16,8"), converted to rates ds = image_size // r;
    ``channel_mult=""`` picks the default for ``image_size``. Flags with no effect on the weights
    (``use_fp16``, ``use_checkpoint``, ``model_path``, ...) are ignored.
    """
    if isinstance(channel_mult, str):
        channel_mult = (_default_channel_mult(image_size) if channel_mult == ""
                        else tuple(float(c) if "." in c else int(c) for c in channel_mult.split(",")))
    if isinstance(attention_resolutions, (int, str)):
        attention_resolutions = [int(r) for r in str(attention_resolutions).split(",") if r.strip()]
    return dict(in_channels=in_channels, model_channels=num_channels,
                out_channels=2 * in_channels if learn_sigma else in_channels,
                num_res_blocks=num_res_blocks,
                attention_resolutions=tuple(image_size // int(r) for r in attention_resolutions),
                channel_mult=tuple(channel_mult), dropout=dropout, num_classes=1000 if class_cond else None,
                num_heads=num_heads, num_head_channels=num_head_channels, num_heads_upsample=num_heads_upsample,
                use_scale_shift_norm=use_scale_shift_norm, resblock_updown=resblock_updown,
                use_new_attention_order=use_new_attention_order, image_size=image_size)


#: Script flags of the public checkpoints (DPS ``configs/model_config.yaml``; guided-diffusion README
#: flags for the 256×256 unconditional ImageNet model, as used by DDNM / DiffPIR / DDRM).
PRESETS: dict[str, dict] = {
    "ffhq": dict(image_size=256, num_channels=128, num_res_blocks=1, channel_mult="", learn_sigma=True,
                 class_cond=False, attention_resolutions="16", num_heads=4, num_head_channels=64,
                 num_heads_upsample=-1, use_scale_shift_norm=True, dropout=0.0, resblock_updown=True,
                 use_new_attention_order=False),
    "imagenet256": dict(image_size=256, num_channels=256, num_res_blocks=2, channel_mult="", learn_sigma=True,
                        class_cond=False, attention_resolutions="32,16,8", num_heads=4, num_head_channels=64,
                        num_heads_upsample=-1, use_scale_shift_norm=True, dropout=0.0, resblock_updown=True,
                        use_new_attention_order=False),
}
PRESET_FILES = {"ffhq": "ffhq_10m.pt", "imagenet256": "256x256_diffusion_uncond.pt"}


def preset_config(name: str) -> dict:
    """`ADMUNet` arguments of a named preset ("ffhq" | "imagenet256")."""
    if name not in PRESETS:
        raise ValueError(f"unknown ADM preset {name!r}; expected one of {sorted(PRESETS)}")
    return adm_config(**PRESETS[name])


# --------------------------------------------------------------------------------------------
# state_dict reading and architecture inference
# --------------------------------------------------------------------------------------------
def load_adm_state_dict(path) -> dict[str, Tensor]:
    """Read a guided-diffusion ``.pt`` with ``torch.load(weights_only=True)`` (tensors only, no code).

    Accepts a plain ``state_dict`` or one nested under "state_dict" / "model" / "ema"; strips a
    DataParallel ``module.`` prefix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ADM checkpoint not found: {path}")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle.UnpicklingError and friends: refuse, never fall back to full unpickling
        raise ValueError(f"{path}: not loadable as plain tensors with torch.load(weights_only=True) "
                         f"(it may contain code, which restore never unpickles): {e}") from e
    for key in ("state_dict", "model", "ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a state_dict of tensors, got {type(obj).__name__}")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def infer_adm_config(state: dict[str, Tensor], num_heads: int = 4, num_head_channels: int = 64,
                     use_new_attention_order: bool = False) -> dict:
    """`ADMUNet` arguments read off a guided-diffusion ``state_dict``'s key names and shapes.

    Everything structural is recoverable (channels, multipliers, blocks per level, attention rates,
    scale-shift, resblock up/down, class conditioning); the head split of attention is not, so it is
    taken from the arguments (every public 256×256 ADM checkpoint uses 64 channels per head).
    """
    for k in ("input_blocks.0.0.weight", "time_embed.0.weight", "out.2.weight", "input_blocks.1.0.in_layers.2.weight"):
        if k not in state:
            raise ValueError(f"not a guided-diffusion UNet state_dict (no {k})")
    in_channels = int(state["input_blocks.0.0.weight"].shape[1])
    model_channels = int(state["time_embed.0.weight"].shape[1])
    out_channels = int(state["out.2.weight"].shape[0])

    def indices(prefix):
        return sorted({int(m.group(1)) for k in state if (m := re.match(prefix + r"\.(\d+)\.", k))})

    ins, outs = indices("input_blocks"), indices("output_blocks")
    n_out = outs[-1] + 1
    # where the first level ends: a strided conv / down ResBlock at input block num_res_blocks + 1, an
    # up layer (ResBlock or conv) in output block num_res_blocks, or a parameter-free gap in the inputs
    downs = [int(k.split(".")[1]) for k in state if re.match(r"input_blocks\.\d+\.0\.op\.weight$", k)]
    ups = sorted({int(k.split(".")[1]) for k in state
                  if re.match(r"output_blocks\.\d+\.[12]\.(conv|in_layers)\.", k)})
    gaps = [i for i in range(ins[-1] + 1) if i not in ins]
    if downs:
        num_res_blocks = min(downs) - 1
    elif ups:
        num_res_blocks = ups[0]
    elif gaps:
        num_res_blocks = gaps[0] - 1
    else:
        num_res_blocks = n_out - 1
    if num_res_blocks < 1 or n_out % (num_res_blocks + 1):
        raise ValueError(f"cannot infer ADM architecture: {n_out} output blocks, {num_res_blocks} res blocks per level")
    n_levels = n_out // (num_res_blocks + 1)
    if ins[-1] + 1 != n_levels * (num_res_blocks + 1):
        raise ValueError(f"cannot infer ADM architecture: {ins[-1] + 1} input blocks do not fit "
                         f"{n_levels} levels x {num_res_blocks} res blocks")
    mult, attn_ds = [], []
    for lv in range(n_levels):
        first = 1 + lv * (num_res_blocks + 1)
        ch = int(state[f"input_blocks.{first}.0.in_layers.2.weight"].shape[0])
        mult.append(ch // model_channels if ch % model_channels == 0 else ch / model_channels)
        if f"input_blocks.{first}.1.qkv.weight" in state:
            attn_ds.append(2 ** lv)
    emb_out = int(state["input_blocks.1.0.emb_layers.1.weight"].shape[0])
    return dict(in_channels=in_channels, model_channels=model_channels, out_channels=out_channels,
                num_res_blocks=num_res_blocks, attention_resolutions=tuple(attn_ds), channel_mult=tuple(mult),
                num_classes=int(state["label_emb.weight"].shape[0]) if "label_emb.weight" in state else None,
                num_heads=num_heads, num_head_channels=num_head_channels, num_heads_upsample=-1,
                use_scale_shift_norm=emb_out == 2 * int(state["input_blocks.1.0.in_layers.2.weight"].shape[0]),
                resblock_updown=any(re.match(r"output_blocks\.\d+\.[12]\.in_layers\.", k) for k in state),
                conv_resample=bool(downs) or any(re.match(r"output_blocks\.\d+\.[12]\.conv\.", k) for k in state),
                use_new_attention_order=use_new_attention_order)


_STRUCTURAL = ("in_channels", "model_channels", "out_channels", "num_res_blocks", "attention_resolutions",
               "channel_mult", "num_classes", "use_scale_shift_norm", "resblock_updown")


def detect_preset(state: dict[str, Tensor]) -> str | None:
    """Name of the preset whose architecture matches the ``state_dict`` exactly, else None."""
    try:
        cfg = infer_adm_config(state)
    except (ValueError, KeyError):
        return None
    for name in PRESETS:
        p = preset_config(name)
        if all(_same(cfg[k], p[k]) for k in _STRUCTURAL):
            return name
    return None


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return tuple(a or ()) == tuple(b or ())
    return a == b


def _strict_load(net: nn.Module, state: dict[str, Tensor], source) -> None:
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shape:
        def show(keys):
            return ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {show(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {show(unexpected)}")
        if shape:
            parts.append("shape mismatch: " + show([f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                                                    for k in shape]))
        raise ValueError(f"{source}: checkpoint does not match the ADM architecture; " + "; ".join(parts))
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


_HEAD_KEYS = ("num_heads", "num_head_channels", "use_new_attention_order")


def load_adm(path, preset: str | None = "auto", device=None, **config) -> ADMUNet:
    """Build an `ADMUNet` and load a guided-diffusion ``.pt`` into it (strict key and shape matching).

    ``preset``: "ffhq" | "imagenet256"; "auto" (default) matches the file's architecture against the
    presets, else infers it from the keys (attention head split from ``num_head_channels``/``num_heads``,
    default 64 channels per head); None: build from ``config`` alone (script flags as in `adm_config`,
    e.g. ``image_size=256, num_channels=128, attention_resolutions="16", ...``). Flags given with a
    preset override it.
    """
    state = load_adm_state_dict(path)
    if preset == "auto":
        preset = detect_preset(state)
        if preset is None and not (set(config) - set(_HEAD_KEYS)):
            cfg = infer_adm_config(state, **config)
            if not config:
                warnings.warn(f"{path}: architecture matches no preset; inferred from the keys with "
                              f"{cfg['num_head_channels']} channels per attention head", stacklevel=2)
            return _finish(cfg, state, path, device)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown ADM preset {preset!r}; expected one of {sorted(PRESETS)} or 'auto'")
        cfg = adm_config(**{**PRESETS[preset], **config})
    else:
        cfg = adm_config(**config)
    return _finish(cfg, state, path, device)


def _finish(cfg, state, path, device) -> ADMUNet:
    net = ADMUNet(**cfg)
    _strict_load(net, state, path)
    net.eval().requires_grad_(False)
    if device is not None:
        net.to(device)
    return net


def load_adm_prior(path, preset: str | None = "auto", device=None, clip=False, **config):
    """A guided-diffusion ``.pt`` as a restore prior ([0, 1] units, any size).

    ε̂ = first 3 of the 6 output channels; ᾱ from DDPM linear β ∈ [1e-4, 0.02], T = 1000; data in
    [−1, 1]. ADM was trained at 256×256 (the presets); the network is convolutional with global
    attention, so other sizes run: H, W are reflect-padded to a multiple of 2^(levels−1) (32 for
    the presets) and cropped back, but quality is best near the training size.
    """
    from ..diffusion import VPSchedule
    from ..priors.epsilon import EpsilonNetworkPrior

    net = load_adm(path, preset=preset, device=device, **config)
    c = net.in_channels
    prior = EpsilonNetworkPrior(EpsilonHead(net, c), VPSchedule.linear(1000, 1e-4, 0.02).alpha_bar,
                                data_range=(-1.0, 1.0), clip=clip, channels=c, size_multiple=net.size_multiple)
    prior.native_size = net.image_size
    prior.network = net
    return prior
