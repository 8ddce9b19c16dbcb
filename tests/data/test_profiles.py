"""Profile table schema, grid/time lookup and the binning rule (mean of valid values per level)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from depthdif.data.profiles import (PROFILE_COLUMNS, bin_profiles, grid_cells, make_profiles,
                                    profile_arrays, time_steps, validate_profiles)


def _table():
    nan = np.nan
    temp = np.array([[10.0, 8.0, nan], [12.0, nan, nan], [5.0, 4.0, 3.0], [1.0, 1.0, 1.0]])
    return make_profiles(platform=["a", "b", "c", "d"], time=np.array(["2020-01-01"] * 4, "datetime64[ns]"),
                         lat=[0, 0, 1, 9], lon=[0, 0, 1, 9], temp=temp,
                         time_index=[0, 0, 1, -1], iy=[1, 1, 2, 0], ix=[1, 1, 3, 0], source="test")


def test_schema_columns_and_types():
    df = _table()
    assert tuple(df.columns) == PROFILE_COLUMNS
    assert df["profile_id"].tolist() == [0, 1, 2, 3]
    temp, mask = profile_arrays(df)
    assert temp.dtype == np.float32 and mask.dtype == bool
    assert mask[0].tolist() == [True, True, False]


def test_binning_averages_profiles_in_one_cell_per_level():
    x, valid = bin_profiles(_table(), (2, 3, 4, 5))
    assert x.shape == (2, 3, 4, 5) and x.dtype == np.float32 and valid.dtype == bool
    # two profiles in cell (t0, 1, 1): level 0 mean(10, 12); level 1 only the first measured it
    assert x[0, 0, 1, 1] == pytest.approx(11.0)
    assert x[0, 1, 1, 1] == pytest.approx(8.0)
    assert not valid[0, 2, 1, 1] and np.isnan(x[0, 2, 1, 1])
    assert x[1, :, 2, 3].tolist() == [5.0, 4.0, 3.0]
    assert valid.sum() == 2 + 3  # the row with time_index -1 is outside the grid: not binned
    assert np.isnan(x[~valid]).all()


def test_empty_table_gives_empty_observations():
    x, valid = bin_profiles(_table().iloc[:0], (1, 3, 2, 2))
    assert not valid.any() and np.isnan(x).all()


def test_validate_names_the_column():
    df = _table().drop(columns=["source"])
    with pytest.raises(ValueError, match="source"):
        validate_profiles(df, 3)
    with pytest.raises(ValueError, match="'temp'.*depth levels \\(5\\)"):
        validate_profiles(_table(), 5)


def test_grid_cells_nearest_and_outside():
    lat_grid, lon_grid = np.linspace(-10, -5, 6), np.linspace(20, 25, 6)
    iy, ix = grid_cells(np.array([-10.2, -7.4, -4.6, -3.0]), np.array([20.4, 22.6, 25.0, 21.0]),
                        lat_grid, lon_grid)
    assert iy.tolist() == [0, 3, 5, -1]
    assert ix.tolist() == [0, 3, 5, 1]


def test_time_steps_nearest_within_half_a_step():
    grid = np.array(["2020-01-01", "2020-01-08", "2020-01-15"], dtype="datetime64[ns]")
    times = np.array(["2020-01-02", "2020-01-12", "2020-01-18", "2020-02-01", "2019-12-20"],
                     dtype="datetime64[ns]")
    assert time_steps(times, grid).tolist() == [0, 2, 2, -1, -1]
    assert time_steps(times, grid, max_gap_days=30).tolist() == [0, 2, 2, 2, 0]


def test_parquet_round_trip_keeps_lists(tmp_path):
    df = _table()
    df.to_parquet(tmp_path / "p.parquet", index=False)
    back = pd.read_parquet(tmp_path / "p.parquet")
    x0, v0 = bin_profiles(df, (2, 3, 4, 5))
    x1, v1 = bin_profiles(back, (2, 3, 4, 5))
    np.testing.assert_array_equal(v0, v1)
    np.testing.assert_array_equal(x0, x1)
