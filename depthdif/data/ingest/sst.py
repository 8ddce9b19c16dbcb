"""Sea-surface temperature from any gridded product (OSTIA, Met Office monthly, OISST, CMIP `tos`, ...).

The variable is found by `--sst-var`, else CF standard_name (sea_surface_temperature,
sea_surface_foundation_temperature, surface_temperature, skin/subskin), else a known name
(analysed_sst, sst, tos, ...). Kelvin or °C by the `units` attribute (a label the values
contradict is "wrong units", never silently converted); longitudes in either convention; daily,
monthly (CF time bounds) or any other records; extra length-1 dims (depth=1) are dropped. An
OSTIA-style `mask` keeps only its water bit (1), so land, lakes and ice flagged as not water are
invalid. Files are opened lazily: each store step reads only the records it overlaps
(time_axis.TimeAxis.record_weights) and maps their weighted mean onto the grid (regrid.py).
Store cells outside the file's footprint have no EO (`eo_valid_mask` 0); they are not land.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .cf import Horizontal, find_variable, horizontal, time_bounds, time_dim, to_celsius, to_datetime64
from .conventions import IngestError, attr, find_name
from .netcdf_file import open_dataset
from .time_axis import TimeAxis

STANDARD_NAMES = ["sea_surface_temperature", "sea_surface_foundation_temperature", "surface_temperature",
                  "sea_surface_subskin_temperature", "sea_surface_skin_temperature"]
VARIABLE_NAMES = ["analysed_sst", "sst", "tos", "sea_surface_temperature", "surface_temperature",
                  "analysed_sst_degc", "sst_mean", "ts"]
MASK_NAMES = ["mask"]
WATER_BIT = 1


@dataclass
class SstFile:
    path: Path
    ds: xr.Dataset
    var: xr.DataArray
    tdim: str | None
    where: Horizontal
    mask: xr.DataArray | None


@dataclass
class SstSource:
    """Every record of every file, in time order: (file, index) with its interval [lower, upper]."""

    files: list[SstFile]
    records: list[tuple[int, int]]
    times: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def where(self) -> Horizontal:
        return self.files[0].where

    @property
    def sources(self) -> list[str]:
        return [str(f.path) for f in self.files]

    def read(self, i: int) -> np.ndarray:
        """Record i as (H_src, W_src) °C, NaN where not water or missing."""
        f, j = self.files[self.records[i][0]], self.records[i][1]
        var = f.var if f.tdim is None else f.var.isel({f.tdim: j})
        sst = to_celsius(np.asarray(var.values, np.float64), str(attr(f.var.attrs, "units", "")), f.path,
                         str(f.var.name))
        if f.mask is not None:
            mask = f.mask if f.tdim is None or f.tdim not in f.mask.dims else f.mask.isel({f.tdim: j})
            flags = np.nan_to_num(np.asarray(mask.values, float)).astype(np.int64)
            sst = np.where((flags & WATER_BIT) != 0, sst, np.nan)
        return sst

    def mean_for_step(self, axis: TimeAxis, step: int) -> np.ndarray | None:
        """Overlap-weighted mean of the records in the step's interval (None: no record); a cell
        missing in any contributing record is missing (never a mean of fewer days)."""
        weights = axis.record_weights(step, self.lower, self.upper)
        used = np.flatnonzero(weights > 0)
        if used.size == 0:
            return None
        total = np.zeros(self.where.lat.shape if self.where.curvilinear else
                         (self.where.lat.size, self.where.lon.size))
        for i in used:
            total = total + weights[i] * self.read(int(i))
        return (total / weights[used].sum()).astype(np.float32)

    def steps_with_data(self, axis: TimeAxis) -> np.ndarray:
        return np.array([bool((axis.record_weights(t, self.lower, self.upper) > 0).any()) for t in range(axis.size)])

    def close(self) -> None:
        for f in self.files:
            f.ds.close()


def open_sst(paths: list[str | Path], chosen: str | None = None) -> SstSource:
    """Open SST files lazily; they must share one grid. Records sort by time."""
    files = [_open_one(Path(p), chosen) for p in paths]
    first = files[0]
    for f in files[1:]:
        if f.where.lat.shape != first.where.lat.shape or not (
                np.allclose(f.where.lat, first.where.lat) and np.allclose(f.where.lon, first.where.lon)):
            raise IngestError(f.path, f"mismatched grids: differs from {first.path}")
    entries = []
    for i, f in enumerate(files):
        times, bounds = _times(f)
        for j in range(times.size):
            low, high = (times[j], times[j]) if bounds is None else (bounds[j, 0], bounds[j, 1])
            entries.append((times[j], low, high, i, j))
    entries.sort(key=lambda e: e[0])
    return SstSource(files=files, records=[(e[3], e[4]) for e in entries],
                     times=np.array([e[0] for e in entries], "datetime64[ns]"),
                     lower=np.array([e[1] for e in entries], "datetime64[ns]"),
                     upper=np.array([e[2] for e in entries], "datetime64[ns]"))


def _open_one(path: Path, chosen: str | None) -> SstFile:
    ds = open_dataset(path, "SST (OSTIA)")
    var = find_variable(ds, path, chosen=chosen, standard_names=STANDARD_NAMES, names=VARIABLE_NAMES,
                        what="analysed_sst (sea surface temperature)")
    where = horizontal(ds, var, path)
    tdim = time_dim(var)
    extra = [d for d in var.dims if d not in (tdim, *where.dims)]
    if any(var.sizes[d] > 1 for d in extra):
        raise IngestError(path, f"{var.name} has dims {var.dims}; expected (time, lat, lon) (extra dims "
                                "of length 1 are allowed)")
    var = var.isel({d: 0 for d in extra}).transpose(*([tdim] if tdim else []), *where.dims)
    mask_name = find_name([n for n, v in ds.data_vars.items() if set(where.dims) <= set(v.dims)], MASK_NAMES)
    mask = None
    if mask_name is not None:
        mask = ds[mask_name]
        mask = mask.isel({d: 0 for d in mask.dims if d not in (tdim, *where.dims)})
        mask = mask.transpose(*[d for d in ([tdim] if tdim else []) if d in mask.dims], *where.dims)
    return SstFile(path=path, ds=ds, var=var, tdim=tdim, where=where, mask=mask)


def _times(f: SstFile) -> tuple[np.ndarray, np.ndarray | None]:
    if f.tdim is not None:
        return to_datetime64(f.var[f.tdim].values, f.path, f.tdim), time_bounds(f.ds, f.var, f.tdim, f.path)
    scalar = [c for c in f.var.coords if f.var[c].ndim == 0 and np.issubdtype(f.var[c].dtype, np.datetime64)]
    if not scalar:
        raise IngestError(f.path, f"{f.var.name}: no time dimension or time coordinate (dates are required)")
    return to_datetime64(f.var[scalar[0]].values, f.path, str(scalar[0])), None
