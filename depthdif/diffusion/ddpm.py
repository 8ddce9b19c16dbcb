"""DDPM ancestral sampling (Ho et al. 2020, Alg. 2) with a selectable posterior variance.

The sampler calls `denoise(x_t, t)` and nothing else; the network and its condition are bound
by the caller. No clipping unless `clip` is given (upstream's DDIM default clamped to ±1 std).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .parameterization import split_prediction
from .schedule import NoiseSchedule, broadcast

Denoise = Callable[[Tensor, Tensor], Tensor]
PosteriorVariance = Literal["beta", "beta_tilde"]


def posterior_coefficients(schedule: NoiseSchedule) -> tuple[Tensor, Tensor, Tensor]:
    """q(x_{t-1} | x_t, x0) = N(c0·x0 + ct·x_t, β̃_t) (Ho et al. eq. 7): returns (c0, ct, β̃)."""
    betas, abar, abar_prev = schedule.betas, schedule.alpha_bars, schedule.alpha_bar_prev()
    c0 = abar_prev.sqrt() * betas / (1 - abar)
    ct = schedule.alphas.sqrt() * (1 - abar_prev) / (1 - abar)
    beta_tilde = betas * (1 - abar_prev) / (1 - abar)
    return c0, ct, beta_tilde


def ddpm_step(x_t: Tensor, x0_hat: Tensor, t: int, schedule: NoiseSchedule, posterior_variance: str,
              generator: torch.Generator | None,
              coefficients: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
    """One reverse step x_t → x_{t-1}; no noise is added at t = 0."""
    c0, ct, beta_tilde = coefficients or posterior_coefficients(schedule)
    tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
    mean = broadcast(c0, tt, x_t) * x0_hat + broadcast(ct, tt, x_t) * x_t
    if t == 0:
        return mean
    variance = schedule.betas if posterior_variance == "beta" else beta_tilde
    noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype).to(x_t.device)
    return mean + broadcast(variance, tt, x_t).sqrt() * noise


def ddpm_sample(denoise: Denoise, shape: tuple[int, ...], schedule: NoiseSchedule, parameterization: str,
                generator: torch.Generator | None = None, *, posterior_variance: PosteriorVariance = "beta_tilde",
                clip: float | None = None, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32, progress: bool = False) -> Tensor:
    """Run all T reverse steps from x_T ~ N(0, I). Noise is drawn on the CPU from `generator`."""
    if posterior_variance not in ("beta", "beta_tilde"):
        raise ValueError(f"sampling.posterior_variance: {posterior_variance!r} not in ['beta', 'beta_tilde']")
    coefficients = posterior_coefficients(schedule)
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    for t in tqdm(range(schedule.timesteps - 1, -1, -1), disable=not progress, desc="ddpm", leave=False):
        tt = torch.full((shape[0],), t, dtype=torch.long, device=x.device)
        x0_hat, _ = split_prediction(denoise(x, tt), x, tt, schedule, parameterization, clip)
        x = ddpm_step(x, x0_hat, t, schedule, posterior_variance, generator, coefficients)
    return x
