"""OSTIA NetCDF in CMEMS conventions: kelvin → degC, mask, window mean, regridding, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_writers import write_ostia

from depthdif.data.ingest import IngestError, read_ostia
from depthdif.data.ingest.grid import Grid
from depthdif.data.ingest.ostia import sst_on_grid

LAT = np.arange(-10.0, -5.0, 0.05)
LON = np.arange(100.0, 105.0, 0.05)
DAYS = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-01-08")).astype("datetime64[ns]")


def test_kelvin_to_degc_and_land_from_mask(tmp_path):
    land = np.zeros((LAT.size, LON.size), bool)
    land[:5, :5] = True
    written = write_ostia(tmp_path / "o.nc", LAT, LON, DAYS[:2], land=land)
    field = read_ostia([tmp_path / "o.nc"])
    assert field.sst.shape == (2, LAT.size, LON.size)
    assert np.isnan(field.sst[:, :5, :5]).all()
    ok = np.isfinite(written)
    np.testing.assert_allclose(field.sst[ok], written[ok], atol=0.006)  # packed with scale 0.01 K
    assert 15 < np.nanmean(field.sst) < 25


def test_window_mean_and_bilinear_onto_a_coarser_grid(tmp_path):
    sst = np.stack([np.full((LAT.size, LON.size), 20.0 + d) for d in range(DAYS.size)])
    sst += (LON[None, None, :] - 100.0) * 0.5  # linear in lon: bilinear must reproduce it
    write_ostia(tmp_path / "o.nc", LAT, LON, DAYS, sst_degc=sst)
    field = read_ostia([tmp_path / "o.nc"])
    grid = Grid(lat=np.arange(-9.0, -6.0, 0.25), lon=np.arange(101.025, 104.0, 0.25))
    times = np.array(["2021-01-04", "2021-02-01"], dtype="datetime64[ns]")
    out = sst_on_grid(field, grid, times, window_days=1.0)
    expected = 23.0 + (grid.lon - 100.0) * 0.5  # mean of days 3, 4, 5 → 20 + 3
    np.testing.assert_allclose(out[0], np.broadcast_to(expected, grid.shape), atol=0.01)
    assert np.isnan(out[1]).all()  # no OSTIA day within ±1 day of Feb 1


def test_wrong_units_and_missing_variable_are_named(tmp_path):
    write_ostia(tmp_path / "mislabelled.nc", LAT, LON, DAYS[:1], units="degC", values_in_kelvin=True)
    with pytest.raises(IngestError, match=r"mislabelled\.nc: wrong units: analysed_sst declares 'degC'"):
        read_ostia([tmp_path / "mislabelled.nc"])
    write_ostia(tmp_path / "celsius.nc", LAT, LON, DAYS[:1], units="degC", values_in_kelvin=False)
    assert 10 < np.nanmean(read_ostia([tmp_path / "celsius.nc"]).sst) < 30
    write_ostia(tmp_path / "furlongs.nc", LAT, LON, DAYS[:1], units="furlongs")
    with pytest.raises(IngestError, match=r"furlongs\.nc: wrong units: .*allowed: kelvin or degC"):
        read_ostia([tmp_path / "furlongs.nc"])


def test_grid_without_overlap_is_a_mismatch(tmp_path):
    write_ostia(tmp_path / "o.nc", LAT, LON, DAYS[:1])
    field = read_ostia([tmp_path / "o.nc"])
    far = Grid(lat=np.arange(40.0, 44.0, 0.25), lon=np.arange(-30.0, -26.0, 0.25))
    with pytest.raises(IngestError, match=r"o\.nc: mismatched grids: OSTIA covers .* does not overlap"):
        sst_on_grid(field, far, DAYS[:1], window_days=1.0)
    with pytest.raises(IngestError, match=r"o\.nc: OSTIA covers none of the store's time steps"):
        sst_on_grid(field, Grid(lat=LAT[:20], lon=LON[:20]),
                    np.array(["2030-01-01"], dtype="datetime64[ns]"), window_days=1.0)


def test_files_on_different_longitudes_are_a_mismatch(tmp_path):
    """Same shape and latitudes, shifted longitudes: must not be concatenated as one grid."""
    write_ostia(tmp_path / "a.nc", LAT, LON, DAYS[:1])
    write_ostia(tmp_path / "b.nc", LAT, LON + 10.0, DAYS[1:2])
    with pytest.raises(IngestError, match=r"b\.nc: mismatched grids: differs from .*a\.nc"):
        read_ostia([tmp_path / "a.nc", tmp_path / "b.nc"])
