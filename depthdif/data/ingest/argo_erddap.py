"""Argo measurements from the NetCDF the Argo ERDDAP server (or argopy) returns.

ERDDAP "TrajectoryProfile" files hold one row per measurement along a single dimension
(`row`; argopy calls it `N_POINTS`), lower-case names, QC flags as 1-char strings and
`time` in seconds since 1970. argopy's point datasets use upper-case names and integer QC.
Both flatten to the same one-row-per-measurement frame and reuse the table reader's rules.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from .argo_table import measurements_from_rows
from .conventions import IngestError, decode_strings, open_netcdf


def read_erddap(path: str | Path) -> pd.DataFrame:
    """Measurement table from one ERDDAP/argopy point NetCDF file."""
    path = Path(path)
    ds = open_netcdf(path, "Argo ERDDAP")
    with ds:
        return measurements_from_rows(point_frame(ds, path), path)


def point_frame(ds: xr.Dataset, source: str | Path) -> pd.DataFrame:
    """The variables along the (single) measurement dimension as a DataFrame of plain columns."""
    row_dims = {v.dims[0] for v in ds.variables.values() if v.ndim == 1}
    if not row_dims:
        raise IngestError(source, "no one-row-per-measurement variables (expected an ERDDAP/argopy "
                                  "point file; for N_PROF x N_LEVELS files use --argo-format gdac)")
    sizes = {d: ds.sizes[d] for d in row_dims}
    row_dim = max(sizes, key=sizes.get)
    if "N_LEVELS" in ds.dims or "n_levels" in ds.dims:
        raise IngestError(source, "this is a GDAC profile file (N_PROF x N_LEVELS); use --argo-format gdac")
    columns = {}
    for name, var in ds.variables.items():
        if var.dims != (row_dim,):
            continue
        values = var.values
        if values.dtype.kind in "OSU":
            values = decode_strings(values)
        columns[name] = values
    return pd.DataFrame(columns)
