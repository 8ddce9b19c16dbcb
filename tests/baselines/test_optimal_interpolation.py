"""OI: fitted length scale near the truth, beats IDW on a smooth field, climatology background."""

from __future__ import annotations

import torch

from depthdif.baselines.climatology import Climatology
from depthdif.baselines.idw import InverseDistanceWeighting
from depthdif.baselines.optimal_interpolation import OptimalInterpolation, gaussian_correlation, nearest_filled


def rmse_unobserved(pred: torch.Tensor, batch: dict) -> float:
    hidden = batch["x_valid_mask"] == 0
    return float(((pred - batch["y"])[hidden] ** 2).mean().sqrt())


def test_oi_recovers_a_smooth_field_better_than_idw(smooth_fields):
    train, test = smooth_fields
    oi = OptimalInterpolation(length_scales_px=[1, 2, 3, 4, 6, 8], noise_ratios=[0.001, 0.01, 0.1, 1.0]).fit(train)
    assert oi.length_scale.tolist() == [3.0, 3.0]  # the generating correlation length
    assert (oi.noise_ratio <= 0.01).all()  # noise std 0.02 on unit variance: ν ≈ 4e-4
    oi_rmse = rmse_unobserved(oi.predict(test), test)
    idw_rmse = rmse_unobserved(InverseDistanceWeighting().predict(test), test)
    climatology_rmse = rmse_unobserved(Climatology().fit(train).predict(test), test)
    assert oi_rmse < 0.85 * idw_rmse and idw_rmse < climatology_rmse
    # with small noise the analysis passes close to the observations
    observed = test["x_valid_mask"] > 0
    assert (oi.predict(test)[observed] - test["x"][observed]).abs().max() < 0.1


def test_without_observations_oi_returns_the_background(smooth_fields):
    train, test = smooth_fields
    oi = OptimalInterpolation().fit(train)
    empty = dict(test, x=torch.zeros_like(test["x"]), x_valid_mask=torch.zeros_like(test["x"]))
    expected = oi.background.predict(empty)
    torch.testing.assert_close(oi.predict(empty), expected)
    assert torch.allclose(expected[:, 0], oi.background.level_mean[0].float())


def test_helpers():
    assert torch.isclose(gaussian_correlation(torch.tensor(4.0), 2.0), torch.exp(torch.tensor(-0.5)))
    filled = nearest_filled(torch.tensor([7.0, 0.0, 0.0, 9.0]), torch.tensor([True, False, False, True]), 1.0)
    assert filled.tolist() == [7.0, 7.0, 9.0, 9.0]
    assert nearest_filled(torch.zeros(2), torch.tensor([False, False]), 2.5).tolist() == [2.5, 2.5]
