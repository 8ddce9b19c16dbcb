"""OSTIA L4 SST (CMEMS SST_GLO_SST_L4_*) NetCDF → the `eo` SST channel on the target grid.

CMEMS convention: `analysed_sst(time, lat, lon)` in kelvin (packed int16 with scale/offset,
which xarray unpacks), optional `mask` with flag bits 1 water, 2 land, 4 lake, 8 sea ice.
Kelvin converts to degC by the `units` attribute; a file declaring degC whose values sit near
290 is "wrong units", not silently converted. SST is averaged over the days inside each
store time step's window, then interpolated bilinearly onto the target grid; cells where
the interpolation touches land or a gap stay invalid (`eo_valid_mask` 0), never zero-filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .conventions import IngestError, attr, find_name, open_netcdf, require_name
from .glorys import CELSIUS_UNITS, KELVIN_UNITS
from .grid import Grid, wrap_longitude

VARIABLE_NAMES = ["analysed_sst", "sst", "sea_surface_temperature", "analysed_sst_degc"]
MASK_NAMES = ["mask"]
TIME_NAMES = ["time"]
LAT_NAMES = ["lat", "latitude"]
LON_NAMES = ["lon", "longitude"]
WATER_BIT = 1


@dataclass
class OstiaField:
    """SST (T_ostia, H, W) degC, NaN where not water, on OSTIA's own grid."""

    sst: np.ndarray
    times: np.ndarray
    grid: Grid
    sources: list[str]


def read_ostia(paths: list[str | Path]) -> OstiaField:
    """Read and concatenate OSTIA files (sorted by time; files must share one grid)."""
    parts = [_read_one(Path(p)) for p in paths]
    first = parts[0]
    for part in parts[1:]:
        if not part.grid.matches(first.grid):
            raise IngestError(part.sources[0], f"mismatched grids: differs from {first.sources[0]}")
    times = np.concatenate([p.times for p in parts])
    sst = np.concatenate([p.sst for p in parts], axis=0)
    order = np.argsort(times, kind="stable")
    return OstiaField(sst=sst[order], times=times[order], grid=first.grid,
                      sources=[s for p in parts for s in p.sources])


def _read_one(path: Path) -> OstiaField:
    ds = open_netcdf(path, "OSTIA")
    with ds:
        var = ds[require_name(ds.data_vars, VARIABLE_NAMES, path, "analysed_sst")]
        dims = [require_name(var.dims, TIME_NAMES, path, f"time dimension of {var.name}"),
                require_name(var.dims, LAT_NAMES, path, f"lat dimension of {var.name}"),
                require_name(var.dims, LON_NAMES, path, f"lon dimension of {var.name}")]
        var = var.transpose(*dims).sortby(dims[1]).sortby(dims[2])
        sst = _to_celsius(var.values.astype(np.float64), str(attr(var.attrs, "units", "")), path)
        mask_name = find_name(ds.data_vars, MASK_NAMES)
        if mask_name is not None:
            water = _water(ds[mask_name], dims, var)
            sst = np.where(water, sst, np.nan)
        times = np.asarray(var[dims[0]].values)
        if not np.issubdtype(times.dtype, np.datetime64):
            raise IngestError(path, f"time coordinate {dims[0]!r} is not decodable to dates")
        grid = Grid(lat=np.asarray(var[dims[1]].values, float), lon=np.asarray(var[dims[2]].values, float))
    if not np.isfinite(sst).any():
        raise IngestError(path, "all-NaN: analysed_sst has no finite water value")
    return OstiaField(sst=sst.astype(np.float32), times=times.astype("datetime64[ns]"), grid=grid,
                      sources=[str(path)])


def _water(mask: xr.DataArray, dims: list[str], like: xr.DataArray) -> np.ndarray:
    """Water bit of the OSTIA mask, broadcast to the SST array (mask may lack a time dim)."""
    mask = mask.sortby(dims[1]).sortby(dims[2])
    values = np.nan_to_num(mask.values.astype(np.float64), nan=0).astype(np.int64)
    water = (values & WATER_BIT) != 0
    if mask.ndim == 2:
        water = np.broadcast_to(water, like.shape)
    return water


def _to_celsius(values: np.ndarray, units: str, path: Path) -> np.ndarray:
    finite = values[np.isfinite(values)]
    median = float(np.median(finite)) if finite.size else np.nan
    unit = units.strip().lower().replace(" ", "_")
    if unit in KELVIN_UNITS:
        if finite.size and median < 100:
            raise IngestError(path, f"wrong units: analysed_sst declares {units!r} but its median is {median:.2f}")
        return values - 273.15
    if unit in CELSIUS_UNITS:
        if finite.size and median > 100:
            raise IngestError(path, f"wrong units: analysed_sst declares {units!r} but its median is "
                                    f"{median:.2f} (looks like kelvin)")
        return values
    raise IngestError(path, f"wrong units: analysed_sst has units {units!r}; allowed: kelvin or degC")


def sst_on_grid(field: OstiaField, grid: Grid, times: np.ndarray, window_days: float) -> np.ndarray:
    """SST (T, H, W) degC on the target grid, NaN where no data: window mean, then bilinear."""
    lon = wrap_longitude(field.grid.lon, grid.lon)
    order = np.argsort(lon)
    src = xr.DataArray(field.sst[:, :, order], dims=("time", "lat", "lon"),
                       coords={"lat": field.grid.lat, "lon": lon[order]})
    _check_overlap(field, grid)
    out = np.full((times.size, *grid.shape), np.nan, dtype=np.float32)
    t_days = field.times.astype(np.int64) / 86400e9
    for i, t in enumerate(times.astype("datetime64[ns]").astype(np.int64) / 86400e9):
        inside = np.abs(t_days - t) <= window_days
        if not inside.any():
            continue
        with np.errstate(invalid="ignore"):
            mean = src.isel(time=np.flatnonzero(inside)).mean("time", skipna=False)
        if field.grid.shape == grid.shape and np.allclose(field.grid.lat, grid.lat) and \
                np.allclose(lon[order], grid.lon):
            out[i] = mean.values
        else:
            out[i] = mean.interp(lat=grid.lat, lon=grid.lon, method="linear").values
    if not np.isfinite(out).any():
        raise IngestError(field.sources, "OSTIA covers none of the store's time steps inside the "
                                         f"±{window_days:g}-day window (times {str(times[0])[:10]}.."
                                         f"{str(times[-1])[:10]})")
    return out


def _check_overlap(field: OstiaField, grid: Grid) -> None:
    lon = wrap_longitude(field.grid.lon, grid.lon)
    lat_ok = grid.lat.max() >= field.grid.lat.min() and grid.lat.min() <= field.grid.lat.max()
    lon_ok = grid.lon.max() >= lon.min() and grid.lon.min() <= lon.max()
    if not (lat_ok and lon_ok):
        raise IngestError(field.sources, f"mismatched grids: OSTIA covers {field.grid.bounds_text()}, "
                                         f"which does not overlap the store grid {grid.bounds_text()}")
