"""Noise schedules and the forward process q(x_t | x_0).

The schedule is pure noise math (diffusers' separation): it knows nothing of the network.
Tables are kept in float64 on the CPU and cast to the caller's dtype/device on lookup, so the
deep, nearly-saturated end of the cosine schedule keeps its precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


def linear_betas(timesteps: int, beta_start: float, beta_end: float) -> Tensor:
    """Ho et al. (2020): betas linear in t."""
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, beta_start: float = 0.0, beta_end: float = 0.0, s: float = 0.008,
                 max_beta: float = 0.999) -> Tensor:
    """Nichol & Dhariwal (2021), eq. 17: alpha_bar(t) = cos^2(((t/T)+s)/(1+s) * pi/2).

    beta_start / beta_end are accepted (and ignored) so every schedule shares one signature.
    """
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    alpha_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
    return betas.clamp(min=1e-8, max=max_beta)


SCHEDULES: dict[str, Callable[..., Tensor]] = {"linear": linear_betas, "cosine": cosine_betas}


def broadcast(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """Look up per-sample `values[t]` and shape them (B, 1, 1, ...) to broadcast against `like`."""
    picked = values.to(device=t.device)[t.long()].to(like.dtype)
    return picked.reshape(-1, *([1] * (like.dim() - 1)))


@dataclass(frozen=True)
class NoiseSchedule:
    """beta_t for t = 0..T-1 and everything derived from it (all float64, shape (T,))."""

    betas: Tensor

    @property
    def timesteps(self) -> int:
        return int(self.betas.shape[0])

    @property
    def alphas(self) -> Tensor:
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> Tensor:
        return torch.cumprod(self.alphas, dim=0)

    def alpha_bar_prev(self) -> Tensor:
        """alpha_bar_{t-1}, with alpha_bar_{-1} = 1 (the clean data)."""
        return torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars[:-1]])

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (Ho et al. eq. 4)."""
        abar = broadcast(self.alpha_bars, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def make_schedule(kind: str, timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """Build a schedule by name; unknown names list the allowed ones."""
    if kind not in SCHEDULES:
        raise ValueError(f"diffusion.schedule: unknown schedule {kind!r}; allowed: {sorted(SCHEDULES)}")
    if timesteps < 2:
        raise ValueError(f"diffusion.timesteps: need at least 2, got {timesteps}")
    return NoiseSchedule(SCHEDULES[kind](timesteps, beta_start, beta_end))
