"""One-step updates in VE variables (x̃ = x0 + σ z, [0, 1] units), reusable by guidance code.

Every function takes the current state ``x`` (B, C, H, W), the denoiser output ``denoised`` = D(x, σ),
and noise levels ``sigma`` → ``sigma_next`` (float, 0-d or (B,) tensors; σ_next may be 0).  Noise
tensors are passed in (drawn by the caller from its seeded generator), so a step is a pure function.
"""
from __future__ import annotations

import torch
from torch import Tensor

from operators.batch import batch_dot, per_image

from ..diffusion import VESDE, SigmaClockVPSDE
from ..priors.base import as_sigma

__all__ = ["ddpm_step", "ddim_step", "ancestral_step", "ancestral_sigmas", "pf_ode_derivative", "euler_step", "heun_step",
           "vp_sde_step", "reverse_diffusion_step", "langevin_step"]


def _add_noise(mean: Tensor, std: Tensor, noise: Tensor | None) -> Tensor:
    if noise is None:
        return mean
    return mean + std * noise


def ddpm_step(x: Tensor, denoised: Tensor, sigma, sigma_next, noise: Tensor | None = None,
              variance: str = "beta_tilde", data_range=(-1.0, 1.0)) -> Tensor:
    """DDPM ancestral step x_t → x_{t−1} (Ho et al. 2020) written in VE variables.

    With α_t = ᾱ_t/ᾱ_{t−1} (respaced grids: ᾱ of the previous grid point), the DDPM posterior mean
    μ = √ᾱ_{t−1}β_t/(1 − ᾱ_t) x̂0 + √α_t(1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t becomes, divided by √ᾱ_{t−1},

        x̃' = (σ'²/σ²) x̃ + (1 − σ'²/σ²) D,

    and the added variance divided by ᾱ_{t−1} is (k = hi − lo converts to network units)

        "beta_tilde": β̃_t/ᾱ_{t−1} → σ'² (σ² − σ'²)/σ²
        "beta":       β_t/ᾱ_{t−1}  → (σ² − σ'²)(1 + k²σ'²)/(1 + k²σ²)   (units of [0, 1] data).

    No noise on the last step (σ' = 0), which returns D exactly as DDPM's x_0 = μ_θ(x_1, 1).
    """
    s, sn = as_sigma(sigma, x), as_sigma(sigma_next, x)
    r = (sn / s) ** 2
    mean = r * x + (1 - r) * denoised
    if variance == "beta_tilde":
        var = sn**2 * (s**2 - sn**2) / s**2
    elif variance == "beta":
        lo, hi = (float(v) for v in data_range)
        k2 = (hi - lo) ** 2
        var = torch.where(sn > 0, (s**2 - sn**2) * (1 + k2 * sn**2) / (1 + k2 * s**2), torch.zeros_like(sn))
    else:
        raise ValueError(f"variance must be 'beta' or 'beta_tilde', got {variance!r}")
    return _add_noise(mean, var.clamp(min=0).sqrt(), noise)


def ancestral_sigmas(sigma, sigma_next, eta: float = 1.0):
    """DDIM's split of σ' (Song et al. 2021a) in VE variables: σ_up = η σ'√(σ² − σ'²)/σ  (= η √(β̃_t/ᾱ_{t−1})),
    σ_down = √(σ'² − σ_up²).  Returns (σ_down, σ_up)."""
    up = eta * sigma_next * (sigma**2 - sigma_next**2).clamp(min=0).sqrt() / sigma
    up = torch.minimum(up, sigma_next)
    down = (sigma_next**2 - up**2).clamp(min=0).sqrt()
    return down, up


def ancestral_step(x: Tensor, denoised: Tensor, sigma, sigma_down, sigma_up, noise: Tensor | None = None) -> Tensor:
    """x̃' = D + σ_down ε̂ + σ_up z,  ε̂ = (x̃ − D)/σ  — the step of DDIM (σ_down, σ_up from η, ``ddim_step``)
    and of DiffPIR (σ_down = √(1−ζ)σ', σ_up = √ζ σ', with D the data-corrected estimate)."""
    s = as_sigma(sigma, x)
    x_next = denoised + as_sigma(sigma_down, x) * (x - denoised) / s
    return x_next if noise is None else x_next + as_sigma(sigma_up, x) * noise


def ddim_step(x: Tensor, denoised: Tensor, sigma, sigma_next, eta: float = 0.0, noise: Tensor | None = None) -> Tensor:
    """DDIM step (Song et al. 2021a)  x_{t−1} = √ᾱ' x̂0 + √(1 − ᾱ' − s²) ε̂ + s z,  s² = η² β̃_t, in VE variables:

        x̃' = D + σ_down ε̂ + σ_up z,   ε̂ = (x̃ − D)/σ,   (σ_down, σ_up) = ``ancestral_sigmas(σ, σ', η)``.

    η = 0: deterministic (Euler step of the probability-flow ODE dx̃/dσ = ε̂); η = 1: DDPM with β̃.
    """
    s, sn = as_sigma(sigma, x), as_sigma(sigma_next, x)
    down, up = ancestral_sigmas(s, sn, eta)
    return ancestral_step(x, denoised, s, down, up, None if eta == 0 else noise)


def pf_ode_derivative(x: Tensor, denoised: Tensor, sigma) -> Tensor:
    """Probability-flow ODE in VE variables (Karras et al. 2022): dx̃/dσ = (x̃ − D(x̃, σ))/σ = −σ ∇log p_σ."""
    return (x - denoised) / as_sigma(sigma, x)


def euler_step(x: Tensor, denoised: Tensor, sigma, sigma_next) -> Tensor:
    """x̃' = x̃ + (σ' − σ) dx̃/dσ  (identical to DDIM with η = 0)."""
    s, sn = as_sigma(sigma, x), as_sigma(sigma_next, x)
    return x + (sn - s) * (x - denoised) / s


def heun_step(denoiser, x: Tensor, denoised: Tensor, sigma, sigma_next) -> Tensor:
    """Heun (trapezoidal) step of the PF-ODE; falls back to Euler where σ' = 0 (Karras et al. 2022, Alg. 1)."""
    s, sn = as_sigma(sigma, x), as_sigma(sigma_next, x)
    d = (x - denoised) / s
    x_euler = x + (sn - s) * d
    if bool((sn == 0).all()):
        return x_euler
    sn_safe = torch.where(sn > 0, sn, torch.ones_like(sn))
    d_next = (x_euler - denoiser(x_euler, sn_safe.reshape(-1))) / sn_safe
    return torch.where(sn > 0, x + (sn - s) * 0.5 * (d + d_next), x_euler)


def vp_sde_step(x: Tensor, denoised: Tensor, sigma, sigma_next, noise: Tensor | None = None,
                data_range=(-1.0, 1.0)) -> Tensor:
    """Euler–Maruyama step of the reverse-time VP SDE  dx = [f − g² ∇log p_t] dt + g dW̄,  f = −½βx, g = √β,

    taken in the VP variable (network units) on the clock s = −log ᾱ (in which β ≡ 1, so the step uses the
    exact ∫β dt = log(ᾱ'/ᾱ) over the interval):

        x_vp' = x_vp + (½ x_vp + ∇log p_t(x_vp)) Δs + √Δs z,   Δs = log((1 + σ_n²)/(1 + σ_n'²)),

    with x_vp = √ᾱ (lo + k x̃), ∇log p_t = ((lo + k D) − (lo + k x̃))/(σ_n² √ᾱ), σ_n = kσ; converted back
    to [0, 1] VE units with ᾱ'.  The last step (σ' = 0) returns D (noise-free final denoising).
    """
    lo, hi = (float(v) for v in data_range)
    k = hi - lo
    s, sn = as_sigma(sigma, x), as_sigma(sigma_next, x)
    a, a_next = 1 / (1 + (k * s) ** 2), 1 / (1 + (k * sn) ** 2)
    xn, dn = lo + k * x, lo + k * denoised
    x_vp = a.sqrt() * xn
    score_vp = (dn - xn) / ((k * s) ** 2 * a.sqrt())
    reverse = SigmaClockVPSDE(k).reverse(lambda *_: score_vp)  # the reverse SDE on the clock t = σ
    x_vp = reverse.step(x_vp, s, sn, noise)
    x_next = (x_vp / a_next.sqrt() - lo) / k
    return torch.where(sn > 0, x_next, denoised)


def reverse_diffusion_step(x: Tensor, denoised: Tensor, sigma, sigma_next, noise: Tensor | None = None) -> Tensor:
    """Reverse-diffusion predictor (Song et al. 2021b) for the VE SDE:  x̃' = x̃ + (σ² − σ'²) ∇log p_σ(x̃) + √(σ² − σ'²) z,
    ∇log p_σ = (D − x̃)/σ².  Returns D on the last step (σ' = 0)."""
    s, sn = as_sigma(sigma, x), as_sigma(sigma_next, x)
    reverse = VESDE(clock="sigma").reverse(lambda *_: (denoised - x) / s**2)
    return torch.where(sn > 0, reverse.step(x, s, sn, noise), denoised)


def langevin_step(x: Tensor, denoised: Tensor, sigma, noise: Tensor, snr: float = 0.16,
                  step_size: str = "sigma", max_step: float = 0.5) -> Tensor:
    """Langevin corrector (Song et al. 2021b, Alg. 4/5) targeting p_σ:  x̃' = x̃ + ε ∇log p_σ + √(2ε) z.

    ``step_size="sigma"`` (default): ε = 2 (snr·σ)².  This is Song et al.'s rule ε = 2 (snr ‖z‖/‖∇log p_σ‖)²
    with the norm ratio replaced by its value σ where the noise dominates (E‖z‖² = D, E‖∇log p_σ‖² ≤ D/σ²
    with equality when the data variance is ≪ σ²).  It does not depend on x, so the step is an honest
    unadjusted Langevin step whose bias is O(ε/σ²) = O(snr²) in every dimension.

    ``step_size="snr"``: the per-image adaptive rule ε = 2 (snr ‖z‖/‖∇log p_σ‖)² (norms per image, never
    over the batch), clamped to ε ≤ ``max_step``·σ² (−∇²log p_σ = (I − Cov[x0|x̃]/σ²)/σ² ≼ I/σ²).  In
    high dimension the norms concentrate and the two rules agree; in low dimension the ratio is
    heavy-tailed and x-dependent, which biases the stationary law (measured: ~10% on a 2-D mixture).
    """
    s = as_sigma(sigma, x)
    score = (denoised - x) / s**2
    if step_size == "sigma":
        eps = 2 * (snr * s) ** 2
    elif step_size == "snr":
        ratio = batch_dot(noise, noise) / batch_dot(score, score).clamp(min=torch.finfo(x.dtype).tiny)
        eps = 2 * snr**2 * per_image(ratio, x)
        eps = torch.minimum(eps, max_step * s**2)
    else:
        raise ValueError(f"step_size must be 'sigma' or 'snr', got {step_size!r}")
    return x + eps * score + (2 * eps).sqrt() * noise
