"""`NetworkPrior`: a trained denoiser network seen through the prior protocol.

The network works on [-1, 1] data with noise level σ' in those units; the protocol speaks [0, 1]:

    D_01(x, σ) = (D_net(2x − 1, 2σ) + 1) / 2.

Any H, W: the input is reflect-padded to the network's size multiple and cropped back.
Grayscale input (C = 1) to a colour network.  The prior saw grey images in training as R = G = B
*plus independent noise in each channel*; replicating a noisy grey z = x + σn to R = G = B instead gives
the network noise that is identical in the three channels — out of its training distribution, and
it answers badly (DAPS on a Levin image with the true kernel: 19.6 dB from a 26.5 dB input).  So the
grey measurement is lifted to exactly what the network was trained on,

    h = z·1 + √3 σ (e − ē),      e ~ N(0, I₃) per pixel (a fixed seeded pattern),  ē its channel mean,

whose noise σn·1 + √3σ(e − ē) has covariance 3σ² (uuᵀ + P⊥) = 3σ² I per pixel (u = (1, 1, 1)/√3,
P⊥ = I − uuᵀ): independent noise of std √3σ in each channel on the grey image x·1, with z = mean_c h_c
recovered exactly (the added part has zero channel mean, so it carries no information and loses none).
Then

    D_grey(z, σ) = mean_c D(h, √3σ)_c.

The pattern e is drawn from a fixed seed (`LIFT_SEED`) for the image size: deterministic, and the same
for every image of a batch (batch size never changes a result).  At σ = 0 it is plain replication.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..priors.base import PriorBase, as_sigma

#: seed of the fixed grey-lift pattern: an arbitrary constant, not a small seed (0, 1, …) that a caller's
#: own noise stream could share — the pattern must be independent of the image's noise
LIFT_SEED = 0x6C696674


class NetworkPrior(PriorBase):
    """Prior protocol around a `Preconditioned` network trained on [-1, 1] data."""

    def __init__(self, model, config: dict | None = None):
        self.model = model
        self.config = config or {}
        self.channels = None  # colour network, grayscale lifted (module docstring)
        self._lift = None  # the last fixed pattern √3·(e − ē): ((h, w, device, dtype), tensor)
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
        grey = C == 1 and self.net_channels > 1
        if grey:  # independent noise per channel, as in training (module docstring)
            x = x.expand(B, self.net_channels, H, W) + s.view(-1, 1, 1, 1).to(x.dtype) * self.lift_pattern(H, W, x)
            s = s * self.net_channels ** 0.5
        h = x
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
        if grey:
            d = d.mean(dim=1, keepdim=True)
        return d

    def lift_pattern(self, h: int, w: int, like: Tensor) -> Tensor:
        """√(C) (e − ē) on an h×w grid (e ~ N(0, I_C) per pixel from a fixed seed, ē its channel mean):
        the noise that lifts a noisy grey image to independent noise per channel (module docstring)."""
        key = (h, w, like.device, like.dtype)
        if self._lift is None or self._lift[0] != key:
            c = self.net_channels
            e = torch.randn(1, c, h, w, generator=torch.Generator().manual_seed(LIFT_SEED),
                            dtype=torch.float64)
            self._lift = (key, ((e - e.mean(1, keepdim=True)) * c ** 0.5).to(like.device, like.dtype))
        return self._lift[1]
