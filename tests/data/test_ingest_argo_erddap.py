"""ERDDAP / argopy point NetCDF: the real sample files and written lower/upper-case files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ingest_writers import write_erddap

from depthdif.data.ingest import IngestError, detect_format, profiles_on_levels, read_argo
from depthdif.data.ingest.argo_erddap import read_erddap
from depthdif.data.schema import GLORYS_DEPTHS_M

REAL = {  # file → (rows, profiles = (platform, cycle, direction) groups, platform, lat range)
    "argo_erddap_14d54da780fdc3c2.nc": (9742, 90, "1900386", (-57.1, -50.7)),
    "argo_erddap_e10c98822ed9f752.nc": (9506, 88, "1900468", (-49.1, -39.1)),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_erddap_files(shared_data, name):
    rows, n_profiles, platform, (lat0, lat1) = REAL[name]
    path = shared_data / "argo" / name
    assert detect_format(path) == "erddap"
    m = read_erddap(path)
    assert len(m) == rows  # every row of these delayed-mode files is QC 1
    assert set(m["platform"]) == {platform}
    assert m.groupby(["platform", "cycle", "direction"]).ngroups == n_profiles
    assert m["lat"].between(lat0, lat1).all()
    assert m["time"].min() >= pd.Timestamp("2005-01-01") and m["time"].max() <= pd.Timestamp("2007-08-01")
    assert m["pressure_dbar"].min() >= 14.0 and m["pressure_dbar"].max() <= 2014.0
    assert m["temp_degc"].between(-2.0, 19.0).all()
    profiles = profiles_on_levels(m, GLORYS_DEPTHS_M)
    assert len(profiles) == n_profiles
    reached = np.stack(profiles["mask"].to_numpy()).any(axis=0)
    assert not reached[GLORYS_DEPTHS_M < 13.0].any()      # shallowest measurement at 14 dbar: no extrapolation
    assert reached[(GLORYS_DEPTHS_M > 20) & (GLORYS_DEPTHS_M < 1900)].all()
    assert not reached[GLORYS_DEPTHS_M > 2000].any()      # deepest at 2014 dbar ≈ 1990 m


def erddap_rows() -> dict[str, list]:
    """Three profiles: D mode with adjusted values, R mode, and one whose position QC is bad."""
    rows = {k: [] for k in ("platform_number", "cycle_number", "data_mode", "time", "latitude", "longitude",
                            "position_qc", "pres", "pres_qc", "temp", "temp_qc", "temp_adjusted",
                            "temp_adjusted_qc", "pres_adjusted", "pres_adjusted_qc")}
    for cycle, mode, pos_qc in ((1, "D", "1"), (2, "R", "1"), (3, "R", "4")):
        for k in range(8):
            pres = 5.0 + 10.0 * k
            raw = 20.0 - 0.1 * pres
            bad = cycle == 2 and k == 3
            values = dict(platform_number="5905000", cycle_number=cycle, data_mode=mode,
                          time=np.datetime64("2019-05-01T12:00") + np.timedelta64(10 * cycle, "D"),
                          latitude=-20.0, longitude=60.0 + cycle, position_qc=pos_qc, pres=pres, pres_qc="1",
                          temp=99.0 if bad else raw, temp_qc="4" if bad else "1",
                          temp_adjusted=raw - 0.2 if mode == "D" else 99999, temp_adjusted_qc="1" if mode == "D" else " ",
                          pres_adjusted=pres if mode == "D" else 99999, pres_adjusted_qc="1" if mode == "D" else " ")
            for key, value in values.items():
                rows[key].append(value)
    return {k: np.array(v) for k, v in rows.items()}


@pytest.mark.parametrize("upper", [False, True])
def test_written_erddap_file_modes_qc_and_case(tmp_path, upper):
    path = tmp_path / "erddap.nc"
    write_erddap(path, erddap_rows(), upper=upper)
    m = read_argo([path], "auto")
    assert sorted(m["cycle"].unique()) == [1, 2]            # cycle 3: position QC 4
    d = m[m["cycle"] == 1]
    np.testing.assert_allclose(d["temp_degc"], 20.0 - 0.1 * d["pressure_dbar"] - 0.2, atol=1e-5)
    r = m[m["cycle"] == 2]
    assert len(r) == 7 and r["temp_degc"].max() < 50         # the 99 °C spike flagged 4 is gone
    assert m["time"].iloc[0] == pd.Timestamp("2019-05-11 12:00")


def test_gdac_file_given_as_erddap_is_named(shared_data):
    path = shared_data / "argo_gdac" / "D4900882_029.nc"
    with pytest.raises(IngestError, match="D4900882_029.nc: .*use --argo-format gdac"):
        read_argo([path], "erddap")
