"""The background field a diffusion model corrects (`model.background`), batched in torch.

    none           no background: the network reconstructs the field itself
    climatology    the per-depth training mean
    eo_regression  per-depth linear regression on the EO channels (baselines/eo_regression.py)
    oi             optimal interpolation of the profiles on the climatology
    oi_eo          optimal interpolation on the EO regression (ARMOR3D's recipe, the classical bar)

It is computed from exactly what the model is given, on the model's device: (x̃, Ã, EO) during
ambient training, the profile-dropped (x', A', EO) during standard training, (x, A, EO) at
inference; a withheld profile can therefore never shape it. Its parameters (climatology means,
EO-regression coefficients, OI length scale and noise ratio per depth) are fitted on the train
split by the very baselines they come from, and kept as buffers, so checkpoints and exports carry
them and `predict` needs nothing else. `residual_scale` (one value per diffused channel) is the
RMS of the background's error where it had no observation, measured by the system in its model
space; the network diffuses the residual divided by it (DiffusionSystem).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from depthdif.baselines.eo_regression import design_matrix
from depthdif.baselines.optimal_interpolation import oi_analysis
from depthdif.baselines.registry import build_baseline
from depthdif.config.schema import BaselinesConfig

BACKGROUND_KINDS = ("none", "climatology", "eo_regression", "oi", "oi_eo")
EO_KINDS, OI_KINDS = ("eo_regression", "oi_eo"), ("oi", "oi_eo")


class Background(nn.Module):
    """b(x, A, EO): the fitted prior (climatology or EO regression), then OI of the profiles if asked."""

    def __init__(self, kind: str, n_levels: int, n_eo: int, model_channels: int):
        super().__init__()
        if kind not in BACKGROUND_KINDS or kind == "none":
            raise ValueError(f"model.background: {kind!r} is not a background; allowed: "
                             f"{[k for k in BACKGROUND_KINDS if k != 'none']}")
        self.kind = kind
        self.register_buffer("level_mean", torch.zeros(n_levels, dtype=torch.float64))
        self.register_buffer("eo_coefficients", torch.zeros(n_levels, 1 + n_eo, dtype=torch.float64))
        self.register_buffer("length_scale", torch.ones(n_levels, dtype=torch.float64))
        self.register_buffer("noise_ratio", torch.ones(n_levels, dtype=torch.float64))
        self.register_buffer("residual_scale", torch.ones(model_channels))
        # Levels at which training profiles were observed (set by the system's fit).
        self.register_buffer("observed_levels", torch.ones(n_levels, dtype=torch.bool))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def prior(self, eo: Tensor, eo_mask: Tensor, like: Tensor) -> Tensor:
        """The observation-free part: EO regression or climatology, shaped and typed like `like`."""
        b, d, h, w = like.shape
        if self.kind in EO_KINDS:
            features = design_matrix(eo, eo_mask)  # (B, H·W, 1 + E), float64
            field = torch.einsum("bpi,di->bdp", features, self.eo_coefficients.to(features))
            return field.reshape(b, d, h, w).to(like.dtype)
        return self.level_mean.to(like).reshape(1, d, 1, 1).expand(b, d, h, w).clone()

    def forward(self, x: Tensor, mask: Tensor, eo: Tensor, eo_mask: Tensor) -> Tensor:
        """(B, D, H, W) normalized background from the sparse input x, its per-depth mask and EO."""
        if not self.is_fitted:
            raise RuntimeError("the background is not fitted: DiffusionSystem.fit_background(train split) first "
                               "(Lightning does it at the start of fit/validate)")
        field = self.prior(eo, eo_mask, x)
        if self.kind in OI_KINDS:
            field = oi_analysis(field, x, mask, self.length_scale, self.noise_ratio)
        return field

    def carry_to_top(self, field: Tensor, background: Tensor, depth_std: Tensor) -> Tensor:
        """Levels above the shallowest observed one take its residual from the background, in °C
        (`depth_std` (D,) converts normalized units); nothing changes if level 0 is observed."""
        observed = torch.nonzero(self.observed_levels).flatten()
        if observed.numel() == 0 or int(observed[0]) == 0:
            return field
        top = int(observed[0])
        std = depth_std.to(field).reshape(1, -1, 1, 1)
        residual_c = (field[:, top:top + 1] - background[:, top:top + 1]) * std[:, top:top + 1]
        out = field.clone()
        out[:, :top] = background[:, :top] + residual_c / std[:, :top]
        return out

    def fit_parameters(self, dataset: Sequence[dict], cfg: BaselinesConfig) -> "Background":
        """Fit the baseline of the same name on `dataset` (the train split) and keep its parameters."""
        baseline = build_baseline(self.kind, cfg).fit(dataset)
        prior = baseline.background if self.kind in OI_KINDS else baseline
        if self.kind in EO_KINDS:
            self.eo_coefficients.copy_(prior.coefficients.to(self.eo_coefficients))
        else:
            self.level_mean.copy_(prior.level_mean.to(self.level_mean))
        if self.kind in OI_KINDS:
            self.length_scale.copy_(baseline.length_scale.to(self.length_scale))
            self.noise_ratio.copy_(baseline.noise_ratio.to(self.noise_ratio))
        self.fitted.fill_(True)
        return self

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, fitted={self.is_fitted}"
