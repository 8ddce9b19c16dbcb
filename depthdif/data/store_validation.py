"""Checks a dataset must pass before it becomes a store; each error names the variable and problem.

Catching bad input here (kelvin declared as degC, grids that do not match, an all-NaN target)
costs a second; finding it after a 200-trial study costs the study.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from depthdif.data import schema as S

CELSIUS = {"degC", "degree_Celsius", "degrees_Celsius", "celsius", "Celsius", "deg_C", "°C", "C"}
EO_UNITS = {"sst": CELSIUS, "sss": {"1e-3", "0.001", "psu", "PSU", "1"}, "adt": {"m"}}
EO_CANONICAL_UNITS = {"sst": "degC", "sss": "1e-3", "adt": "m"}
# Physically plausible value ranges: far outside means wrong units (e.g. kelvin as degC).
PLAUSIBLE = {"temperature": (-3.0, 40.0), "sst": (-3.0, 40.0), "sss": (0.0, 45.0), "adt": (-5.0, 5.0)}
EXPECTED_DIMS = {S.Y: S.DIMS_3D, S.X: S.DIMS_3D, S.X_MASK: S.DIMS_3D, S.Y_MASK: S.DIMS_3D,
                 S.EO: S.DIMS_EO, S.EO_MASK: S.DIMS_EO, S.LAND: S.DIMS_2D}


def validate_dataset(ds: xr.Dataset, *, whole: bool = True) -> xr.Dataset:
    """Return a cleaned copy (float32 values with NaN where invalid, bool masks) or raise ValueError.

    whole=False checks one streamed time step: the "any valid target/observation" checks then
    belong to the writer, which sees every step."""
    _check_variables(ds)
    _check_coords(ds)
    # Variable-length strings: zarr v3 has a spec for them (fixed-width UTF-32 warns as unstable).
    ds = ds.assign_coords(eo_channel=np.array([str(c) for c in ds["eo_channel"].values], dtype=object))
    for name in (S.X_MASK, S.Y_MASK, S.EO_MASK, S.LAND):
        if name in ds:
            ds[name] = _as_bool(ds[name], name)
    pairs = [(S.X, S.X_MASK), (S.EO, S.EO_MASK)] + ([(S.Y, S.Y_MASK)] if S.Y in ds else [])
    for value, mask in pairs:
        ds[value] = _check_values(ds[value], ds[mask], value)
    _check_units(ds)
    if not whole:
        return ds
    if S.Y in ds and not ds[S.Y_MASK].values.any():
        raise ValueError(f"{S.Y}: no valid target values (all NaN or y_valid_mask all false); "
                         "drop y and y_valid_mask for an Argo-only store")
    if S.Y not in ds and not ds[S.X_MASK].values.any():
        raise ValueError(f"{S.X_MASK}: an Argo-only store (no {S.Y}) needs observations, but no profile "
                         "was binned onto the grid (empty Argo table, or every profile outside the grid/time)")
    if ds[S.LAND].values.all():
        raise ValueError(f"{S.LAND}: every pixel is land; no ocean windows can be cut")
    return ds


def _check_variables(ds: xr.Dataset) -> None:
    required = [S.X, S.X_MASK, S.EO, S.EO_MASK, S.LAND]
    missing = [v for v in required if v not in ds]
    if missing:
        raise ValueError(f"dataset: missing variables {missing}; required {required} "
                         f"(+ {S.Y}, {S.Y_MASK} for a store with a target)")
    if (S.Y in ds) != (S.Y_MASK in ds):
        raise ValueError(f"dataset: {S.Y} and {S.Y_MASK} must be given together (or both left out "
                         "for an Argo-only store)")
    for name, dims in EXPECTED_DIMS.items():
        if name in ds and tuple(ds[name].dims) != dims:
            raise ValueError(f"{name}: dims {tuple(ds[name].dims)}, expected {dims} "
                             "(mismatched grids or wrong dimension names?)")


def _check_coords(ds: xr.Dataset) -> None:
    for name in ("time", "depth", "lat", "lon", "eo_channel"):
        if name not in ds.coords:
            raise ValueError(f"dataset: missing coordinate {name!r}")
    for name in ("depth", "lat", "lon"):
        values = np.asarray(ds[name].values, dtype=np.float64)
        if not np.isfinite(values).all() or (values.size > 1 and not (np.diff(values) > 0).all()):
            raise ValueError(f"{name}: coordinate must be finite and strictly increasing "
                             "(mismatched grids of the inputs?)")
    lat = ds["lat"].values
    if lat.min() < -90 or lat.max() > 90:
        raise ValueError(f"lat: values must be in [-90, 90], got [{lat.min()}, {lat.max()}]")
    if ds["depth"].values.min() < 0:
        raise ValueError("depth: must be positive metres below the surface")
    if ds["depth"].attrs.get("units", "m") != "m":
        raise ValueError(f"depth: units {ds['depth'].attrs['units']!r}, expected 'm'")
    if not np.issubdtype(ds["time"].dtype, np.datetime64):
        raise ValueError(f"time: expected datetime64 values, got {ds['time'].dtype}")
    if ds.sizes["time"] > 1 and not (np.diff(ds["time"].values) > np.timedelta64(0)).all():
        raise ValueError("time: must be strictly increasing")
    unknown = [str(c) for c in ds["eo_channel"].values if str(c) not in EO_UNITS]
    if unknown:
        raise ValueError(f"eo_channel: unknown channels {unknown}; allowed {sorted(EO_UNITS)}")


def _as_bool(mask: xr.DataArray, name: str) -> xr.DataArray:
    values = np.asarray(mask.values)
    if values.dtype.kind == "f":
        if np.isnan(values).any():
            raise ValueError(f"{name}: contains NaN (the variables' grids do not match?)")
    if values.dtype != bool and not np.isin(values, (0, 1)).all():
        raise ValueError(f"{name}: a mask must hold only 0/1 or true/false")
    return mask.copy(data=values.astype(bool))


def _check_values(values: xr.DataArray, mask: xr.DataArray, name: str) -> xr.DataArray:
    """float32 with NaN wherever the mask is false; error if the mask calls NaN/inf valid."""
    v = np.asarray(values.values, dtype=np.float32)
    m = mask.values
    finite = np.isfinite(v)
    bad = np.count_nonzero(m & ~finite)
    if bad:
        raise ValueError(f"{name}: {bad} entries are marked valid in the mask but are NaN/inf")
    stray = ~m & finite
    if stray.any():  # values where the mask says invalid: blank them (copy, never the caller's array)
        v = np.where(stray, np.float32(np.nan), v)
    return values.copy(data=v)


def _check_units(ds: xr.Dataset) -> None:
    for name in (S.Y, S.X):
        if name not in ds:
            continue
        units = ds[name].attrs.get("units")
        if units is not None and units not in CELSIUS:
            raise ValueError(f"{name}: units {units!r} not supported; convert to degC (one of {sorted(CELSIUS)})")
        _check_range(ds[name].values, ds[S.X_MASK if name == S.X else S.Y_MASK].values, name,
                     PLAUSIBLE["temperature"], "degC")
    declared = ds[S.EO].attrs.get("channel_units")
    channels = [str(c) for c in ds["eo_channel"].values]
    declared = declared.split(",") if isinstance(declared, str) else declared
    for i, channel in enumerate(channels):
        if declared is not None and i < len(declared) and declared[i] not in EO_UNITS[channel]:
            raise ValueError(f"{S.EO}[{channel}]: units {declared[i]!r}, expected one of "
                             f"{sorted(EO_UNITS[channel])}")
        _check_range(ds[S.EO].values[:, i], ds[S.EO_MASK].values[:, i], f"{S.EO}[{channel}]",
                     PLAUSIBLE[channel], EO_CANONICAL_UNITS[channel])


def value_bounds(variable: str, channel: str | None = None) -> tuple[tuple[float, float], str]:
    """(plausible range, unit) of a store variable (`eo` needs its channel)."""
    if variable == S.EO:
        return PLAUSIBLE[channel], EO_CANONICAL_UNITS[channel]
    return PLAUSIBLE["temperature"], "degC"


def check_stored_values(values: np.ndarray, mask: np.ndarray, name: str, where: str) -> None:
    """Values read back from a store: finite and plausible wherever the mask says valid.

    Catches what a checksum cannot (a store written from bad memory, or edited in place): the
    error gives the count, the first offending index and its value. `name` is `y`, `x` or
    `eo[<channel>]`; `where` says which time step / window was read."""
    variable, _, channel = name.partition("[")
    bounds, unit = value_bounds(variable, channel.rstrip("]") or None)
    with np.errstate(invalid="ignore"):
        bad = mask & ~(np.isfinite(values) & (values >= bounds[0]) & (values <= bounds[1]))
    count = int(np.count_nonzero(bad))
    if count:
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} at {where}: {count} valid entries are non-finite or outside the plausible "
                         f"range [{bounds[0]}, {bounds[1]}] {unit}; first at index {first} = {values[first]!r}")


def _check_range(values: np.ndarray, mask: np.ndarray, name: str, bounds: tuple[float, float],
                 unit: str) -> None:
    if not mask.any():
        return
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))  # NaN wherever the mask is false
    if lo < bounds[0] or hi > bounds[1]:
        hint = " (kelvin declared as degC? subtract 273.15)" if unit == "degC" and hi > 200 else ""
        raise ValueError(f"{name}: values in [{lo:.2f}, {hi:.2f}] are outside the plausible range "
                         f"[{bounds[0]}, {bounds[1]}] {unit}{hint}")
