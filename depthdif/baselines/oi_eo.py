"""OI on top of the EO-regression background: the ARMOR3D recipe, our strongest classical baseline.

ARMOR3D (Guinehut et al. 2012; Mulet et al. 2012) first builds synthetic profiles by regressing
the subsurface on satellite surface fields, then corrects them with in-situ profiles by optimal
interpolation. Here that is composition, not a new algorithm: `OptimalInterpolation` with an
`EORegression` background. Its length scale and noise ratio are fitted on the residuals from the
EO regression, which are shorter-range than the residuals from climatology.
"""

from __future__ import annotations

from collections.abc import Sequence

from depthdif.baselines.eo_regression import EORegression
from depthdif.baselines.optimal_interpolation import OptimalInterpolation


class OIOnEORegression(OptimalInterpolation):
    """`OptimalInterpolation` whose background is the per-depth EO regression."""

    name = "oi_eo"

    def __init__(self, length_scales_px: Sequence[float] = (1, 2, 3, 4, 6, 8, 12, 16),
                 noise_ratios: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0),
                 fit_max_samples: int = 64, seed: int = 0) -> None:
        super().__init__(length_scales_px, noise_ratios, background=EORegression(fit_max_samples, seed),
                         fit_max_samples=fit_max_samples, seed=seed)
