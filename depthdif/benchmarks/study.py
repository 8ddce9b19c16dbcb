"""Study benchmarks: what early stopping buys on real trials, and per-trial scheduling overhead.

    python -m depthdif.benchmarks.study [--quick] [--no-overhead]

1. Hypervolume per CPU-second with and without early stopping, on real tiny pixel trials through
   `run_study` on local Ray: the same study (TPE, seeded; the same trial budget) run once without
   `early_stopping` and once with ASHA (`multi_objective: prune`: stopped trials are PRUNED and
   never on the front), per seed, in the order A B B A ... so slow drifts of the shared box's load
   hit both alike. Objectives: `val/rmse_withheld` (the trainer's best so far) and
   `model/unet_base_channels` (model size: deterministic, so the front is not box noise).
   CPU-seconds: the CPU time (user + system, polled from /proc) of every process Ray runs for the
   study: trial processes alone, and the whole tree (Ray daemons and the driver included); wall
   time is shown too.
   Hypervolumes of one seed share one reference point (worst eligible value of both runs + 10 %).
2. Per-trial scheduling overhead of real tiny trials: in-process vs TorchTrainer-backed trials.
Ratios and medians only: absolute seconds on this shared 2-core box are not claims.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from depthdif.benchmarks.report import machine_line, update_section
from depthdif.study.pareto import compute_pareto, default_reference, eligible_mask
from depthdif.study.results import objective_key

REPO = Path(__file__).resolve().parents[2]
OBJECTIVES = [{"metric": "val/rmse_withheld", "direction": "minimize"},
              {"metric": "model/unet_base_channels", "direction": "minimize"}]
SPACE = {
    "training.lr": {"type": "logfloat", "low": 3.0e-4, "high": 1.0e-2},
    "model.ambient_occlusion.further_drop_prob": {"type": "float", "low": 0.05, "high": 0.6},
    "model.unet.base_channels": {"type": "categorical", "choices": [4, 8, 16]},
}
ASHA = {"scheduler": "asha", "grace": 1, "reduction_factor": 2, "multi_objective": "prune"}


def process_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, name, CPU seconds user + system) of every process, from /proc."""
    tick, table = os.sysconf("SC_CLK_TCK"), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()
        table[int(stat.parent.name)] = (int(fields[1]), text[text.index("(") + 1:text.rindex(")")],
                                        (int(fields[11]) + int(fields[12])) / tick)
    return table


class CpuMonitor(threading.Thread):
    """CPU seconds used by this process's descendants while running, polled every `period` s.

    Ray's workers and daemons come and go (a process that ends takes its counters with it), so
    a before/after snapshot cannot see them: the monitor keeps each process's first and last
    reading, and a process that ends loses at most one period of CPU. `trials` counts Ray
    worker processes (names `ray::...`, where trials run), `tree` every descendant (daemons too)."""

    def __init__(self, period: float = 0.5):
        super().__init__(daemon=True)
        self.period, self.root = period, os.getpid()
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self._stop_event = threading.Event()
        self._poll(initial=True)

    def _poll(self, initial: bool = False) -> None:
        table = process_table()
        tree, frontier = set(), [self.root]
        while frontier:
            frontier = [pid for pid, (ppid, _, _) in table.items() if ppid in frontier and pid not in tree]
            tree.update(frontier)
        for pid in tree:
            _, name, cpu = table[pid]
            self.first.setdefault(pid, cpu if initial else 0.0)
            self.last[pid] = (name, cpu)

    def run(self) -> None:
        while not self._stop_event.wait(self.period):
            self._poll()

    def stop(self) -> tuple[float, float]:
        """(trial-process CPU seconds, whole-tree CPU seconds) since the monitor was made."""
        self._stop_event.set()
        self.join()
        self._poll()
        used = {pid: (name, cpu - self.first[pid]) for pid, (name, cpu) in self.last.items()}
        return (sum(c for name, c in used.values() if name.startswith("ray::")), sum(c for _, c in used.values()))


def make_inputs(folder: Path, quick: bool) -> tuple[Path, dict]:
    """The trials' store and base experiment (the quickstart model, shortened)."""
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    store = folder / "store.zarr"
    make_synthetic_store(SynthConfig(nlat=64, nlon=64, ntime=8, n_levels=16, patch_size=16, stride=16,
                                     obs_fraction=0.05, seed=0), store, progress=False)
    experiment = yaml.safe_load((REPO / "studies" / "configs" / "quickstart.yaml").read_text())
    experiment["training"].update({"max_epochs": 4 if quick else 16, "limit_train_batches": 8,
                                   "limit_val_batches": 1, "checkpoints_to_keep": 1})
    experiment["data"].update({"val_subset": 4, "num_workers": 0})
    experiment["sampling"]["steps"] = 4
    return store, experiment


def run_variant(folder: Path, store: Path, experiment: dict, name: str, seed: int, trials: int,
                early_stopping: bool) -> dict:
    """One study; its results table, CPU-seconds and wall seconds."""
    from depthdif.study.runner import run_study
    from depthdif.study.spec import load_study_spec

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(yaml.safe_dump(experiment))
    (folder / "space.yaml").write_text(yaml.safe_dump(SPACE, sort_keys=False))
    study = {"name": name, "kind": "pixel", "base_config": "base.yaml", "search_space": "space.yaml",
             "objectives": OBJECTIVES, "trials": trials, "concurrency": 1,
             "resources": {"workers": 1, "cpus_per_worker": 1.0},
             "sampler": {"name": "tpe", "seed": seed, "n_startup_trials": 4},
             "storage": str(folder / "studies"), "data": {"store": str(store)},
             **({"early_stopping": ASHA} if early_stopping else {})}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    monitor, driver, wall = CpuMonitor(), time.process_time(), time.perf_counter()
    monitor.start()
    results = run_study(load_study_spec(folder / f"{name}.yaml"), progress=False).results
    trials_cpu, tree_cpu = monitor.stop()
    return {"results": results, "cpu": trials_cpu, "cpu_tree": tree_cpu + time.process_time() - driver,
            "wall": time.perf_counter() - wall,
            "epochs": int(pd.to_numeric(results["fidelity"], errors="coerce").fillna(0).sum()),
            "states": results["state"].value_counts().to_dict()}


def hypervolumes(runs: dict[str, dict]) -> dict[str, float]:
    """Each run's final hypervolume against one reference point for all of them."""
    columns = [objective_key(o["metric"]) for o in OBJECTIVES]
    directions = [o["direction"] for o in OBJECTIVES]
    pooled = pd.concat([r["results"] for r in runs.values()], ignore_index=True)
    eligible = pooled[eligible_mask(pooled, columns)]
    reference = default_reference(eligible[columns].to_numpy(dtype=float), directions)
    return {name: compute_pareto(r["results"], [(o["metric"], o["direction"]) for o in OBJECTIVES],
                                 reference).hypervolume for name, r in runs.items()}


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


def early_stopping_table(folder: Path, quick: bool) -> tuple[str, dict]:
    """Studies with and without ASHA per seed (A B, then B A, ...): the markdown and the numbers."""
    import ray

    seeds, trials = ([0], 8) if quick else ([0, 1, 2], 16)
    store, experiment = make_inputs(folder, quick)
    ray.init(address="local", num_cpus=2, log_to_driver=False)
    per_seed = {}
    try:
        for i, seed in enumerate(seeds):
            order = [False, True] if i % 2 == 0 else [True, False]
            runs = {}
            for stopping in order:
                name = f"{'asha' if stopping else 'full'}-{seed}"
                runs["asha" if stopping else "full"] = run_variant(folder / name, store, experiment, name, seed,
                                                                  trials, stopping)
                print(f"{name}: {runs['asha' if stopping else 'full']['states']}", file=sys.stderr)
            for key, hv in hypervolumes(runs).items():
                runs[key]["hv"] = hv
            per_seed[seed] = runs
    finally:
        ray.shutdown()
    return es_markdown(per_seed, trials, experiment["training"]["max_epochs"]), per_seed


def front_by_size(results: pd.DataFrame) -> dict[int, float]:
    """Best `val/rmse_withheld` of the COMPLETE trials per base_channels (the front's candidates)."""
    rmse, size = (objective_key(o["metric"]) for o in OBJECTIVES)
    done = results[eligible_mask(results, [rmse, size])]
    return {int(k): float(v) for k, v in done.groupby(size)[rmse].min().items()}


def pruned_by_size(results: pd.DataFrame) -> dict[int, int]:
    size = objective_key(OBJECTIVES[1]["metric"])
    pruned = results[results["state"] == "PRUNED"]
    return {int(k): int(v) for k, v in pruned.groupby(size).size().items()}


def front_lines(per_seed: dict) -> list[str]:
    """Per seed: the best complete rmse per model size, without / with early stopping."""
    lines = ["", "Best complete `val/rmse_withheld` per base_channels (the front's candidates), without -> with "
                 "ASHA, and the trials ASHA stopped per size:", ""]
    for seed, runs in per_seed.items():
        full, asha = front_by_size(runs["full"]["results"]), front_by_size(runs["asha"]["results"])
        cells = [f"{k}: {full.get(k, float('nan')):.3f} -> {asha.get(k, float('nan')):.3f}"
                 for k in sorted(set(full) | set(asha))]
        lines.append(f"- seed {seed}: {'; '.join(cells)}; stopped: {pruned_by_size(runs['asha']['results'])}")
    return lines


def es_markdown(per_seed: dict, trials: int, epochs: int) -> str:
    rows, gains, kept = [], [], []
    for seed, runs in per_seed.items():
        full, asha = runs["full"], runs["asha"]
        gain = (asha["hv"] / asha["cpu"]) / (full["hv"] / full["cpu"]) if full["hv"] > 0 and asha["cpu"] > 0 else float("nan")
        gains.append(gain)
        kept.append(asha["hv"] / full["hv"] if full["hv"] > 0 else float("nan"))
        for label, r in (("no early stopping", full), ("ASHA, prune", asha)):
            states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(r["states"].items()))
            rows.append(f"| {seed} | {label} | {states} | {r['epochs']} | {r['cpu']:.0f} | {r['cpu_tree']:.0f} "
                        f"| {r['wall']:.0f} | {r['hv']:.4f} | {r['hv'] / r['cpu'] * 1000:.3f} |")
        rows.append(f"| {seed} | **ASHA / none** | | {asha['epochs'] / full['epochs']:.2f} | {asha['cpu'] / full['cpu']:.2f} "
                    f"| {asha['cpu_tree'] / full['cpu_tree']:.2f} | {asha['wall'] / full['wall']:.2f} "
                    f"| {kept[-1]:.3f} | **{gain:.2f}** |")
    lines = [f"Real tiny pixel trials (the quickstart model: UNet mults [1, 2], ambient objective, 16 levels, "
             f"16x16 windows; {epochs} epochs of 8 batches of 4, validation every epoch on 4 windows, DDIM 4 steps) "
             f"through `run_study` on local Ray (2 CPUs), {trials} trials per study, concurrency 1, TPE "
             f"(4 random start-up trials) with the same seed in both runs. Search space: lr (log 3e-4..1e-2), "
             f"further_drop_prob (0.05..0.6), base_channels {{4, 8, 16}}. Objectives: `val/rmse_withheld` (best so "
             f"far) and `model/unet_base_channels`, both minimized. Early stopping: ASHA on the first objective, "
             f"grace 1 epoch, reduction factor 2, max {epochs} epochs; stopped trials are PRUNED, off the front.",
             "", "| seed | run | trials | epochs trained | trial CPU-s | Ray tree CPU-s | wall s | hypervolume "
                 "| hypervolume per 1000 trial CPU-s |",
             "|---|---|---|---|---|---|---|---|---|", *rows, *front_lines(per_seed), "",
             f"**Hypervolume per CPU-second, ASHA / none: {', '.join(f'{g:.2f}' for g in gains)} (median "
             f"{statistics.median(gains):.2f}; goal >= 1.5); final hypervolume kept: "
             f"{', '.join(f'{k:.3f}' for k in kept)} (goal >= 0.95).**"]
    return "\n".join(lines + reading(gains, kept))


def reading(gains: list[float], kept: list[float]) -> list[str]:
    """What the numbers say about the goal (>= 1.5x hypervolume per CPU-second, >= 0.95 of it kept)."""
    if statistics.median(gains) >= 1.5 and min(kept) >= 0.95:
        return ["", "Reading: goal met on every seed."]
    return ["", "Reading: ASHA stops a trial when its `val/rmse_withheld` at a rung is outside the best half of "
                "the trials that reached that rung, whatever its model size. The saving is real (about half the "
                "epochs and CPU), but a front over (error, size) needs the best trial *of each size*: the small "
                "models (base 4) have errors several times those of base 8-16, so ASHA stops most of them at the "
                "first rungs and the cheap end of the front is lost or kept only by a worse trial (the lines "
                "above), and with fewer complete trials (the table) the TPE run finds fewer good configurations "
                "for the other sizes. What would change it: rank trials at each rung only against trials they "
                "could dominate, i.e. stop a trial only when enough trials that are no larger already beat it at "
                "that rung (multi-objective successive halving: per-size brackets, or non-dominated sorting of "
                "(rung error, size)); or give the early-stopped study the CPU the full one spent (twice the trials) "
                "instead of the same number of trials."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 8 trials of 4 epochs (a smoke run)")
    parser.add_argument("--no-overhead", action="store_true", help="skip the per-trial overhead part")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="depthdif-bench-study-") as tmp:
        table, _ = early_stopping_table(Path(tmp), args.quick)
    parts = ["## Studies: early stopping on real trials, per-trial overhead", "", machine_line(), "",
             "### Hypervolume per CPU-second, with and without early stopping", "", table]
    if not args.no_overhead:
        parts += ["", "### Per-trial scheduling overhead", "", overhead_table(2 if args.quick else 3)]
    parts += ["", f"Command: `python -m depthdif.benchmarks.study{' --quick' if args.quick else ''}`."]
    markdown = "\n".join(parts)
    print(markdown)
    if not args.no_write:
        update_section("study", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
