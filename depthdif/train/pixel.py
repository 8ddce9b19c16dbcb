"""PixelDiffusionSystem: conditional diffusion directly on the (D, H, W) depth field.

Every hook of `DiffusionSystem` keeps its pixel-space default: the diffused tensor is the
normalized temperature field itself, the condition is (x, per-depth mask, EO, EO validity,
land), and the denoiser is the UNet of `model.unet`.
"""

from __future__ import annotations

from depthdif.train.diffusion_system import DiffusionSystem

KIND = "pixel"


class PixelDiffusionSystem(DiffusionSystem):
    """Pixel-space DepthDif (issue 4): the base system with identity model-space hooks."""

    kind = KIND
