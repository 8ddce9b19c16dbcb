"""Argo GDAC profile files: the real multi/single-profile samples and written files."""

from __future__ import annotations

import netCDF4
import numpy as np
import pandas as pd
import pytest
from ingest_writers import write_gdac

from depthdif.data.ingest import IngestError, detect_format, profiles_on_levels, read_argo
from depthdif.data.ingest.argo_gdac import read_gdac
from depthdif.data.schema import GLORYS_DEPTHS_M


def test_real_multi_profile_file_drops_qc4_levels(shared_data):
    path = shared_data / "argo_gdac" / "5900865_prof.nc"
    assert detect_format(path) == "gdac"
    m = read_gdac(path)
    assert m.groupby("cycle").ngroups == 80
    assert len(m) == 80 * 71 - 13  # 13 levels flagged 4 in TEMP_ADJUSTED_QC
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_mask(False)
        flagged = nc["TEMP_QC"][:] == b"4"
        bad_temps = nc["TEMP"][:][flagged]
        bad_pres = nc["PRES_ADJUSTED"][:][flagged]
    assert bad_temps.size == 13
    pairs = set(zip(np.round(m["pressure_dbar"], 1), np.round(m["temp_degc"], 3)))
    assert not any((round(float(p), 1), round(float(t), 3)) in pairs for p, t in zip(bad_pres, bad_temps))
    assert m["lat"].between(-13.8, -9.0).all() and m["lon"].between(107.0, 116.5).all()
    assert m["time"].min() >= pd.Timestamp("2005-01-01") and m["time"].max() < pd.Timestamp("2008-01-01")
    assert m["temp_degc"].between(2.0, 31.0).all()
    profiles = profiles_on_levels(m, GLORYS_DEPTHS_M)
    assert len(profiles) == 80
    deepest = GLORYS_DEPTHS_M[np.stack(profiles["mask"].to_numpy()).any(axis=0)].max()
    assert deepest == pytest.approx(1941.893)


def test_real_single_profiles_delayed_uses_adjusted_realtime_uses_raw(shared_data):
    d = read_gdac(shared_data / "argo_gdac" / "D4900882_029.nc")
    assert len(d) == 72 and set(d["cycle"]) == {29} and set(d["platform"]) == {"4900882"}
    assert d["pressure_dbar"].iloc[0] == pytest.approx(4.8, abs=1e-4)  # PRES_ADJUSTED, raw is 5.4
    assert d["time"].iloc[0].strftime("%Y-%m-%d") == "2007-08-01"
    assert d["lat"].iloc[0] == pytest.approx(43.274, abs=1e-3)
    r = read_gdac(shared_data / "argo_gdac" / "R13857_001.nc")
    assert len(r) == 112 and r["pressure_dbar"].iloc[0] == pytest.approx(11.9, abs=1e-4)
    assert r["temp_degc"].iloc[0] == pytest.approx(22.235, abs=1e-4)
    assert r["psal"].isna().all()  # this file has no PSAL
    assert r["time"].iloc[0].strftime("%Y-%m-%d") == "1997-07-29"
    both = read_argo([shared_data / "argo_gdac" / "D4900882_029.nc", shared_data / "argo_gdac" / "R13857_001.nc"])
    assert sorted(both["source"].unique()) == ["D4900882_029.nc", "R13857_001.nc"]


def gdac_profiles() -> list[dict]:
    pres = [5.0, 15.0, 25.0, 35.0, 45.0]
    base = dict(platform="6900001", lat=10.0, lon=-40.0, pres=pres)
    return [
        # R mode: a 60 °C spike flagged 4 must disappear; raw values used.
        dict(base, cycle=1, mode="R", juld=25000.25, temp=[25.0, 24.0, 60.0, 22.0, 21.0], temp_qc="11411"),
        # D mode: adjusted values and adjusted QC used, raw ignored.
        dict(base, cycle=2, mode="D", juld=25010.0, temp=[99.0] * 5, temp_qc="44444",
             temp_adj=[24.5, 23.5, 22.5, 21.5, 20.5], temp_adj_qc="11121", pres_adj=pres, pres_adj_qc="11111"),
        # A mode with bad position: dropped entirely.
        dict(base, cycle=3, mode="A", juld=25020.0, position_qc="4", temp=[20.0] * 5, temp_qc="11111",
             temp_adj=[20.0] * 5, temp_adj_qc="11111", pres_adj=pres, pres_adj_qc="11111"),
        # Secondary (near-surface) profile of cycle 1: skipped.
        dict(base, cycle=1, mode="R", juld=25000.25, scheme="Near-surface sampling: unpumped",
             temp=[26.0] * 5, temp_qc="11111"),
    ]


def test_written_gdac_file_modes_qc_and_garbage(tmp_path):
    path = tmp_path / "6900001_prof.nc"
    write_gdac(path, gdac_profiles())
    m = read_argo([path])
    assert sorted(m["cycle"].unique()) == [1, 2]
    r = m[m["cycle"] == 1]
    np.testing.assert_allclose(r["temp_degc"], [25.0, 24.0, 22.0, 21.0])
    d = m[m["cycle"] == 2]
    np.testing.assert_allclose(d["temp_degc"], [24.5, 23.5, 22.5, 21.5, 20.5], atol=1e-5)
    assert m["temp_degc"].max() < 50
    assert r["time"].iloc[0] == pd.Timestamp("2018-06-13 06:00:00")  # 25000.25 days after 1950-01-01


def test_gdac_file_with_only_bad_levels_is_an_error(tmp_path):
    path = tmp_path / "R6900002_001.nc"
    write_gdac(path, [dict(platform="6900002", cycle=1, mode="R", juld=25000.0, lat=0.0, lon=0.0,
                           pres=[10.0, 20.0], temp=[80.0, 70.0], temp_qc="44")])
    with pytest.raises(IngestError, match="R6900002_001.nc: empty Argo table after QC"):
        read_gdac(path)


def test_point_file_given_as_gdac_is_named(shared_data):
    path = shared_data / "argo" / "argo_erddap_14d54da780fdc3c2.nc"
    with pytest.raises(IngestError, match="argo_erddap_14d54da780fdc3c2.nc: not an Argo GDAC profile file"):
        read_argo([path], "gdac")


def test_a_directory_reads_every_file_in_it(shared_data, tmp_path):
    m = read_argo([shared_data / "argo_gdac"])
    assert m.groupby("source").ngroups == 3
    assert m.groupby(["platform", "cycle"]).ngroups == 80 + 1 + 1
    with pytest.raises(IngestError, match="holds no .nc, .parquet or .csv Argo files"):
        read_argo([tmp_path])
