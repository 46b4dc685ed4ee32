"""`NetworkPrior`: a trained denoiser network seen through the prior protocol.

The network works on [-1, 1] data with noise level σ' in those units; the protocol speaks [0, 1]:

    D_01(x, σ) = (D_net(2x − 1, 2σ) + 1) / 2.

Any H, W: the input is reflect-padded to the network's size multiple and cropped back.
Grayscale input (C = 1) to a colour network: the channel is replicated to R = G = B (a grey image
with the same noise in each channel, which the default prior saw in training) and the output
channels are averaged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..priors.base import PriorBase, as_sigma


class NetworkPrior(PriorBase):
    """Prior protocol around a `Preconditioned` network trained on [-1, 1] data."""

    def __init__(self, model, config: dict | None = None):
        self.model = model
        self.config = config or {}
        self.channels = None  # colour network, grayscale handled by replication
        self.net_channels = model.net.config["in_channels"]
        self.size_multiple = model.net.size_multiple
        self.autocast = False  # bf16 autocast on CPU: faster, ~0.05 dB lower; off by default

    def to(self, device=None, dtype=None):
        self.model.to(device=device, dtype=dtype)
        return self

    @property
    def device(self):
        return next(self.model.parameters()).device

    def denoise(self, x: Tensor, sigma) -> Tensor:
        """E[x₀ | x₀ + σz = x] for x in [0, 1] units, σ in [0, 1] units, per image."""
        s = as_sigma(sigma, x)
        B, C, H, W = x.shape
        if C not in (1, self.net_channels):
            raise ValueError(f"prior models {self.net_channels} channels, got {C}")
        h = x.repeat(1, self.net_channels, 1, 1) if C == 1 and self.net_channels > 1 else x
        m = self.size_multiple
        ph, pw = (-H) % m, (-W) % m
        if ph or pw:
            mode = "reflect" if (ph < H and pw < W) else "replicate"
            h = F.pad(h, (0, pw, 0, ph), mode=mode)
        p = next(self.model.parameters())
        h = (2 * h - 1).to(p.dtype)
        s2 = (2 * s).to(p.dtype)
        if self.autocast and h.device.type == "cpu":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                d = self.model(h, s2).float()
        else:
            d = self.model(h, s2)
        d = ((d + 1) / 2)[..., :H, :W].to(x.dtype)
        if C == 1 and self.net_channels > 1:
            d = d.mean(dim=1, keepdim=True)
        return d
