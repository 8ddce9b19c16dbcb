"""Write a store's arrays one time step at a time, so peak memory does not grow with the steps.

A `StoreSteps` is the store to write: a template (coordinates, the static land mask, attributes)
plus a function that produces one time step's arrays. Ingest and OSSE build each step from their
files only when it is written; `write_store(ds)` wraps an in-memory dataset the same way. While
streaming, each step is validated, its train-window statistics are accumulated (the patch index
is planned before the first step: splits need only land and the number of steps) and its profile
counts fill the index.

Time encoding is chosen for the whole axis before the first append: int64 in the coarsest unit
(days, hours, ..., nanoseconds) that divides every offset from the first step, so monthly, 7-day
or 30.4375-day steps round-trip exactly (xarray would otherwise reuse the first step's choice).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from depthdif.data import schema as S
from depthdif.data.store_codecs import chunk_codecs
from depthdif.data.index import count_profiles, coverage_mask
from depthdif.data.normalization import Normalization, RunningStats
from depthdif.data.store_validation import EXPECTED_DIMS, validate_dataset

TIME_UNITS = (("days", 86400 * 10**9), ("hours", 3600 * 10**9), ("minutes", 60 * 10**9),
              ("seconds", 10**9), ("milliseconds", 10**6), ("microseconds", 10**3), ("nanoseconds", 1))


@dataclass
class StoreSteps:
    """A store to stream: `template` holds coords (full time axis), land_mask and variable attrs;
    `step(t)` returns that step's arrays {name: (D|E, H, W)} for x, x_valid_mask, eo,
    eo_valid_mask and, with a target, y, y_valid_mask."""

    template: xr.Dataset
    step: Callable[[int], dict[str, np.ndarray]]
    attrs: dict[str, dict]
    # The profile table when it is only known once every step was made (OSSE sampling), else None.
    profiles: Callable[[], pd.DataFrame] | None = None

    @property
    def ntime(self) -> int:
        return int(self.template.sizes["time"])

    @property
    def land(self) -> np.ndarray:
        return np.asarray(self.template[S.LAND].values, dtype=bool)


def steps_from_dataset(ds: xr.Dataset) -> StoreSteps:
    """An (already validated) dataset as steps: each step read with isel, lazily if ds is lazy."""
    timed = [n for n in ds.data_vars if "time" in ds[n].dims]
    template = xr.Dataset({S.LAND: ds[S.LAND]}, coords=ds.coords)
    return StoreSteps(template=template,
                      step=lambda t: {n: np.asarray(ds[n].isel(time=t).values) for n in timed},
                      attrs={n: dict(ds[n].attrs) for n in timed})


def time_encoding(times: np.ndarray) -> dict:
    """int64 offsets from the first step in the coarsest unit that represents all of them exactly."""
    t = np.asarray(times, "datetime64[ns]")
    offsets = (t - t[0]).astype(np.int64)
    unit = next(name for name, ns in TIME_UNITS if np.all(offsets % ns == 0))
    reference = np.datetime_as_string(t[0], unit="ns").rstrip("0").rstrip(".")
    return {"units": f"{unit} since {reference.replace('T', ' ')}", "dtype": "int64",
            "calendar": "proleptic_gregorian"}


class StepStatistics:
    """Normalization statistics over train-window pixels, fed one step at a time."""

    def __init__(self, n_levels: int, n_channels: int):
        self.depth, self.eo = RunningStats(n_levels), RunningStats(n_channels)
        self.any_target = self.any_observation = False

    def add(self, arrays: dict[str, np.ndarray], cover: np.ndarray) -> None:
        has_target = S.Y in arrays
        value, mask = (S.Y, S.Y_MASK) if has_target else (S.X, S.X_MASK)
        self.depth.add(arrays[value], arrays[mask] & cover)
        self.eo.add(arrays[S.EO], arrays[S.EO_MASK] & cover)
        self.any_target |= bool(has_target and arrays[S.Y_MASK].any())
        self.any_observation |= bool(arrays[S.X_MASK].any())

    def normalization(self, channels: list[str]) -> Normalization:
        depth_mean, depth_std = self.depth.mean_std()
        if self.eo.count.any():
            eo_mean, eo_std = self.eo.mean_std()
        else:  # no EO at all (Argo-only store without SST): eo is 0 and eo_valid_mask 0 everywhere
            eo_mean, eo_std = np.zeros(len(channels)), np.ones(len(channels))
        return Normalization(depth_mean, depth_std, eo_mean, eo_std, channels, self.depth.count)


@contextmanager
def quiet_zarr():
    """Zarr v3 warns that consolidated metadata is not in the v3 spec yet; xarray relies on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="zarr")
        yield


def _step_dataset(steps: StoreSteps, t: int, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    template = steps.template.isel(time=slice(t, t + 1))
    data = {name: (EXPECTED_DIMS[name], values[None], steps.attrs.get(name, {}))
            for name, values in arrays.items()}
    return xr.Dataset(data, coords=template.coords).assign({S.LAND: steps.template[S.LAND]})


def _encoding(ds: xr.Dataset, chunk: int) -> dict:
    encoding = {}
    for name, var in ds.data_vars.items():
        encoding[name] = {"chunks": tuple(1 if d == "time" else min(chunk, ds.sizes[d]) if d in ("lat", "lon")
                                          else ds.sizes[d] for d in var.dims), **chunk_codecs()}
    return encoding


def stream_steps(steps: StoreSteps, path: Path, index: pd.DataFrame, chunk: int, global_attrs: dict,
                 progress: bool) -> Normalization:
    """Write every step (validated) to a new Zarr store at `path`; fill index n_profiles in place;
    return the train statistics. Raises ValueError when the whole store has no target/observation."""
    from tqdm.auto import tqdm

    shape = steps.land.shape
    rows_at = index.groupby("time_index").indices
    stats = StepStatistics(steps.template.sizes["depth"], steps.template.sizes["eo_channel"])
    bar = tqdm(range(steps.ntime), desc=f"writing {path.name.split('.tmp-')[0].lstrip('.')}",
               unit="time step", disable=not progress)
    with quiet_zarr(), zarr.config.set({"array.write_empty_chunks": True}):
        for t in bar:
            ds = validate_dataset(_step_dataset(steps, t, steps.step(t)), whole=False)
            arrays = {n: ds[n].values[0] for n in ds.data_vars if n != S.LAND}
            stats.add(arrays, coverage_mask(index, t, shape, "train"))
            count_profiles(index, rows_at.get(t, np.zeros(0, np.int64)), arrays[S.X_MASK].any(axis=0))
            ds.attrs.update(global_attrs)  # every append rewrites the group attributes
            if t == 0:
                encoding = _encoding(ds, chunk)
                encoding["time"] = time_encoding(steps.template["time"].values)  # the whole axis
                ds.to_zarr(path, mode="w", zarr_format=3, encoding=encoding, consolidated=False,
                           write_empty_chunks=True)
            else:
                ds.drop_vars(S.LAND).to_zarr(path, append_dim="time", zarr_format=3, consolidated=False,
                                             write_empty_chunks=True)
        zarr.consolidate_metadata(str(path))
    _check_totals(stats, S.Y in steps.attrs)
    return stats.normalization([str(c) for c in steps.template["eo_channel"].values])


def _check_totals(stats: StepStatistics, has_target: bool) -> None:
    if has_target and not stats.any_target:
        raise ValueError(f"{S.Y}: no valid target values (all NaN or y_valid_mask all false); "
                         "drop y and y_valid_mask for an Argo-only store")
    if not has_target and not stats.any_observation:
        raise ValueError(f"{S.X_MASK}: an Argo-only store (no {S.Y}) needs observations, but no profile "
                         "was binned onto the grid (empty Argo table, or every profile outside the grid/time)")
