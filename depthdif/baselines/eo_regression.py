"""EO regression: per-depth linear regression of the subsurface anomaly on the surface anomaly.

    ŷ_d(p) = α_d + Σ_c β_dc · eo_c(p)

in normalized units (so α_d, the intercept, is the level's training-mean anomaly and β_dc how
much a 1-std surface anomaly of channel c shifts level d). With SST only (the default EO) this
is exactly "regress each level's anomaly on the SST anomaly"; with SSS/ADT it becomes the
multivariate regression ARMOR3D builds its synthetic profiles from (Guinehut et al. 2012).

Fitted by least squares on the training split over pixels where the level's fit target (see
base.fit_target) and every EO channel are valid; a tiny ridge keeps levels with little data
solvable. It uses no in-situ observation at predict time: it is the background that OI on EO
regression (oi_eo.py) corrects with the profiles. A missing EO channel counts as 0 (its mean).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from depthdif.baselines.base import fit_items, fit_target

RIDGE = 1e-6  # relative to the pixel count; only matters for (nearly) empty levels


def design_matrix(eo: Tensor, eo_valid_mask: Tensor) -> Tensor:
    """(..., E, H, W) → (..., H·W, 1 + E) regressors: intercept, then EO with gaps set to 0."""
    features = (eo * eo_valid_mask).flatten(-2).transpose(-1, -2).double()
    return torch.cat([torch.ones_like(features[..., :1]), features], dim=-1)


class EORegression:
    """Per-depth least-squares regression of the normalized level on the normalized EO channels."""

    name = "eo_regression"

    def __init__(self, fit_max_samples: int = 64, seed: int = 0) -> None:
        self.fit_max_samples, self.seed = fit_max_samples, seed
        self.coefficients: Tensor | None = None  # (D, 1 + E): intercept, then one slope per channel

    def fit(self, dataset: Sequence[dict]) -> "EORegression":
        gram = moment = None
        for item in fit_items(dataset, self.fit_max_samples, self.seed):
            values, mask = fit_target(item)
            features = design_matrix(item["eo"], item["eo_valid_mask"])  # (P, 1+E)
            usable = mask.flatten(-2).double() * item["eo_valid_mask"].flatten(-2).prod(dim=0).double()  # (D, P)
            g = torch.einsum("dp,pi,pj->dij", usable, features, features)
            m = torch.einsum("dp,pi,dp->di", usable, features, values.flatten(-2).double())
            gram = g if gram is None else gram + g
            moment = m if moment is None else moment + m
        ridge = RIDGE * gram[:, :1, :1].clamp(min=1.0) * torch.eye(gram.shape[-1], dtype=gram.dtype)
        # A level with no usable pixel solves to all-zero coefficients (the normalization mean).
        self.coefficients = torch.linalg.solve(gram + ridge, moment.unsqueeze(-1)).squeeze(-1)
        return self

    def predict(self, batch: dict) -> Tensor:
        if self.coefficients is None:
            raise RuntimeError("EORegression.predict called before fit")
        x = batch["x"]
        b, d, h, w = x.shape
        if d != self.coefficients.shape[0] or batch["eo"].shape[1] + 1 != self.coefficients.shape[1]:
            raise ValueError(f"eo_regression: batch has {d} levels and {batch['eo'].shape[1]} EO channels; "
                             f"fitted on {self.coefficients.shape[0]} and {self.coefficients.shape[1] - 1}")
        features = design_matrix(batch["eo"], batch["eo_valid_mask"])  # (B, P, 1+E)
        field = torch.einsum("bpi,di->bdp", features, self.coefficients.to(features))
        return field.reshape(b, d, h, w).to(x.dtype)
