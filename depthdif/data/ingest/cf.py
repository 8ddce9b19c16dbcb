"""Find variables and coordinates the way CF files describe them, not by one producer's names.

A variable is found by (1) the name the user gave (`--sst-var`, `--model-var`), (2) its CF
`standard_name`, (3) a list of known names (CMEMS, NEMO, ROMS, MOM, reanalyses). Coordinates are
found among ALL variables of the file by `standard_name`, `units` (degrees_north / degrees_east)
or known names, and must span a subset of the data variable's dims; a dimension without such a
variable (NEMO's `y`/`x`, ROMS's `eta_rho`) is never read as degrees. Temperatures convert by their
`units` attribute (kelvin or Celsius spellings); a unit the values contradict is an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .conventions import IngestError, attr, find_name

LAT_NAMES = ["latitude", "lat", "nav_lat", "lat_rho", "gphit", "tlat", "xlat", "lat_t", "yt_ocean"]
LON_NAMES = ["longitude", "lon", "nav_lon", "lon_rho", "glamt", "tlon", "xlong", "lon_t", "xt_ocean"]
LAT_UNITS = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn"}
LON_UNITS = {"degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese"}
TIME_NAMES = ["time", "time_counter", "ocean_time", "t", "time_centered", "valid_time"]
CELSIUS_UNITS = {"degc", "degrees_c", "degree_c", "celsius", "degree_celsius", "degrees_celsius", "°c", "c",
                 "deg_c", "deg_celsius", "degreec", "degreesc"}
KELVIN_UNITS = {"k", "kelvin", "degk", "degrees_k", "degree_k", "deg_k", "kelvins"}
# A median above this is kelvin whatever the label says (the ocean is never 100 °C).
KELVIN_MEDIAN = 100.0


@dataclass(frozen=True)
class Horizontal:
    """Where a field sits: 1-D lat/lon (rectilinear) or 2-D (curvilinear); dims in array order."""

    lat: np.ndarray          # (H,) or (H, W), degrees north
    lon: np.ndarray          # (W,) or (H, W), degrees east (any convention)
    dims: tuple[str, str]    # the data variable's (row, column) dims

    @property
    def curvilinear(self) -> bool:
        return self.lat.ndim == 2


def find_variable(ds: xr.Dataset, source: str | Path, *, chosen: str | None, standard_names: Iterable[str],
                  names: Iterable[str], what: str) -> xr.DataArray:
    """The data variable by the user's choice, else CF standard_name, else a known name."""
    if chosen:
        hit = find_name(ds.data_vars, [chosen])
        if hit is None:
            raise IngestError(source, f"variable {chosen!r} (chosen for {what}) not found; file has "
                                      f"{sorted(map(str, ds.data_vars))[:30]}")
        return ds[hit]
    standard_names = [s.lower() for s in standard_names]
    by_standard = [str(n) for n, v in ds.data_vars.items()
                   if str(attr(v.attrs, "standard_name", "")).lower() in standard_names and v.ndim >= 2]
    if by_standard:  # the preferred standard name first, then the most dimensions (a field, not a mean)
        by_standard.sort(key=lambda n: (standard_names.index(str(attr(ds[n].attrs, "standard_name")).lower()),
                                        -ds[n].ndim))
        return ds[by_standard[0]]
    hit = find_name([n for n, v in ds.data_vars.items() if v.ndim >= 2], names)
    if hit is None:
        raise IngestError(source, f"missing variable {what} (looked for standard_name in {list(standard_names)} "
                                  f"and names {list(names)}, case-insensitive; file has "
                                  f"{sorted(map(str, ds.data_vars))[:30]}); name it with the --*-var flag")
    return ds[hit]


def _degrees_units(units: str) -> str:
    return units.strip().lower().replace(" ", "_")


def _coordinate(ds: xr.Dataset, var: xr.DataArray, *, standard_name: str, units: set[str],
                names: list[str]) -> xr.DataArray | None:
    """A variable of `ds` on a subset of var's dims that says it is latitude/longitude."""
    candidates = {str(n): v for n, v in ds.variables.items()
                  if str(n) != var.name and 1 <= v.ndim <= 2 and set(v.dims) <= set(var.dims)}
    for name, v in candidates.items():
        if str(attr(v.attrs, "standard_name", "")).lower() == standard_name:
            return v
    for name, v in candidates.items():
        if _degrees_units(str(attr(v.attrs, "units", ""))) in units:
            return v
    hit = find_name(candidates, names)
    return None if hit is None else candidates[hit]


def horizontal(ds: xr.Dataset, var: xr.DataArray, source: str | Path) -> Horizontal:
    """Latitude/longitude of `var` from CF metadata; index-only dims are refused, not guessed."""
    lat = _coordinate(ds, var, standard_name="latitude", units=LAT_UNITS, names=LAT_NAMES)
    lon = _coordinate(ds, var, standard_name="longitude", units=LON_UNITS, names=LON_NAMES)
    if lat is None or lon is None:
        raise IngestError(source, f"{var.name}: no latitude/longitude variables on its dims {var.dims} "
                                  "(looked for standard_name latitude/longitude, units degrees_north/east, "
                                  f"names {LAT_NAMES[:4]}...); array indices are never taken as degrees")
    lat_v, lon_v = (np.asarray(c.values, float) for c in (lat, lon))
    if np.nanmin(lat_v) < -90 or np.nanmax(lat_v) > 90:
        raise IngestError(source, f"{lat.name}: values in [{np.nanmin(lat_v):.1f}, {np.nanmax(lat_v):.1f}] are not "
                                  "latitudes (projected coordinates?); the file needs latitude/longitude variables")
    if lat.ndim == 1 and lon.ndim == 1:
        if lat.dims == lon.dims:
            raise IngestError(source, f"{var.name}: latitude and longitude share the dim {lat.dims[0]!r} "
                                      "(unstructured/point data are not a gridded field)")
        return Horizontal(lat=lat_v, lon=lon_v, dims=(lat.dims[0], lon.dims[0]))
    if lat.ndim == 2 and lon.ndim == 2 and lat.dims == lon.dims:
        return _maybe_rectilinear(lat_v, lon_v, (str(lat.dims[0]), str(lat.dims[1])))
    raise IngestError(source, f"{var.name}: latitude {lat.name}{lat.dims} and longitude {lon.name}{lon.dims} "
                              "are neither both 1-D nor both 2-D on the same dims")


def _maybe_rectilinear(lat: np.ndarray, lon: np.ndarray, dims: tuple[str, str]) -> Horizontal:
    """2-D coordinates that only vary along one axis each are a plain regular grid (NEMO regional)."""
    if np.allclose(lat, lat[:, :1], atol=1e-6) and np.allclose(lon, lon[:1, :], atol=1e-6):
        return Horizontal(lat=lat[:, 0].copy(), lon=lon[0].copy(), dims=dims)
    return Horizontal(lat=lat, lon=lon, dims=dims)


def time_dim(var: xr.DataArray) -> str | None:
    """The dim of `var` that holds dates (decoded datetime, standard_name/axis time, or a known name)."""
    for dim in var.dims:
        if dim in var.coords and np.issubdtype(var[dim].dtype, np.datetime64):
            return str(dim)
    for dim in var.dims:
        coord = var.coords.get(dim)
        if coord is not None and (str(attr(coord.attrs, "standard_name", "")).lower() == "time"
                                  or str(attr(coord.attrs, "axis", "")).upper() == "T"):
            return str(dim)
    return find_name([str(d) for d in var.dims], TIME_NAMES)


def to_datetime64(values, source: str | Path, name: str) -> np.ndarray:
    """Decoded times (numpy datetimes or cftime objects of any calendar) → datetime64[ns]."""
    arr = np.atleast_1d(np.asarray(values))
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ns]")
    if arr.dtype == object and arr.size and hasattr(arr.flat[0], "calendar"):
        try:  # noleap / 360_day / julian model calendars: the same Y-M-D hh:mm:ss as a Gregorian date
            return np.array([np.datetime64(t.strftime("%Y-%m-%dT%H:%M:%S"), "ns") for t in arr.ravel()]
                            ).reshape(arr.shape)
        except ValueError as exc:
            raise IngestError(source, f"{name}: dates of calendar {arr.flat[0].calendar!r} have no "
                                      f"Gregorian equivalent ({exc})") from exc
    raise IngestError(source, f"{name}: not decodable to dates (dtype {arr.dtype}; a 'units' attribute "
                              "like 'days since 1950-01-01' is needed)")


def time_bounds(ds: xr.Dataset, var: xr.DataArray, tdim: str | None, source: str | Path) -> np.ndarray | None:
    """(T, 2) datetime64[ns] bounds of each record (CF `bounds` / `climatology`), or None."""
    if tdim is None or tdim not in ds.variables:
        return None
    coord = ds[tdim]
    name = attr(coord.attrs, "bounds") or attr(coord.attrs, "climatology")
    if name is None:
        name = find_name(ds.variables, [f"{tdim}_bnds", f"{tdim}_bounds", f"{tdim}_bnd"])
    if name is None or name not in ds.variables:
        return None
    bounds = ds[name]
    if bounds.ndim != 2 or bounds.shape[0] != coord.size:
        return None
    return to_datetime64(bounds.values, source, str(name))


def temperature_kind(var: xr.DataArray) -> str:
    """'potential' | 'in_situ' | 'conservative' from the CF standard_name (long_name as a hint)."""
    standard = str(attr(var.attrs, "standard_name", "")).lower()
    text = standard or str(attr(var.attrs, "long_name", "")).lower()
    if "conservative" in text:
        return "conservative"
    if "potential" in text or str(var.name).lower() in ("thetao", "votemper", "theta", "pottmp"):
        return "potential"
    return "in_situ" if standard == "sea_water_temperature" else "potential"


def to_celsius(values: np.ndarray, units: str, source: str | Path, name: str) -> np.ndarray:
    """°C stays, kelvin converts; a declared unit the values contradict is an error; none: by value."""
    finite = values[np.isfinite(values)]
    median = float(np.median(finite)) if finite.size else np.nan
    unit = units.strip().lower().replace(" ", "_")
    if unit in KELVIN_UNITS or (not unit and median > KELVIN_MEDIAN):
        if finite.size and median < KELVIN_MEDIAN:
            raise IngestError(source, f"wrong units: {name} declares {units!r} but its median is {median:.2f}")
        return values - 273.15
    if unit in CELSIUS_UNITS or not unit:
        if finite.size and median > KELVIN_MEDIAN:
            raise IngestError(source, f"wrong units: {name} declares {units!r} but its median is {median:.2f} "
                                      "(looks like kelvin)")
        return values
    raise IngestError(source, f"wrong units: {name} has units {units!r}; allowed: degC or kelvin spellings")
