"""Reading the conventions real files use: case-insensitive names, byte-string chars, QC flags.

Argo and CMEMS files come from many producers: ERDDAP writes `temp_qc`, the GDAC writes
`TEMP_QC`, CSV exports write `Temperature`. QC flags arrive as bytes (`b'1'`), strings
(`'1'`), char arrays (N, 1) or integers. These helpers turn all of them into one shape so the
format readers stay short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

# Argo reference table 2: 1 good, 2 probably good (3 bad-correctable, 4 bad, 8 estimated, 9 missing).
GOOD_QC = frozenset({1, 2})
ASCII_DIGITS = frozenset("0123456789")


class IngestError(ValueError):
    """Bad input file: the message names the file and the problem."""

    def __init__(self, source: str | Path | Iterable[str | Path], problem: str):
        if isinstance(source, (str, Path)):
            name = str(source)
        else:
            name = ", ".join(str(s) for s in source)
        self.source, self.problem = name, problem
        super().__init__(f"{name}: {problem}")


def find_name(names: Iterable[str], candidates: Iterable[str]) -> str | None:
    """The first of `candidates` present in `names`, compared case-insensitively.

    Candidates are tried in order, so callers list the preferred spelling first.
    """
    by_lower = {n.lower(): n for n in names}
    for candidate in candidates:
        hit = by_lower.get(candidate.lower())
        if hit is not None:
            return hit
    return None


def require_name(names: Iterable[str], candidates: Iterable[str], source: str | Path, what: str) -> str:
    """Like `find_name`, but a missing variable is an `IngestError` listing what was looked for."""
    names = list(names)
    candidates = list(candidates)
    hit = find_name(names, candidates)
    if hit is None:
        raise IngestError(source, f"missing variable {what} (looked for {candidates}, "
                                  f"case-insensitive; file has {sorted(names)[:30]})")
    return hit


def decode_strings(values: Any) -> np.ndarray:
    """Decode bytes / char arrays / object arrays to a 1-D array of stripped `str`.

    NetCDF char variables come as (N, strlen) arrays of single bytes when read raw, or as
    (N,) bytes/object arrays once xarray joined them; both end up as N clean strings.
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "S" and arr.ndim >= 2 and arr.dtype.itemsize == 1:
        arr = arr.view(f"S{arr.shape[-1]}").reshape(arr.shape[:-1])
    flat = arr.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    for i, value in enumerate(flat):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            value = ""
        out[i] = str(value).strip()
    return out.reshape(arr.shape)


def qc_flags(values: Any) -> np.ndarray:
    """QC flags of any encoding as int8; blank / missing / unparsable → -1."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int8, copy=False)
    if arr.dtype.kind == "f":
        return np.where(np.isfinite(arr), arr, -1).astype(np.int8)
    if arr.dtype.kind == "S":  # elementwise: (N_PROF, N_LEVELS) flags must not be joined
        text = np.char.strip(np.char.decode(arr, "latin-1"))
    else:
        text = decode_strings(arr.reshape(-1)).reshape(arr.shape)
    out = np.full(text.shape, -1, dtype=np.int8)
    for i, flag in np.ndenumerate(text):
        flag = flag.removesuffix(".0")  # "1.0" from a CSV column once written as floats
        if len(flag) == 1 and flag in ASCII_DIGITS:  # str.isdigit() is True for '²' (int() then fails)
            out[i] = ord(flag) - ord("0")
    return out


def qc_good(values: Any, accepted: frozenset[int] = GOOD_QC) -> np.ndarray:
    """Boolean: the flag is one of `accepted` (1/2 by default). Missing flags are NOT good."""
    flags = qc_flags(values)
    return np.isin(flags, sorted(accepted))


def masked_to_nan(values: Any, fill_values: Iterable[float] = ()) -> np.ndarray:
    """A float64 array with masked entries, non-finite values and explicit fill values as NaN.

    Argo fills with 99999; ERDDAP sometimes too. Read raw, these would become 99999 °C.
    """
    if np.ma.isMaskedArray(values):
        arr = np.ma.filled(values.astype(np.float64), np.nan)
    else:
        arr = np.asarray(values, dtype=np.float64).copy()
    for fill in fill_values:
        if fill is not None and np.isfinite(fill):
            arr[arr == fill] = np.nan
    arr[np.abs(arr) >= 9e36] = np.nan  # NetCDF default float fill values
    return arr


def attr(attrs: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """An attribute looked up case-insensitively (`units`, `Units`, `UNITS`)."""
    key = find_name(attrs.keys(), [name])
    return default if key is None else attrs[key]


def open_netcdf(path: Path, what: str) -> xr.Dataset:
    """Open one NetCDF file lazily; a missing, truncated or unreadable file is an error naming it."""
    from .netcdf_file import open_dataset

    return open_dataset(path, what)
