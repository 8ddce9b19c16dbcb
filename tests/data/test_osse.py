"""`depthdif data osse`: floats sampled from a dense truth, whole floats identifiable, real model fields."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_writers import write_glorys

from depthdif.cli import main
from depthdif.data import schema as S
from depthdif.data.floats import CycleSpec, FloatSpec
from depthdif.data.index import SplitSpec
from depthdif.data.osse import OsseSpec, run_osse
from depthdif.data.profiles import profile_arrays
from depthdif.data.store import OceanStore

LAT = np.arange(20.0, 26.0, 0.25)     # 24 x 24
LON = np.arange(-40.0, -34.0, 0.25)
DEPTH = np.array([1.0, 10.0, 100.0, 500.0, 1500.0, 2500.0])
TIMES = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-01-31")).astype("datetime64[ns]")  # 30 days
ALL_TRAIN = SplitSpec(val_fraction=0.0, test_fraction=0.0)


@pytest.fixture
def truth(tmp_path):
    land = np.zeros((LAT.size, LON.size), bool)
    land[:, :3] = True
    values = write_glorys(tmp_path / "truth.nc", LAT, LON, DEPTH, TIMES, land=land, floor_level=3)  # no 500 m+ in the SW quadrant
    return tmp_path / "truth.nc", values


def run(truth_path, out, **kw):
    floats = CycleSpec(obs_fraction=kw.pop("obs_fraction", 0.05), cycle_days=10.0, floats=FloatSpec(sensor_noise_c=0.0))
    return OceanStore.open(run_osse(OsseSpec(truth=[str(truth_path)], floats=floats, patch_size=8, **kw), out,
                                    split=ALL_TRAIN, progress=False))


def test_floats_sample_the_truth_on_their_cycle(truth, tmp_path):
    path, values = truth
    store = run(path, tmp_path / "o.zarr")
    y = store.ds[S.Y].values
    np.testing.assert_allclose(y[np.isfinite(values)], values[np.isfinite(values)], atol=1e-3)  # y is the truth
    prof = store.profiles
    temp, mask = profile_arrays(prof)
    t, iy, ix = (prof[c].to_numpy() for c in ("time_index", "iy", "ix"))
    np.testing.assert_allclose(temp[mask], y[t, :, iy, ix][mask], atol=1e-6)  # no noise asked
    assert not store.ds[S.LAND].values[iy, ix].any()                     # floats stay off land
    shelf = (iy < 12) & (ix < 12)
    assert shelf.any() and not mask[shelf, 3:].any()                     # never below the sea floor
    assert not mask[:, 5].any() and mask[~shelf, 4].any()                # reach ~2000 m, not 2500 m
    assert not mask[:, 0].all()                                          # a few metres' top gap
    # ~10-day cycles: each float surfaces about 3 times in 30 days, at different places
    per_float = prof.groupby("platform")
    assert 2 <= per_float.size().median() <= 4
    moved = per_float.apply(lambda g: np.ptp(g["lat"]) + np.ptp(g["lon"]) > 0, include_groups=False)
    assert moved.mean() > 0.8
    assert (per_float["cycle"].apply(lambda c: c.is_unique)).all()
    ocean = int((~store.ds[S.LAND].values).sum())
    assert 0.5 * 0.05 * ocean * 30 < len(prof) < 1.5 * 0.05 * ocean * 30  # obs_fraction per cell per step
    x_valid = store.ds[S.X_MASK].values
    assert x_valid[t, :, iy, ix][mask].all()
    np.testing.assert_allclose(store.ds[S.EO].values[:, 0][store.ds[S.EO_MASK].values[:, 0]],
                               y[:, 0][store.ds[S.EO_MASK].values[:, 0]], atol=1e-6)  # EO = truth top


def test_seed_and_obs_fraction_and_no_eo(truth, tmp_path):
    path, _ = truth
    a = run(path, tmp_path / "a.zarr", seed=3).profiles
    b = run(path, tmp_path / "b.zarr", seed=3).profiles
    assert a[["platform", "time_index", "iy", "ix"]].equals(b[["platform", "time_index", "iy", "ix"]])
    c = run(path, tmp_path / "c.zarr", seed=4, obs_fraction=0.01, no_eo=True)
    assert len(c.profiles) < len(a) / 2 and not c.ds[S.EO_MASK].values.any()


def test_cli_on_the_real_model_fields(shared_data, tmp_path):
    nordic = shared_data / "model_fields" / "Nordic_subset.nc"
    assert main(["data", "osse", "--truth", str(nordic), "--out", str(tmp_path / "n.zarr"), "--obs-fraction", "0.05",
                 "--patch-size", "16", "--space-block", "16", "--seed", "1", "--quiet"]) == 0
    store = OceanStore.open(tmp_path / "n.zarr")
    assert store.ds.sizes["time"] == 3 and store.has_target and len(store.profiles) > 20
    assert store.profiles["platform"].str.startswith("OSSE").all()
    temp, mask = profile_arrays(store.profiles)
    assert 0.5 < np.nanmin(temp) and np.nanmax(temp) < 8.5
    atlantic = shared_data / "model_fields" / "atlantic_profiles_iris.nc"
    assert main(["data", "osse", "--truth", str(atlantic), "--out", str(tmp_path / "a.zarr"), "--obs-fraction", "0.3",
                 "--patch-size", "4", "--val-fraction", "0", "--test-fraction", "0", "--quiet"]) == 0
    store = OceanStore.open(tmp_path / "a.zarr")
    assert store.ds["lon"].values[0] == pytest.approx(-34.5) and len(store.profiles) > 0
    assert store.ds.attrs["provenance_generator"] == "depthdif data osse"
