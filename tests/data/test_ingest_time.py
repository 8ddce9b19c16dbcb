"""The time axis: pandas offsets, calendar periods, clipping, coverage warnings, and exact round trips."""

from __future__ import annotations

import numpy as np
import pytest
from test_ingest_sst import met_office_monthly

from depthdif.data import schema as S
from depthdif.data.index import SplitSpec
from depthdif.data.ingest import IngestSpec, build_dataset, ingest
from depthdif.data.ingest.build import IngestCoverageWarning
from depthdif.data.ingest.time_axis import TimeAxis, parse_time_range, regular_axis, step_duration
from depthdif.data.store import OceanStore, write_store
from depthdif.data.store_writer import time_encoding

ALL_TRAIN = SplitSpec(val_fraction=0.0, test_fraction=0.0)


def test_fixed_and_calendar_steps():
    start, end = np.datetime64("2020-01-15T13:00", "ns"), np.datetime64("2020-04-20", "ns")
    weekly = regular_axis(start, end, "7D", None)
    assert str(weekly.times[0])[:10] == "2020-01-15" and not weekly.periods
    assert (np.diff(weekly.times) == np.timedelta64(7, "D")).all()
    assert weekly.assign(np.array(["2020-01-18T11:00", "2020-01-19"], "datetime64[ns]")).tolist() == [0, 1]
    monthly = regular_axis(start, end, "1MS", None)
    assert [str(t)[:10] for t in monthly.times] == ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"]
    # periods hold [label, next label): Jan 31 is January, Feb 1 is February
    assert monthly.assign(np.array(["2020-01-31T23:00", "2020-02-01", "2019-12-31"], "datetime64[ns]")).tolist() \
        == [0, 1, -1]
    assert step_duration("30.4375D").total_seconds() == 30.4375 * 86400 and step_duration("1MS") is None
    with pytest.raises(ValueError, match="--time-step: 'fortnight' is not a pandas offset"):
        step_duration("fortnight")
    with pytest.raises(ValueError, match="--time-range: expected START,END"):
        parse_time_range("2020")


def test_record_weights_by_overlap_and_clipping():
    axis = regular_axis(np.datetime64("2020-01-01", "ns"), np.datetime64("2020-03-01", "ns"), "1MS", None)
    lower = np.array(["2020-01-01", "2020-02-01"], "datetime64[ns]")
    upper = np.array(["2020-02-01", "2020-03-01"], "datetime64[ns]")
    assert axis.record_weights(1, lower, upper).tolist() == [0.0, 29 * 86400e9]  # only February overlaps
    clipped = axis.clip(parse_time_range("2020-02-01,2020-12-31"))
    assert isinstance(clipped, TimeAxis) and clipped.size == 2


@pytest.mark.parametrize("step", ["1MS", "30.4375D", "7D", "12h"])
def test_any_step_round_trips_exactly(small_dataset, tmp_path, step):
    ds = small_dataset(ntime=4)
    axis = regular_axis(np.datetime64("2021-03-01T06:00", "ns"), np.datetime64("2021-07-01", "ns"), step, None)
    times = axis.times[:4]
    ds = ds.assign_coords(time=times)
    out = write_store(ds, tmp_path / "t.zarr", patch_size=16, split=ALL_TRAIN, progress=False)
    back = OceanStore.open(out).ds["time"].values
    assert (back == times).all()
    assert time_encoding(times)["units"].split()[0] == {"1MS": "days", "30.4375D": "minutes", "7D": "days",
                                                        "12h": "hours"}[step]


def test_daily_axis_over_monthly_sst_warns_with_counts(tmp_path):
    lat, lon = np.arange(0.0, 5.0, 0.5), np.arange(10.0, 15.0, 0.5)
    months = ["2020-01", "2020-02", "2020-03"]
    met_office_monthly(tmp_path / "mo.nc", lat, lon, months, np.full((3, lat.size, lon.size), 290.0))
    argo = tmp_path / "argo.csv"
    argo.write_text("platform,cycle,time,latitude,longitude,pres,temp\n"
                    + "".join(f"1,{d},2020-01-{d:02d},2.0,12.0,{p},12.0\n" for d in range(1, 29) for p in (5, 20)))
    spec = IngestSpec(ostia=[str(tmp_path / "mo.nc")], argo=[str(argo)], grid_from="ostia", patch_size=4,
                      depths="10", time_from="ostia", time_step="1D")
    with pytest.warns(IngestCoverageWarning, match=r"(\d+) of (\d+) time steps have no Argo") as record:
        ds, profiles, _ = build_dataset(spec)
    n_steps = ds.sizes["time"]  # daily over the SST records' dates: Jan 16 .. Mar 17
    assert str(ds["time"].values[0])[:10] == "2020-01-16" and n_steps == 62  # the last one holds Mar 16 12:00
    assert f"{n_steps - profiles['time_index'].nunique()} of {n_steps} time steps" in str(record[0].message)
    assert ds[S.EO_MASK].values[:, 0].any(axis=(1, 2)).all()  # every day inside a month has its SST


def test_fractional_steps_through_ingest_and_info(tmp_path, capsys):
    from depthdif.cli import main

    lat, lon = np.arange(0.0, 5.0, 0.5), np.arange(10.0, 15.0, 0.5)
    met_office_monthly(tmp_path / "mo.nc", lat, lon, ["2020-01", "2020-02", "2020-03", "2020-04"],
                       np.full((4, lat.size, lon.size), 290.0))
    argo = tmp_path / "argo.csv"
    argo.write_text("platform,cycle,time,latitude,longitude,pres,temp\n"
                    + "".join(f"1,{m},2020-0{m}-10,2.0,12.0,{p},12.0\n" for m in range(1, 5) for p in (5, 20)))
    out = ingest(IngestSpec(ostia=[str(tmp_path / "mo.nc")], argo=[str(argo)], grid_from="ostia", patch_size=4,
                            depths="10", time_step="30.4375D"), tmp_path / "f.zarr", progress=False, split=ALL_TRAIN)
    times = OceanStore.open(out).ds["time"].values
    assert (np.diff(times) == np.timedelta64(int(30.4375 * 86400), "s")).all() and str(times[-1])[:4] == "2020"
    assert main(["data", "info", str(out)]) == 0
    assert "time: 2020-01-10 .. 2020-04-10 07:30:00, 4 steps, step 30 days 10:30:00" in capsys.readouterr().out
