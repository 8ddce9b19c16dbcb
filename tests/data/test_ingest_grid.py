"""Target grid, depth levels and time axis of an ingested store."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.data.ingest import IngestError
from depthdif.data.ingest.grid import (Grid, check_same_grid, parse_grid, read_depths, regular_times,
                                       time_window_days, wrap_longitude)
from depthdif.data.schema import GLORYS_DEPTHS_M


def test_parse_grid_inclusive_centres_and_errors():
    grid = parse_grid("-10,-8,100,101,0.5")
    assert grid.lat.tolist() == [-10.0, -9.5, -9.0, -8.5, -8.0]
    assert grid.lon.tolist() == [100.0, 100.5, 101.0]
    with pytest.raises(ValueError, match="--grid: expected lat0,lat1,lon0,lon1,res"):
        parse_grid("1,2,3")
    with pytest.raises(ValueError, match="--grid: need res > 0"):
        parse_grid("10,0,0,10,1")


def test_mismatched_grids_name_both_grids():
    a = Grid(lat=np.arange(0.0, 4.0), lon=np.arange(0.0, 4.0))
    check_same_grid(a, Grid(lat=a.lat + 1e-5, lon=a.lon), ("A", "B"), ["a.nc"])
    with pytest.raises(IngestError, match=r"a\.nc: mismatched grids: A grid is lat 0\.000\.\.3\.000.*B grid"):
        check_same_grid(a, Grid(lat=a.lat + 0.5, lon=a.lon), ("A", "B"), ["a.nc"])


def test_longitudes_follow_the_grid_convention():
    assert wrap_longitude(np.array([-30.0, 190.0]), np.array([0.0, 359.0])).tolist() == [330.0, 190.0]
    assert wrap_longitude(np.array([330.0, -30.0]), np.array([-180.0, 179.0])).tolist() == [-30.0, -30.0]


def test_depths_from_glorys_or_file(tmp_path):
    assert read_depths("glorys", None).size == 50
    available = GLORYS_DEPTHS_M[:10]
    assert read_depths("glorys", available).tolist() == available.tolist()
    good = tmp_path / "good.txt"
    good.write_text("0.494, 5.078\n9.573\n")
    assert read_depths(str(good), available).tolist() == [0.494, 5.078, 9.573]
    with pytest.raises(IngestError, match="bad.txt: mismatched grids: depths \\[7.0\\]"):
        (tmp_path / "bad.txt").write_text("0.494 7.0")
        read_depths(str(tmp_path / "bad.txt"), available)
    with pytest.raises(IngestError, match="strictly increasing"):
        (tmp_path / "order.txt").write_text("10 5")
        read_depths(str(tmp_path / "order.txt"), None)


def test_regular_times_cover_the_last_measurement_within_half_a_step():
    start = np.datetime64("2020-01-01T13:00")
    times = regular_times(start, np.datetime64("2020-01-25"), 10)
    assert times.astype("datetime64[D]").astype(str).tolist() == ["2020-01-01", "2020-01-11", "2020-01-21"]
    times = regular_times(start, np.datetime64("2020-01-27"), 10)
    assert times.size == 4  # Jan 27 is 6 days after Jan 21: it needs the Jan 31 step
    assert time_window_days(times, 10) == 5.0
    assert time_window_days(times[:1], 7) == 3.5
