"""The condition the denoiser sees: sparse input, its per-depth mask, EO, EO validity, land.

Channel order (fixed, documented, used by the pixel and latent systems alike):
x (D) | observation mask (D) | eo (E) | eo_valid_mask (E) | land_mask (1).
The mask is per depth: upstream collapsed it to one channel, so the model could not tell how
deep a profile reached.
"""

from __future__ import annotations

import torch
from torch import Tensor

from depthdif.config.schema import ConditionConfig


def condition_channels(input_channels: int, eo_channels: int, cfg: ConditionConfig) -> int:
    """How many channels `build_condition` produces."""
    return 2 * input_channels + (2 * eo_channels if cfg.include_eo else 0) + (1 if cfg.include_land_mask else 0)


def build_condition(x: Tensor, obs_mask: Tensor, eo: Tensor, eo_mask: Tensor, land_mask: Tensor,
                    cfg: ConditionConfig) -> Tensor:
    """Concatenate the condition channels; callers pass x̃, Ã in ambient training, x, A otherwise."""
    parts = [x * obs_mask, obs_mask]
    if cfg.include_eo:
        parts += [eo * eo_mask, eo_mask]
    if cfg.include_land_mask:
        parts.append(land_mask)
    return torch.cat([p.to(x.dtype) for p in parts], dim=1)
