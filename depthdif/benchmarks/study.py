"""Study benchmarks: sampler hypervolume on a surrogate, and per-trial scheduling overhead.

    python -m depthdif.benchmarks.study [--quick]

1. Hypervolume after N trials for Optuna TPE and NSGA-II vs random search, same budget and seeds,
   median over seeds. The objective is a cheap *analytic surrogate* (no training) on the real
   `search_spaces/ambient_pixel.yaml` space, sampled through the study's own `DefineByRun` and
   `make_sampler` with Optuna directly (the sequential equivalent of OptunaSearch behind Tune,
   without Ray's per-trial cost, so hundreds of trials fit in seconds).
2. Per-trial scheduling overhead of *real tiny trials* through `run_study` on local Ray: trial
   wall time (driver side, start → result) minus the trainer's own `cost/train_seconds`, for
   in-process trials vs TorchTrainer-backed trials with the same 1-worker config. Validation
   time is inside the overhead of both backends; their difference is the TorchTrainer's cost.
Ratios and medians only: absolute seconds on this shared 2-core box are not claims.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from depthdif.benchmarks.report import machine_line, update_section
from depthdif.config import ExperimentConfig
from depthdif.study.pareto import hypervolume
from depthdif.study.search_space import DefineByRun, SearchSpace, base_values, load_search_space
from depthdif.study.searcher import make_sampler
from depthdif.study.spec import SamplerSpec

REPO = Path(__file__).resolve().parents[2]
SPACE_FILE = REPO / "search_spaces" / "ambient_pixel.yaml"
REFERENCE = (1.1, 2.0)
# Hypervolume of the true front f2 = 1 - sqrt(f1) (g = 1) against REFERENCE: 1.1 * 2.0 - 1/3.
TRUE_HYPERVOLUME = REFERENCE[0] * REFERENCE[1] - 1.0 / 3.0


def surrogate(params: dict) -> tuple[float, float]:
    """A ZDT1-shaped trade-off: f1 from δ, distance to the front from lr / min_kept / shared mask.

    f1 plays "cost" (a larger drop probability is cheaper per step), f2 the withheld error;
    the best lr is 3e-4, min kept 4, shared mask on. Both are minimized.
    """
    delta = (params["model.ambient_occlusion.further_drop_prob"] - 0.05) / 0.70
    lr_term = (math.log10(params["training.lr"]) - math.log10(3e-4)) ** 2 / 2.0
    kept = params.get("model.ambient_occlusion.min_kept_observed_pixels", 4)
    kept_term = ((kept - 4) / 12.0) ** 2
    shared_term = 0.0 if params["model.ambient_occlusion.shared_spatial_mask"] else 0.1
    g = 1.0 + 9.0 * (lr_term + kept_term + shared_term) / 3.0
    f1 = delta
    f2 = g * (1.0 - math.sqrt(max(f1, 0.0) / g))
    return f1, f2


def sampler_hypervolume(space: SearchSpace, base: dict, sampler: str, seed: int, n_trials: int) -> float:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=make_sampler(SamplerSpec(name=sampler, seed=seed,
                                                                 population_size=10 if sampler == "nsga2" else None)))
    define = DefineByRun(space, base)
    points = []
    for _ in range(n_trials):
        trial = study.ask()
        define(trial)
        values = surrogate(trial.params)
        study.tell(trial, list(values))
        points.append(values)
    return hypervolume(np.asarray(points), REFERENCE)


def hypervolume_table(n_trials: int, seeds: list[int]) -> str:
    base_cfg = ExperimentConfig()
    space = load_search_space(SPACE_FILE, base_cfg)
    base = base_values(space, base_cfg)
    rows, medians = [], {}
    for sampler in ("random", "tpe", "nsga2"):
        start = time.perf_counter()
        values = [sampler_hypervolume(space, base, sampler, seed, n_trials) for seed in seeds]
        medians[sampler] = statistics.median(values)
        rows.append((sampler, medians[sampler], min(values), max(values), time.perf_counter() - start))
        print(f"hypervolume {sampler}: median {medians[sampler]:.4f} over seeds {seeds}", file=sys.stderr)
    lines = [f"Analytic surrogate (ZDT1-shaped, 2 objectives) on `search_spaces/ambient_pixel.yaml`; "
             f"{n_trials} trials per run, seeds {seeds}, reference point {REFERENCE}. "
             "Optuna samplers driven directly (no Ray), as `make_sampler` builds them for studies.",
             f"The true front's hypervolume is {TRUE_HYPERVOLUME:.4f}.",
             "", "| sampler | median hypervolume | min | max | median / random | median / true front |",
             "|---|---|---|---|---|---|"]
    for sampler, median, lo, hi, _ in rows:
        lines.append(f"| {sampler} | {median:.4f} | {lo:.4f} | {hi:.4f} | {median / medians['random']:.3f} "
                     f"| {median / TRUE_HYPERVOLUME:.3f} |")
    return "\n".join(lines)


def overhead_table(trials: int) -> str:
    """Real tiny trials through run_study: in-process vs TorchTrainer-backed."""
    import ray
    import yaml

    from depthdif.data.synthetic import SynthConfig, make_synthetic_store
    from depthdif.study.runner import run_study
    from depthdif.study.spec import load_study_spec

    tmp = Path(tempfile.mkdtemp(prefix="depthdif-bench-study-"))
    store = tmp / "store.zarr"
    make_synthetic_store(SynthConfig(nlat=48, nlon=48, ntime=4, n_levels=8, patch_size=16, stride=16,
                                     obs_fraction=0.05, seed=0), store, progress=False)
    experiment = yaml.safe_load((REPO / "studies" / "configs" / "quickstart.yaml").read_text())
    experiment["training"].update({"max_epochs": 2, "limit_train_batches": 4, "limit_val_batches": 1})
    (tmp / "base.yaml").write_text(yaml.safe_dump(experiment))
    space = {"training.lr": {"type": "logfloat", "low": 3e-4, "high": 3e-3}}
    (tmp / "space.yaml").write_text(yaml.safe_dump(space))
    ray.init(address="local", num_cpus=2, log_to_driver=False)
    results = {}
    try:
        for backend in ("in_process", "torch_trainer"):
            study = {"name": backend, "kind": "pixel", "base_config": "base.yaml", "search_space": "space.yaml",
                     "objectives": [{"metric": "val/loss"}, {"metric": "cost/train_seconds"}],
                     "trials": trials, "concurrency": 1, "sampler": {"name": "random", "seed": 0},
                     "resources": {"workers": 1, "cpus_per_worker": 1.0, "backend": backend},
                     "storage": str(tmp / "studies"), "data": {"store": str(store)}}
            (tmp / f"{backend}.yaml").write_text(yaml.safe_dump(study))
            df = run_study(load_study_spec(tmp / f"{backend}.yaml"), progress=True).results
            results[backend] = df
    finally:
        ray.shutdown()
    lines = [f"Real tiny pixel trials (2 epochs of 4 batches, 16x16 patches, 8 levels) through `run_study` on "
             f"local Ray, {trials} trials per backend, concurrency 1. Overhead = trial wall time (driver side) "
             "minus the trainer's `cost/train_seconds` (training epochs only; process start, imports, data "
             "setup, validation and Ray scheduling are all in the overhead). In-process trials reuse the trial "
             "process (Tune `reuse_actors`), so only the first one pays the torch/Lightning imports; a "
             "TorchTrainer trial starts a controller and a worker group every time.", "",
             "| backend | median trial wall s | median train s | median overhead s | overhead / in-process |",
             "|---|---|---|---|---|"]
    base_overhead = None
    for backend, df in results.items():
        done = df[df["state"] == "COMPLETE"]
        if done.empty:
            lines.append(f"| {backend} | failed: {df['error'].iloc[0][:80]} | | | |")
            continue
        wall, train = float(done["duration_s"].median()), float(done["train_seconds"].median())
        overhead = float((done["duration_s"] - done["train_seconds"]).median())
        base_overhead = base_overhead or overhead
        lines.append(f"| {backend} | {wall:.1f} | {train:.1f} | {overhead:.1f} | {overhead / base_overhead:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials and seeds (about a minute)")
    parser.add_argument("--no-overhead", action="store_true", help="skip the real-trial overhead part")
    args = parser.parse_args(argv)
    n_trials, seeds = (30, [0, 1, 2]) if args.quick else (60, [0, 1, 2, 3, 4])
    parts = ["## Studies: samplers and per-trial overhead", "", machine_line(), "",
             "### Hypervolume after N trials (median over seeds)", "", hypervolume_table(n_trials, seeds)]
    if not args.no_overhead:
        parts += ["", "### Per-trial scheduling overhead", "", overhead_table(2 if args.quick else 3)]
    parts += ["", f"Command: `python -m depthdif.benchmarks.study{' --quick' if args.quick else ''}`."]
    markdown = "\n".join(parts)
    update_section("study", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
