"""GLORYS NetCDF in CMEMS conventions: values, units, names and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_writers import write_glorys

from depthdif.data.ingest import IngestError, read_glorys

LAT = np.arange(30.0, 34.0, 0.25)
LON = np.arange(-20.0, -16.0, 0.25)
DEPTH = np.array([0.494, 5.078, 47.373, 318.127])
TIMES = np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")


def test_reads_packed_thetao_on_native_grid(tmp_path):
    land = np.zeros((LAT.size, LON.size), bool)
    land[:3, :3] = True
    written = write_glorys(tmp_path / "g.nc", LAT, LON, DEPTH, TIMES, land=land, floor_level=3)
    field = read_glorys([tmp_path / "g.nc"])
    assert field.y.shape == (2, 4, LAT.size, LON.size)
    np.testing.assert_allclose(field.grid.lat, LAT)
    np.testing.assert_allclose(field.depths, DEPTH, rtol=1e-6)
    assert (field.times == TIMES).all()
    valid = np.isfinite(written)
    assert (np.isfinite(field.y) == valid).all()
    np.testing.assert_allclose(field.y[valid], written[valid], atol=1e-3)  # int16 packing step < 0.001
    assert np.isnan(field.y[:, 3, 0, 0]).all() and np.isfinite(field.y[:, 2, 10, 10]).all()


def test_files_concatenate_in_time_order_and_kelvin_converts(tmp_path):
    second = write_glorys(tmp_path / "b.nc", LAT, LON, DEPTH, TIMES[1:])
    kelvin = write_glorys(tmp_path / "a.nc", LAT, LON, DEPTH, TIMES[:1], units="K",
                          values=write_glorys(tmp_path / "tmp.nc", LAT, LON, DEPTH, TIMES[:1]) + 273.15)
    field = read_glorys([tmp_path / "b.nc", tmp_path / "a.nc"])
    assert (field.times == TIMES).all()
    np.testing.assert_allclose(field.y[0], kelvin[0] - 273.15, atol=2e-3)
    np.testing.assert_allclose(field.y[1], second[0], atol=1e-3)


def test_wrong_units_missing_variable_and_all_nan_name_the_file(tmp_path):
    write_glorys(tmp_path / "k.nc", LAT, LON, DEPTH, TIMES[:1], units="degC",
                 values=write_glorys(tmp_path / "tmp.nc", LAT, LON, DEPTH, TIMES[:1]) + 273.15)
    with pytest.raises(IngestError, match=r"k\.nc: wrong units: thetao declares 'degC' .*looks like kelvin"):
        read_glorys([tmp_path / "k.nc"])
    write_glorys(tmp_path / "so.nc", LAT, LON, DEPTH, TIMES[:1], name="so")
    with pytest.raises(IngestError, match=r"so\.nc: missing variable thetao"):
        read_glorys([tmp_path / "so.nc"])
    write_glorys(tmp_path / "nan.nc", LAT, LON, DEPTH, TIMES, values=np.full((2, 4, LAT.size, LON.size), np.nan))
    with pytest.raises(IngestError, match=r"nan\.nc: all-NaN"):
        read_glorys([tmp_path / "nan.nc"])
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        read_glorys([tmp_path / "missing.nc"])


def test_files_on_different_grids_are_refused(tmp_path):
    write_glorys(tmp_path / "a.nc", LAT, LON, DEPTH, TIMES[:1])
    write_glorys(tmp_path / "b.nc", LAT + 0.1, LON, DEPTH, TIMES[1:])
    with pytest.raises(IngestError, match=r"b\.nc: mismatched grids"):
        read_glorys([tmp_path / "a.nc", tmp_path / "b.nc"])
