"""Synthetic ocean: the fixture's promises, determinism, physical sanity, floats, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.data import schema as S
from depthdif.data.climatology import FREEZING_C, PACKAGED_FILE, load_climatology, resolve_climatology_path
from depthdif.data.profiles import bin_profiles, profile_arrays
from depthdif.data.store import OceanStore
from depthdif.data.synthetic import SynthConfig, depth_levels, synthesize

SMALL = dict(nlat=32, nlon=32, ntime=2, n_levels=50, patch_size=16, stride=16)


def test_tiny_store_has_all_splits_observations_land_and_bathymetry(tiny_store):
    store = OceanStore.open(tiny_store)
    counts = store.index["split"].value_counts()
    assert all(counts.get(s, 0) > 0 for s in S.SPLITS)
    assert (store.index["n_profiles"] > 0).mean() >= 0.6
    land = store.ds[S.LAND].values
    assert 0 < land.mean() < 0.5
    valid = store.ds[S.Y_MASK].values[0].sum(axis=(1, 2))
    assert (np.diff(valid) <= 0).all() and valid[-1] < valid[0]  # y_valid_mask shrinks with depth
    assert store.depth[0] == pytest.approx(0.494) and store.depth[-1] == pytest.approx(5727.917)


def test_depth_subset_rule_spans_the_column():
    levels = depth_levels(8)
    assert len(levels) == 8 and set(levels) <= set(S.GLORYS_DEPTHS_M)
    assert levels[0] == S.GLORYS_DEPTHS_M[0] and levels[-1] == S.GLORYS_DEPTHS_M[-1]
    np.testing.assert_array_equal(depth_levels(50), S.GLORYS_DEPTHS_M)


def test_deterministic_by_seed():
    a, pa = synthesize(SynthConfig(**SMALL, seed=3), progress=False)
    b, pb = synthesize(SynthConfig(**SMALL, seed=3), progress=False)
    c, _ = synthesize(SynthConfig(**SMALL, seed=4), progress=False)
    for name in S.STORE_VARIABLES:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert len(pa) == len(pb)
    assert not np.array_equal(a[S.Y].values, c[S.Y].values, equal_nan=True)


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # levels below every sea floor
def test_profiles_are_realistic_and_bin_to_x():
    ds, profiles = synthesize(SynthConfig(**SMALL, obs_fraction=0.05, seed=1), progress=False)
    y, y_valid = ds[S.Y].values, ds[S.Y_MASK].values
    # the column cools with depth on average, from a temperate surface (55-35 S) to cold abyss
    mean = np.nanmean(np.where(y_valid, y, np.nan), axis=(0, 2, 3))
    assert 6 < mean[0] < 20 and mean[np.searchsorted(ds["depth"].values, 2000)] < 4
    assert np.all(np.diff(mean[np.isfinite(mean)][::5]) < 0.5)
    temp, mask = profile_arrays(profiles)
    deepest = np.array([ds["depth"].values[m].max() for m in mask])
    assert ((deepest > 1500) & (deepest <= 2050)).mean() > 0.5  # mostly ~2000 m
    assert (deepest < 1600).any()  # some shallower (shallow floats or the sea floor)
    x, x_valid = bin_profiles(profiles, y.shape)
    np.testing.assert_array_equal(x_valid, ds[S.X_MASK].values)
    np.testing.assert_allclose(x[x_valid], ds[S.X].values[x_valid])
    # one profile per cell: sensor noise ~0.01 degC around the truth
    single = x_valid & ~np.isnan(y)
    err = x[single] - y[single]
    assert 0.003 < err.std() < 0.05


def test_eo_is_the_smoothed_surface_and_eddies_couple_depths():
    ds, _ = synthesize(SynthConfig(**SMALL, seed=2, eo_channels=["sst", "adt"]), progress=False)
    ocean = ~ds[S.LAND].values
    sst = ds[S.EO].sel(eo_channel="sst").values[0][ocean]
    surface = ds[S.Y].values[0, 0][ocean]
    assert np.corrcoef(sst, surface)[0, 1] > 0.9
    assert ds[S.EO].attrs["channel_units"] == "degC,m"
    # displacement: the subsurface (300 m) anomaly correlates with the surface anomaly
    k = int(np.searchsorted(ds["depth"].values, 300))
    y300 = ds[S.Y].values[0, k]
    rows = [r for r in range(ds.sizes["lat"]) if ocean[r].sum() > 5]
    anom_s = np.concatenate([surface_row - surface_row.mean() for surface_row in
                             (ds[S.Y].values[0, 0, r][ocean[r]] for r in rows)])
    anom_d = np.concatenate([d - np.nanmean(d) for d in (y300[r][ocean[r]] for r in rows)])
    ok = np.isfinite(anom_d)
    assert np.corrcoef(anom_s[ok], anom_d[ok])[0, 1] > 0.3


def test_climatology_is_packaged_and_clipped():
    assert resolve_climatology_path() == PACKAGED_FILE
    clim = load_climatology()
    assert np.nanmin(clim.theta) >= FREEZING_C and clim.depth[0] == 0
    with pytest.raises(FileNotFoundError, match="nowhere.nc"):
        resolve_climatology_path("/nowhere.nc")


def test_config_checks():
    with pytest.raises(ValueError, match="patch_size"):
        SynthConfig(nlat=8, nlon=8).check()
    with pytest.raises(ValueError, match="allowed"):
        SynthConfig(eo_channels=["chl"]).check()


def test_cli_synth_and_info(tmp_path, capsys):
    from depthdif.cli import main

    out = tmp_path / "cli.zarr"
    args = ["data", "synth", "--out", str(out), "--size", "32", "--times", "2", "--levels", "6",
            "--patch-size", "16", "--quiet", "--seed", "5"]
    assert main(args) == 0
    assert main(["data", "info", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "patches:" in text and "'depth': 6" in text and "profiles:" in text
    assert main(args) == 2  # exists: refused without --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
