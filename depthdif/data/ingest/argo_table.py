"""Argo profiles as a table, one row per measurement (Parquet, CSV, or an ERDDAP frame).

Column names are matched case-insensitively against the spellings below, so an argopy
DataFrame (`PLATFORM_NUMBER`, `PRES`, `TEMP_QC`), an ERDDAP export (`platform_number`,
`pres`, `temp_qc`) and a hand-made CSV (`platform, time, latitude, longitude, depth,
temperature, qc`) all read the same way.

Value choice follows the Argo user manual: in data modes A (adjusted) and D (delayed) the
`*_ADJUSTED` values and their QC are the best estimate; in mode R the raw values are. When a
table has no `data_mode` column, adjusted values are used where they are finite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .conventions import IngestError, decode_strings, find_name, qc_flags, qc_good, require_name
from .measurements import finish_measurements, to_utc_naive

COLUMN_NAMES = {
    "platform": ["platform_number", "platform", "wmo", "float_id", "float"],
    "cycle": ["cycle_number", "cycle"],
    "direction": ["direction"],
    "time": ["time", "juld", "date", "datetime"],
    "lat": ["latitude", "lat"],
    "lon": ["longitude", "lon"],
    "pressure": ["pres", "pressure", "pres_dbar", "pressure_dbar"],
    "depth": ["depth", "depth_m", "deph"],
    "temp": ["temp", "temperature", "temp_degc", "sea_water_temperature", "in_situ_temperature"],
    "potential_temp": ["potential_temperature", "theta", "ptemp", "pot_temp", "temp_potential",
                       "sea_water_potential_temperature"],
    "temp_kind": ["temp_kind", "temperature_kind"],
    "psal": ["psal", "salinity"],
    "data_mode": ["data_mode"],
    "position_qc": ["position_qc"],
    "time_qc": ["time_qc", "juld_qc"],
}
# Generic QC column names used by simple tables (one flag for the temperature value).
GENERIC_QC_NAMES = ["qc", "qc_flag", "temp_qc_flag", "flag"]
ADJUSTED_MODES = ("A", "D")


def read_table(path: str | Path) -> pd.DataFrame:
    """Argo measurements from a Parquet or CSV file (by suffix) as the measurement table."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: Argo table not found")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    elif suffix in (".csv", ".txt", ".gz"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise IngestError(path, f"unknown Argo table suffix {suffix!r} (allowed: .parquet, .pq, .csv)")
    return measurements_from_rows(frame, path)


def measurements_from_rows(frame: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    """One-row-per-measurement frame → measurement table with QC and adjusted values applied."""
    names = list(frame.columns)
    if frame.empty:
        raise IngestError(source, "empty Argo table: no rows")
    col = {key: find_name(names, options) for key, options in COLUMN_NAMES.items()}
    kind = "in_situ"
    if col["temp"] is None and col["potential_temp"] is not None:  # the column name declares the kind
        col["temp"], kind = col["potential_temp"], "potential"
    for key, what in (("time", "time"), ("lat", "latitude"), ("lon", "longitude"), ("temp", "temperature")):
        col[key] = require_name(names, COLUMN_NAMES[key] + (COLUMN_NAMES["potential_temp"] if key == "temp" else []),
                                source, what)
    if col["pressure"] is None and col["depth"] is None:
        raise IngestError(source, "missing variable pressure or depth (looked for "
                                  f"{COLUMN_NAMES['pressure'] + COLUMN_NAMES['depth']}, case-insensitive)")
    if pd.api.types.is_numeric_dtype(frame[col["time"]]):
        raise IngestError(source, f"time column {col['time']!r} is numeric; expected dates (ISO 8601 "
                                  "strings or datetimes, UTC)")
    modes = decode_strings(frame[col["data_mode"]]) if col["data_mode"] else None
    temp, temp_ok = _best_values(frame, col["temp"], modes, names, generic_qc=True)
    vertical_key = "pressure" if col["pressure"] else "depth"
    vertical, vertical_ok = _best_values(frame, col[vertical_key], modes, names)
    psal, psal_ok = (_best_values(frame, col["psal"], modes, names) if col["psal"]
                     else (np.full(len(frame), np.nan), np.ones(len(frame), bool)))
    good = temp_ok & vertical_ok & _profile_qc_ok(frame, col)
    out = {
        "platform": decode_strings(frame[col["platform"]]) if col["platform"] else None,
        "cycle": _integers(frame[col["cycle"]]) if col["cycle"] else None,
        "direction": decode_strings(frame[col["direction"]]) if col["direction"] else None,
        "time": to_utc_naive(frame[col["time"]]),
        "lat": _floats(frame[col["lat"]]),
        "lon": _floats(frame[col["lon"]]),
        "temp_degc": np.where(good, temp, np.nan),
        "temp_kind": _kinds(frame, col["temp_kind"], kind, source),
        "psal": np.where(psal_ok, psal, np.nan),
        "pressure_dbar" if vertical_key == "pressure" else "depth_m": vertical,
    }
    return finish_measurements(out, source, rows_read=len(frame))


def _kinds(frame: pd.DataFrame, column: str | None, default: str, source: str | Path) -> np.ndarray:
    """Per-row temperature kind: a temp_kind column when present, else what the column name says."""
    if column is None:
        return np.full(len(frame), default, dtype=object)
    kinds = decode_strings(frame[column]).astype(object)
    kinds[kinds == ""] = default
    bad = sorted(set(kinds) - {"in_situ", "potential"})
    if bad:
        raise IngestError(source, f"column {column!r}: temperature kinds {bad[:3]}; allowed 'in_situ', 'potential'")
    return kinds


def _best_values(frame: pd.DataFrame, name: str, modes: np.ndarray | None, names: list[str],
                 generic_qc: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(values, good) for one parameter: adjusted in A/D mode, raw in R mode, QC 1/2 only.

    A missing QC column means the producer did no QC; such rows are kept (the global range
    check in `finish_measurements` still applies). A blank flag in a present column is bad.
    """
    raw = _floats(frame[name])
    raw_qc = _qc_column(frame, names, name, generic_qc)
    adj_name = find_name(names, [f"{name}_adjusted"])
    if adj_name is None:
        return raw, raw_qc
    adjusted = _floats(frame[adj_name])
    adj_qc = _qc_column(frame, names, adj_name, False)
    if modes is None:
        use_adjusted = np.isfinite(adjusted)
    else:
        use_adjusted = np.isin(modes, ADJUSTED_MODES)
    values = np.where(use_adjusted, adjusted, raw)
    good = np.where(use_adjusted, adj_qc, raw_qc) & np.isfinite(values)
    return values, good


def _qc_column(frame: pd.DataFrame, names: list[str], name: str, generic: bool) -> np.ndarray:
    candidates = [f"{name}_qc"] + (GENERIC_QC_NAMES if generic else [])
    qc_name = find_name(names, candidates)
    if qc_name is None:
        return np.ones(len(frame), dtype=bool)
    return qc_good(_qc_values(frame[qc_name]))


def _profile_qc_ok(frame: pd.DataFrame, col: dict[str, str | None]) -> np.ndarray:
    """Position and date QC: a float with a bad fix puts good values in the wrong place."""
    ok = np.ones(len(frame), dtype=bool)
    for key in ("position_qc", "time_qc"):
        if col[key]:
            ok &= qc_good(_qc_values(frame[col[key]]))
    return ok


def _qc_values(series: pd.Series) -> np.ndarray:
    values = series.to_numpy()
    if values.dtype.kind in "iuf":
        return qc_flags(values)
    return qc_flags(decode_strings(values))


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(pd.Series(series), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _integers(series: pd.Series) -> np.ndarray:
    values = _floats(series)
    return np.where(np.isfinite(values), values, -1).astype(np.int64)
