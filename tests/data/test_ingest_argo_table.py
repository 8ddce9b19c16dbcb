"""Argo tables (Parquet / CSV): names, QC, data modes, units and empty input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from depthdif.data.ingest import IngestError, detect_format, read_argo
from depthdif.data.ingest.argo_table import read_table


def argo_rows(n_levels: int = 6) -> pd.DataFrame:
    """Two profiles of one float; the second has a 55 °C spike flagged 4 and a bad level flagged 3."""
    rows = []
    for cycle, day in ((1, "2021-03-01T06:00:00Z"), (2, "2021-03-11T06:00:00Z")):
        for k in range(n_levels):
            pres = 10.0 + 20.0 * k
            rows.append({"platform_number": "6901234", "cycle_number": cycle, "time": day,
                         "latitude": 40.0 + cycle * 0.1, "longitude": -30.0, "pres": pres,
                         "temp": 18.0 - 0.05 * pres, "temp_qc": "1", "psal": 35.5})
    frame = pd.DataFrame(rows)
    frame.loc[8, ["temp", "temp_qc"]] = [55.0, "4"]
    frame.loc[9, ["temp", "temp_qc"]] = [3.0, "3"]
    return frame


def test_parquet_table_drops_bad_qc_and_keeps_good_values(tmp_path):
    path = tmp_path / "argo.parquet"
    argo_rows().to_parquet(path)
    m = read_table(path)
    assert len(m) == 10
    assert m["temp_degc"].max() < 50
    assert set(m["cycle"]) == {1, 2}
    assert m["platform"].iloc[0] == "6901234"
    assert m["time"].iloc[0] == pd.Timestamp("2021-03-01 06:00:00")
    np.testing.assert_allclose(m["pressure_dbar"].iloc[:6], 10.0 + 20.0 * np.arange(6))


def test_csv_with_other_spellings_and_depth_column(tmp_path):
    frame = argo_rows().rename(columns={"platform_number": "PLATFORM", "latitude": "Lat", "longitude": "LON",
                                        "temp": "Temperature", "temp_qc": "QC"})
    frame["Depth"] = frame.pop("pres")
    path = tmp_path / "argo.csv"
    frame.to_csv(path, index=False)
    assert detect_format(path) == "table"
    m = read_argo([path])
    assert len(m) == 10 and m["depth_m"].notna().all() and m["pressure_dbar"].isna().all()
    assert m["temp_degc"].max() < 50


def test_adjusted_values_in_delayed_mode_raw_in_realtime(tmp_path):
    frame = argo_rows()
    frame["temp_adjusted"] = frame["temp"] + 0.5
    frame["temp_adjusted_qc"] = frame["temp_qc"]
    frame["data_mode"] = np.where(frame["cycle_number"] == 1, "D", "R")
    path = tmp_path / "modes.parquet"
    frame.to_parquet(path)
    m = read_table(path)
    first = m[m["cycle"] == 1]["temp_degc"].to_numpy()
    second = m[m["cycle"] == 2]["temp_degc"].to_numpy()
    np.testing.assert_allclose(first, frame.loc[:5, "temp"] + 0.5)
    np.testing.assert_allclose(second, frame.loc[[6, 7, 10, 11], "temp"])


def test_missing_column_names_file_and_variable(tmp_path):
    path = tmp_path / "nolat.parquet"
    argo_rows().drop(columns=["latitude"]).to_parquet(path)
    with pytest.raises(IngestError, match=r"nolat\.parquet: missing variable latitude"):
        read_table(path)


def test_empty_after_qc_is_an_error(tmp_path):
    frame = argo_rows()
    frame["temp_qc"] = "4"
    path = tmp_path / "allbad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(IngestError, match=r"allbad\.csv: empty Argo table after QC: 0 of 12"):
        read_table(path)
    empty = tmp_path / "empty.csv"
    frame.iloc[:0].to_csv(empty, index=False)
    with pytest.raises(IngestError, match="empty.csv: empty Argo table"):
        read_table(empty)


def test_kelvin_temperatures_are_refused(tmp_path):
    frame = argo_rows()
    frame["temp"] = frame["temp"] + 273.15
    path = tmp_path / "kelvin.parquet"
    frame.to_parquet(path)
    with pytest.raises(IngestError, match="kelvin.parquet: wrong units"):
        read_table(path)


def test_unknown_suffix_is_an_error(tmp_path):
    path = tmp_path / "argo.xlsx"
    path.write_text("x")
    with pytest.raises(IngestError, match="unknown Argo table suffix"):
        read_table(path)


def test_numeric_time_column_is_refused(tmp_path):
    frame = argo_rows()
    frame["time"] = 25000.5  # e.g. Argo JULD days: ambiguous without units
    path = tmp_path / "juld.parquet"
    frame.to_parquet(path)
    with pytest.raises(IngestError, match=r"juld\.parquet: time column 'time' is numeric"):
        read_table(path)


def test_tables_declare_their_temperature_kind_and_the_store_records_its_own(tmp_path):
    """A potential-temperature column is not converted again for a potential store, and is
    converted to in situ (warmer at depth) for an in-situ store; x records what it holds."""
    from depthdif.data.index import SplitSpec
    from depthdif.data.ingest import IngestSpec, ingest, profiles_on_levels, read_argo
    from depthdif.data.store import OceanStore

    path = tmp_path / "theta.csv"
    path.write_text("platform,cycle,time,latitude,longitude,depth,potential_temperature,psal\n"
                    + "".join(f"7,1,2020-01-01,10.0,20.0,{d},{4.0 - d / 1000},35.0\n" for d in (1000, 1500, 2000)))
    measured = read_argo([path])
    assert set(measured["temp_kind"]) == {"potential"}
    levels = np.array([1500.0, 2000.0])
    theta = profiles_on_levels(measured, levels, "potential")["temp"].iloc[0]
    np.testing.assert_allclose(theta, [2.5, 2.0], atol=1e-6)
    in_situ = profiles_on_levels(measured, levels, "in_situ")["temp"].iloc[0]
    assert 0.08 < in_situ[1] - 2.0 < 0.25  # adiabatic warming at 2000 m
    out = ingest(IngestSpec(argo=[str(path)], grid="8,12,18,22,0.5", patch_size=4, depths="1500,2000",
                            temperature="in_situ"), tmp_path / "s.zarr", progress=False,
                 split=SplitSpec(val_fraction=0, test_fraction=0))
    assert OceanStore.open(out).ds["x"].attrs["temperature_kind"] == "in_situ"


def test_profiles_on_standard_levels_keep_every_level_despite_float_noise(tmp_path):
    from depthdif.data.ingest import profiles_on_levels, read_argo

    levels = np.array([10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0])
    path = tmp_path / "std.csv"
    path.write_text("platform,cycle,time,latitude,longitude,depth,temp\n"
                    + "".join(f"7,1,2020-01-01,10.0,20.0,{d + 1e-6},{20 - d / 100}\n" for d in levels))
    profile = profiles_on_levels(read_argo([path]), levels, "in_situ").iloc[0]
    assert profile["mask"].all()
    np.testing.assert_allclose(profile["temp"], 20 - levels / 100, atol=1e-5)
