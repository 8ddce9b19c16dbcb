"""Observing-system simulation: Argo-like floats sampled from a dense model field, as a store.

Before trusting a configuration on real Argo, run it where the answer is known: take a model
field as truth (`y`, kept dense), fly floats over it (drifting tracks that avoid land, one profile
per float every `cycle_days` with staggered phases, reach mostly ~2000 m and never below the sea
floor, a few metres' top gap, sensor noise), bin their profiles into `x`, and give the model's top
level (optionally noisy), a real SST file, or no EO at all as the condition. The profile table
records `platform` and `cycle`, so evaluation can withhold whole floats. The truth file goes through
the same reader as ingest (any grid: ROMS/NEMO curvilinear fields are regridded, s-levels
converted), and the store is written one time step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from depthdif.data import schema as S
from depthdif.data.floats import CycleSpec, plan_cycles, sample_columns
from depthdif.data.index import SplitSpec
from depthdif.data.ingest import IngestSpec, plan_ingest
from depthdif.data.ingest.build import OPEN_FILES
from depthdif.data.ingest.conventions import IngestError
from depthdif.data.ingest.plan import IngestPlan
from depthdif.data.profiles import bin_profiles, make_profiles
from depthdif.data.store import write_store
from depthdif.data.store_writer import StoreSteps


@dataclass
class OsseSpec:
    """The truth, its target grid/levels/time, the floats and the EO condition."""

    truth: list[str] = field(default_factory=list)
    truth_var: str | None = None
    grid: str | None = None
    regrid: bool = False
    depths: str = "glorys"
    time_range: str | None = None
    sst: list[str] = field(default_factory=list)   # a real SST as EO (default: the truth's top level)
    no_eo: bool = False
    eo_noise_c: float = 0.0
    floats: CycleSpec = field(default_factory=CycleSpec)
    seed: int = 0
    patch_size: int = 16
    stride: int | None = None
    max_land_fraction: float = 0.5

    def ingest_spec(self) -> IngestSpec:
        if not self.truth:
            raise ValueError("osse: give --truth FILE (a dense model temperature field)")
        if self.no_eo and self.sst:
            raise ValueError("osse: --no-eo and --sst are exclusive")
        return IngestSpec(glorys=list(self.truth), model_var=self.truth_var, ostia=list(self.sst), grid=self.grid,
                          regrid=self.regrid, depths=self.depths, time_range=self.time_range,
                          patch_size=self.patch_size, stride=self.stride, max_land_fraction=self.max_land_fraction,
                          eo_from_glorys=not (self.no_eo or self.sst))


class OsseSteps:
    """Wraps an ingest plan of the truth: each step adds the floats surfacing in it."""

    def __init__(self, plan: IngestPlan, spec: OsseSpec):
        self.plan, self.spec = plan, spec
        planned = plan_cycles(~plan.land, plan.axis.times, plan.grid.lat, plan.grid.lon, spec.floats, spec.seed)
        planned["time_index"] = plan.axis.assign(planned["time"].to_numpy())
        self.planned = planned.loc[planned["time_index"] >= 0].reset_index(drop=True)
        self.rows_at = self.planned.groupby("time_index").indices
        self.sampled: list[pd.DataFrame] = []

    def step(self, t: int) -> dict[str, np.ndarray]:
        arrays = self.plan.step(t)
        rng = np.random.default_rng([self.spec.seed, 13, t])
        if self.spec.eo_noise_c > 0 and not self.spec.sst:
            arrays[S.EO] = arrays[S.EO] + rng.normal(0, self.spec.eo_noise_c, arrays[S.EO].shape).astype(np.float32)
        planned = self.planned.iloc[self.rows_at.get(t, np.zeros(0, np.int64))]
        noise = self.spec.floats.floats.sensor_noise_c
        temp, mask = sample_columns(arrays[S.Y], self.plan.levels, planned, noise, rng)
        keep = mask.any(axis=1)
        table = make_profiles(platform=planned["platform"].to_numpy()[keep], time=planned["time"].to_numpy()[keep],
                              lat=planned["lat"].to_numpy()[keep], lon=planned["lon"].to_numpy()[keep],
                              temp=temp[keep], mask=mask[keep], time_index=np.full(keep.sum(), t),
                              iy=np.rint(planned["row"].to_numpy()[keep]), ix=np.rint(planned["col"].to_numpy()[keep]),
                              source=f"osse(seed={self.spec.seed})")
        table["cycle"] = planned["cycle"].to_numpy()[keep]
        self.sampled.append(table)
        x, valid = bin_profiles(table.assign(time_index=0), (1, self.plan.levels.size, *self.plan.grid.shape))
        arrays[S.X], arrays[S.X_MASK] = x[0], valid[0]
        return arrays

    def profiles(self) -> pd.DataFrame:
        table = pd.concat(self.sampled, ignore_index=True)
        table["profile_id"] = np.arange(len(table), dtype=np.int64)
        return table

    def store_steps(self) -> StoreSteps:
        base = self.plan.store_steps()
        base.attrs[S.X]["long_name"] = "simulated Argo profiles (OSSE) binned on the grid"
        return StoreSteps(template=base.template, step=self.step, attrs=base.attrs, profiles=self.profiles)


def run_osse(spec: OsseSpec, out: str | Path, *, split: SplitSpec | None = None, overwrite: bool = False,
             progress: bool = True) -> Path:
    """Write the OSSE store (streamed); returns its path."""
    with xr.set_options(file_cache_maxsize=OPEN_FILES):  # see ingest(): memory independent of the record
        return _run(spec, out, split, overwrite, progress)


def _run(spec: OsseSpec, out, split, overwrite: bool, progress: bool) -> Path:
    plan = plan_ingest(spec.ingest_spec(), progress=progress)
    try:
        steps = OsseSteps(plan, spec)
        if steps.planned.empty:
            raise IngestError(spec.truth, "osse: no float surfaces inside the time steps (raise --obs-fraction "
                                          "or lengthen the record)")
        provenance = {**plan.provenance, "generator": "depthdif data osse", "truth_files": plan.provenance["model_files"],
                      "osse_floats": int(steps.planned["platform"].nunique()),
                      "osse_cycle_days": spec.floats.cycle_days, "osse_obs_fraction": spec.floats.obs_fraction,
                      "osse_seed": spec.seed, "eo_source": "none" if spec.no_eo else
                      "sst files" if spec.sst else f"truth top level + N(0, {spec.eo_noise_c}) noise"}
        return write_store(steps.store_steps(), out, patch_size=spec.patch_size, stride=spec.stride,
                           max_land_fraction=spec.max_land_fraction, split=split, provenance=provenance, config=spec,
                           overwrite=overwrite, progress=progress)
    finally:
        plan.close()
