"""A small, fully-convolutional, noise-conditioned UNet F(x, c_noise).

Built for CPU training budgets: no attention and no normalisation layers (any image size whose
sides are multiples of ``2**(len(mults)-1)`` works; the prior wrapper pads), residual blocks
modulated by the noise embedding (FiLM: h ↦ h·(1 + scale(c)) + shift(c)), skip connections by
concatenation. The preconditioning that turns F into a denoiser lives in `restore.models.precond`.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
import torch.nn.functional as F


class FourierEmbedding(nn.Module):
    """Sinusoidal features of the scalar noise input: [cos(2π f_k c), sin(2π f_k c)]."""

    def __init__(self, dim: int, max_freq: float = 16.0):
        super().__init__()
        self.register_buffer("freqs", torch.logspace(0, math.log10(max_freq), dim // 2), persistent=False)

    def forward(self, c: Tensor) -> Tensor:
        arg = 2 * math.pi * c[:, None] * self.freqs[None, :]
        return torch.cat([arg.cos(), arg.sin()], dim=1)


class ResBlock(nn.Module):
    """h = x + conv(silu(FiLM(conv(silu(x)), emb)))  (1×1 projection when channels change)."""

    def __init__(self, cin: int, cout: int, emb_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(x))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(h * (1 + scale) + shift)
        return self.skip(x) + self.conv2(h)


class UNet(nn.Module):
    """Noise-conditioned UNet.

    Parameters
    ----------
    in_channels, out_channels : image channels.
    base : channels at full resolution; level l has ``base * mults[l]`` channels.
    mults : channel multipliers per resolution level (each level after the first halves H, W).
    blocks : residual blocks per level in the encoder (the decoder has ``blocks`` too).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base: int = 48,
                 mults: tuple[int, ...] = (1, 2, 2), blocks: int = 2, emb_dim: int = 128):
        super().__init__()
        self.config = dict(in_channels=in_channels, out_channels=out_channels, base=base,
                           mults=list(mults), blocks=blocks, emb_dim=emb_dim)
        self.size_multiple = 2 ** (len(mults) - 1)
        self.embed = nn.Sequential(FourierEmbedding(emb_dim), nn.Linear(emb_dim, emb_dim), nn.SiLU(),
                                   nn.Linear(emb_dim, emb_dim), nn.SiLU())
        chans = [base * m for m in mults]
        self.stem = nn.Conv2d(in_channels, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        c = chans[0]
        skips = []
        for level, ch in enumerate(chans):
            if level > 0:
                self.down.append(nn.Conv2d(c, ch, 3, stride=2, padding=1))
                c = ch
            blocks_l = nn.ModuleList()
            for _ in range(blocks):
                blocks_l.append(ResBlock(c, ch, emb_dim))
                c = ch
            self.enc.append(blocks_l)
            skips.append(c)
        self.mid = ResBlock(c, c, emb_dim)
        self.dec = nn.ModuleList()
        self.up = nn.ModuleList()
        for level in reversed(range(len(chans))):
            ch = chans[level]
            blocks_l = nn.ModuleList()
            blocks_l.append(ResBlock(c + skips[level], ch, emb_dim))
            for _ in range(blocks - 1):
                blocks_l.append(ResBlock(ch, ch, emb_dim))
            c = ch
            self.dec.append(blocks_l)
            if level > 0:
                self.up.append(nn.Conv2d(c, chans[level - 1], 3, padding=1))
                c = chans[level - 1]
        self.head = nn.Conv2d(c, out_channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        emb = self.embed(c_noise.reshape(-1).to(x.dtype))
        h = self.stem(x)
        skips = []
        for level, blocks_l in enumerate(self.enc):
            if level > 0:
                h = self.down[level - 1](h)
            for block in blocks_l:
                h = block(h, emb)
            skips.append(h)
        h = self.mid(h, emb)
        for i, blocks_l in enumerate(self.dec):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks_l:
                h = block(h, emb)
            if i < len(self.up):
                h = self.up[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(F.silu(h))
