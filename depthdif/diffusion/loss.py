"""The masked denoising loss: || M ⊙ (target - prediction) ||² / |M| (seed 000 §4.2).

M is Y in standard mode and S = A ⊙ Y in ambient mode (see ambient.py); it is pooled over the
whole batch, like the seed's formula. An empty mask gives exactly 0 that still back-propagates.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .parameterization import training_target
from .schedule import NoiseSchedule

Denoise = Callable[[Tensor, Tensor], Tensor]


def masked_mse(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Σ M (target - pred)² / Σ M; the clamp makes |M| = 0 give 0 (not NaN) with a zero gradient."""
    mask = mask.to(prediction.dtype)
    squared = mask * (target - prediction) ** 2
    return squared.sum() / mask.sum().clamp_min(1.0)


def sample_timesteps(batch: int, schedule: NoiseSchedule, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> Tensor:
    """t ~ Uniform{0, …, T-1} per sample; drawn on the CPU when a (CPU) generator is given."""
    if generator is None:
        return torch.randint(0, schedule.timesteps, (batch,), device=device)
    return torch.randint(0, schedule.timesteps, (batch,), generator=generator).to(device)


def diffusion_loss(denoise: Denoise, target: Tensor, loss_mask: Tensor, t: Tensor, noise: Tensor,
                   schedule: NoiseSchedule, parameterization: str,
                   noisy_mask: Tensor | None = None) -> Tensor:
    """One denoising loss term: noise the target, optionally mask the noisy branch, score on the mask.

    `denoise(x_t, t)` is the network with its condition already bound (one denoiser signature).
    """
    x_t = schedule.q_sample(target, t, noise)
    if noisy_mask is not None:
        x_t = noisy_mask * x_t  # x̃_t = Ã ⊙ x_t (seed 000 §4.1)
    prediction = denoise(x_t, t)
    return masked_mse(prediction, training_target(parameterization, target, noise, t, schedule), loss_mask)
