"""Benchmark: what column withholding leaks, and what whole-float withholding costs the baselines.

    python -m depthdif.benchmarks.withholding           # ~3-6 min on 2 cores
    python -m depthdif.benchmarks.withholding --quick   # ~1 min

Two synthetic stores with the same ocean generator:
- "weekly": one store step per float cycle (the default synthetic store: one profile per float
  per step, so a float never has two profiles in one window and step);
- "monthly": three 10-day float cycles per store step (monthly-mean fields, profiles binned to the
  month), as in a real Argo store with a 30-day step: a float has up to three profiles per step.
For each, on the val + test windows with 20 % withheld (seed 1234): how many withheld columns
still have a profile of the same float in the input window at the same step (column mode vs
float mode), and the baselines' withheld-profile RMSE under each mode.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from depthdif.baselines.registry import BASELINES, build_baseline
from depthdif.benchmarks.baselines import scored_batches
from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.schema import BaselinesConfig
from depthdif.data.dataset import PatchDataset
from depthdif.data.index import SplitSpec
from depthdif.data.profiles import bin_profiles
from depthdif.data.store import write_store
from depthdif.data.synthetic import SynthConfig, make_synthetic_store, synthesize
from depthdif.evaluation.compare import compare_methods
from depthdif.evaluation.withheld import WITHHELD_MODES, withhold_profiles

SECTION = "withholding"
FRACTION, SEED = 0.2, 1234
MONTH_FACTOR = 3  # float cycles per store step in the "monthly" store


def store_config(quick: bool) -> SynthConfig:
    if quick:
        return SynthConfig(nlat=64, nlon=64, ntime=4, n_levels=16, patch_size=16, stride=16, obs_fraction=0.03,
                           seed=0)
    return SynthConfig(nlat=96, nlon=96, ntime=8, n_levels=24, patch_size=32, stride=32, obs_fraction=0.02,
                       seed=0)


def monthly_store(cfg: SynthConfig, out: Path, factor: int = MONTH_FACTOR) -> Path:
    """A store whose steps average `factor` float cycles: fields are step means, profiles binned to the step."""
    fine = dataclasses.replace(cfg, ntime=cfg.ntime * factor, time_step_days=10)
    ds, profiles = synthesize(fine, progress=False)
    steps = np.arange(fine.ntime) // factor
    y = ds["y"].values.reshape(cfg.ntime, factor, *ds["y"].shape[1:]).mean(axis=1)
    eo = ds["eo"].values.reshape(cfg.ntime, factor, *ds["eo"].shape[1:]).mean(axis=1)
    profiles = profiles.assign(time_index=steps[profiles["time_index"].to_numpy()])
    x, x_valid = bin_profiles(profiles, y.shape)
    middle = ds["time"].values[factor // 2::factor]
    month = ds.isel(time=slice(factor // 2, None, factor)).assign_coords(time=middle)
    month = month.assign({name: (month[name].dims, value, month[name].attrs) for name, value in
                          (("y", y.astype(np.float32)), ("eo", eo.astype(np.float32)), ("x", x),
                           ("x_valid_mask", x_valid))})
    split = SplitSpec(val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, time_block=cfg.time_block,
                      seed=cfg.seed)
    return write_store(month, out, profiles=profiles, patch_size=cfg.patch_size, stride=cfg.stride,
                       max_land_fraction=cfg.max_land_fraction, split=split, chunks={"lat": cfg.chunk},
                       provenance={"generator": "depthdif.benchmarks.withholding (monthly)"}, progress=False)


def same_float_leaks(batch: dict, held_in: dict, withheld: torch.Tensor) -> tuple[int, int]:
    """(withheld columns, those with a float that still has a profile in the input window)."""
    ids = batch["float_ids"]
    withheld_cols, kept_cols = withheld.gt(0).any(dim=1), held_in["x_valid_mask"].gt(0).any(dim=1)
    total = leaked = 0
    for i in range(ids.shape[0]):
        kept_ids = set(ids[i][:, kept_cols[i]].flatten().tolist()) - {-1}
        for cy, cx in torch.nonzero(withheld_cols[i]).tolist():
            total += 1
            leaked += bool((set(ids[i, :, cy, cx].tolist()) - {-1}) & kept_ids)
    return total, leaked


def leak_counts(store: Path) -> dict[str, tuple[int, int]]:
    counts = {mode: [0, 0] for mode in WITHHELD_MODES}
    for batch in scored_batches(store):
        for mode in WITHHELD_MODES:
            held_in, withheld = withhold_profiles(batch, FRACTION, SEED, mode)
            total, leaked = same_float_leaks(batch, held_in, withheld)
            counts[mode][0] += total
            counts[mode][1] += leaked
    return {mode: (total, leaked) for mode, (total, leaked) in counts.items()}


def baseline_rmse(store: Path) -> pd.DataFrame:
    """method × mode: withheld-profile RMSE (°C, levels ≤ 2000 m)."""
    train = PatchDataset(store, "train")
    methods = [build_baseline(name, BaselinesConfig()).fit(train) for name in BASELINES]
    columns = {}
    for mode in WITHHELD_MODES:
        result = compare_methods(methods, scored_batches(store), depth=train.depth,
                                 depth_mean=train.normalization.depth_mean, depth_std=train.normalization.depth_std,
                                 withheld_fraction=FRACTION, withheld_seed=SEED, withheld_mode=mode, progress=False)
        columns[mode] = result.overall()["rmse_withheld"]
    return pd.DataFrame(columns)


def run(quick: bool) -> str:
    cfg = store_config(quick)
    rows = []
    with tempfile.TemporaryDirectory(prefix="depthdif-withholding-") as tmp:
        stores = {"weekly (1 profile / float / step)": make_synthetic_store(cfg, Path(tmp) / "w.zarr", progress=False),
                  f"monthly ({MONTH_FACTOR} cycles / step)": monthly_store(cfg, Path(tmp) / "m.zarr")}
        for name, store in stores.items():
            print(f"scoring {name}", file=sys.stderr)
            leaks, rmse = leak_counts(store), baseline_rmse(store)
            rows.append((name, leaks, rmse))
    return render(cfg, rows, quick)


def render(cfg: SynthConfig, rows, quick: bool) -> str:
    lines = [
        "## Withholding: whole floats vs grid columns",
        "",
        f"`python -m depthdif.benchmarks.withholding{' --quick' if quick else ''}` - {machine_line()}",
        "",
        f"Synthetic stores {cfg.nlat}x{cfg.nlon}, {cfg.ntime} steps, {cfg.n_levels} levels, {cfg.patch_size}² "
        f"windows, obs_fraction {cfg.obs_fraction}, seed {cfg.seed}; val + test windows, fraction "
        f"{FRACTION:.0%}, seed {SEED}. 'column' withholds {FRACTION:.0%} of each window's columns; 'float' "
        f"withholds each float with probability {FRACTION:.0%}, all its profiles. 'leak' = withheld columns "
        "whose float still has another profile in the input window at the same step.",
        "",
        "| store | column: withheld | column: leak | float: withheld | float: leak |",
        "|---|---|---|---|---|",
    ]
    for name, leaks, _ in rows:
        (ct, cl), (ft, fl) = leaks["column"], leaks["float"]
        lines.append(f"| {name} | {ct} | {cl} ({cl / max(ct, 1):.0%}) | {ft} | {fl} ({fl / max(ft, 1):.0%}) |")
    lines += ["", "Baselines' withheld-profile RMSE (°C, ≤ 2000 m) under each mode:", "",
              "| store | method | column | float | float / column |", "|---|---|---|---|---|"]
    for name, _, rmse in rows:
        for method, row in rmse.iterrows():
            lines.append(f"| {name} | {method} | {row['column']:.3f} | {row['float']:.3f} | "
                         f"{row['float'] / row['column']:.2f} |")
    lines += ["", "Reading: where a float profiles more than once per store step, column withholding leaves its "
              "other profiles in the input and flatters every method that uses them; whole-float withholding "
              "removes them. The two modes score different profiles: climatology, which uses none, shows how much "
              "of a change is only that sampling difference."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__, "smaller stores (~1 min)").parse_args(argv)
    publish(SECTION, run(args.quick), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
