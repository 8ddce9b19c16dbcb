"""Write small files in the exact CMEMS / Argo conventions, for the ingest tests.

GLORYS: packed int16 `thetao(time, depth, latitude, longitude)` with scale/offset and
_FillValue, `degrees_C`, time in hours since 1950. OSTIA: packed int16 `analysed_sst(time,
lat, lon)` in kelvin, seconds since 1981, byte `mask` with flag bits. Argo GDAC: N_PROF x
N_LEVELS, char QC flags, 99999 fills, JULD in days since 1950, DATA_MODE per profile. Argo
ERDDAP: one row per measurement with char-array strings and `seconds since 1970` times.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

GLORYS_TIME_UNITS = "hours since 1950-01-01"
OSTIA_TIME_UNITS = "seconds since 1981-01-01 00:00:00"


def ocean_temperature(depth: np.ndarray, lat: np.ndarray, lon: np.ndarray, day: float = 0.0) -> np.ndarray:
    """A smooth plausible field (D, H, W) degC: warm surface, thermocline near 150 m."""
    z = np.asarray(depth, float)[:, None, None]
    la = np.asarray(lat, float)[None, :, None]
    lo = np.asarray(lon, float)[None, None, :]
    surface = 22.0 - 0.3 * np.abs(la) + 0.5 * np.sin(np.radians(lo * 10)) + np.sin(2 * np.pi * day / 365.25)
    deep = 2.0 + 0.0 * lo
    return deep + (surface - deep) * np.exp(-z / 150.0)


def write_glorys(path: Path, lat, lon, depth, times, *, units: str = "degrees_C", land=None,
                 floor_level: int | None = None, name: str = "thetao", values=None) -> np.ndarray:
    """A GLORYS-like file; returns the (T, D, H, W) values written (NaN on land / below floor)."""
    lat, lon, depth = (np.asarray(a, float) for a in (lat, lon, depth))
    hours = (np.asarray(times, "datetime64[h]") - np.datetime64("1950-01-01", "h")).astype(float)
    if values is None:
        values = np.stack([ocean_temperature(depth, lat, lon, h / 24) for h in hours])
    values = np.array(values, float)
    if land is not None:
        values[:, :, land] = np.nan
    if floor_level is not None:
        values[:, floor_level:, : lat.size // 2, : lon.size // 2] = np.nan
    with netCDF4.Dataset(path, "w") as nc:
        nc.Conventions = "CF-1.6"
        nc.title = "Daily mean fields from Global Ocean Physics Analysis and Forecast"
        for dim, n in (("time", hours.size), ("depth", depth.size), ("latitude", lat.size), ("longitude", lon.size)):
            nc.createDimension(dim, n)
        _coord(nc, "time", hours, "f8", units=GLORYS_TIME_UNITS, standard_name="time", calendar="gregorian")
        _coord(nc, "depth", depth, "f4", units="m", positive="down", standard_name="depth")
        _coord(nc, "latitude", lat, "f4", units="degrees_north", standard_name="latitude")
        _coord(nc, "longitude", lon, "f4", units="degrees_east", standard_name="longitude")
        var = nc.createVariable(name, "i2", ("time", "depth", "latitude", "longitude"), fill_value=-32767)
        finite = values[np.isfinite(values)]
        offset = float((finite.max() + finite.min()) / 2) if finite.size else 0.0
        scale = max(float(finite.max() - finite.min()) / 60000, 1e-4) if finite.size else 1.0
        var.setncatts({"units": units, "standard_name": "sea_water_potential_temperature",
                       "long_name": "Temperature", "scale_factor": scale, "add_offset": offset})
        var[:] = _masked(values)
    return values


def write_ostia(path: Path, lat, lon, times, *, units: str = "kelvin", land=None, sst_degc=None,
                values_in_kelvin: bool = True) -> np.ndarray:
    """An OSTIA-like file; returns the SST in degC (T, H, W), NaN on land. `units` is only the
    declared attribute, so units="degC" with values_in_kelvin=True makes a mislabelled file."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    seconds = (np.asarray(times, "datetime64[s]") - np.datetime64("1981-01-01", "s")).astype(float)
    if sst_degc is None:
        sst_degc = np.stack([ocean_temperature([0.0], lat, lon, s / 86400)[0] for s in seconds])
    sst_degc = np.array(sst_degc, float)
    mask = np.ones(sst_degc.shape, np.int8)
    if land is not None:
        sst_degc[:, land] = np.nan
        mask[:, land] = 2
    with netCDF4.Dataset(path, "w") as nc:
        nc.Conventions = "CF-1.4"
        nc.title = "Global SST & Sea Ice Analysis, L4 OSTIA"
        for dim, n in (("time", seconds.size), ("lat", lat.size), ("lon", lon.size)):
            nc.createDimension(dim, n)
        _coord(nc, "time", seconds, "i4", units=OSTIA_TIME_UNITS, standard_name="time")
        _coord(nc, "lat", lat, "f4", units="degrees_north")
        _coord(nc, "lon", lon, "f4", units="degrees_east")
        var = nc.createVariable("analysed_sst", "i2", ("time", "lat", "lon"), fill_value=-32768)
        offset = 273.15 if values_in_kelvin else 0.0
        var.setncatts({"units": units, "scale_factor": 0.01, "add_offset": offset,
                       "standard_name": "sea_surface_foundation_temperature"})
        var[:] = _masked(sst_degc + offset)
        m = nc.createVariable("mask", "i1", ("time", "lat", "lon"))
        m.setncatts({"flag_masks": np.array([1, 2, 4, 8, 16], np.int8),
                     "flag_meanings": "water land optional_lake_surface sea_ice optional_river_surface"})
        m[:] = mask
    return sst_degc


def _masked(values: np.ndarray) -> np.ma.MaskedArray:
    """NaN → masked (written as _FillValue) without casting NaN to int16."""
    return np.ma.array(np.nan_to_num(values), mask=~np.isfinite(values))


def _coord(nc, name, values, dtype, **attrs) -> None:
    var = nc.createVariable(name, dtype, (name,))
    var.setncatts(attrs)
    var[:] = values


def _chars(nc, name, dims, strings, width) -> None:
    var = nc.createVariable(name, "S1", dims, fill_value=b" ")
    arr = np.array([s.ljust(width)[:width] for s in strings], dtype=f"S{width}")
    var[:] = netCDF4.stringtochar(arr)


def write_gdac(path: Path, profiles: list[dict]) -> None:
    """GDAC profile file. Each profile: platform, cycle, mode, juld (days since 1950), lat, lon,
    pres, temp, temp_qc (str per level); optional temp_adj, temp_adj_qc, pres_adj, psal."""
    n_prof, n_levels = len(profiles), max(len(p["pres"]) for p in profiles)
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        for dim, n in (("DATE_TIME", 14), ("STRING8", 8), ("STRING256", 256), ("N_PROF", n_prof),
                       ("N_LEVELS", n_levels)):
            nc.createDimension(dim, n)
        _chars(nc, "REFERENCE_DATE_TIME", ("DATE_TIME",), ["19500101000000"], 14)
        _chars(nc, "PLATFORM_NUMBER", ("N_PROF", "STRING8"), [p["platform"] for p in profiles], 8)
        for name, key in (("DATA_MODE", "mode"), ("DIRECTION", "direction"), ("POSITION_QC", "position_qc"),
                          ("JULD_QC", "juld_qc")):
            var = nc.createVariable(name, "S1", ("N_PROF",), fill_value=b" ")
            var[:] = np.array([p.get(key, "A" if key == "direction" else "1") for p in profiles], "S1")
        _chars(nc, "VERTICAL_SAMPLING_SCHEME", ("N_PROF", "STRING256"),
               [p.get("scheme", "Primary sampling: averaged") for p in profiles], 256)
        cyc = nc.createVariable("CYCLE_NUMBER", "i4", ("N_PROF",), fill_value=99999)
        cyc[:] = [p["cycle"] for p in profiles]
        juld = nc.createVariable("JULD", "f8", ("N_PROF",), fill_value=999999.0)
        juld.units = "days since 1950-01-01 00:00:00 UTC"
        juld[:] = [p["juld"] for p in profiles]
        for name, key in (("LATITUDE", "lat"), ("LONGITUDE", "lon")):
            var = nc.createVariable(name, "f8", ("N_PROF",), fill_value=99999.0)
            var[:] = [p[key] for p in profiles]
        for param, adj_key in (("PRES", "pres_adj"), ("TEMP", "temp_adj"), ("PSAL", "psal_adj")):
            raw_key = param.lower()
            if param == "PSAL" and not any("psal" in p for p in profiles):
                continue
            _levels(nc, param, [p.get(raw_key) for p in profiles], [p.get(f"{raw_key}_qc") for p in profiles],
                    n_levels)
            _levels(nc, f"{param}_ADJUSTED", [p.get(adj_key) for p in profiles],
                    [p.get(f"{adj_key}_qc") for p in profiles], n_levels)


def _levels(nc, name, series, flags, n_levels) -> None:
    var = nc.createVariable(name, "f4", ("N_PROF", "N_LEVELS"), fill_value=np.float32(99999.0))
    qc = nc.createVariable(f"{name}_QC", "S1", ("N_PROF", "N_LEVELS"), fill_value=b" ")
    values = np.full((len(series), n_levels), 99999.0, np.float32)
    codes = np.full((len(series), n_levels), b" ", "S1")
    for i, (vals, fl) in enumerate(zip(series, flags)):
        if vals is None:
            continue
        values[i, : len(vals)] = vals
        codes[i, : len(vals)] = list(fl) if fl is not None else ["1"] * len(vals)
    var[:] = values
    qc[:] = codes


def write_erddap(path: Path, rows: dict[str, list], *, upper: bool = False) -> None:
    """ERDDAP point file: one `row` dimension, strings as char arrays, time in s since 1970."""
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        nc.createDimension("row", len(rows["time"]))
        for name, values in rows.items():
            out = name.upper() if upper else name
            values = np.asarray(values)
            if values.dtype.kind in "US":
                width = max(1, max(len(str(v)) for v in values))
                nc.createDimension(f"{out}_strlen", width)
                _chars(nc, out, ("row", f"{out}_strlen"), [str(v) for v in values], width)
            elif name == "time":
                var = nc.createVariable(out, "f8", ("row",))
                var.units = "seconds since 1970-01-01T00:00:00Z"
                var[:] = (values.astype("datetime64[s]").astype(np.int64)).astype(float)
            else:
                dtype = "i4" if values.dtype.kind in "iu" else "f8"  # NETCDF3 has no int64
                var = nc.createVariable(out, dtype, ("row",), fill_value=99999)
                var[:] = values


def write_netcdf(path: Path, dims: dict[str, int], variables: dict[str, tuple], attrs: dict | None = None,
                 fmt: str = "NETCDF4") -> None:
    """A generic small file: variables = {name: (dims tuple, values, attrs dict)}; NaN → _FillValue."""
    with netCDF4.Dataset(path, "w", format=fmt) as nc:
        nc.setncatts(attrs or {})
        for dim, n in dims.items():
            nc.createDimension(dim, n)
        for name, (vdims, values, vattrs) in variables.items():
            values = np.asarray(values)
            dtype = "f8" if values.dtype.kind == "f" else "i4"
            fill = {"fill_value": 1e20} if values.dtype.kind == "f" and np.isnan(values).any() else {}
            var = nc.createVariable(name, dtype, vdims, **fill)
            var.setncatts(vattrs)
            var[:] = _masked(values) if fill else values


def days_since(times, epoch: str = "1950-01-01") -> np.ndarray:
    return (np.asarray(times, "datetime64[s]") - np.datetime64(epoch, "s")).astype(float) / 86400
