"""DDIM sampling (Song et al. 2021, eq. 12) on a sub-sequence of the training timesteps.

eta = 0 is the deterministic ODE-like sampler, eta = 1 matches DDPM's β̃ noise level.
The denoiser always receives training timesteps (0..T-1), never sub-sequence indices.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .parameterization import split_prediction
from .schedule import NoiseSchedule

Denoise = Callable[[Tensor, Tensor], Tensor]


def ddim_timesteps(timesteps: int, steps: int) -> list[int]:
    """`steps` training timesteps evenly spaced over [0, T-1], descending, duplicates removed."""
    if steps < 1:
        raise ValueError(f"sampling.steps: need at least 1, got {steps}")
    grid = torch.linspace(0, timesteps - 1, min(steps, timesteps), dtype=torch.float64).round().long()
    return sorted(set(grid.tolist()), reverse=True)


def ddim_sample(denoise: Denoise, shape: tuple[int, ...], schedule: NoiseSchedule, parameterization: str,
                generator: torch.Generator | None = None, *, steps: int = 50, eta: float = 0.0,
                clip: float | None = None, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32, progress: bool = False) -> Tensor:
    """Run the DDIM chain from x_T ~ N(0, I); the last step lands on alpha_bar_{-1} = 1."""
    abar = schedule.alpha_bars
    seq = ddim_timesteps(schedule.timesteps, steps)
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    for i, t in enumerate(tqdm(seq, disable=not progress, desc="ddim", leave=False)):
        tt = torch.full((shape[0],), t, dtype=torch.long, device=x.device)
        x0_hat, eps_hat = split_prediction(denoise(x, tt), x, tt, schedule, parameterization, clip)
        a_t = float(abar[t])
        a_prev = float(abar[seq[i + 1]]) if i + 1 < len(seq) else 1.0
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
        x = a_prev ** 0.5 * x0_hat + max(1 - a_prev - sigma ** 2, 0.0) ** 0.5 * eps_hat
        if sigma > 0:
            x = x + sigma * torch.randn(shape, generator=generator, dtype=dtype).to(device)
    return x
