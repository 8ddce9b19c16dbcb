"""Pressure → depth, potential temperature and interpolation onto levels (no extrapolation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from depthdif.data.ingest.vertical import (depth_from_pressure, drop_duplicate_profiles, interpolate_to_levels,
                                           max_gap_m,
                                           potential_temperature, profiles_on_levels)


def test_depth_from_pressure_teos10_values():
    # 1000 dbar at 30°N is ~991 m; depth grows with latitude-dependent gravity differences only slightly.
    depth = depth_from_pressure(np.array([0.0, 1000.0, 2000.0]), np.array([30.0, 30.0, 30.0]))
    assert depth[0] == pytest.approx(0.0, abs=1e-6)
    assert depth[1] == pytest.approx(991.0, abs=2.0)
    assert 1970 < depth[2] < 1990
    assert depth_from_pressure(np.array([1000.0]), np.array([0.0]))[0] > \
        depth_from_pressure(np.array([1000.0]), np.array([80.0]))[0]


def test_potential_temperature_is_cooler_at_depth_and_equal_at_surface():
    t = np.array([10.0, 3.0])
    p = np.array([0.0, 2000.0])
    theta = potential_temperature(t, p, np.array([35.0, np.nan]), np.zeros(2), np.zeros(2))
    assert theta[0] == pytest.approx(10.0, abs=1e-6)
    assert 0.1 < t[1] - theta[1] < 0.2  # adiabatic correction at 2000 dbar


def test_interpolation_only_inside_the_measured_range():
    depth = np.array([10.0, 20.0, 40.0])
    values = np.array([20.0, 18.0, 14.0])
    levels = np.array([5.0, 10.0, 15.0, 30.0, 40.0, 50.0])
    out, valid = interpolate_to_levels(depth, values, levels)
    assert valid.tolist() == [False, True, True, True, True, False]
    np.testing.assert_allclose(out[valid], [20.0, 19.0, 16.0, 14.0])
    assert np.isnan(out[~valid]).all()


def test_gap_wider_than_tolerance_is_not_bridged():
    # QC removed everything between 100 and 600 m: 500 m gap > max(0.25 * z, 25 m) for z <= 600.
    depth = np.array([80.0, 100.0, 600.0, 700.0])
    values = np.array([15.0, 14.0, 8.0, 7.0])
    levels = np.array([90.0, 300.0, 650.0])
    out, valid = interpolate_to_levels(depth, values, levels)
    assert valid.tolist() == [True, False, True]
    assert max_gap_m(np.array([10.0, 1000.0])).tolist() == [25.0, 250.0]


def test_duplicate_depths_are_averaged_and_single_point_only_hits_its_level():
    out, valid = interpolate_to_levels(np.array([10.0, 10.0, 20.0]), np.array([10.0, 12.0, 9.0]),
                                       np.array([10.0, 20.0]))
    np.testing.assert_allclose(out, [11.0, 9.0])
    out, valid = interpolate_to_levels(np.array([10.0]), np.array([5.0]), np.array([5.0, 10.0, 20.0]))
    assert valid.tolist() == [False, True, False]


def test_profiles_group_by_cycle_and_drop_profiles_without_levels():
    rows = []
    for cycle, pres in ((1, [10.0, 30.0, 50.0, 70.0, 100.0]), (2, [3000.0, 3010.0])):
        for p in pres:
            rows.append({"platform": "123", "cycle": cycle, "direction": "A", "time": pd.Timestamp("2020-01-01"),
                         "lat": 10.0, "lon": 20.0, "pressure_dbar": p, "depth_m": np.nan,
                         "temp_degc": 20.0 - p / 10, "psal": 35.0, "source": "f.csv"})
    profiles = profiles_on_levels(pd.DataFrame(rows), np.array([20.0, 60.0, 2000.0]), "in_situ")
    assert profiles["cycle"].tolist() == [1]
    assert profiles["mask"].iloc[0].tolist() == [True, True, False]
    # depth(20 m) ≈ 20.2 dbar → in-situ temperature ≈ 20 - 2.02
    assert profiles["temp"].iloc[0][0] == pytest.approx(20 - 2.017, abs=0.01)


def test_the_same_float_cycle_from_two_files_counts_once():
    profiles = pd.DataFrame({"platform": ["1", "1", "1", "", ""], "cycle": [5, 5, 6, -1, -1],
                             "direction": ["A", "A", "A", "", ""], "source": ["a.nc", "b.nc", "b.nc", "c", "c"]})
    kept = drop_duplicate_profiles(profiles)
    assert kept["source"].tolist() == ["a.nc", "b.nc", "c", "c"]
    assert kept["cycle"].tolist() == [5, 6, -1, -1]
