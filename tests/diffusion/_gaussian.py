"""A 1-D Gaussian toy with a known posterior and its exact denoiser (shared by sampler tests)."""

from __future__ import annotations

import torch

from depthdif.diffusion.schedule import NoiseSchedule, broadcast

# prior N(0, 1) on a temperature anomaly, one observation 1.2 with noise variance 0.25:
PRIOR_VAR, OBS, OBS_VAR = 1.0, 1.2, 0.25
POST_VAR = 1.0 / (1.0 / PRIOR_VAR + 1.0 / OBS_VAR)  # 0.2
POST_MEAN = POST_VAR * OBS / OBS_VAR  # 0.96


def exact_x0_denoiser(schedule: NoiseSchedule, mean: float = POST_MEAN, var: float = POST_VAR):
    """E[x0 | x_t] for x0 ~ N(mean, var): mean + sqrt(ab)·var/(ab·var + 1 - ab)·(x_t - sqrt(ab)·mean)."""

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = broadcast(schedule.alpha_bars, t, x_t)
        return mean + ab.sqrt() * var / (ab * var + 1 - ab) * (x_t - ab.sqrt() * mean)

    return denoise
