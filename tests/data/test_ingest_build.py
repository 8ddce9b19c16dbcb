"""End to end: CMEMS-format GLORYS + OSTIA + Argo files → a real store; Argo-only stores; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ingest_writers import write_glorys, write_ostia

from depthdif.cli import main
from depthdif.data import schema as S
from depthdif.data.index import SplitSpec
from depthdif.data.ingest import IngestError, IngestSpec, build_dataset, ingest, profiles_on_levels, read_argo
from depthdif.data.store import OceanStore

LAT = np.arange(20.0, 28.0, 0.25)           # 32 x 32 GLORYS grid
LON = np.arange(-40.0, -32.0, 0.25)
DEPTH = np.array([0.494, 9.573, 47.373, 109.729, 318.127])
TIMES = np.array(["2021-06-01", "2021-06-02", "2021-06-03"], dtype="datetime64[ns]")
ALL_TRAIN = SplitSpec(val_fraction=0.0, test_fraction=0.0)


def argo_table(path, rows_per_profile: int = 40) -> pd.DataFrame:
    """Three floats on June 2: one in the ocean (one 70 °C spike flagged 4), one on a land cell of
    the grid, one far outside it."""
    rows = []
    for platform, lat, lon in (("1111111", 23.1, -37.05), ("2222222", -50.0, 100.0), ("3333333", 20.3, -39.5)):
        for k in range(rows_per_profile):
            pres = 4.0 + 10.0 * k
            rows.append({"PLATFORM_NUMBER": platform, "CYCLE_NUMBER": 7, "TIME": "2021-06-02T10:00:00",
                         "LATITUDE": lat, "LONGITUDE": lon, "PRES": pres, "TEMP": 26.0 - 0.04 * pres,
                         "TEMP_QC": 1, "PSAL": 36.0})
    frame = pd.DataFrame(rows)
    frame.loc[5, ["TEMP", "TEMP_QC"]] = [70.0, 4]
    frame.to_parquet(path)
    return frame


@pytest.fixture
def cmems_files(tmp_path):
    land = np.zeros((LAT.size, LON.size), bool)
    land[:4, :6] = True
    glorys = write_glorys(tmp_path / "glorys.nc", LAT, LON, DEPTH, TIMES, land=land, floor_level=4)
    ostia_lat, ostia_lon = np.arange(19.0, 29.0, 0.05), np.arange(-41.0, -31.0, 0.05)
    days = np.arange(np.datetime64("2021-05-30"), np.datetime64("2021-06-06")).astype("datetime64[ns]")
    write_ostia(tmp_path / "ostia.nc", ostia_lat, ostia_lon, days)
    argo_table(tmp_path / "argo.parquet")
    return tmp_path, glorys, land


def test_glorys_ostia_argo_store_round_trip(cmems_files):
    tmp, glorys, land = cmems_files
    spec = IngestSpec(glorys=[str(tmp / "glorys.nc")], ostia=[str(tmp / "ostia.nc")],
                      argo=[str(tmp / "argo.parquet")], patch_size=16)
    out = ingest(spec, tmp / "store.zarr", progress=False, split=ALL_TRAIN)
    store = OceanStore.open(out)
    ds = store.ds
    # y is GLORYS on its native grid, unchanged (int16 packing aside).
    np.testing.assert_allclose(ds["lat"].values, LAT)
    valid = np.isfinite(glorys)
    assert (ds[S.Y_MASK].values == valid).all()
    np.testing.assert_allclose(ds[S.Y].values[valid], glorys[valid], atol=1e-3)
    assert (ds[S.LAND].values == land).all()
    # EO: OSTIA (kelvin on a finer grid) averaged per day and interpolated: close to the surface field.
    eo = ds[S.EO].values[:, 0]
    ok = ds[S.EO_MASK].values[:, 0]
    assert ok[:, ~land].mean() > 0.95 and not ok[:, land].any()
    assert np.abs(eo[ok] - glorys[:, 0][ok]).max() < 0.2
    # Argo: one profile inside, at June 2 (time index 1), nearest cell of (23.1, -37.05).
    prof = store.profiles
    assert len(prof) == 1
    row = prof.iloc[0]
    iy, ix = int(np.argmin(np.abs(LAT - 23.1))), int(np.argmin(np.abs(LON + 37.05)))
    assert (row["time_index"], row["iy"], row["ix"]) == (1, iy, ix)
    x_valid = ds[S.X_MASK].values
    assert x_valid.sum() == np.sum(row["mask"]) and x_valid[1, :, iy, ix].tolist() == list(row["mask"])
    # shallowest good measurement at 4 dbar: the 0.494 m level is not extrapolated
    assert list(row["mask"]) == [False, True, True, True, True]
    x = ds[S.X].values[1, :, iy, ix]
    assert np.nanmax(x) < 30  # the 70 °C spike flagged 4 is gone
    expected = profiles_on_levels(read_argo([tmp / "argo.parquet"]), DEPTH)
    np.testing.assert_allclose(x[1:], expected.iloc[0]["temp"][1:], atol=1e-5)
    assert store.ds.attrs["provenance_argo_profiles"] == 1


def test_argo_only_store_from_the_real_files(shared_data, tmp_path):
    """All real Argo samples (ERDDAP + GDAC) that fall in a southern Indian Ocean box."""
    grid = "-60,-5,0,120,1"
    lat, lon = np.arange(-60.0, -4.5, 1.0), np.arange(0.0, 120.5, 1.0)
    months = np.arange(np.datetime64("2005-01-01"), np.datetime64("2007-08-01"), np.timedelta64(15, "D"))
    write_ostia(tmp_path / "ostia.nc", lat, lon, months.astype("datetime64[ns]"))
    depths = tmp_path / "depths.txt"
    depths.write_text("\n".join(str(d) for d in S.GLORYS_DEPTHS_M[[10, 16, 22, 28, 33, 37, 39, 40]]))
    argo = [shared_data / "argo" / "argo_erddap_14d54da780fdc3c2.nc",
            shared_data / "argo" / "argo_erddap_e10c98822ed9f752.nc",
            shared_data / "argo_gdac" / "5900865_prof.nc"]
    spec = IngestSpec(ostia=[str(tmp_path / "ostia.nc")], argo=[str(p) for p in argo], grid=grid,
                      depths=str(depths), time_step_days=30, patch_size=16)
    spec.argo.append(str(argo[0]))  # the same float cycles twice: counted once
    ds, profiles, provenance = build_dataset(spec)
    assert S.Y not in ds and S.Y_MASK not in ds
    assert len(profiles) == 90 + 88 + 80
    assert profiles.groupby("source").size().to_dict() == {
        "5900865_prof.nc": 80, "argo_erddap_14d54da780fdc3c2.nc": 90, "argo_erddap_e10c98822ed9f752.nc": 88}
    x, m = ds[S.X].values, ds[S.X_MASK].values
    assert not m[:, -1].any()                               # 2225 m: deeper than any Argo profile here
    assert m[:, :-1].any(axis=(0, 2, 3)).all()
    assert np.nanmin(x[m]) > -2.0 and np.nanmax(x[m]) < 31.0  # no flagged garbage, plausible range
    assert provenance["argo_profiles"] == 258
    out = ingest(spec, tmp_path / "argo_only.zarr", progress=False, split=ALL_TRAIN)
    store = OceanStore.open(out)
    assert not store.has_target and len(store.profiles) == 258


def test_mismatched_grids_and_argo_outside_are_named(cmems_files):
    tmp, _, _ = cmems_files
    spec = IngestSpec(glorys=[str(tmp / "glorys.nc")], ostia=[str(tmp / "ostia.nc")], grid_from="ostia")
    with pytest.raises(IngestError, match=r"glorys\.nc.*mismatched grids: model grid is .*--regrid"):
        build_dataset(spec)
    far = pd.read_parquet(tmp / "argo.parquet")
    far["LATITUDE"] = -70.0
    far.to_parquet(tmp / "far.parquet")
    spec = IngestSpec(glorys=[str(tmp / "glorys.nc")], ostia=[str(tmp / "ostia.nc")], argo=[str(tmp / "far.parquet")])
    with pytest.raises(IngestError, match=r"far\.parquet: no Argo profile falls inside the target grid"):
        build_dataset(spec)
    spec = IngestSpec(glorys=[str(tmp / "glorys.nc")], ostia=[str(tmp / "ostia.nc")], grid="20,27.75,-40,-32.25,0.5")
    with pytest.raises(IngestError, match=r"glorys\.nc: mismatched grids: model grid is .*target grid is lat 20\.000\.\.27\.500"):
        build_dataset(spec)
    no_eo, _, provenance = build_dataset(IngestSpec(glorys=[str(tmp / "glorys.nc")]))  # EO is optional
    assert not no_eo[S.EO_MASK].values.any() and provenance["eo_source"].startswith("none")
    with pytest.raises(IngestError, match="depths.txt: mismatched grids: depths"):
        (tmp / "depths.txt").write_text("0.494\n12.0\n")
        build_dataset(IngestSpec(glorys=[str(tmp / "glorys.nc")], ostia=[str(tmp / "ostia.nc")],
                                 depths=str(tmp / "depths.txt")))


def test_cli_writes_store_and_refuses_to_overwrite(cmems_files, capsys):
    tmp, _, _ = cmems_files
    argv = ["data", "ingest", "--out", str(tmp / "cli.zarr"), "--glorys", str(tmp / "glorys.nc"),
            "--eo-from-glorys", "--argo", str(tmp / "argo.parquet"), "--argo-format", "table",
            "--patch-size", "8", "--quiet"]
    assert main(argv) == 0
    before = sorted(p.name for p in (tmp / "cli.zarr").iterdir())
    assert main(argv) == 2
    assert "cli.zarr: output already exists" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp / "cli.zarr").iterdir()) == before
    store = OceanStore.open(tmp / "cli.zarr")
    assert store.ds.attrs["provenance_eo_source"].startswith("model top level")
    assert main([*argv, "--overwrite"]) == 0


def test_cli_bad_input_exits_2_naming_the_file(cmems_files, capsys):
    tmp, _, _ = cmems_files
    write_ostia(tmp / "sst_degc_label.nc", LAT, LON, TIMES, units="degC", values_in_kelvin=True)
    code = main(["data", "ingest", "--out", str(tmp / "bad.zarr"), "--glorys", str(tmp / "glorys.nc"),
                 "--ostia", str(tmp / "sst_degc_label.nc"), "--quiet"])
    assert code == 2
    assert "sst_degc_label.nc: wrong units" in capsys.readouterr().err
    assert not (tmp / "bad.zarr").exists()


def test_argo_only_time_axis_spans_the_floats_inside_the_grid(shared_data, tmp_path):
    lat, lon = np.arange(-14.0, -8.0, 0.5), np.arange(106.0, 117.0, 0.5)
    days = np.arange(np.datetime64("2005-08-01"), np.datetime64("2007-11-15"), np.timedelta64(5, "D"))
    write_ostia(tmp_path / "ostia.nc", lat, lon, days.astype("datetime64[ns]"))
    spec = IngestSpec(ostia=[str(tmp_path / "ostia.nc")], grid_from="ostia", time_step_days=20, patch_size=8,
                      argo=[str(shared_data / "argo_gdac")])  # + the 1997 and 43°N single profiles, outside
    ds, profiles, _ = build_dataset(spec)
    times = ds["time"].values
    # first profile 2005-08-28, last 2007-10-27 06:41: 39.5 steps of 20 days → 41 steps, the last one
    # (2007-11-06) within half a step of it; the 1997 profile outside the grid does not stretch the axis.
    assert str(times[0])[:10] == "2005-08-28" and str(times[-1])[:10] == "2007-11-06"
    assert times.size == 41
    assert len(profiles) == 80 and set(profiles["source"]) == {"5900865_prof.nc"}
    assert (np.diff(np.sort(profiles["time_index"].to_numpy())) >= 0).all()
    assert profiles["time_index"].max() == times.size - 1
