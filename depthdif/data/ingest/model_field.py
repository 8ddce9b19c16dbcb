"""Dense model temperature fields (GLORYS/CMEMS, NEMO, ROMS, MOM/POP, reanalyses), read lazily.

The variable is found by `--model-var`, else CF standard_name (sea_water_potential_temperature,
sea_water_temperature, sea_water_conservative_temperature), else a known name (thetao, votemper,
temp, theta, ...). Horizontal coordinates come from cf.horizontal (1-D or 2-D, never array
indices), the vertical one from model_vertical (z-levels or ROMS s-levels), the time from the
time dim (or a scalar time coordinate: one record). Units convert by attribute (kelvin → °C).
Land: NaN / _FillValue, and a ROMS-style `mask_rho` (0 = land) when present. Nothing is read until
`read(i)` asks for record i; every file must share one grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .cf import Horizontal, find_variable, horizontal, temperature_kind, time_bounds, time_dim, to_celsius, \
    to_datetime64
from .conventions import IngestError, attr, find_name
from .model_vertical import Vertical, columns_to_levels, vertical_of
from .netcdf_file import open_dataset

STANDARD_NAMES = ["sea_water_potential_temperature", "sea_water_temperature", "sea_water_conservative_temperature"]
VARIABLE_NAMES = ["thetao", "votemper", "temp", "theta", "pottmp", "temperature", "to", "potemp", "toce"]
MASK_NAMES = ["mask_rho", "tmask", "mask", "lsm"]


@dataclass
class ModelFile:
    """One opened file: the lazy variable with its dims resolved."""

    path: Path
    ds: xr.Dataset
    var: xr.DataArray
    tdim: str | None
    zdim: str
    where: Horizontal
    vertical: Vertical
    times: np.ndarray
    bounds: np.ndarray | None
    water: np.ndarray | None


@dataclass
class ModelField:
    """All files' records in time order (duplicates dropped); `read(i)` gives record i."""

    files: list[ModelFile]
    records: list[tuple[int, int]]
    times: np.ndarray
    bounds: np.ndarray | None
    kind: str
    sources: list[str] = field(default_factory=list)

    @property
    def where(self) -> Horizontal:
        return self.files[0].where

    @property
    def vertical(self) -> Vertical:
        return self.files[0].vertical

    def read(self, i: int, levels: np.ndarray | None = None) -> np.ndarray:
        """Record i as (D, H_src, W_src) °C, NaN on land/below the floor, on `levels` if given
        (else on the file's own z-levels)."""
        f, local = self.files[self.records[i][0]], self.records[i][1]
        var = f.var if f.tdim is None else f.var.isel({f.tdim: local})
        values = to_celsius(np.asarray(var.values, np.float64), str(attr(f.var.attrs, "units", "")),
                            f.path, str(f.var.name))
        if f.water is not None:
            values = np.where(f.water[None], values, np.nan)
        if f.vertical.terrain_following:
            zeta = f.vertical.zeta
            if zeta is not None and f.tdim is not None and f.tdim in zeta.dims:
                zeta = zeta.isel({f.tdim: local})
            depth = f.vertical.column_depths(None if zeta is None else np.nan_to_num(zeta.values))
            return columns_to_levels(values, depth, levels)
        if levels is None:
            return values.astype(np.float32)
        return columns_to_levels(values, f.vertical.depths, levels)

    def close(self) -> None:
        for f in self.files:
            f.ds.close()


def open_model(paths: list[str | Path], chosen: str | None = None) -> ModelField:
    """Open model files lazily, check they share a grid, and order their records in time."""
    files = [_open_one(Path(p), chosen) for p in paths]
    first = files[0]
    for f in files[1:]:
        same = (f.where.lat.shape == first.where.lat.shape and np.allclose(f.where.lat, first.where.lat)
                and np.allclose(f.where.lon, first.where.lon) and f.var.shape[-3:] == first.var.shape[-3:])
        if not same:
            raise IngestError(f.path, f"mismatched grids: differs from {first.path} (lat/lon/levels); "
                                      "model files must share one grid")
    entries = sorted(((f.times[j], i, j) for i, f in enumerate(files) for j in range(f.times.size)),
                     key=lambda e: e[0])
    keep = [e for k, e in enumerate(entries) if k == 0 or e[0] > entries[k - 1][0]]
    times = np.array([e[0] for e in keep], dtype="datetime64[ns]")
    has_bounds = all(f.bounds is not None for f in files)
    bounds = np.stack([files[i].bounds[j] for _, i, j in keep]) if has_bounds else None
    return ModelField(files=files, records=[(i, j) for _, i, j in keep], times=times, bounds=bounds,
                      kind=temperature_kind(first.var), sources=[str(f.path) for f in files])


def _open_one(path: Path, chosen: str | None) -> ModelFile:
    ds = open_dataset(path, "model (GLORYS/NEMO/ROMS)")
    var = find_variable(ds, path, chosen=chosen, standard_names=STANDARD_NAMES, names=VARIABLE_NAMES,
                        what="thetao (sea water potential temperature)")
    where = horizontal(ds, var, path)
    tdim = time_dim(var)
    rest = [d for d in var.dims if d not in (tdim, *where.dims) and var.sizes[d] > 1]
    if len(rest) != 1:
        raise IngestError(path, f"{var.name} has dims {var.dims}; expected one vertical dim besides "
                                f"time and {where.dims} (found {rest})")
    zdim = str(rest[0])
    singletons = [d for d in var.dims if d not in (tdim, zdim, *where.dims)]
    var = var.isel({d: 0 for d in singletons}).transpose(*([tdim] if tdim else []), zdim, *where.dims)
    times, bounds = _times(ds, var, tdim, path)
    return ModelFile(path=path, ds=ds, var=var, tdim=tdim, zdim=zdim, where=where,
                     vertical=vertical_of(ds, var, zdim, path), times=times, bounds=bounds,
                     water=_water(ds, where))


def _times(ds: xr.Dataset, var: xr.DataArray, tdim: str | None, path: Path):
    if tdim is not None:
        return to_datetime64(var[tdim].values, path, tdim), time_bounds(ds, var, tdim, path)
    scalar = [c for c in var.coords if var[c].ndim == 0 and (np.issubdtype(var[c].dtype, np.datetime64)
                                                            or str(c).lower() in ("time", "t"))]
    if not scalar:
        raise IngestError(path, f"{var.name}: no time dimension or time coordinate (dates are required)")
    return to_datetime64(var[scalar[0]].values, path, str(scalar[0])), None


def _water(ds: xr.Dataset, where: Horizontal) -> np.ndarray | None:
    """A 2-D land/sea mask on the field's horizontal dims (1 = water), when the file has one."""
    name = find_name([n for n, v in ds.variables.items() if tuple(v.dims) == where.dims], MASK_NAMES)
    if name is None:
        return None
    return np.nan_to_num(np.asarray(ds[name].values, float)) > 0


def check_not_all_nan(values: np.ndarray, source: str, when: np.datetime64) -> None:
    """An all-NaN record would be an empty target: refuse it naming the file and date."""
    if not np.isfinite(values).any():
        raise IngestError(source, f"all-NaN: the model field has no finite value at {str(when)[:19]}")
