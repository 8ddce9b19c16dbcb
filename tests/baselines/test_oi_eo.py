"""OI on the EO-regression background beats both of its parts when both carry information."""

from __future__ import annotations

import torch

from depthdif.baselines.eo_regression import EORegression
from depthdif.baselines.optimal_interpolation import OptimalInterpolation
from depthdif.baselines.oi_eo import OIOnEORegression
from depthdif.baselines.registry import BASELINES, build_baseline

from .conftest import smooth_items, stack


def eo_coupled_items(n: int, seed: int) -> list[dict]:
    """y = surface signal S (seen by EO) + a shorter-range residual R (seen only by profiles)."""
    surface = smooth_items(n, seed, levels=1, length_px=6.0)
    residual = smooth_items(n, seed + 100, levels=2, length_px=2.5, profiles=25)
    items = []
    for s, r in zip(surface, residual):
        y = torch.cat([s["y"], 0.7 * s["y"]]) + 0.5 * r["y"]
        x = (y + 0.02 * torch.randn(y.shape, generator=torch.Generator().manual_seed(seed))) * r["x_valid_mask"]
        items.append(dict(r, y=y, x=x, eo=s["y"], eo_valid_mask=torch.ones_like(s["y"])))
    return items


def rmse_unobserved(pred: torch.Tensor, batch: dict) -> float:
    hidden = batch["x_valid_mask"] == 0
    return float(((pred - batch["y"])[hidden] ** 2).mean().sqrt())


def test_oi_on_eo_regression_beats_oi_and_eo_regression():
    train, test = eo_coupled_items(16, seed=0), stack(eo_coupled_items(4, seed=50))
    scores = {model.name: rmse_unobserved(model.fit(train).predict(test), test)
              for model in (OIOnEORegression(), OptimalInterpolation(), EORegression())}
    assert scores["oi_eo"] < 0.9 * min(scores["oi"], scores["eo_regression"]), scores


def test_registry_builds_every_baseline_and_names_the_allowed_ones():
    assert {name: build_baseline(name).name for name in BASELINES} == {name: name for name in BASELINES}
    try:
        build_baseline("kriging")
    except ValueError as exc:
        assert "oi_eo" in str(exc) and "kriging" in str(exc)
    else:
        raise AssertionError("unknown baseline must be refused")
