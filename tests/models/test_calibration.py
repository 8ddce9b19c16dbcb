"""Calibration (depthdif/models/calibration.py): the residual gain and spread inflation solve what
they claim on known numbers, fall back to the background, and load from older state dicts."""

from __future__ import annotations

import math

import torch

from depthdif.models.calibration import MIN_POINTS, Calibration, CalibrationStats, band_of_level


def fitted(members, background, truth, k, with_background=True, bands=(0, 0, 1)):
    stats = CalibrationStats([1.0, 2.0, 0.5])
    stats.update(members, background, truth, torch.ones_like(truth))
    calibration = Calibration(3)
    calibration.fit(stats.reduced(lambda t: t), list(bands), k, with_background)
    return calibration


def test_an_overshooting_correction_is_halved_and_the_spread_matches_the_error():
    g = torch.Generator().manual_seed(0)
    background = torch.randn(4, 3, 8, 8, generator=g)
    residual = torch.randn(4, 3, 8, 8, generator=g)
    truth = background + residual + 0.2 * torch.randn(4, 3, 8, 8, generator=g)  # 0.2: what nobody could know
    k = 4
    noise = torch.randn(k, 4, 3, 8, 8, generator=g)
    members = (background + 2 * residual).unsqueeze(0) + 0.1 * (noise - noise.mean(0))  # twice the residual
    calibration = fitted(members, background, truth, k)
    torch.testing.assert_close(calibration.gain, torch.full((3,), 0.5), atol=0.02, rtol=0)
    out = calibration.apply(members, background)
    mean = out.mean(0)
    assert float((mean - background - residual).abs().max()) < 0.1  # the halved correction is the residual
    # spread / RMSE of the mean = sqrt(K / (K + 1)) on every band (the 0.1 member noise was too small)
    scale = torch.tensor([1.0, 2.0, 0.5]).reshape(1, 3, 1, 1)
    for levels in ([0, 1], [2]):
        error = (((mean - truth) * scale)[:, levels] ** 2).mean().sqrt()
        spread = ((out.var(0, correction=1) * scale**2)[:, levels].mean()).sqrt()
        assert math.isclose(float(spread / error), math.sqrt(k / (k + 1)), rel_tol=1e-3)


def test_a_correction_unrelated_to_the_error_falls_back_to_the_background():
    g = torch.Generator().manual_seed(1)
    background = torch.randn(4, 3, 8, 8, generator=g)
    truth = background + 0.3 * torch.randn(4, 3, 8, 8, generator=g)
    members = (background - 5.0 * (truth - background)).unsqueeze(0)  # anti-correlated: harmful
    calibration = fitted(members, background, truth, k=1)
    assert torch.equal(calibration.gain, torch.zeros(3)) and torch.equal(calibration.inflation, torch.ones(3))
    assert torch.equal(calibration.apply(members, background)[0], background)


def test_too_few_withheld_values_leave_it_unfitted_and_bands_borrow_the_pooled_values():
    background = torch.zeros(1, 3, 4, 4)
    truth, members = torch.ones(1, 3, 4, 4), 2 * torch.ones(1, 1, 3, 4, 4)
    few = CalibrationStats([1.0, 1.0, 1.0])
    mask = torch.zeros_like(truth)
    mask[0, 0, 0, : (MIN_POINTS - 1) // 4] = 1
    few.update(members, background, truth, mask)
    calibration = Calibration(3)
    calibration.fit(few.reduced(lambda t: t), [0, 0, 1], 1, True)
    assert not bool(calibration.fitted) and torch.equal(calibration.gain, torch.ones(3))
    # 16 values per level: band 0 (two levels, 32) gets its own gain, band 1 (16) the pooled one
    calibration = fitted(members, background, truth, k=1, bands=(0, 0, 1))
    torch.testing.assert_close(calibration.gain, torch.full((3,), 0.5))


def test_state_dicts_without_calibration_load_as_identity():
    calibration = Calibration(3)
    calibration.load_state_dict({})
    assert torch.equal(calibration.gain, torch.ones(3)) and not bool(calibration.fitted)


def test_band_of_level_follows_the_evaluation_bands():
    assert band_of_level([0.5, 100.0, 101.0, 1999.0, 2500.0], [0.0, 100.0, 500.0, 2000.0]) == [0, 0, 1, 2, 3]
