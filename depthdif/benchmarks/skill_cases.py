"""The stores the skill benchmark scores on (`python -m depthdif.benchmarks.skill --case NAME`).

Every case splits by space only (one time block spanning the record), so its test area is never
trained on at any time, and every case is scored on whole withheld floats (evaluation/withheld.py):

- `synthetic`: the embedded synthetic ocean in a 30°x30° South Atlantic box, SST as EO, dense truth known;
- `argo`: the real Argo profiles in ../shared/data/argo (ERDDAP files, 57-39°S, 0-48°E,
  2005-2007) gridded at 1° and 30 days, with NO EO and no dense truth: only the ambient objective
  trains, and only withheld floats score (the "Argo alone" use);
- `osse`: an observing-system simulation on a real ocean-model field (../shared/data/model_fields,
  MET Norway ROMS Nordic-4km, s-levels regridded to z-levels): Argo-like floats flown over it,
  the model's top level as EO, the dense field as truth.

The real files are tiny samples (a few hundred profiles, a 33x34 model grid over 3 days), so
these two cases check that the whole path runs on real formats and give a first figure, not a
verdict; the synthetic case carries the statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from depthdif.data.index import SplitSpec
from depthdif.data.schema import GLORYS_DEPTHS_M
from depthdif.data.synthetic import SynthConfig, make_synthetic_store

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PURE_SPACE = 100_000  # a time block longer than any record: split by space only


@dataclass
class Case:
    """A store to score on (test split: a disjoint area), the words that describe it, and what it allows."""

    name: str
    store: Path
    description: str
    has_target: bool = True  # a dense truth y: standard and latent training, full-field scores
    budget_scale: float = 1.0  # share of the default training budget (small stores need less)
    withheld_fraction: float = 0.2  # each float withheld with this probability (whole floats)
    withheld_mode: str = "float"  # "column" only where whole floats cannot be withheld (see argo_case)


def synthetic_case(folder: Path, quick: bool) -> Case:
    """The embedded synthetic ocean in a South Atlantic box, split by space only."""
    if quick:
        cfg = SynthConfig(nlat=64, nlon=64, ntime=6, n_levels=12, patch_size=16, stride=8, obs_fraction=0.04)
        cfg.lat_range, cfg.lon_range = (-42.0, -27.0), (-35.0, -20.0)
    else:  # 256² at 0.117°: a training area large enough to measure the method, not its size (README)
        cfg = SynthConfig(nlat=256, nlon=256, ntime=16, n_levels=24, patch_size=32, stride=16, obs_fraction=0.02)
        cfg.lat_range, cfg.lon_range = (-45.0, -15.0), (-35.0, -5.0)
    cfg.time_block, cfg.max_land_fraction = cfg.ntime, 0.1
    store = folder / "synthetic.zarr"
    make_synthetic_store(cfg, store, progress=False)
    (south, north), (west, east) = cfg.lat_range, cfg.lon_range
    text = (f"synthetic ocean, {-south:g}-{-north:g}°S {-west:g}-{-east:g}°W, {cfg.nlat}x{cfg.nlon} grid, "
            f"{cfg.ntime} weekly steps, {cfg.n_levels} levels, {cfg.patch_size}² windows (stride {cfg.stride}), "
            f"obs_fraction {cfg.obs_fraction}, SST as EO, windows over 10 % land left out; split by space only, "
            "so the test area is never trained on")
    return Case("synthetic", store, text)


def _shared(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.exists():
        raise FileNotFoundError(f"{path}: the real sample data are not there (../shared/data beside the repo)")
    return path


def argo_case(folder: Path, quick: bool) -> Case:
    """Real Argo alone: no EO, no dense truth; GLORYS levels to 2000 m (Argo's reach)."""
    from depthdif.data.ingest import IngestSpec, ingest

    files = sorted(str(p) for p in _shared("argo").glob("*.nc"))
    levels = ",".join(f"{d:g}" for d in GLORYS_DEPTHS_M[GLORYS_DEPTHS_M <= 2000.0][:: 3 if quick else 1])
    spec = IngestSpec(argo=files, grid="-58,-38,0,48,1", depths=levels, patch_size=8, stride=4, time_step="30D")
    store = ingest(spec, folder / "argo.zarr", progress=False,
                   split=SplitSpec(block_size=8, time_block=PURE_SPACE, seed=1))
    text = (f"real Argo ({len(files)} ERDDAP files in ../shared/data/argo, 57-39°S 0-48°E, 2005-2007) alone, no "
            f"EO and no dense truth: 1° grid, 30-day steps, {levels.count(',') + 1} GLORYS levels to 2000 m, 8² "
            "windows (stride 4), 8° spatial blocks; only the ambient objective can train (loss support S = A)")
    # The sample holds two floats, in different areas: withholding the test area's float leaves its
    # windows empty, so whole-float scoring is impossible here and profiles (columns) are withheld
    # instead, which is optimistic (the float's other profiles of the same step stay in the input).
    text += ("; the sample holds only two floats, so whole-float withholding leaves the test area empty: "
             "PROFILES are withheld here (optimistic for every method alike: a float's other profiles of the "
             "same 30-day step stay in the input)")
    return Case("argo", store, text, has_target=False, budget_scale=0.5, withheld_mode="column")


def osse_case(folder: Path, quick: bool) -> Case:
    """Floats flown over a real ROMS field (curvilinear, s-levels): the dense truth is known."""
    from depthdif.data.osse import CycleSpec, OsseSpec, run_osse

    truth = _shared("model_fields") / "Nordic_subset.nc"
    spec = OsseSpec(truth=[str(truth)], patch_size=8, stride=4, seed=0,
                    floats=CycleSpec(obs_fraction=0.06, cycle_days=1.0))
    store = run_osse(spec, folder / "osse.zarr", split=SplitSpec(block_size=8, time_block=PURE_SPACE, seed=0),
                     progress=False)
    text = ("OSSE on a real ocean-model field (MET Norway ROMS Nordic-4km, ../shared/data/model_fields/"
            "Nordic_subset.nc: 35 s-levels to z-levels, curvilinear grid regridded to 0.04°x0.1°, 3 daily "
            "steps, bottom 10-319 m), Argo-like floats (0.06 profiles per cell per step, daily cycles), the "
            "model's top level as EO; 8² windows (stride 4), 8-pixel spatial blocks")
    return Case("osse", store, text, budget_scale=0.5)


CASES: dict[str, Callable[[Path, bool], Case]] = {"synthetic": synthetic_case, "argo": argo_case,
                                                  "osse": osse_case}
