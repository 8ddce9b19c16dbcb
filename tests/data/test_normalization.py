"""Normalization: per-depth statistics, round trips in numpy and torch, serialization."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from depthdif.data.normalization import STD_FLOOR, Normalization, RunningStats


def _norm() -> Normalization:
    return Normalization(depth_mean=[20.0, 10.0, 2.0], depth_std=[4.0, 2.0, 0.0],
                         eo_mean=[19.0, 35.0], eo_std=[3.0, 0.5], eo_channels=["sst", "sss"])


def test_std_is_floored():
    assert _norm().depth_std[2] == STD_FLOOR


def test_normalize_depth_uses_each_levels_statistics():
    norm = _norm()
    a = np.stack([np.full((2, 2), 24.0), np.full((2, 2), 6.0), np.full((2, 2), 2.0)])  # (D,H,W)
    out = norm.normalize_depth(a)
    assert out[0, 0, 0] == pytest.approx(1.0)
    assert out[1, 0, 0] == pytest.approx(-2.0)
    assert out[2, 0, 0] == pytest.approx(0.0)


def test_round_trip_numpy_and_torch_with_batch_dim():
    norm = _norm()
    rng = np.random.default_rng(0)
    a = rng.normal(10, 5, (4, 3, 5, 5)).astype(np.float32)
    back = norm.denormalize_depth(norm.normalize_depth(a))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, a, rtol=1e-5, atol=1e-4)
    t = torch.from_numpy(a)
    tn = norm.normalize_depth(t)
    assert isinstance(tn, torch.Tensor) and tn.dtype == torch.float32
    np.testing.assert_allclose(tn.numpy(), norm.normalize_depth(a), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.denormalize_depth(tn).numpy(), a, rtol=1e-5, atol=1e-4)


def test_eo_uses_channel_statistics_and_other_axis():
    norm = _norm()
    a = np.array([[22.0, 35.5]])  # (N, E): channels on the last axis
    np.testing.assert_allclose(norm.normalize_eo(a, axis=-1), [[1.0, 1.0]])
    np.testing.assert_allclose(norm.denormalize_eo(norm.normalize_eo(a, axis=-1), axis=-1), a)


def test_wrong_axis_length_is_a_clear_error():
    with pytest.raises(ValueError, match="statistics have 3"):
        _norm().normalize_depth(np.zeros((4, 5, 5)))


def test_dict_round_trip_is_plain_json():
    norm = _norm()
    d = json.loads(json.dumps(norm.to_dict()))
    back = Normalization.from_dict(d)
    np.testing.assert_array_equal(back.depth_mean, norm.depth_mean)
    np.testing.assert_array_equal(back.eo_std, norm.eo_std)
    assert back.eo_channels == ["sst", "sss"]


def test_from_dict_names_missing_keys():
    with pytest.raises(ValueError, match="eo_std"):
        Normalization.from_dict({"depth_mean": [1], "depth_std": [1], "eo_mean": [1], "eo_channels": ["sst"]})


def test_select_eo_reorders_and_rejects_unknown():
    norm = _norm().select_eo(["sss"])
    assert norm.eo_channels == ["sss"] and norm.eo_mean.tolist() == [35.0]
    with pytest.raises(ValueError, match="adt"):
        _norm().select_eo(["adt"])


def test_running_stats_match_numpy_and_fill_empty_levels():
    rng = np.random.default_rng(1)
    values = rng.normal(5, 2, (3, 10, 10))
    valid = rng.random((3, 10, 10)) < 0.5
    valid[2] = False
    stats = RunningStats(3)
    stats.add(values[:, :5], valid[:, :5])
    stats.add(values[:, 5:], valid[:, 5:])
    mean, std = stats.mean_std()
    for c in range(2):
        assert mean[c] == pytest.approx(values[c][valid[c]].mean())
        assert std[c] == pytest.approx(values[c][valid[c]].std())
    assert stats.count[2] == 0 and mean[2] == mean[1] and std[2] == std[1]


def test_a_level_seen_by_a_few_pixels_borrows_the_nearest_trusted_std():
    """Deep levels reached by 2-3 profiles: their own std (0.015 degC) would make inputs of 45 sigma."""
    rng = np.random.default_rng(2)
    values = np.stack([rng.normal(15, 2.0, 200), rng.normal(4, 0.3, 200), rng.normal(2, 0.2, 200),
                       np.full(200, 9.0)])
    valid = np.ones((4, 200), dtype=bool)
    valid[2, 3:] = False  # level 2: 3 pixels
    valid[3] = False      # level 3: none
    values[2, :3] = [2.00, 2.02, 2.035]
    stats = RunningStats(4)
    stats.add(values, valid)
    mean, std = stats.mean_std()
    assert std[0] == pytest.approx(values[0].std()) and std[1] == pytest.approx(values[1].std())
    assert mean[2] == pytest.approx(values[2, :3].mean())  # its own mean
    assert values[2, :3].std() < 0.02 and std[2] == pytest.approx(std[1])  # the nearest trusted std, not 0.015
    assert mean[3] == mean[2] and std[3] == std[1]  # no data: nearest mean, nearest trusted std
    ordinary = (2.6 - mean[2]) / std[2]  # a value 0.6 degC off the sparse mean is ~2 sigma, not ~45
    assert abs(ordinary) < 3
    # a sparse level whose own spread is larger keeps it (never shrink below what was seen)
    wide = RunningStats(2)
    wide.add(np.stack([rng.normal(4, 0.3, 100), np.r_[1.0, 3.0, 5.0, np.zeros(97)]]),
             np.stack([np.ones(100, bool), np.r_[np.ones(3, bool), np.zeros(97, bool)]]))
    assert wide.mean_std()[1][1] == pytest.approx(np.std([1.0, 3.0, 5.0]))


def test_when_no_level_reaches_the_minimum_the_best_sampled_ones_are_trusted():
    stats = RunningStats(3)
    stats.add(np.array([[1.0] * 5 + [3.0] * 5, [2.0, 2.01] + [0] * 8, [5.0] * 10]),
              np.array([[True] * 10, [True, True] + [False] * 8, [False] * 10]))
    mean, std = stats.mean_std(min_count=30)
    assert std[0] == pytest.approx(1.0) and std[1] == pytest.approx(1.0) and std[2] == pytest.approx(1.0)
    assert mean[1] == pytest.approx(2.005) and mean[2] == mean[1]
