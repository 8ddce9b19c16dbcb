"""Assemble real-format inputs into the store's xr.Dataset on one target grid, then write it.

Order of decisions (each documented where it is made):
- grid: GLORYS's native grid when given (y is never regridded), else OSTIA's, else `--grid`;
- depth levels: the GLORYS levels (or a subset from `--depths FILE`), else the 50 GLORYS12 levels;
- time steps: the GLORYS dates, else every `time_step_days` over the period of the Argo data
  inside the grid (else the OSTIA period);
- OSTIA: mean over each step's ±window, bilinear onto the grid, NaN → `eo_valid_mask` 0;
- Argo: QC'd measurements → profiles on the levels (vertical.py) → nearest time step within the
  window and nearest grid cell; several profiles in one cell and step are averaged per level
  (`depthdif.data.profiles.bin_profiles`); profiles outside the grid or window, or on a land
  cell, are dropped, and a float cycle read from two files counts once;
- land: GLORYS cells with no valid level at any time, else cells where OSTIA is never valid, else
  none (Argo-only without OSTIA is refused: the store needs an EO condition).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import schema as S
from ..index import SplitSpec
from ..profiles import bin_profiles, grid_cells, make_profiles, time_steps
from ..store import write_store
from .argo import ARGO_READERS, read_argo
from .conventions import IngestError
from .glorys import GlorysField, read_glorys
from .grid import Grid, check_same_grid, parse_grid, read_depths, regular_times, time_window_days, wrap_longitude
from .ostia import OstiaField, read_ostia, sst_on_grid
from .vertical import (MAX_GAP_FRACTION, MIN_MAX_GAP_M, TEMPERATURE_KINDS, drop_duplicate_profiles,
                       profiles_on_levels, require_profiles)

GRID_SOURCES = ("glorys", "ostia")


@dataclass
class IngestSpec:
    """Everything `depthdif data ingest` needs; saved into the store's config.yaml."""

    glorys: list[str] = field(default_factory=list)
    ostia: list[str] = field(default_factory=list)
    argo: list[str] = field(default_factory=list)
    argo_format: str = "auto"
    grid_from: str | None = None  # "glorys" | "ostia"; None: glorys if given, else ostia, else `grid`
    grid: str | None = None       # "lat0,lat1,lon0,lon1,res"
    depths: str = "glorys"        # "glorys" or a file of depths in metres
    patch_size: int = 16
    stride: int | None = None
    max_land_fraction: float = 0.5
    time_step_days: float = 7.0
    time_window_days: float | None = None  # None: half the time step
    temperature: str = "potential"         # Argo: "potential" (matches GLORYS thetao) or "in_situ"
    eo_from_glorys: bool = False           # no OSTIA: use GLORYS's top level as a stand-in SST

    def check(self) -> None:
        if not (self.glorys or self.argo):
            raise ValueError("ingest: nothing to build: give --glorys (a target) and/or --argo (observations)")
        if not self.ostia and not (self.eo_from_glorys and self.glorys):
            raise ValueError("ingest: no EO source: give --ostia FILE, or --eo-from-glorys with --glorys "
                             "(GLORYS's top level as a stand-in SST)")
        if self.argo_format not in ("auto", *ARGO_READERS):
            raise ValueError(f"--argo-format: must be one of {['auto', *ARGO_READERS]}, got {self.argo_format!r}")
        if self.grid_from is not None and self.grid_from not in GRID_SOURCES:
            raise ValueError(f"--grid-from: must be one of {list(GRID_SOURCES)}, got {self.grid_from!r}")
        if self.grid_from is not None and self.grid is not None:
            raise ValueError("--grid-from and --grid are exclusive: pick one target grid")
        if self.grid_from == "glorys" and not self.glorys:
            raise ValueError("--grid-from glorys needs --glorys FILE")
        if self.grid_from == "ostia" and not self.ostia:
            raise ValueError("--grid-from ostia needs --ostia FILE")
        if not (self.glorys or self.ostia or self.grid):
            raise ValueError("ingest: no target grid: give --glorys, --ostia or --grid lat0,lat1,lon0,lon1,res")
        if self.temperature not in TEMPERATURE_KINDS:
            raise ValueError(f"temperature: must be one of {list(TEMPERATURE_KINDS)}, got {self.temperature!r}")
        if self.time_step_days <= 0 or (self.time_window_days is not None and self.time_window_days < 0):
            raise ValueError("--time-step-days must be > 0 and --time-window-days >= 0")


def ingest(spec: IngestSpec, out: str | Path, *, overwrite: bool = False, progress: bool = True,
           split: SplitSpec | None = None) -> Path:
    """Read every input, assemble the dataset, and write the store atomically (see write_store)."""
    ds, profiles, provenance = build_dataset(spec, progress=progress)
    _log(progress, f"writing store {out}")
    return write_store(ds, out, profiles=profiles, patch_size=spec.patch_size, stride=spec.stride,
                       max_land_fraction=spec.max_land_fraction, split=split, provenance=provenance,
                       config=spec, overwrite=overwrite, progress=progress)


def build_dataset(spec: IngestSpec, *, progress: bool = False) -> tuple[xr.Dataset, pd.DataFrame | None, dict]:
    """(dataset on the target grid, profile table or None, provenance) from the spec's files."""
    spec.check()
    glorys = _step(progress, "reading GLORYS", lambda: read_glorys(spec.glorys)) if spec.glorys else None
    ostia = _step(progress, "reading OSTIA", lambda: read_ostia(spec.ostia)) if spec.ostia else None
    measurements = _step(progress, "reading Argo", lambda: read_argo(spec.argo, spec.argo_format, progress)) \
        if spec.argo else None
    grid = resolve_grid(spec, glorys, ostia)
    levels = read_depths(spec.depths, None if glorys is None else glorys.depths)
    times = resolve_times(spec, grid, glorys, ostia, measurements)
    window = spec.time_window_days if spec.time_window_days is not None else time_window_days(times, spec.time_step_days)
    y = _target(glorys, levels) if glorys is not None else None
    eo = sst_on_grid(ostia, grid, times, window) if ostia is not None else glorys.y[:, 0]
    land = _land_mask(y, eo)
    profiles = None
    x = np.full((times.size, levels.size, *grid.shape), np.nan, np.float32)
    x_valid = np.zeros(x.shape, bool)
    if measurements is not None:
        profiles = argo_profiles(spec, measurements, levels, grid, times, window, land, progress)
        x, x_valid = bin_profiles(profiles, x.shape)
    ds = assemble(grid, levels, times, y=y, x=x, x_valid=x_valid, eo=eo, land=land,
                  temperature=spec.temperature)
    provenance = _provenance(spec, glorys, ostia, measurements, profiles, window)
    return ds, profiles, provenance


def resolve_grid(spec: IngestSpec, glorys: GlorysField | None, ostia: OstiaField | None) -> Grid:
    """The target grid; GLORYS (when given) must be on it, since y is never regridded."""
    if spec.grid_from is not None:
        source = spec.grid_from
    else:
        source = None if spec.grid is not None else "glorys" if glorys is not None else "ostia"
    grid = glorys.grid if source == "glorys" else ostia.grid if source == "ostia" else parse_grid(spec.grid)
    if glorys is not None and source != "glorys":
        check_same_grid(glorys.grid, grid, ("GLORYS", "target (" + (source or "--grid") + ")"),
                        glorys.sources + (ostia.sources if source == "ostia" else []))
    _check_regular(grid, spec)
    return grid


def _check_regular(grid: Grid, spec: IngestSpec) -> None:
    for name, axis in (("lat", grid.lat), ("lon", grid.lon)):
        if axis.size > 2 and not np.allclose(np.diff(axis), np.diff(axis)[0], rtol=1e-3, atol=1e-6):
            raise IngestError(spec.glorys or spec.ostia or ["--grid"],
                              f"mismatched grids: {name} spacing is irregular; a regular grid is required")
    if min(grid.shape) < spec.patch_size:
        raise IngestError(spec.glorys or spec.ostia or ["--grid"],
                          f"grid {grid.shape} is smaller than --patch-size {spec.patch_size}")


def resolve_times(spec: IngestSpec, grid: Grid, glorys: GlorysField | None, ostia: OstiaField | None,
                  measurements: pd.DataFrame | None) -> np.ndarray:
    """GLORYS dates, else a regular axis over the period of the Argo data inside the grid (else
    of all Argo data, else of OSTIA), so far-away floats do not stretch the axis."""
    if glorys is not None:
        return glorys.times
    if measurements is None:
        span = pd.Series(ostia.times)
    else:
        iy, ix = grid_cells(measurements["lat"].to_numpy(),
                            wrap_longitude(measurements["lon"].to_numpy(), grid.lon), grid.lat, grid.lon)
        inside = (iy >= 0) & (ix >= 0)
        span = measurements["time"][inside] if inside.any() else measurements["time"]
    return regular_times(span.min().to_datetime64(), span.max().to_datetime64(), spec.time_step_days)


def _target(glorys: GlorysField, levels: np.ndarray) -> np.ndarray:
    """GLORYS at the chosen levels (exact GLORYS levels: read_depths guarantees they exist)."""
    pick = [int(np.argmin(np.abs(glorys.depths - d))) for d in levels]
    return glorys.y[:, pick]


def _land_mask(y: np.ndarray | None, eo: np.ndarray) -> np.ndarray:
    """LAND = no valid target at any level or time; without a target, SST never valid."""
    if y is not None:
        return ~np.isfinite(y).any(axis=(0, 1))
    return ~np.isfinite(eo).any(axis=0)


def argo_profiles(spec: IngestSpec, measurements: pd.DataFrame, levels: np.ndarray, grid: Grid,
                  times: np.ndarray, window: float, land: np.ndarray, progress: bool) -> pd.DataFrame:
    """Profiles on the levels, placed on the grid and time axis; those outside the grid, the
    time windows, or on a land cell (a coarse grid can put a coastal float there) are dropped."""
    all_profiles = require_profiles(profiles_on_levels(measurements, levels, spec.temperature, progress),
                                    spec.argo, len(measurements))
    on_levels = drop_duplicate_profiles(all_profiles)
    lon = wrap_longitude(on_levels["lon"].to_numpy(), grid.lon)
    iy, ix = grid_cells(on_levels["lat"].to_numpy(), lon, grid.lat, grid.lon)
    t_index = time_steps(on_levels["time"].to_numpy(), times, max_gap_days=window)
    inside = (iy >= 0) & (ix >= 0) & (t_index >= 0)
    inside &= ~land[np.maximum(iy, 0), np.maximum(ix, 0)]
    _log(progress, f"Argo: {len(measurements)} good measurements -> {len(all_profiles)} profiles on levels "
                   f"({len(all_profiles) - len(on_levels)} duplicates dropped), {int(inside.sum())} inside "
                   f"the grid (off land) and ±{window:g}-day windows")
    if not inside.any():
        raise IngestError(spec.argo, f"no Argo profile falls inside the target grid ({grid.bounds_text()}, "
                                     "ocean cells) "
                                     f"and time steps ({str(times[0])[:10]}..{str(times[-1])[:10]}, "
                                     f"±{window:g} days)")
    kept = on_levels.loc[inside].reset_index(drop=True)
    temp = np.stack(kept["temp"].to_numpy())
    mask = np.stack(kept["mask"].to_numpy())
    table = make_profiles(platform=kept["platform"].to_numpy(), time=kept["time"].to_numpy(),
                          lat=kept["lat"].to_numpy(), lon=lon[inside], temp=temp, mask=mask,
                          time_index=t_index[inside], iy=iy[inside], ix=ix[inside])
    table["source"] = kept["source"].astype(str).to_numpy()
    table["cycle"] = kept["cycle"].to_numpy(np.int64)
    return table


def assemble(grid: Grid, levels: np.ndarray, times: np.ndarray, *, y: np.ndarray | None, x: np.ndarray,
             x_valid: np.ndarray, eo: np.ndarray, land: np.ndarray, temperature: str = "potential") -> xr.Dataset:
    """The store dataset with CF attrs; y / y_valid_mask only when there is a target."""
    coords = {"time": times.astype("datetime64[ns]"), "depth": ("depth", levels, {"units": "m", "positive": "down"}),
              "lat": ("lat", grid.lat, {"units": "degrees_north"}),
              "lon": ("lon", grid.lon, {"units": "degrees_east"}), "eo_channel": ["sst"]}
    eo_valid = np.isfinite(eo) & ~land[None]
    data = {
        S.X: (S.DIMS_3D, np.where(x_valid, x, np.nan).astype(np.float32),
              {"units": "degC", "long_name": f"Argo {temperature} temperature binned on the grid"}),
        S.X_MASK: (S.DIMS_3D, x_valid, {"long_name": "1 where an Argo profile measured this cell and level"}),
        S.EO: (S.DIMS_EO, np.where(eo_valid, eo, np.nan)[:, None].astype(np.float32),
               {"channel_units": "degC", "long_name": "sea surface temperature"}),
        S.EO_MASK: (S.DIMS_EO, eo_valid[:, None], {"long_name": "1 where the EO value is valid"}),
        S.LAND: (S.DIMS_2D, land, {"long_name": "1 on land"}),
    }
    if y is not None:
        y_valid = np.isfinite(y)
        data[S.Y] = (S.DIMS_3D, np.where(y_valid, y, np.nan).astype(np.float32),
                     {"units": "degC", "long_name": "GLORYS sea water potential temperature (thetao)"})
        data[S.Y_MASK] = (S.DIMS_3D, y_valid, {"long_name": "1 where the target is valid (ocean, above the floor)"})
    return xr.Dataset(data, coords=coords)


def _provenance(spec: IngestSpec, glorys, ostia, measurements, profiles, window: float) -> dict:
    return {
        "generator": "depthdif data ingest",
        "glorys_files": [Path(p).name for p in spec.glorys],
        "ostia_files": [Path(p).name for p in spec.ostia],
        "argo_files": [Path(p).name for p in spec.argo],
        "eo_source": "ostia" if ostia is not None else "glorys top level (--eo-from-glorys)",
        "argo_temperature": spec.temperature,
        "argo_measurements": 0 if measurements is None else int(len(measurements)),
        "argo_profiles": 0 if profiles is None else int(len(profiles)),
        "argo_vertical_rule": f"linear inside the measured range; gaps <= max({MAX_GAP_FRACTION}*z, "
                              f"{MIN_MAX_GAP_M} m); no extrapolation",
        "argo_binning_rule": "nearest cell, nearest time step within the window; per-level mean of "
                             "profiles sharing a cell and step",
        "time_window_days": float(window),
    }


def _step(progress: bool, what: str, fn):
    _log(progress, what)
    return fn()


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"ingest: {message}", file=sys.stderr, flush=True)
