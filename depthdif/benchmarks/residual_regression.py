"""The deterministic reference of the skill benchmark: the same residual UNet, trained by regression.

Issue 10 asks whether a diffusion model's ensemble mean reaches what a deterministic net
predicting the residual from the OI+EO background reaches. This is that net, built from the pixel
system so that nothing but the objective differs: the same UNet, condition, background (with its
profiles dropped per step), residual scaling, zero-initialised output, EMA and calibration. The
network sees the condition and a zero noisy branch at t = T - 1 and is trained by masked MSE on
the scaled residual; "sampling" is its one output, repeated for every member (no spread).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from depthdif.diffusion.loss import masked_mse
from depthdif.train.pixel import PixelDiffusionSystem


class ResidualRegression(PixelDiffusionSystem):
    """A pixel system whose loss and sampler are plain regression of the background residual."""

    def regress(self, net: nn.Module, cond: Tensor, shape: tuple[int, ...]) -> Tensor:
        """The network's model-space prediction for a zero noisy branch at the last timestep."""
        t = torch.full((shape[0],), self.schedule.timesteps - 1, dtype=torch.long, device=cond.device)
        return net(torch.zeros(shape, dtype=cond.dtype, device=cond.device), t, cond)

    def compute_loss(self, batch: dict, denoiser: nn.Module, generator: torch.Generator | None) -> tuple[Tensor, dict]:
        inputs, _, cond, target, fractions = self.training_inputs(batch, generator)
        prediction = self.regress(denoiser, cond, tuple(target.shape))
        return masked_mse(prediction, target, self.model_space_mask(inputs.loss_mask)), fractions

    @torch.no_grad()
    def sample_raw(self, batch: dict, k: int | None = None, seed: int | None = None) -> tuple[Tensor, Tensor | None]:
        k = self.cfg.sampling.ensemble_size if k is None else k
        background, cond = self.inference_inputs(batch)
        z = self.regress(self.inference_denoiser(), cond, self.model_space_shape(batch))
        field = self.decode_samples(batch, z, background)
        return field.unsqueeze(0).expand(k, *field.shape).contiguous(), background
