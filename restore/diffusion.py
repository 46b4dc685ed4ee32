"""Noise schedules, SDEs and every conversion between their variables -- in one place.

Variables
---------
VP (DDPM) state in the network's units (data range ``(lo, hi)``, e.g. ``(-1, 1)``)::

    x_t = √ᾱ_t · x0' + √(1 − ᾱ_t) · ε,                       q(x_t | x0') = N(√ᾱ_t x0', (1 − ᾱ_t) I)

VE state, same units:  x̃' = x_t / √ᾱ_t = x0' + σ' ε  with  σ' = √((1 − ᾱ_t)/ᾱ_t),  ᾱ_t = 1/(1 + σ'²).

VE state in the public [0, 1] units (what priors and samplers see): with k = hi − lo,

    x̃ = (x̃' − lo)/k,   σ = σ'/k        (for (-1, 1): x = (x' + 1)/2, σ = σ'/2).

Predictions (one line each; the prior protocol's ``score``/``eps`` are the VE forms)::

    VE:  score = (D − x̃)/σ²,   ε̂ = (x̃ − D)/σ,   D = x̃ + σ² score = x̃ − σ ε̂       (Tweedie)
    VP:  score_t = −ε̂/√(1 − ᾱ_t),   x̂0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t = (x_t + (1 − ᾱ_t) score_t)/√ᾱ_t

SDEs (score_sde_pytorch style objects: ``drift``, ``diffusion``, ``marginal``, ``discretize``, ``reverse``)::

    VP:  dx = −½ β(t) x dt + √β(t) dW,        marginal N(√ᾱ(t) x0, (1 − ᾱ(t)) I),  ᾱ(t) = exp(−∫₀ᵗ β)
    VE:  dx = √(d σ²(t)/dt) dW,               marginal N(x0, σ(t)² I)

The reverse SDE (Anderson 1982) dx = [f − g² ∇log p_t] dt + g dW̄ is ``sde.reverse(score_fn)``; its
``step`` is the one discretisation the samplers of `restore.sampling` call (an Euler–Maruyama step
whose drift and variance are integrated exactly over the interval, ``sde.discretize``).

A discrete DDPM table ``alpha_bar[i]`` (i = 0..T−1 ↔ DDPM t = 1..T) is seen in continuous time
t = (i + 1)/T ∈ (0, 1] with β(t) ≈ T·β_i (linear schedule: β_min = T·1e-4 = 0.1, β_max = T·0.02 = 20).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from operators.batch import per_image


__all__ = [
    # tables
    "linear_betas", "cosine_alpha_bar", "alpha_bar_from_betas", "betas_from_alpha_bar",
    "sigma_from_alpha_bar", "alpha_bar_from_sigma",
    # conversions
    "score_from_denoiser", "eps_from_denoiser", "denoiser_from_eps", "denoiser_from_score",
    "vp_score_from_eps", "vp_eps_from_score", "vp_x0_from_eps", "vp_eps_from_x0", "vp_x0_from_score",
    "vp_to_ve", "ve_to_vp", "vp_score_from_ve_score",
    "to_network_units", "from_network_units", "sigma_to_network_units", "sigma_from_network_units",
    # objects
    "VPSchedule", "VPSDE", "SigmaClockVPSDE", "VESDE", "ReverseSDE",
]


# --------------------------------------------------------------------------------------------
# ᾱ tables
# --------------------------------------------------------------------------------------------
def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """DDPM (Ho et al. 2020) linear β_t, t = 1..T, float64."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_alpha_bar(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Nichol & Dhariwal (2021) cosine schedule: ᾱ_t = f(t)/f(0), f(t) = cos²(π/2 · (t/T + s)/(1 + s)),

    with β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped to ``max_beta`` (as in the paper); returns ᾱ_t, t = 1..T.
    """
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    return alpha_bar_from_betas(betas)


def alpha_bar_from_betas(betas: Tensor) -> Tensor:
    """ᾱ_t = ∏_{s ≤ t} (1 − β_s)."""
    return torch.cumprod(1 - torch.as_tensor(betas, dtype=torch.float64), 0)


def betas_from_alpha_bar(alpha_bar: Tensor) -> Tensor:
    """β_t = 1 − ᾱ_t/ᾱ_{t−1} with ᾱ_0 = 1."""
    a = torch.as_tensor(alpha_bar, dtype=torch.float64)
    prev = torch.cat([a.new_ones(1), a[:-1]])
    return 1 - a / prev


def sigma_from_alpha_bar(alpha_bar):
    """VE noise level of a VP state: σ = √((1 − ᾱ)/ᾱ)  (same units as the VP data)."""
    a = torch.as_tensor(alpha_bar)
    return ((1 - a) / a).sqrt()


def alpha_bar_from_sigma(sigma):
    """Inverse of ``sigma_from_alpha_bar``: ᾱ = 1/(1 + σ²)  (σ in the VP data's units)."""
    s = torch.as_tensor(sigma)
    return 1 / (1 + s**2)


# --------------------------------------------------------------------------------------------
# conversions between predictions
# --------------------------------------------------------------------------------------------
def score_from_denoiser(denoised: Tensor, x: Tensor, sigma: Tensor) -> Tensor:
    """∇log p_σ(x) = (D − x)/σ²."""
    return (denoised - x) / sigma**2


def eps_from_denoiser(denoised: Tensor, x: Tensor, sigma: Tensor) -> Tensor:
    """ε̂ = (x − D)/σ."""
    return (x - denoised) / sigma


def denoiser_from_eps(eps: Tensor, x: Tensor, sigma: Tensor) -> Tensor:
    """D = x − σ ε̂."""
    return x - sigma * eps


def denoiser_from_score(score: Tensor, x: Tensor, sigma: Tensor) -> Tensor:
    """Tweedie: D = x + σ² ∇log p_σ(x)."""
    return x + sigma**2 * score


def vp_score_from_eps(eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """∇_{x_t} log p_t(x_t) = −ε̂/√(1 − ᾱ_t)."""
    return -eps / (1 - alpha_bar).sqrt()


def vp_eps_from_score(score: Tensor, alpha_bar: Tensor) -> Tensor:
    """ε̂ = −√(1 − ᾱ_t) ∇log p_t."""
    return -(1 - alpha_bar).sqrt() * score


def vp_x0_from_eps(x_t: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """x̂0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t."""
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def vp_eps_from_x0(x_t: Tensor, x0: Tensor, alpha_bar: Tensor) -> Tensor:
    """ε̂ = (x_t − √ᾱ_t x̂0)/√(1 − ᾱ_t)."""
    return (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def vp_x0_from_score(x_t: Tensor, score: Tensor, alpha_bar: Tensor) -> Tensor:
    """Tweedie in the VP variable: x̂0 = (x_t + (1 − ᾱ_t) ∇log p_t(x_t))/√ᾱ_t."""
    return (x_t + (1 - alpha_bar) * score) / alpha_bar.sqrt()


def vp_to_ve(x_t: Tensor, alpha_bar: Tensor) -> Tensor:
    """x̃ = x_t/√ᾱ_t  (σ = √((1 − ᾱ_t)/ᾱ_t), same units)."""
    return x_t / alpha_bar.sqrt()


def ve_to_vp(x_ve: Tensor, sigma: Tensor) -> Tensor:
    """x_t = √ᾱ x̃ = x̃/√(1 + σ²)  (σ in the VP data's units)."""
    return x_ve / (1 + sigma**2).sqrt()


def vp_score_from_ve_score(score_ve: Tensor, alpha_bar: Tensor) -> Tensor:
    """p_t(x_t) = p_σ(x_t/√ᾱ)/ᾱ^{D/2}  ⇒  ∇_{x_t} log p_t = ∇_{x̃} log p_σ / √ᾱ."""
    return score_ve / alpha_bar.sqrt()


def _range(data_range) -> tuple[float, float]:
    lo, hi = (float(v) for v in data_range)
    if not hi > lo:
        raise ValueError(f"data_range must be (lo, hi) with hi > lo, got {data_range}")
    return lo, hi


def to_network_units(x: Tensor, data_range=(-1.0, 1.0)) -> Tensor:
    """[0, 1] units → network units: x' = lo + (hi − lo) x  (for (-1, 1): x' = 2x − 1)."""
    lo, hi = _range(data_range)
    return lo + (hi - lo) * x


def from_network_units(x: Tensor, data_range=(-1.0, 1.0)) -> Tensor:
    """Network units → [0, 1] units: x = (x' − lo)/(hi − lo)  (for (-1, 1): x = (x' + 1)/2)."""
    lo, hi = _range(data_range)
    return (x - lo) / (hi - lo)


def sigma_to_network_units(sigma, data_range=(-1.0, 1.0)):
    """σ' = (hi − lo) σ  (for (-1, 1): σ' = 2σ)."""
    lo, hi = _range(data_range)
    return sigma * (hi - lo)


def sigma_from_network_units(sigma, data_range=(-1.0, 1.0)):
    """σ = σ'/(hi − lo)  (for (-1, 1): σ_01 = σ_pm1/2)."""
    lo, hi = _range(data_range)
    return sigma / (hi - lo)


# --------------------------------------------------------------------------------------------
# discrete VP schedule (a DDPM ᾱ table) seen from the [0, 1] VE side
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VPSchedule:
    """A discrete DDPM table ᾱ_i (i = 0..T−1) of a network on ``data_range`` data.

    ``sigmas`` are the table's VE noise levels in [0, 1] units, σ_i = √((1 − ᾱ_i)/ᾱ_i)/(hi − lo),
    increasing in i.  The VP start x_T ~ N(0, I) (network units) is, in [0, 1] VE units,
    x̃_T = ``init_center`` + √(σ_T² + ``init_scale``²)·z with init_center = −lo/(hi − lo) and
    init_scale = 1/(hi − lo)  (exact: x_T/√ᾱ_T has variance 1/ᾱ_T = 1 + σ'_T²).
    """

    alpha_bar: Tensor
    data_range: tuple = (-1.0, 1.0)

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02, data_range=(-1.0, 1.0)):
        return cls(alpha_bar_from_betas(linear_betas(T, beta_start, beta_end)), tuple(data_range))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, data_range=(-1.0, 1.0)):
        return cls(cosine_alpha_bar(T, s), tuple(data_range))

    @classmethod
    def from_name(cls, name: str, data_range=(-1.0, 1.0), T: int = 1000):
        if name == "linear":
            return cls.linear(T, data_range=data_range)
        if name == "cosine":
            return cls.cosine(T, data_range=data_range)
        raise ValueError(f"unknown schedule {name!r}; expected 'linear' or 'cosine'")

    @property
    def T(self) -> int:
        return int(self.alpha_bar.shape[0])

    @property
    def betas(self) -> Tensor:
        return betas_from_alpha_bar(self.alpha_bar)

    @property
    def scale(self) -> float:
        """k = hi − lo: network units per [0, 1] unit."""
        lo, hi = _range(self.data_range)
        return hi - lo

    @property
    def network_sigmas(self) -> Tensor:
        """σ'_i = √((1 − ᾱ_i)/ᾱ_i) in network units (float64, increasing)."""
        return sigma_from_alpha_bar(torch.as_tensor(self.alpha_bar, dtype=torch.float64))

    @property
    def sigmas(self) -> Tensor:
        """σ_i in [0, 1] units (float64, increasing)."""
        return self.network_sigmas / self.scale

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    @property
    def init_center(self) -> float:
        lo, hi = _range(self.data_range)
        return -lo / (hi - lo)

    @property
    def init_scale(self) -> float:
        return 1.0 / self.scale

    def t_from_sigma(self, sigma: Tensor) -> Tensor:
        """Continuous table index t(σ) for σ in [0, 1] units.

        Linear interpolation in log σ between the two neighbouring table entries
        (t = i + (log σ − log σ_i)/(log σ_{i+1} − log σ_i)); clamped to [0, T − 1] outside the table.
        Exact (integer) at table σ's; inverse of ``sigma_at``.
        """
        s = torch.as_tensor(sigma)
        log_table = self.sigmas.log().to(s.device)
        ls = s.to(torch.float64).clamp(min=1e-300).log()
        i = torch.searchsorted(log_table, ls).clamp(1, self.T - 1)
        lo, hi = log_table[i - 1], log_table[i]
        w = ((ls - lo) / (hi - lo)).clamp(0, 1)
        t = (i - 1).to(torch.float64) + w
        return t.to(s.dtype) if s.is_floating_point() else t

    def sigma_at(self, t: Tensor) -> Tensor:
        """σ(t) in [0, 1] units for a continuous table index t (log-linear interpolation)."""
        t = torch.as_tensor(t)
        tt = t.to(torch.float64).clamp(0, self.T - 1)
        log_table = self.sigmas.log().to(t.device)
        i = tt.floor().long().clamp(0, self.T - 2)
        w = tt - i
        out = ((1 - w) * log_table[i] + w * log_table[i + 1]).exp()
        return out.to(t.dtype) if t.is_floating_point() else out

    def to_sde(self) -> "VPSDE":
        """The continuous view: β(t) on t ∈ (0, 1] with ∫ β = −log ᾱ (piecewise-constant β(t) = T·β_i)."""
        return VPSDE(alpha_bar_table=self.alpha_bar)


# --------------------------------------------------------------------------------------------
# SDE objects (score_sde_pytorch style)
# --------------------------------------------------------------------------------------------
class VPSDE:
    """Variance-preserving SDE  dx = −½ β(t) x dt + √β(t) dW,  t ∈ [0, 1].

    Either linear β(t) = β_min + t (β_max − β_min) (defaults = DDPM linear with T = 1000), or
    ``alpha_bar_table``: the piecewise-constant β(t) = −d log ᾱ/dt of a discrete table, with
    ᾱ(t) interpolated log-linearly between ᾱ(i/T) (ᾱ(0) = 1).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, alpha_bar_table: Tensor | None = None):
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        self.table = None
        if alpha_bar_table is not None:
            a = torch.as_tensor(alpha_bar_table, dtype=torch.float64)
            self.table = torch.cat([a.new_ones(1), a]).log()  # log ᾱ at t = i/T, i = 0..T
        self.T = 1.0

    def _log_alpha_bar(self, t: Tensor) -> Tensor:
        if self.table is None:
            return -0.5 * t**2 * (self.beta_max - self.beta_min) - t * self.beta_min
        n = self.table.shape[0] - 1
        u = (t.to(torch.float64) * n).clamp(0, n)
        i = u.floor().long().clamp(0, n - 1)
        w = u - i
        tab = self.table.to(t.device)
        return ((1 - w) * tab[i] + w * tab[i + 1]).to(t.dtype)

    def beta(self, t: Tensor) -> Tensor:
        """β(t)."""
        if self.table is None:
            return self.beta_min + t * (self.beta_max - self.beta_min)
        n = self.table.shape[0] - 1
        i = (t.to(torch.float64) * n).ceil().long().clamp(1, n)
        tab = self.table.to(t.device)
        return ((tab[i - 1] - tab[i]) * n).to(t.dtype)

    def alpha_bar(self, t: Tensor) -> Tensor:
        """ᾱ(t) = exp(−∫₀ᵗ β(s) ds)."""
        return self._log_alpha_bar(torch.as_tensor(t)).exp()

    def drift(self, x: Tensor, t) -> Tensor:
        """f(x, t) = −½ β(t) x."""
        return -0.5 * per_image(self.beta(torch.as_tensor(t, dtype=x.dtype, device=x.device)), x) * x

    def diffusion(self, x: Tensor, t) -> Tensor:
        """g(t) = √β(t), shape (B, 1, 1, 1)."""
        return per_image(self.beta(torch.as_tensor(t, dtype=x.dtype, device=x.device)), x).sqrt()

    def marginal(self, x0: Tensor, t) -> tuple[Tensor, Tensor]:
        """q(x_t | x0) = N(√ᾱ(t) x0, (1 − ᾱ(t)) I): returns (mean, std)."""
        a = per_image(self.alpha_bar(torch.as_tensor(t, dtype=x0.dtype, device=x0.device)), x0)
        return a.sqrt() * x0, (1 - a).sqrt()

    def prior_sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        """x_1 ~ N(0, I)."""
        return torch.randn(shape, generator=generator, dtype=dtype).to(device)

    def sigma(self, t) -> Tensor:
        """Equivalent VE noise level σ(t) = √((1 − ᾱ(t))/ᾱ(t))."""
        return sigma_from_alpha_bar(self.alpha_bar(t))

    def discretize(self, x: Tensor, t, t_next) -> tuple[Tensor, Tensor]:
        """Integrals over the reverse interval [t', t] (t' < t): (∫f dt, ∫g² dt) = (−½ x Δs, Δs),
        Δs = ∫β = log ᾱ(t') − log ᾱ(t), exact for the linear drift's β."""
        ds = per_image(self._log_alpha_bar(torch.as_tensor(t_next, dtype=x.dtype, device=x.device))
                    - self._log_alpha_bar(torch.as_tensor(t, dtype=x.dtype, device=x.device)), x)
        return -0.5 * x * ds, ds

    def reverse(self, score_fn: Callable, probability_flow: bool = False) -> "ReverseSDE":
        return ReverseSDE(self, score_fn, probability_flow)


class SigmaClockVPSDE(VPSDE):
    """The VP SDE on the clock t = σ, the VE noise level in [0, 1] units (data range of width k):
    ᾱ(t) = 1/(1 + k²t²), β(t) = −d log ᾱ/dt = 2k²t/(1 + k²t²).  Samplers that walk a σ grid use it."""

    def __init__(self, k: float = 2.0):
        super().__init__()
        self.k = float(k)

    def _log_alpha_bar(self, t: Tensor) -> Tensor:
        return -torch.log1p((self.k * t) ** 2)

    def beta(self, t: Tensor) -> Tensor:
        return 2 * self.k**2 * t / (1 + (self.k * t) ** 2)


class VESDE:
    """Variance-exploding SDE  dx = σ(t)√(2 log(σ_max/σ_min)) dW,  σ(t) = σ_min (σ_max/σ_min)^t."""

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, clock: str = "geometric"):
        if clock not in ("geometric", "sigma"):
            raise ValueError(f"clock must be 'geometric' or 'sigma', got {clock!r}")
        self.sigma_min, self.sigma_max, self.clock = float(sigma_min), float(sigma_max), clock
        self.T = 1.0

    def sigma(self, t) -> Tensor:
        """σ(t) = σ_min (σ_max/σ_min)^t, or σ(t) = t on the ``clock="sigma"`` (t is the noise level)."""
        t = torch.as_tensor(t)
        if self.clock == "sigma":
            return t
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def discretize(self, x: Tensor, t, t_next) -> tuple[Tensor, Tensor]:
        """(∫f dt, ∫g² dt) over [t', t] = (0, σ(t)² − σ(t')²)."""
        s = per_image(self.sigma(torch.as_tensor(t, dtype=x.dtype, device=x.device)), x)
        sn = per_image(self.sigma(torch.as_tensor(t_next, dtype=x.dtype, device=x.device)), x)
        return torch.zeros_like(x), (s**2 - sn**2).clamp(min=0)

    def drift(self, x: Tensor, t) -> Tensor:
        """f = 0."""
        return torch.zeros_like(x)

    def diffusion(self, x: Tensor, t) -> Tensor:
        """g(t) = √(dσ²/dt) = σ(t) √(2 log(σ_max/σ_min))."""
        s = per_image(self.sigma(torch.as_tensor(t, dtype=x.dtype, device=x.device)), x)
        return s * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))

    def marginal(self, x0: Tensor, t) -> tuple[Tensor, Tensor]:
        """q(x_t | x0) = N(x0, σ(t)² I)  (σ(0) = σ_min is neglected, as in Song et al.)."""
        return x0, per_image(self.sigma(torch.as_tensor(t, dtype=x0.dtype, device=x0.device)), x0)

    def prior_sample(self, shape, generator=None, dtype=torch.float64, device=None) -> Tensor:
        """x_1 ~ N(0, σ_max² I)."""
        return self.sigma_max * torch.randn(shape, generator=generator, dtype=dtype).to(device)

    def reverse(self, score_fn: Callable, probability_flow: bool = False) -> "ReverseSDE":
        return ReverseSDE(self, score_fn, probability_flow)


class ReverseSDE:
    """Reverse-time SDE  dx = [f − g² ∇log p_t] dt + g dW̄  (or the probability-flow ODE
    dx = [f − ½ g² ∇log p_t] dt), integrated from t = 1 to 0.  ``score_fn(x, t)`` is ∇log p_t(x)."""

    def __init__(self, sde, score_fn: Callable, probability_flow: bool = False):
        self.sde, self.score_fn, self.probability_flow = sde, score_fn, probability_flow

    def drift(self, x: Tensor, t) -> Tensor:
        g2 = self.sde.diffusion(x, t) ** 2
        c = 0.5 if self.probability_flow else 1.0
        return self.sde.drift(x, t) - c * g2 * self.score_fn(x, t)

    def diffusion(self, x: Tensor, t) -> Tensor:
        g = self.sde.diffusion(x, t)
        return torch.zeros_like(g) if self.probability_flow else g

    def step(self, x: Tensor, t, t_next, noise: Tensor | None = None) -> Tensor:
        """One reverse step t → t' < t with the drift and variance integrated over the interval:

            x' = x − ∫f + (∫g²)·∇log p_t(x) + √(∫g²)·z          (SDE; z = ``noise``, None: no noise)
            x' = x − ∫f + ½(∫g²)·∇log p_t(x)                   (probability-flow ODE)

        (VP: x' = x + (½x + score)Δs + √Δs z with Δs = log(ᾱ'/ᾱ); VE: x' = x + (σ² − σ'²) score + √(σ² − σ'²) z.)
        """
        f_int, g2 = self.sde.discretize(x, t, t_next)
        c = 0.5 if self.probability_flow else 1.0
        x_next = x - f_int + c * g2 * self.score_fn(x, t)
        if noise is None or self.probability_flow:
            return x_next
        return x_next + g2.sqrt() * noise
