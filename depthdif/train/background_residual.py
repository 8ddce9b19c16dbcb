"""BackgroundResidual: how a diffusion system diffuses the residual from its background.

A mixin of `DiffusionSystem` (see its module doc for the equations); it uses the system's hooks
(`to_model_space`, `from_model_space`, `model_space_mask`, `build_condition`) and its
`background` (depthdif/models/background.py, None without `model.background`), so pixel and
latent diffusion get the same behaviour without a line of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from depthdif.diffusion.ambient import target_depth_support


class BackgroundResidual:
    """Background, condition, residual encoding/decoding and the train-split fit."""

    def compute_background(self, batch: dict, x: Tensor, obs_mask: Tensor) -> Tensor | None:
        """The background from exactly this input (None without `model.background`)."""
        if self.background is None:
            return None
        return self.background(x, obs_mask, batch["eo"], batch["eo_valid_mask"])

    def condition(self, batch: dict, x: Tensor, obs_mask: Tensor, background: Tensor | None) -> Tensor:
        """`build_condition`, plus the background (average-pooled to the model grid) when there is one;
        `model.condition.anomalies` turns the inputs into departures from it (README)."""
        if background is None:
            return self.build_condition(batch, x, obs_mask)
        mode = self.cfg.model.condition.anomalies
        if mode != "none":
            x = x - background
        if mode == "window":
            ocean = 1.0 - batch["land_mask"].to(background.dtype)
            batch = {**batch, "eo": batch["eo"] - _window_mean(batch["eo"], batch["eo_valid_mask"])}
            background = background - _window_mean(background, ocean.expand_as(background))
        cond = self.build_condition(batch, x, obs_mask)
        if background.shape[-2:] != cond.shape[-2:]:
            background = F.adaptive_avg_pool2d(background, cond.shape[-2:])
        return torch.cat([cond, background.to(cond.dtype)], dim=1)

    def _residual_scale(self) -> Tensor:
        return self.background.residual_scale.reshape(1, -1, 1, 1)

    def encode_target(self, batch: dict, target: Tensor, target_mask: Tensor, background: Tensor | None) -> Tensor:
        """The diffused clean sample: M(target), or the scaled model-space residual from the background."""
        if background is None:
            return self.to_model_space(target, target_mask)
        support = target_depth_support(batch["y_valid_mask"])
        filled = target_mask * target + (1 - target_mask) * background
        residual = self.to_model_space(filled, support) - self.to_model_space(background, support)
        return residual / self._residual_scale()

    def decode_samples(self, batch: dict, z: Tensor, background: Tensor | None) -> Tensor:
        """Model-space samples (K·B, C, h, w), member-major → normalized depth fields (K·B, D, H, W)."""
        if background is None:
            return self.from_model_space(z)
        repeats = z.shape[0] // background.shape[0]
        support = target_depth_support(batch["y_valid_mask"])
        # Both decodes take the same (contiguous) layout, so z = 0 cancels bit for bit.
        z_b = self.to_model_space(background, support).repeat(repeats, 1, 1, 1)
        correction = self.from_model_space(z_b + self._residual_scale() * z) - self.from_model_space(z_b)
        background = background.repeat(repeats, 1, 1, 1)
        fields = background + correction
        if self.cfg.model.ambient_occlusion.enabled and self.cfg.model.unobserved_top_levels == "shallowest_observed":
            depth_std = torch.as_tensor(self.normalization.depth_std)  # unsupervised top: model.unobserved_top_levels
            fields = self.background.carry_to_top(fields, background, depth_std)
        return fields

    def fit_background(self, dataset: Sequence[dict] | None = None) -> None:
        """Fit the background on the train split (default: `data.store`'s): the baseline parameters,
        then the residual scale (background_fit.py). Checkpoints and exports carry the result."""
        if self.background is None:
            return
        from depthdif.train.background_fit import fit_residual_scale, observed_levels, train_split

        dataset = train_split(self.cfg) if dataset is None else dataset
        self.background.fit_parameters(dataset, self.cfg.evaluation.baselines)
        self.background.residual_scale.copy_(fit_residual_scale(self, dataset))
        self.background.observed_levels.copy_(observed_levels(dataset, self.cfg))

    def _ensure_background(self) -> None:
        if self.background is not None and not self.background.is_fitted:
            self.fit_background()

    def on_fit_start(self) -> None:
        self._ensure_background()  # after a resumed checkpoint was restored: then a no-op

    def on_validation_start(self) -> None:
        self._ensure_background()


def _window_mean(field: Tensor, mask: Tensor) -> Tensor:
    """Per-window, per-channel mean over `mask` (B, C, 1, 1); zero where a window has none."""
    mask = mask.to(field.dtype)
    return (field * mask).sum((-2, -1), keepdim=True) / mask.sum((-2, -1), keepdim=True).clamp_min(1.0)
