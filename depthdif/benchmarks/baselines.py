"""Benchmark: classical baselines' RMSE per depth band on a synthetic store (BENCHMARKS.md section).

    python -m depthdif.benchmarks.baselines           # ~1-3 min on 2 cores
    python -m depthdif.benchmarks.baselines --quick   # ~20 s

Writes a synthetic store (seeded), fits every baseline on its train split, and scores them on
the val + test splits with whole floats withheld (each with probability 20 %): RMSE in °C per depth band,
on the withheld profiles and on the full field. Costs are reported as ratios to IDW measured in
the same run (no absolute times on a shared CPU box).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from depthdif.baselines.registry import BASELINES, build_baseline
from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.schema import BaselinesConfig
from depthdif.data.dataset import PatchDataset
from depthdif.data.synthetic import SynthConfig, make_synthetic_store
from depthdif.evaluation.compare import compare_methods
from depthdif.evaluation.store_evaluation import collate

SECTION = "baselines"
WITHHELD_FRACTION, WITHHELD_SEED = 0.2, 1234
BANDS_M = (0.0, 100.0, 500.0, 2000.0)


def store_config(quick: bool) -> SynthConfig:
    if quick:
        return SynthConfig(nlat=64, nlon=64, ntime=4, n_levels=24, patch_size=16, stride=16,
                           obs_fraction=0.03, seed=0)
    return SynthConfig(nlat=128, nlon=128, ntime=8, n_levels=40, patch_size=32, stride=32,
                       obs_fraction=0.02, seed=0)


class Timed:
    """Wraps a Predictor to time fit and predict (for cost ratios measured in one run)."""

    def __init__(self, method) -> None:
        self.method, self.name = method, method.name
        self.fit_s = self.predict_s = 0.0

    def fit(self, dataset):
        start = time.perf_counter()
        self.method.fit(dataset)
        self.fit_s += time.perf_counter() - start
        return self

    def predict(self, batch):
        start = time.perf_counter()
        out = self.method.predict(batch)
        self.predict_s += time.perf_counter() - start
        return out


def scored_batches(store: Path, batch_size: int = 8):
    for split in ("val", "test"):
        dataset = PatchDataset(store, split)
        for start in range(0, len(dataset), batch_size):
            yield collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])


def run(quick: bool) -> str:
    cfg = store_config(quick)
    with tempfile.TemporaryDirectory(prefix="depthdif-bench-") as tmp:
        store = Path(tmp) / "bench.zarr"
        make_synthetic_store(cfg, store, progress=False)
        train = PatchDataset(store, "train")
        methods = [Timed(build_baseline(name, BaselinesConfig())) for name in BASELINES]
        for method in methods:
            print(f"fitting {method.name}", file=sys.stderr)
            method.fit(train)
        result = compare_methods(methods, scored_batches(store), depth=train.depth,
                                 depth_mean=train.normalization.depth_mean, depth_std=train.normalization.depth_std,
                                 withheld_fraction=WITHHELD_FRACTION, withheld_seed=WITHHELD_SEED, bands_m=BANDS_M)
        n_train = len(train)
    return render(result, methods, cfg, n_train, quick)


def render(result, methods: list[Timed], cfg: SynthConfig, n_train: int, quick: bool) -> str:
    bands = result.table[result.table["scope"] == "band"]
    pivot = bands.pivot_table(index="method", columns=["metric", "band"], values="value", sort=False)
    overall = result.overall()
    idw = next(m for m in methods if m.name == "idw")
    rows = []
    for m in methods:
        row = {"method": m.name}
        for target in ("withheld", "full"):
            for lo, hi in zip(BANDS_M[:-1], BANDS_M[1:]):
                row[f"{target} {lo:g}-{hi:g} m"] = pivot.loc[m.name, (f"rmse_{target}", f"{lo:g}-{hi:g}m")]
            row[f"{target} all ≤2000 m"] = overall.loc[m.name, f"rmse_{target}"]
        row["predict cost / IDW"] = f"{m.predict_s / max(idw.predict_s, 1e-9):.2g}"
        rows.append(row)
    table = pd.DataFrame(rows)
    counts = result.table[(result.table["scope"] == "depth") & (result.table["metric"] == "count_withheld")]
    n_withheld = int(counts[counts["method"] == "idw"]["value"].sum())
    lines = [
        "## Baselines: RMSE (°C) per depth band on the synthetic store",
        "",
        f"`python -m depthdif.benchmarks.baselines{' --quick' if quick else ''}` - {machine_line()}",
        "",
        f"Synthetic store: {cfg.nlat}x{cfg.nlon} grid, {cfg.ntime} time steps, {cfg.n_levels} levels, "
        f"{cfg.patch_size}² patches, obs_fraction {cfg.obs_fraction}, seed {cfg.seed}. Baselines fitted on the "
        f"{n_train} train patches; scored on the {result.n_patches} val + test patches; "
        f"{result.withheld_text()} ({n_withheld} withheld observations). 'withheld' = vs the held-out profiles, 'full' = vs the "
        "dense target y where valid. Band scores pool every valid entry of the band's levels.",
        "",
        table.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else _markdown(table),
        "",
        "Reading: climatology is the floor; IDW and OI use only the profiles; EO regression only the "
        "surface; OI on the EO-regression background (ARMOR3D) uses both and is the bar the diffusion "
        "model must clear. Predict cost is the wall-time ratio to IDW in this run.",
    ]
    return "\n".join(lines)


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(v if isinstance(v, str) else f"{v:.3f}" for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__, "a smaller store (~20 s)").parse_args(argv)
    publish(SECTION, run(args.quick), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
