"""GLORYS (CMEMS GLOBAL_MULTIYEAR_PHY_001_030) NetCDF → the target `y` on its native grid.

CMEMS convention: `thetao(time, depth, latitude, longitude)` potential temperature in degC,
`depth` in metres (positive down), NaN (masked `_FillValue`) on land and below the sea floor.
Names are matched case-insensitively with a few common aliases (NEMO's `votemper`,
`deptht`, `nav_lat`-free regular grids). Several files are concatenated along time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .conventions import IngestError, attr, open_netcdf, require_name
from .grid import Grid

VARIABLE_NAMES = ["thetao", "votemper", "temperature", "temp", "to"]
TIME_NAMES = ["time", "time_counter", "t"]
DEPTH_NAMES = ["depth", "deptht", "lev", "z"]
LAT_NAMES = ["latitude", "lat", "y"]
LON_NAMES = ["longitude", "lon", "x"]
CELSIUS_UNITS = ("degc", "degrees_c", "degree_c", "celsius", "degree_celsius", "degrees_celsius", "°c", "c")
KELVIN_UNITS = ("k", "kelvin", "degk", "degrees_k")


@dataclass
class GlorysField:
    """The target on its native grid: y (T, D, H, W) degC with NaN where invalid."""

    y: np.ndarray
    times: np.ndarray
    depths: np.ndarray
    grid: Grid
    sources: list[str]


def read_glorys(paths: list[str | Path]) -> GlorysField:
    """Read, check and concatenate GLORYS files (sorted by time, duplicate dates dropped)."""
    parts = [_read_one(Path(p)) for p in paths]
    first = parts[0]
    for part in parts[1:]:
        if not (part.grid.matches(first.grid) and np.allclose(part.depths, first.depths)):
            raise IngestError(part.sources[0], f"mismatched grids: differs from {first.sources[0]} "
                                               "(lat/lon/depth); GLORYS files must share one grid")
    times = np.concatenate([p.times for p in parts])
    y = np.concatenate([p.y for p in parts], axis=0)
    order = np.argsort(times, kind="stable")
    times, y = times[order], y[order]
    keep = np.concatenate([[True], np.diff(times.astype(np.int64)) > 0])
    return GlorysField(y=y[keep], times=times[keep], depths=first.depths, grid=first.grid,
                       sources=[s for p in parts for s in p.sources])


def _read_one(path: Path) -> GlorysField:
    ds = open_netcdf(path, "GLORYS")
    with ds:
        var = ds[require_name(ds.data_vars, VARIABLE_NAMES, path, "thetao (sea water potential temperature)")]
        dims = {
            "time": require_name(var.dims, TIME_NAMES, path, f"time dimension of {var.name}"),
            "depth": require_name(var.dims, DEPTH_NAMES, path, f"depth dimension of {var.name}"),
            "lat": require_name(var.dims, LAT_NAMES, path, f"latitude dimension of {var.name}"),
            "lon": require_name(var.dims, LON_NAMES, path, f"longitude dimension of {var.name}"),
        }
        if len(var.dims) != 4:
            raise IngestError(path, f"{var.name} has dims {var.dims}; expected (time, depth, latitude, longitude)")
        var = var.transpose(dims["time"], dims["depth"], dims["lat"], dims["lon"])
        var = var.sortby(dims["lat"]).sortby(dims["lon"]).sortby(dims["depth"])
        y = _to_celsius(var.values.astype(np.float64), str(attr(var.attrs, "units", "")), path, str(var.name))
        times = np.asarray(var[dims["time"]].values)
        if not np.issubdtype(times.dtype, np.datetime64):
            raise IngestError(path, f"time coordinate {dims['time']!r} is not decodable to dates "
                                    f"(units {attr(ds[dims['time']].attrs, 'units', '?')!r})")
        depths = np.abs(np.asarray(var[dims["depth"]].values, float))
        lat = np.asarray(var[dims["lat"]].values, float)
        lon = np.asarray(var[dims["lon"]].values, float)
    _check_finite(y, times, path)
    return GlorysField(y=y.astype(np.float32), times=times.astype("datetime64[ns]"), depths=depths,
                       grid=Grid(lat=lat, lon=lon), sources=[str(path)])


def _to_celsius(values: np.ndarray, units: str, path: Path, name: str) -> np.ndarray:
    """degC stays, kelvin converts; a declared unit contradicted by the values is an error."""
    finite = values[np.isfinite(values)]
    median = float(np.median(finite)) if finite.size else np.nan
    unit = units.strip().lower().replace(" ", "_")
    if unit in KELVIN_UNITS:
        if finite.size and median < 100:
            raise IngestError(path, f"wrong units: {name} declares {units!r} but its median is {median:.2f}")
        return values - 273.15
    if unit in CELSIUS_UNITS or not unit:
        if finite.size and median > 100:
            raise IngestError(path, f"wrong units: {name} declares {units!r} but its median is {median:.2f} "
                                    "(looks like kelvin)")
        return values
    raise IngestError(path, f"wrong units: {name} has units {units!r}; allowed: degC or kelvin")


def _check_finite(y: np.ndarray, times: np.ndarray, path: Path) -> None:
    """All-NaN files and all-NaN dates are errors: they would make empty targets."""
    finite_per_time = np.isfinite(y).reshape(y.shape[0], -1).any(axis=1)
    if not finite_per_time.any():
        raise IngestError(path, "all-NaN: thetao has no finite value")
    if not finite_per_time.all():
        bad = [str(t)[:10] for t in times[~finite_per_time]][:5]
        raise IngestError(path, f"all-NaN: thetao has no finite value at time(s) {bad}")

