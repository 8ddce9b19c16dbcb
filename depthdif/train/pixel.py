"""PixelDiffusionSystem: conditional diffusion directly on the (D, H, W) depth field.

Every hook of `DiffusionSystem` keeps its pixel-space default: the diffused tensor is the
normalized temperature field itself, the condition is (x, per-depth mask, EO, EO validity,
land), and the denoiser is the UNet of `model.unet`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from depthdif.config.schema import ExperimentConfig
from depthdif.data.normalization import Normalization
from depthdif.train.diffusion_system import DiffusionSystem, as_config

KIND = "pixel"


class PixelDiffusionSystem(DiffusionSystem):
    """Pixel-space DepthDif (issue 4): the base system with identity model-space hooks."""

    kind = KIND

    def __init__(self, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                 depth: Sequence[float] | np.ndarray):
        cfg = as_config(cfg)
        depth = [float(d) for d in np.asarray(depth).reshape(-1)]  # plain list: see AutoencoderSystem.__init__
        super().__init__(cfg, normalization, depth)
