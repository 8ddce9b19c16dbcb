"""The synthetic ocean's motion: physical time, hemispheres, vertical structure."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.data.ocean_motion import coriolis_scale, eddy_field, front_field, mixed_layer_depth, motion
from depthdif.data.synthetic import SynthConfig, displacement_profile, mixed_layer_map

LAT, LON = np.linspace(-50, -40, 24), np.linspace(20, 30, 24)


def test_eddies_live_in_days_not_time_steps():
    """Day 14 of a weekly store and of a fortnightly store hold the same eddies."""
    cfg = SynthConfig()
    weekly = eddy_field(LAT, LON, np.array([0.0, 7.0, 14.0]), cfg, np.random.default_rng(1))
    fortnightly = eddy_field(LAT, LON, np.array([0.0, 14.0]), cfg, np.random.default_rng(1))
    np.testing.assert_allclose(weekly[2], fortnightly[1])
    assert not np.allclose(weekly[0], weekly[2])  # and they do move


@pytest.mark.parametrize("lat", [LAT, -LAT[::-1]], ids=["south", "north"])
def test_the_front_is_warm_on_its_equatorward_side(lat):
    front = front_field(lat, LON, np.array([0.0]), SynthConfig(front_zone_km=5000.0), np.random.default_rng(0))[0]
    equatorward_row = np.argmin(np.abs(lat))
    poleward_row = np.argmax(np.abs(lat))
    assert front[equatorward_row].mean() > 0.9 and front[poleward_row].mean() < -0.9


def test_the_front_only_departs_from_climatology_near_it():
    front = front_field(LAT, LON, np.array([0.0]), SynthConfig(front_zone_km=50.0), np.random.default_rng(0))[0]
    assert np.abs(front[[0, -1]]).max() < 0.05 and np.abs(front).max() > 0.5


def test_displacement_is_zero_at_the_surface_and_fades_at_depth():
    g = displacement_profile(np.array([0.0, 100.0, 300.0, 3000.0]), 1000.0)
    assert g[0] == 0 and g[2] > g[1] > 0 and g[3] < 0.1


def test_mixed_layer_is_homogeneous_and_catches_up_below():
    z = np.array([0.0, 20.0, 39.0, 45.0, 60.0, 400.0])
    mapped = mixed_layer_map(z, np.array(40.0), 25.0)
    assert (mapped[:3] == 0).all() and 0 < mapped[3] < mapped[4] < 60 and mapped[5] == pytest.approx(400, abs=0.1)


def test_tropics_move_less_and_winter_mixes_deeper():
    assert coriolis_scale(np.array([-10.0]))[0] < coriolis_scale(np.array([-45.0]))[0] == pytest.approx(1.0)
    summer, winter = (mixed_layer_depth(np.array([-45.0]), day, 30.0, 90.0)[0] for day in (15.0, 197.0))
    assert summer == pytest.approx(30.0) and winter == pytest.approx(90.0, abs=1.0)


def test_motion_amplitudes_follow_the_config():
    cfg = SynthConfig(meander_shift_deg=0.0, front_shift_deg=0.0, eddy_shift_deg=0.0)
    calm = motion(LAT, LON, np.array([0.0, 7.0]), cfg, np.random.default_rng(0))
    assert np.abs(calm.shift(0, np.array([0.0, 1000.0]))).max() == 0
    moving = motion(LAT, LON, np.array([0.0, 7.0]), SynthConfig(), np.random.default_rng(0))
    shift = moving.shift(0, np.array([0.0, 2000.0]))
    assert 0.3 < shift[0].std() < 3.0 and np.abs(moving.eta).max() > 50
    # the meanders decorrelate with depth (the real SST-to-2000 m correlation is ~0.3)
    assert np.corrcoef(shift[0].ravel(), shift[1].ravel())[0, 1] < 0.9
