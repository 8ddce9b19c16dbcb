"""Assemble real-format inputs into a store on one target grid, streamed one time step at a time.

Order of decisions (each documented where it is made):
- grid (grid.py): `--grid`, else `--grid-from ostia`, else the model's own regular grid (a
  curvilinear model: a regular grid at about its spacing), else the SST file's grid; a model on
  another grid is resampled only when it must be (curvilinear) or `--regrid` says so (regrid.py);
- depth levels: the model's z-levels (or a subset), else the 50 GLORYS12 levels (down to the
  deepest point of a terrain-following model), or `--depths`;
- time axis (time_axis.py): the model's dates, else `--time-step` over the span of
  `--time-from argo|ostia`, else the SST records; `--time-range` clips; a warning with counts
  when most steps have no SST or no Argo;
- EO: SST records overlapping each step, mapped onto the grid; `--eo-from-glorys` takes the
  model's top level; with neither the store has NO EO (eo_valid_mask 0 everywhere, statistics
  0/1): a legitimate "Argo alone" or "model alone" store;
- Argo: QC'd measurements → profiles on the levels (vertical.py) → the step whose interval holds
  them and the nearest cell; several profiles in one cell and step are averaged per level;
  profiles outside the grid or axis, or on land, are dropped; a cycle read twice counts once;
- land: model cells with no valid level at the first step, else cells the SST never covers
  with water INSIDE its footprint, else none. Cells outside the SST footprint are not land.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..index import SplitSpec
from ..profiles import grid_cells, make_profiles
from ..store import write_store
from .argo import ARGO_READERS, read_argo
from .conventions import IngestError
from .grid import Grid, auto_grid, parse_grid, read_depths, wrap_longitude
from .model_field import ModelField, open_model
from .model_vertical import LEVEL_TOLERANCE_M
from .plan import IngestPlan, dataset_from_steps
from .regrid import mapper_for, native_grid
from .sst import SstSource, open_sst
from .time_axis import TimeAxis, coverage_warning, parse_time_range, record_axis, regular_axis
from .vertical import (MAX_GAP_FRACTION, MIN_MAX_GAP_M, TEMPERATURE_KINDS, drop_duplicate_profiles,
                       profiles_on_levels, require_profiles)

GRID_SOURCES = ("glorys", "ostia")
TIME_SOURCES = ("glorys", "ostia", "argo")
OPEN_FILES = 8


class IngestCoverageWarning(UserWarning):
    """Most time steps of the store lack SST or Argo."""


@dataclass
class IngestSpec:
    """Everything `depthdif data ingest` needs; saved into the store's config.yaml."""

    glorys: list[str] = field(default_factory=list)   # dense model field(s): GLORYS, NEMO, ROMS, ...
    ostia: list[str] = field(default_factory=list)    # SST file(s)
    argo: list[str] = field(default_factory=list)
    argo_format: str = "auto"
    model_var: str | None = None
    sst_var: str | None = None
    grid_from: str | None = None  # "glorys" | "ostia"; None: see the module docstring
    grid: str | None = None       # "lat0,lat1,lon0,lon1,res[,lon_res]"
    regrid: bool = False          # resample a regular model grid (and its levels) onto the target
    depths: str = "glorys"        # "glorys", a file, or comma-separated metres
    patch_size: int = 16
    stride: int | None = None
    max_land_fraction: float = 0.5
    time_from: str | None = None   # "glorys" | "ostia" | "argo"
    time_step: str | None = None   # pandas offset: 1D, 7D, 1MS, 30.4375D
    time_step_days: float | None = None  # older spelling of --time-step (days)
    time_window_days: float | None = None
    time_range: str | None = None  # "START,END"
    temperature: str = "potential"  # what the store's x holds: "potential" (like thetao) or "in_situ"
    eo_from_glorys: bool = False

    def check(self) -> None:
        if not (self.glorys or self.argo):
            raise ValueError("ingest: nothing to build: give --glorys/--model (a target) and/or --argo (observations)")
        choices = (("--argo-format", self.argo_format, ("auto", *ARGO_READERS)),
                   ("--grid-from", self.grid_from, (None, *GRID_SOURCES)),
                   ("--time-from", self.time_from, (None, *TIME_SOURCES)),
                   ("--argo-temperature", self.temperature, TEMPERATURE_KINDS))
        for flag, value, allowed in choices:
            if value not in allowed:
                raise ValueError(f"{flag}: must be one of {[a for a in allowed if a]}, got {value!r}")
        if self.grid_from is not None and self.grid is not None:
            raise ValueError("--grid-from and --grid are exclusive: pick one target grid")
        given = {"glorys": self.glorys, "ostia": self.ostia, "argo": self.argo}
        for flag, value in (("--grid-from", self.grid_from), ("--time-from", self.time_from)):
            if value is not None and not given[value]:
                raise ValueError(f"{flag} {value} needs --{value} FILE")
        if self.eo_from_glorys and not self.glorys:
            raise ValueError("--eo-from-glorys needs --glorys/--model FILE")
        if self.time_step_days is not None and (self.time_step_days <= 0 or self.time_step):
            raise ValueError("--time-step-days must be > 0 and not combined with --time-step")
        if self.time_window_days is not None and self.time_window_days < 0:
            raise ValueError("--time-window-days must be >= 0")

    @property
    def step(self) -> str | None:
        return self.time_step or (f"{self.time_step_days}D" if self.time_step_days else None)


def ingest(spec: IngestSpec, out: str | Path, *, overwrite: bool = False, progress: bool = True,
           split: SplitSpec | None = None) -> Path:
    """Plan from metadata and profiles, then write the store one time step at a time."""
    # Few files open at once: each open NetCDF keeps its own chunk cache, so a record of many daily
    # files would otherwise grow memory with its length (xarray reopens closed files on demand).
    with xr.set_options(file_cache_maxsize=OPEN_FILES):
        plan = plan_ingest(spec, progress=progress)
        try:
            _log(progress, f"writing store {out}")
            return write_store(plan.store_steps(), out, profiles=plan.profiles, patch_size=spec.patch_size,
                           stride=spec.stride, max_land_fraction=spec.max_land_fraction, split=split,
                               provenance=plan.provenance, config=spec, overwrite=overwrite, progress=progress)
        finally:
            plan.close()


def build_dataset(spec: IngestSpec, *, progress: bool = False) -> tuple[xr.Dataset, pd.DataFrame | None, dict]:
    """(dataset in memory, profile table or None, provenance): the same steps, stacked (small inputs)."""
    plan = plan_ingest(spec, progress=progress)
    try:
        return dataset_from_steps(plan.store_steps()), plan.profiles, plan.provenance
    finally:
        plan.close()


def plan_ingest(spec: IngestSpec, *, progress: bool = False) -> IngestPlan:
    spec.check()
    model = open_model(spec.glorys, spec.model_var) if spec.glorys else None
    sst = open_sst(spec.ostia, spec.sst_var) if spec.ostia else None
    measurements = _step(progress, "reading Argo", lambda: read_argo(spec.argo, spec.argo_format, progress)) \
        if spec.argo else None
    grid, grid_rule = resolve_grid(spec, model, sst)
    _log(progress, f"grid: {grid.bounds_text()} ({grid_rule})")
    plan = IngestPlan(grid=grid, levels=np.zeros(0), axis=None, land=np.zeros(grid.shape, bool), model=model,
                      sst=sst, eo_from_model=spec.eo_from_glorys, temperature=spec.temperature)
    if model is not None:
        _plan_model(plan, spec)
    else:
        plan.levels = read_depths(spec.depths, None)
    plan.axis = resolve_axis(spec, grid, model, sst, measurements)
    _log(progress, f"time axis: {plan.axis.size} steps {str(plan.axis.times[0])[:10]}..{str(plan.axis.times[-1])[:10]} "
                   f"({plan.axis.rule})")
    if sst is not None:
        plan.sst_map = mapper_for(sst.where, grid, smooth=False)
        _check_sst_overlap(plan)
    plan.land = _land(plan)
    if measurements is not None:
        plan.profiles = argo_profiles(spec, measurements, plan.levels, grid, plan.axis, plan.land, progress)
    _warn_coverage(plan, progress)
    plan.provenance = _provenance(spec, plan, measurements, grid_rule)
    return plan


def resolve_grid(spec: IngestSpec, model: ModelField | None, sst: SstSource | None) -> tuple[Grid, str]:
    """The target grid and where it came from (see the module docstring)."""
    if spec.grid is not None:
        grid, rule = parse_grid(spec.grid), "--grid"
    elif spec.grid_from == "ostia" or (model is None and sst is not None):
        grid, rule = _own_grid(sst.where), "the SST file's grid"
    elif model is not None:
        grid, rule = _own_grid(model.where), "the model's grid" + (" (regular, at its spacing)"
                                                                   if model.where.curvilinear else "")
    else:
        raise IngestError("--grid", "no target grid: an Argo-only store needs --grid lat0,lat1,lon0,lon1,res "
                                    "(or --ostia FILE to take its grid)")
    sources = spec.glorys or spec.ostia or ["--grid"]
    for name, axis in (("lat", grid.lat), ("lon", grid.lon)):
        if axis.size > 2 and not np.allclose(np.diff(axis), np.diff(axis)[0], rtol=1e-3, atol=1e-6):
            raise IngestError(sources, f"mismatched grids: {name} spacing is irregular; a regular grid is required "
                                       "(pass --grid to resample onto one)")
    if min(grid.shape) < spec.patch_size:
        raise IngestError(sources, f"grid {grid.shape} is smaller than --patch-size {spec.patch_size}")
    return grid, rule


def _own_grid(where) -> Grid:
    return auto_grid(where.lat, where.lon) if where.curvilinear else native_grid(where)[0]


def _plan_model(plan: IngestPlan, spec: IngestSpec) -> None:
    """Levels and horizontal mapper of the model; y is resampled only when it must be or --regrid."""
    model = plan.model
    if not model.where.curvilinear and not spec.regrid and not native_grid(model.where)[0].matches(plan.grid):
        raise IngestError(model.sources, f"mismatched grids: model grid is {native_grid(model.where)[0].bounds_text()} "
                                         f"but the target grid is {plan.grid.bounds_text()}; pass --regrid to "
                                         "resample the model field")
    plan.model_map = mapper_for(model.where, plan.grid, smooth=True)
    vertical = model.vertical
    if vertical.terrain_following:
        levels = read_depths(spec.depths, None)
        if spec.depths == "glorys":  # the GLORYS12 levels the model reaches (+ the first one below)
            levels = levels[: int(np.searchsorted(levels, vertical.max_depth)) + 1]
        plan.levels, plan.model_levels = levels, levels
        return
    plan.levels = read_depths(spec.depths, vertical.depths, interpolate=spec.regrid)
    near = np.abs(vertical.depths[None, :] - plan.levels[:, None]).min(axis=1)
    if np.all(near <= LEVEL_TOLERANCE_M) or not spec.regrid:
        order = np.argsort(vertical.depths)
        plan.model_pick = np.array([order[np.argmin(np.abs(vertical.depths[order] - d))] for d in plan.levels])
        plan.levels = vertical.depths[plan.model_pick]  # exact model levels: y is not interpolated
    else:
        plan.model_levels = plan.levels


def resolve_axis(spec: IngestSpec, grid: Grid, model: ModelField | None, sst: SstSource | None,
                 measurements: pd.DataFrame | None) -> TimeAxis:
    """See time_axis.py for the rules."""
    rng = parse_time_range(spec.time_range)
    source = spec.time_from or ("glorys" if model else "argo" if measurements is not None else "ostia")
    if model is not None and source != "glorys":
        raise ValueError(f"--time-from {source}: with a model field its dates are the time axis")
    if source == "glorys":
        if spec.step:
            raise ValueError("--time-step: with a model field its dates are the time axis (use --time-range to clip)")
        return record_axis(model.times, model.bounds, spec.time_window_days).clip(rng)
    if source == "ostia" and spec.step is None:
        bounds = np.stack([sst.lower, sst.upper], axis=1) if (sst.upper > sst.lower).any() else None
        return record_axis(sst.times, bounds, spec.time_window_days).clip(rng)
    span = _argo_span(measurements, grid) if source == "argo" else pd.Series(sst.times)
    start, end = span.min().to_datetime64(), span.max().to_datetime64()
    if rng is not None:
        start, end = max(start, rng[0]), min(end, rng[1])
        if end < start:
            raise IngestError(spec.argo or spec.ostia, f"no {source} data inside --time-range {spec.time_range}")
    return regular_axis(start, end, spec.step or "7D", spec.time_window_days).clip(rng)


def _argo_span(measurements: pd.DataFrame, grid: Grid) -> pd.Series:
    """Times of the Argo data inside the grid (else all), so far-away floats do not stretch the axis."""
    iy, ix = grid_cells(measurements["lat"].to_numpy(), wrap_longitude(measurements["lon"].to_numpy(), grid.lon),
                        grid.lat, grid.lon)
    inside = (iy >= 0) & (ix >= 0)
    return measurements["time"][inside] if inside.any() else measurements["time"]


def _check_sst_overlap(plan: IngestPlan) -> None:
    if not plan.sst_map.covered.any():
        raise IngestError(plan.sst.sources, f"mismatched grids: the SST file does not overlap the store grid "
                                            f"{plan.grid.bounds_text()}")
    if not plan.sst.steps_with_data(plan.axis).any():
        raise IngestError(plan.sst.sources, f"the SST covers none of the store's time steps "
                                            f"({str(plan.axis.times[0])[:10]}..{str(plan.axis.times[-1])[:10]}, "
                                            f"{plan.axis.rule})")


def _land(plan: IngestPlan) -> np.ndarray:
    """Model: no valid level at the first step. SST only: inside its footprint and never water in
    the records the axis uses. Neither: no land (nothing says where it is)."""
    if plan.model is not None:
        return ~np.isfinite(plan.first_model_step()).any(axis=0)
    if plan.sst is None:
        return np.zeros(plan.grid.shape, bool)
    used = np.zeros(plan.sst.times.size, bool)
    for t in range(plan.axis.size):
        used |= plan.axis.record_weights(t, plan.sst.lower, plan.sst.upper) > 0
    ever = None
    for i in np.flatnonzero(used):
        valid = np.isfinite(plan.sst.read(i))
        ever = valid if ever is None else ever | valid
    mapped = plan.sst_map(np.where(ever, 1.0, np.nan).astype(np.float32))
    return plan.sst_map.covered & ~np.isfinite(mapped)


def argo_profiles(spec: IngestSpec, measurements: pd.DataFrame, levels: np.ndarray, grid: Grid,
                  axis: TimeAxis, land: np.ndarray, progress: bool) -> pd.DataFrame:
    """Profiles on the levels, placed on the grid and axis; those outside, or on land, are dropped."""
    all_profiles = require_profiles(profiles_on_levels(measurements, levels, spec.temperature, progress),
                                    spec.argo, len(measurements))
    on_levels = drop_duplicate_profiles(all_profiles)
    lon = wrap_longitude(on_levels["lon"].to_numpy(), grid.lon)
    iy, ix = grid_cells(on_levels["lat"].to_numpy(), lon, grid.lat, grid.lon)
    t_index = axis.assign(on_levels["time"].to_numpy())
    inside = (iy >= 0) & (ix >= 0) & (t_index >= 0)
    inside &= ~land[np.maximum(iy, 0), np.maximum(ix, 0)]
    _log(progress, f"Argo: {len(measurements)} good measurements -> {len(all_profiles)} profiles on levels "
                   f"({len(all_profiles) - len(on_levels)} duplicates dropped), {int(inside.sum())} inside "
                   f"the grid (off land) and the time steps")
    if not inside.any():
        raise IngestError(spec.argo, f"no Argo profile falls inside the target grid ({grid.bounds_text()}, "
                                     f"ocean cells) and time steps ({str(axis.times[0])[:10]}.."
                                     f"{str(axis.times[-1])[:10]}, {axis.rule})")
    kept = on_levels.loc[inside].reset_index(drop=True)
    table = make_profiles(platform=kept["platform"].to_numpy(), time=kept["time"].to_numpy(),
                          lat=kept["lat"].to_numpy(), lon=lon[inside], temp=np.stack(kept["temp"].to_numpy()),
                          mask=np.stack(kept["mask"].to_numpy()), time_index=t_index[inside],
                          iy=iy[inside], ix=ix[inside])
    table["source"] = kept["source"].astype(str).to_numpy()
    table["cycle"] = kept["cycle"].to_numpy(np.int64)
    return table


def _warn_coverage(plan: IngestPlan, progress: bool) -> None:
    with_sst = plan.sst.steps_with_data(plan.axis) if plan.sst is not None else None
    with_argo = None
    if plan.profiles is not None and plan.model is None:  # without a model, a step without Argo is empty
        with_argo = np.zeros(plan.axis.size, bool)
        with_argo[plan.profiles["time_index"].to_numpy()] = True
    message = coverage_warning(plan.axis, with_sst, with_argo)
    if message:
        _log(progress, f"warning: {message}")
        warnings.warn(message, IngestCoverageWarning, stacklevel=3)


def _provenance(spec: IngestSpec, plan: IngestPlan, measurements, grid_rule: str) -> dict:
    eo = ("sst files" if plan.sst is not None else "model top level (--eo-from-glorys)" if spec.eo_from_glorys
          else "none (eo_valid_mask 0 everywhere)")
    return {
        "generator": "depthdif data ingest",
        "model_files": [Path(p).name for p in spec.glorys],
        "sst_files": [Path(p).name for p in spec.ostia],
        "argo_files": [Path(p).name for p in spec.argo],
        "eo_source": eo,
        "grid_rule": grid_rule,
        "model_regridding": None if plan.model is None else type(plan.model_map).__name__,
        "model_temperature": None if plan.model is None else plan.model.kind,
        "argo_temperature": spec.temperature,
        "time_axis_rule": plan.axis.rule,
        "argo_measurements": 0 if measurements is None else int(len(measurements)),
        "argo_profiles": 0 if plan.profiles is None else int(len(plan.profiles)),
        "argo_vertical_rule": f"linear inside the measured range; gaps <= max({MAX_GAP_FRACTION}*z, "
                              f"{MIN_MAX_GAP_M} m); no extrapolation",
        "argo_binning_rule": "nearest cell, the step whose interval holds the profile; per-level mean of "
                             "profiles sharing a cell and step",
    }


def _step(progress: bool, what: str, fn):
    _log(progress, what)
    return fn()


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"ingest: {message}", file=sys.stderr, flush=True)
