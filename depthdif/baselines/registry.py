"""Baselines by name: the one table `depthdif eval --methods` and the benchmark dispatch through."""

from __future__ import annotations

from collections.abc import Callable

from depthdif.baselines.base import Predictor
from depthdif.baselines.climatology import Climatology
from depthdif.baselines.eo_regression import EORegression
from depthdif.baselines.idw import InverseDistanceWeighting
from depthdif.baselines.oi_eo import OIOnEORegression
from depthdif.baselines.optimal_interpolation import OptimalInterpolation
from depthdif.config.schema import BaselinesConfig

BASELINES: dict[str, Callable[[BaselinesConfig], Predictor]] = {
    "climatology": lambda c: Climatology(c.fit_max_samples, c.fit_seed),
    "idw": lambda c: InverseDistanceWeighting(c.idw_power, c.idw_max_neighbours),
    "oi": lambda c: OptimalInterpolation(c.oi_length_scales_px, c.oi_noise_ratios,
                                         fit_max_samples=c.fit_max_samples, seed=c.fit_seed),
    "eo_regression": lambda c: EORegression(c.fit_max_samples, c.fit_seed),
    "oi_eo": lambda c: OIOnEORegression(c.oi_length_scales_px, c.oi_noise_ratios, c.fit_max_samples, c.fit_seed),
}


def build_baseline(name: str, config: BaselinesConfig | None = None) -> Predictor:
    """An unfitted baseline by its name in BASELINES."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; allowed: {sorted(BASELINES)}")
    return BASELINES[name](config or BaselinesConfig())
