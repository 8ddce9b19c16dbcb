"""Argo GDAC profile files: `<WMO>_prof.nc` (many profiles) and `[RDA]<WMO>_<cycle>.nc` (one).

Layout (Argo user manual v3.1): PRES/TEMP/PSAL as (N_PROF, N_LEVELS) with `_QC` chars and
`_ADJUSTED` variants; per profile JULD (days since REFERENCE_DATE_TIME, 1950-01-01),
LATITUDE, LONGITUDE, POSITION_QC, JULD_QC, DATA_MODE, DIRECTION, PLATFORM_NUMBER and
CYCLE_NUMBER as fixed-width char arrays. We read with netCDF4 directly: xarray would join
the (N_PROF, N_LEVELS) QC chars into one string per profile.

Rules: adjusted values and adjusted QC for data modes A and D, raw for R; only QC 1/2
levels; only profiles whose position and date QC are 1/2; only the primary sampling profile
when VERTICAL_SAMPLING_SCHEME says which (secondary/near-surface profiles would duplicate it).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from .conventions import (IngestError, attr, decode_strings, find_name, masked_to_nan, qc_good,
                          require_name)
from .measurements import finish_measurements
from .netcdf_file import open_raw

ADJUSTED_MODES = ("A", "D")
ARGO_EPOCH = datetime(1950, 1, 1)


def read_gdac(path: str | Path) -> pd.DataFrame:
    """Measurement table from one GDAC multi- or single-profile NetCDF file."""
    path = Path(path)
    with open_raw(path, "Argo GDAC") as nc:
        nc.set_auto_chartostring(False)
        return _read_open(nc, path)


def _read_open(nc: netCDF4.Dataset, path: Path) -> pd.DataFrame:
    names = list(nc.variables)
    n_prof, n_levels = _profile_shape(nc, path)
    modes = _chars(nc, names, "DATA_MODE", n_prof)
    temp, temp_ok = _best_values(nc, names, require_name(names, ["TEMP"], path, "TEMP"), modes, path)
    pres, pres_ok = _best_values(nc, names, require_name(names, ["PRES"], path, "PRES"), modes, path)
    psal_name = find_name(names, ["PSAL"])
    psal, psal_ok = (_best_values(nc, names, psal_name, modes, path) if psal_name
                     else (np.full((n_prof, n_levels), np.nan), np.ones((n_prof, n_levels), bool)))
    profile_ok = _profile_ok(nc, names, n_prof)
    good = temp_ok & pres_ok & profile_ok[:, None]

    def per_level(values: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(values), n_levels)

    columns = {
        "platform": per_level(_chars(nc, names, "PLATFORM_NUMBER", n_prof)),
        "cycle": per_level(_cycles(nc, names, n_prof)),
        "direction": per_level(_chars(nc, names, "DIRECTION", n_prof)),
        "time": per_level(_juld(nc, names, path)),
        "lat": per_level(masked_to_nan(nc[require_name(names, ["LATITUDE"], path, "LATITUDE")][:], [99999.0])),
        "lon": per_level(masked_to_nan(nc[require_name(names, ["LONGITUDE"], path, "LONGITUDE")][:], [99999.0])),
        "pressure_dbar": pres.reshape(-1),
        "temp_degc": np.where(good, temp, np.nan).reshape(-1),
        "psal": np.where(psal_ok, psal, np.nan).reshape(-1),
    }
    return finish_measurements(columns, path, rows_read=int(np.isfinite(temp).sum()))


def _profile_shape(nc: netCDF4.Dataset, path: Path) -> tuple[int, int]:
    dims = {d.upper(): len(v) for d, v in nc.dimensions.items()}
    if "N_PROF" not in dims or "N_LEVELS" not in dims:
        raise IngestError(path, "not an Argo GDAC profile file: dimensions N_PROF and N_LEVELS missing "
                                "(for one-row-per-measurement files use --argo-format erddap)")
    if dims["N_PROF"] == 0:
        raise IngestError(path, "empty Argo file: N_PROF = 0")
    return dims["N_PROF"], dims["N_LEVELS"]


def _best_values(nc: netCDF4.Dataset, names: list[str], name: str, modes: np.ndarray,
                 path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(values, good) per (profile, level): adjusted in A/D mode, raw in R mode, QC 1/2 only."""
    raw = masked_to_nan(nc[name][:], [99999.0])
    raw_ok = _level_qc(nc, names, name, raw.shape)
    adj_name = find_name(names, [f"{name}_ADJUSTED"])
    if adj_name is None:
        return raw, raw_ok & np.isfinite(raw)
    adjusted = masked_to_nan(nc[adj_name][:], [99999.0])
    adj_ok = _level_qc(nc, names, adj_name, raw.shape)
    known = np.isin(modes, ("A", "D", "R"))
    # Unknown / blank mode (old files): adjusted where it exists, else raw.
    use_adjusted = np.where(known, np.isin(modes, ADJUSTED_MODES), np.isfinite(adjusted).any(axis=1))
    use_adjusted = np.broadcast_to(use_adjusted[:, None], raw.shape)
    values = np.where(use_adjusted, adjusted, raw)
    good = np.where(use_adjusted, adj_ok, raw_ok) & np.isfinite(values)
    return values, good


def _level_qc(nc: netCDF4.Dataset, names: list[str], name: str, shape: tuple[int, int]) -> np.ndarray:
    qc_name = find_name(names, [f"{name}_QC"])
    if qc_name is None:  # no QC variable at all: nothing says the values are bad
        return np.ones(shape, dtype=bool)
    flags = np.ma.filled(nc[qc_name][:], b" ")
    return qc_good(flags.reshape(shape))


def _profile_ok(nc: netCDF4.Dataset, names: list[str], n_prof: int) -> np.ndarray:
    """Position and date QC 1/2, and the primary sampling profile when the file says which."""
    ok = np.ones(n_prof, dtype=bool)
    for qc_var in ("POSITION_QC", "JULD_QC"):
        hit = find_name(names, [qc_var])
        if hit is not None:
            ok &= qc_good(np.ma.filled(nc[hit][:], b" ").reshape(n_prof))
    scheme = find_name(names, ["VERTICAL_SAMPLING_SCHEME"])
    if scheme is not None:
        text = _chars(nc, names, scheme, n_prof)
        secondary = np.array([s.lower().startswith(("secondary", "near-surface")) for s in text])
        ok &= ~secondary
    return ok


def _chars(nc: netCDF4.Dataset, names: list[str], name: str, n_prof: int) -> np.ndarray:
    """A per-profile char variable as N_PROF stripped strings ('' when absent)."""
    hit = find_name(names, [name])
    if hit is None:
        return np.full(n_prof, "", dtype=object)
    raw = np.ma.filled(nc[hit][:], b" ")
    if raw.ndim == 1 and raw.shape[0] == n_prof:  # one char per profile (DATA_MODE, DIRECTION)
        return decode_strings(raw)
    return decode_strings(raw.reshape(n_prof, -1))


def _cycles(nc: netCDF4.Dataset, names: list[str], n_prof: int) -> np.ndarray:
    hit = find_name(names, ["CYCLE_NUMBER"])
    if hit is None:
        return np.full(n_prof, -1, dtype=np.int64)
    values = masked_to_nan(nc[hit][:], [99999])
    return np.where(np.isfinite(values), values, -1).astype(np.int64).reshape(n_prof)


def _juld(nc: netCDF4.Dataset, names: list[str], path: Path) -> np.ndarray:
    """JULD (days since the reference date, 1950-01-01 by the Argo manual) → datetime64[ns]."""
    var = nc[require_name(names, ["JULD"], path, "JULD")]
    days = masked_to_nan(var[:], [999999.0])
    epoch = _reference_date(nc, names, str(attr(var.__dict__, "units", "")), path)
    base = np.datetime64(epoch, "ns")
    # Rounded to the second: float days carry ~1e-5 s noise (…20:03:00.002150144).
    seconds = np.round(np.where(np.isfinite(days), days, 0) * 86400).astype("int64")
    offsets = seconds.astype("timedelta64[s]").astype("timedelta64[ns]")
    return np.where(np.isfinite(days), base + offsets, np.datetime64("NaT", "ns"))


def _reference_date(nc: netCDF4.Dataset, names: list[str], units: str, path: Path) -> datetime:
    """The JULD epoch from its `units` attribute, else REFERENCE_DATE_TIME, else 1950-01-01."""
    if "since" in units:
        if not units.strip().lower().startswith("day"):
            raise IngestError(path, f"JULD units {units!r}: expected 'days since ...'")
        stamp = units.split("since", 1)[1].strip().replace("UTC", "").strip()
        try:
            return datetime.fromisoformat(stamp.replace("T", " ")[:19])
        except ValueError as exc:
            raise IngestError(path, f"JULD units {units!r}: unreadable reference date") from exc
    ref = find_name(names, ["REFERENCE_DATE_TIME"])
    if ref is not None:
        text = "".join(decode_strings(np.ma.filled(nc[ref][:], b" ")).reshape(-1))
        if len(text) >= 14 and text[:14].isdigit():
            return datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    return ARGO_EPOCH
