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
    # centres never overshoot the bounds (the old grid ended half a cell past lat1)
    assert parse_grid("0,1,0,1.2,0.3").lat.tolist() == [0.0, 0.3, 0.6, 0.9]
    assert parse_grid("0,1,0,0.9,0.3").lon.tolist() == [0.0, 0.3, 0.6, 0.9]  # float noise: 0.9 is kept
    assert parse_grid("0,1,0,1,0.5,0.25").lon.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
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


@pytest.mark.parametrize("spec,expected", [
    ("0,1,170,-170,5", [170.0, 175.0, 180.0, 185.0, 190.0]),    # antimeridian, -180 convention
    ("0,1,170,190,5", [170.0, 175.0, 180.0, 185.0, 190.0]),     # antimeridian, 0..360 convention
    ("0,1,330,10,5", [-30.0, -25.0, -20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0]),  # Greenwich, 0..360
    ("0,1,-30,10,5", [-30.0, -25.0, -20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0]),
])
def test_regions_across_a_seam_are_contiguous(spec, expected):
    assert parse_grid(spec).lon.tolist() == expected


def test_argo_store_across_the_antimeridian_has_windows_over_it(tmp_path):
    """Floats at 179.6E and 179.6W land in neighbouring columns; windows run across 180°."""
    from depthdif.data import schema as S
    from depthdif.data.index import SplitSpec
    from depthdif.data.ingest import IngestSpec, ingest
    from depthdif.data.store import OceanStore

    argo = tmp_path / "argo.csv"
    rows = [f"{p},1,2020-01-0{d},5.1,{lon},{pres},20.0\n" for p, lon in (("1", 179.6), ("2", -179.6))
            for d in (1, 2) for pres in (5, 20)]
    argo.write_text("platform,cycle,time,latitude,longitude,pres,temp\n" + "".join(rows))
    out = ingest(IngestSpec(argo=[str(argo)], grid="0,7.5,176.5,-175.5,0.5", patch_size=8, depths="10"),
                 tmp_path / "a.zarr", progress=False, split=SplitSpec(val_fraction=0, test_fraction=0))
    store = OceanStore.open(out)
    lon = store.ds["lon"].values
    assert lon[0] == 176.5 and lon[-1] == 184.5 and (np.diff(lon) == 0.5).all()
    cols = sorted(set(store.profiles["ix"]))
    assert [lon[c] for c in cols] == [179.5, 180.5]   # wrapped into the grid's convention
    assert not store.ds[S.EO_MASK].values.any()       # Argo alone: no EO, documented
    seam = int(np.searchsorted(lon, 180.0))
    x0 = store.index["x0"].to_numpy()
    assert ((x0 < seam) & (x0 + 8 > seam)).any()      # a window spans the antimeridian


def test_depths_as_a_long_list_of_metres_are_not_taken_for_a_path():
    """40 levels written out are longer than a file name may be (ENAMETOOLONG before the fix)."""
    levels = GLORYS_DEPTHS_M[GLORYS_DEPTHS_M <= 2000.0]
    text = ",".join(f"{d:g}" for d in levels)
    assert len(text) > 255
    assert np.allclose(read_depths(text, None), levels, atol=1e-3)
