"""The one long table every Argo reader returns: one row per good measurement.

Readers differ (Parquet/CSV tables, ERDDAP NetCDF, GDAC `*_prof.nc`), so each one only has
to produce these columns; QC, choice of adjusted values and unit checks happen in the reader
that knows the format, and `finish_measurements` applies the rules shared by all of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .conventions import IngestError

MEASUREMENT_COLUMNS = {
    "platform": object,       # WMO number as text
    "cycle": np.int64,        # -1 when the source has no cycle number
    "direction": object,      # "A" ascending, "D" descending, "" unknown
    "time": "datetime64[ns]",  # UTC, tz-naive
    "lat": np.float64,
    "lon": np.float64,
    "pressure_dbar": np.float64,  # NaN when the source gives depth
    "depth_m": np.float64,        # NaN when the source gives pressure (vertical.py converts)
    "temp_degc": np.float64,      # temperature (ITS-90) of the kind in temp_kind
    "temp_kind": object,          # "in_situ" (Argo files) or "potential" (tables that say so)
    "psal": np.float64,           # practical salinity, NaN when absent or bad
    "source": object,             # file name the row came from
}

# Argo real-time QC test 6 (global range): values outside are impossible in the ocean.
TEMP_RANGE_DEGC = (-2.5, 40.0)


def empty_measurements() -> pd.DataFrame:
    """A zero-row table with the measurement columns and dtypes."""
    return pd.DataFrame({k: pd.Series(dtype=v) for k, v in MEASUREMENT_COLUMNS.items()})


def finish_measurements(columns: dict[str, np.ndarray], source: str | Path, *,
                        rows_read: int) -> pd.DataFrame:
    """Assemble the table, drop unusable rows, and refuse an empty result.

    Drops rows with no temperature, no vertical coordinate, no time or position, or a
    temperature outside the Argo global range (garbage that slipped past missing QC).
    """
    n = len(columns["temp_degc"])
    data = {}
    for name, dtype in MEASUREMENT_COLUMNS.items():
        value = columns.get(name)
        if value is None:
            value = _default_column(name, n)
        data[name] = np.asarray(value).astype(dtype) if dtype != object else np.asarray(value, dtype=object)
    data["source"] = np.full(n, Path(str(source)).name, dtype=object)
    df = pd.DataFrame(data)
    _check_not_kelvin(df, source)
    vertical = df["pressure_dbar"].notna() | df["depth_m"].notna()
    temp_ok = df["temp_degc"].between(*TEMP_RANGE_DEGC)
    keep = vertical & temp_ok & df["time"].notna() & df["lat"].between(-90, 90) & np.isfinite(df["lon"])
    df = df.loc[keep].reset_index(drop=True)
    if df.empty:
        raise IngestError(source, f"empty Argo table after QC: 0 of {rows_read} measurements usable "
                                  "(QC flags 1/2, finite temperature/pressure/position/time)")
    return df


def _default_column(name: str, n: int) -> np.ndarray:
    if name == "cycle":
        return np.full(n, -1, dtype=np.int64)
    if name in ("platform", "direction", "source"):
        return np.full(n, "", dtype=object)
    if name == "temp_kind":
        return np.full(n, "in_situ", dtype=object)
    if name == "time":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return np.full(n, np.nan)


def _check_not_kelvin(df: pd.DataFrame, source: str | Path) -> None:
    """Temperatures near 273-310 are kelvin, not degC; converting silently would hide a bug."""
    temps = df["temp_degc"].to_numpy()
    finite = temps[np.isfinite(temps)]
    if finite.size and np.median(finite) > 200:
        raise IngestError(source, f"wrong units: Argo temperature median {np.median(finite):.1f} looks "
                                  "like kelvin, expected degC")


def to_utc_naive(values) -> np.ndarray:
    """Parse times (strings, datetimes, tz-aware or not) to tz-naive UTC datetime64[ns]."""
    parsed = pd.to_datetime(pd.Series(values), utc=True, errors="coerce")
    return parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
