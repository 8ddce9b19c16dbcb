"""A resolved ingest: grid, levels, time axis, land and placed profiles, producing one step at a time.

`build.plan_ingest` decides everything that needs the whole record (grid, axis, land, where each
Argo profile lands) from metadata and the profile table, which is small. The gridded fields are
read only in `step(t)`: the model record of step t (vertical then horizontal mapping), the SST
records overlapping step t, and the profiles binned at step t. Peak memory is then a few steps,
whatever the length of the record (see depthdif/benchmarks/ingest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .. import schema as S
from ..profiles import bin_profiles
from ..store_writer import StoreSteps
from .grid import Grid
from .model_field import ModelField, check_not_all_nan
from .sst import SstSource
from .time_axis import TimeAxis


@dataclass
class IngestPlan:
    grid: Grid
    levels: np.ndarray
    axis: TimeAxis
    land: np.ndarray
    model: ModelField | None = None
    model_map: object | None = None
    model_levels: np.ndarray | None = None   # None: the model's own levels are the store's (exact pick)
    model_pick: np.ndarray | None = None
    sst: SstSource | None = None
    sst_map: object | None = None
    eo_from_model: bool = False
    profiles: pd.DataFrame | None = None
    temperature: str = "potential"
    provenance: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    def model_step(self, t: int) -> np.ndarray:
        """Model record of step t on the store grid and levels, (D, H, W) °C (cached for step 0)."""
        if t in self._cache:
            return self._cache.pop(t)
        record = int(np.searchsorted(self.model.times, self.axis.times[t]))
        native = self.model.read(record, self.model_levels)
        if self.model_pick is not None:
            native = native[self.model_pick]
        values = self.model_map(native)
        check_not_all_nan(values, ", ".join(self.model.sources), self.axis.times[t])
        return values

    def first_model_step(self) -> np.ndarray:
        """Step 0, kept for the writer's first call (land is decided from it)."""
        self._cache[0] = self.model_step(0)
        return self._cache[0]

    def eo_step(self, t: int, y: np.ndarray | None) -> np.ndarray:
        if self.sst is not None:
            mean = self.sst.mean_for_step(self.axis, t)
            return np.full(self.grid.shape, np.nan, np.float32) if mean is None else self.sst_map(mean)
        if self.eo_from_model:
            return y[0]
        return np.full(self.grid.shape, np.nan, np.float32)

    def step(self, t: int) -> dict[str, np.ndarray]:
        y = self.model_step(t) if self.model is not None else None
        eo = np.where(self.land, np.nan, self.eo_step(t, y)).astype(np.float32)
        x, x_valid = self._observations(t)
        arrays = {S.X: x, S.X_MASK: x_valid, S.EO: eo[None], S.EO_MASK: np.isfinite(eo)[None]}
        if y is not None:
            y = np.where(self.land[None], np.nan, y).astype(np.float32)
            arrays[S.Y], arrays[S.Y_MASK] = y, np.isfinite(y)
        return arrays

    def _observations(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (1, self.levels.size, *self.grid.shape)
        if self.profiles is None:
            return np.full(shape[1:], np.nan, np.float32), np.zeros(shape[1:], bool)
        rows = self._rows_at().get(t)
        if rows is None:
            return np.full(shape[1:], np.nan, np.float32), np.zeros(shape[1:], bool)
        at_t = self.profiles.iloc[rows].assign(time_index=0)
        x, valid = bin_profiles(at_t, shape)
        return x[0], valid[0]

    def _rows_at(self) -> dict[int, np.ndarray]:
        if "rows" not in self._cache:
            self._cache["rows"] = self.profiles.groupby("time_index").indices
        return self._cache["rows"]

    def store_steps(self) -> StoreSteps:
        coords = {"time": self.axis.times,
                  "depth": ("depth", self.levels, {"units": "m", "positive": "down"}),
                  "lat": ("lat", self.grid.lat, {"units": "degrees_north", "standard_name": "latitude"}),
                  "lon": ("lon", self.grid.lon, {"units": "degrees_east", "standard_name": "longitude"}),
                  "eo_channel": ["sst"]}
        template = xr.Dataset({S.LAND: (S.DIMS_2D, self.land, {"long_name": "1 on land (no ocean target)"})},
                              coords=coords)
        attrs = {
            S.X: {"units": "degC", "temperature_kind": self.temperature,
                  "long_name": f"Argo {self.temperature} temperature binned on the grid"},
            S.X_MASK: {"long_name": "1 where an Argo profile measured this cell and level"},
            S.EO: {"channel_units": "degC", "long_name": "sea surface temperature"},
            S.EO_MASK: {"long_name": "1 where the EO value is valid (0 everywhere: a store without EO)"},
        }
        if self.model is not None:
            attrs[S.Y] = {"units": "degC", "temperature_kind": self.model.kind,
                          "long_name": f"model sea water {self.model.kind} temperature"}
            attrs[S.Y_MASK] = {"long_name": "1 where the target is valid (ocean, above the floor)"}
        return StoreSteps(template=template, step=self.step, attrs=attrs)

    def close(self) -> None:
        for source in (self.model, self.sst):
            if source is not None:
                source.close()


def dataset_from_steps(steps: StoreSteps) -> xr.Dataset:
    """All steps stacked into one in-memory dataset (small inputs, tests)."""
    from ..store_validation import EXPECTED_DIMS

    per_step = [steps.step(t) for t in range(steps.ntime)]
    data = {name: (EXPECTED_DIMS[name], np.stack([a[name] for a in per_step]), steps.attrs.get(name, {}))
            for name in per_step[0]}
    return steps.template.assign(data)
