"""SST in many conventions: OSTIA (packed K, mask bits), Met Office monthly (`surface_temperature`,
0..360 longitudes, time bounds), `--sst-var`, coverage (outside = no EO, not land), bad input."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_writers import days_since, write_netcdf, write_ostia

from depthdif.data import schema as S
from depthdif.data.ingest import IngestError, IngestSpec, build_dataset, open_sst
from depthdif.data.ingest.grid import Grid
from depthdif.data.ingest.regrid import Bilinear
from depthdif.data.ingest.time_axis import centred

LAT = np.arange(-10.0, -5.0, 0.05)
LON = np.arange(100.0, 105.0, 0.05)
DAYS = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-01-08")).astype("datetime64[ns]")
ARGO_ROWS = {"platform": "1", "cycle": 1, "pres": 10.0, "temp": 15.0}


def test_ostia_kelvin_mask_and_window_mean_onto_a_coarser_grid(tmp_path):
    sst = np.stack([np.full((LAT.size, LON.size), 20.0 + d) for d in range(DAYS.size)])
    sst += (LON[None, None, :] - 100.0) * 0.5  # linear in lon: bilinear must reproduce it
    land = np.zeros((LAT.size, LON.size), bool)
    land[:5, :5] = True
    write_ostia(tmp_path / "o.nc", LAT, LON, DAYS, sst_degc=sst, land=land)
    source = open_sst([tmp_path / "o.nc"])
    assert np.isnan(source.read(0)[:5, :5]).all()
    grid = Grid(lat=np.arange(-9.0, -6.0, 0.25), lon=np.arange(101.025, 104.0, 0.25))
    axis = centred(np.array(["2021-01-04", "2021-02-01"], dtype="datetime64[ns]"), 86400e9, "±1 day")
    mean = source.mean_for_step(axis, 0)
    out = Bilinear(source.where.lat, source.where.lon, grid)(mean)
    expected = 23.0 + (grid.lon - 100.0) * 0.5  # mean of days 3, 4, 5 → 20 + 3
    np.testing.assert_allclose(out, np.broadcast_to(expected, grid.shape), atol=0.01)
    assert source.mean_for_step(axis, 1) is None  # no OSTIA day within ±1 day of Feb 1


def met_office_monthly(path, lat, lon, months, sst_k, *, name="surface_temperature", extra_var=False):
    """Met Office style: `surface_temperature` (K), latitude/longitude 0..360, monthly time with bounds,
    a length-1 height dim, CF standard_name set."""
    starts = np.array(months, "datetime64[M]")
    bounds = np.stack([starts, starts + 1], axis=1).astype("datetime64[s]")
    mid = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) / 2
    variables = {
        "time": (("time",), days_since(mid, "1970-01-01"), {"units": "days since 1970-01-01", "bounds": "time_bnds",
                                                            "standard_name": "time"}),
        "time_bnds": (("time", "bnds"), days_since(bounds, "1970-01-01"), {}),
        "latitude": (("latitude",), lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "longitude": (("longitude",), lon, {"units": "degrees_east", "standard_name": "longitude"}),
        name: (("time", "height", "latitude", "longitude"), sst_k[:, None],
               {"units": "K", "standard_name": "surface_temperature"}),
    }
    if extra_var:
        variables["sst_err"] = (("time", "height", "latitude", "longitude"), sst_k[:, None] * 0 + 0.5, {"units": "K"})
    write_netcdf(path, {"time": len(months), "bnds": 2, "height": 1, "latitude": lat.size, "longitude": lon.size},
                 variables)


def test_met_office_monthly_with_bounds_across_greenwich_on_monthly_steps(tmp_path):
    lat = np.arange(40.0, 50.0, 1.0)
    lon = np.arange(0.5, 360.0, 1.0)           # global 0..360: the region below crosses Greenwich
    months = ["2020-01", "2020-02", "2020-03", "2020-04"]
    sst_k = np.stack([np.full((lat.size, lon.size), 283.15 + m) for m in range(4)])
    sst_k[:, :, (lon > 355) | (lon < 2)] = np.nan  # a land strip over Greenwich
    met_office_monthly(tmp_path / "mo.nc", lat, lon, months, sst_k)
    argo = tmp_path / "argo.csv"
    argo.write_text("platform,cycle,time,latitude,longitude,pres,temp\n"
                    + "".join(f"1,{m},2020-0{m + 1}-15,45.2,-10.2,{p},12.0\n" for m in range(4) for p in (10, 20, 30)))
    spec = IngestSpec(ostia=[str(tmp_path / "mo.nc")], argo=[str(argo)], grid="41,48,350,8,1", time_step="1MS",
                      time_from="ostia", patch_size=4, depths="10,20")
    ds, profiles, _ = build_dataset(spec)
    assert ds["lon"].values.tolist() == list(np.arange(-10.0, 8.5, 1.0))
    assert [str(t)[:10] for t in ds["time"].values] == ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"]
    eo, ok = ds[S.EO].values[:, 0], ds[S.EO_MASK].values[:, 0]
    for m in range(4):  # each month its own monthly mean, in °C
        np.testing.assert_allclose(eo[m][ok[m]], 10.0 + m, atol=1e-5)
    land = ds[S.LAND].values
    assert land[:, (ds["lon"].values > -5) & (ds["lon"].values < 2)].all()
    assert not land[:, ds["lon"].values < -5].any()
    assert sorted(profiles["time_index"].tolist()) == [0, 1, 2, 3]


def test_sst_var_chooses_and_cells_outside_the_file_have_no_eo_but_are_not_land(tmp_path):
    lat, lon = np.arange(0.0, 5.0, 0.5), np.arange(10.0, 15.0, 0.5)
    sst_k = np.full((1, lat.size, lon.size), 290.15)
    met_office_monthly(tmp_path / "two.nc", lat, lon, ["2020-01"], sst_k, name="tos_a", extra_var=True)
    spec = IngestSpec(ostia=[str(tmp_path / "two.nc")], sst_var="tos_a", grid="-2,4.5,10,14.5,0.5",
                      argo=[str(_argo_csv(tmp_path, "2020-01-10", 1.0, 11.0))], time_from="ostia", patch_size=4,
                      depths="10")
    ds, _, _ = build_dataset(spec)
    outside = ds["lat"].values < -0.25
    assert not ds[S.EO_MASK].values[0, 0][outside].any() and not ds[S.LAND].values[outside].any()
    np.testing.assert_allclose(ds[S.EO].values[0, 0][~outside], 17.0, atol=1e-5)
    with pytest.raises(IngestError, match=r"two\.nc: variable 'nope' \(chosen for analysed_sst"):
        open_sst([tmp_path / "two.nc"], chosen="nope")


def _argo_csv(tmp_path, day, lat, lon):
    path = tmp_path / "argo.csv"
    path.write_text("platform,cycle,time,latitude,longitude,pres,temp\n"
                    + "".join(f"1,1,{day},{lat},{lon},{p},12.0\n" for p in (5, 10, 20)))
    return path


def test_wrong_units_no_overlap_and_no_common_time_are_named(tmp_path):
    write_ostia(tmp_path / "mislabelled.nc", LAT, LON, DAYS[:1], units="degC", values_in_kelvin=True)
    with pytest.raises(IngestError, match=r"mislabelled\.nc: wrong units: analysed_sst declares 'degC'"):
        open_sst([tmp_path / "mislabelled.nc"]).read(0)
    write_ostia(tmp_path / "furlongs.nc", LAT, LON, DAYS[:1], units="furlongs")
    with pytest.raises(IngestError, match=r"furlongs\.nc: wrong units: .*allowed: degC or kelvin"):
        open_sst([tmp_path / "furlongs.nc"]).read(0)
    write_ostia(tmp_path / "o.nc", LAT, LON, DAYS[:2])
    argo = _argo_csv(tmp_path, "2021-01-01", -8.0, 102.0)
    far = IngestSpec(ostia=[str(tmp_path / "o.nc")], argo=[str(argo)], grid="40,44,-30,-26,0.25", patch_size=8)
    with pytest.raises(IngestError, match=r"o\.nc: mismatched grids: the SST file does not overlap"):
        build_dataset(far)
    later = IngestSpec(ostia=[str(tmp_path / "o.nc")], argo=[str(_argo_csv(tmp_path, "2030-01-01", -8.0, 102.0))],
                       grid_from="ostia", patch_size=8)
    with pytest.raises(IngestError, match=r"o\.nc: the SST covers none of the store's time steps"):
        build_dataset(later)
    write_ostia(tmp_path / "b.nc", LAT, LON + 10.0, DAYS[1:2])
    with pytest.raises(IngestError, match=r"b\.nc: mismatched grids: differs from .*o\.nc"):
        open_sst([tmp_path / "o.nc", tmp_path / "b.nc"])
