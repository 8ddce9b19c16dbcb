"""Per-depth RMSE of the Pareto front's trials beside the baselines, on the trials' own windows.

The trials' numbers are their validation metrics at the epoch of the checkpoint they kept
(`val/rmse_depth/<k>`, `val/rmse_withheld_depth/<k>` in the run dir's metrics.jsonl). The
baselines are fitted on the store's train split and scored by `compare_methods` on the very
windows the trials validated on (the `data.val_subset` draw, cut as `limit_val_batches` cut it
per worker) with the same withholding (`data.withheld_*`, the call `depthdif eval` uses), so
the lines are comparable level by level. Baseline scores are cached in the study dir, keyed by
everything they depend on, so rewriting the report does not refit them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from depthdif.config import ExperimentConfig, to_dict
from depthdif.train.run_dir import RunDir

CACHE_DIR = "report"
CACHE_FILE, CACHE_KEY = "baselines_by_depth.parquet", "baselines_by_depth.json"
PANELS = {"rmse_withheld": "val/rmse_withheld_depth/", "rmse_full": "val/rmse_depth/"}
AE_PANELS = {"rmse_full": "val/ae_rmse_depth/"}
COLUMNS = ["method", "depth_index", "depth_m", "metric", "value"]


def scored_patch_ids(cfg: ExperimentConfig, workers: int) -> list[int]:
    """The val windows a trial scored: the val_subset draw, each worker's shard cut at
    limit_val_batches batches (datamodule.make_loaders and Lightning's limit)."""
    from depthdif.data.store import OceanStore
    from depthdif.train.datamodule import val_patch_ids

    index = OceanStore.open(cfg.data.store, check_chunks=False).index
    ids = val_patch_ids(index, cfg.data.val_subset, cfg.data.withheld_seed, str(cfg.data.store))
    limit = cfg.training.limit_val_batches
    blocks = np.array_split(np.asarray(ids, dtype=np.int64), max(workers, 1))
    return [int(i) for block in blocks for i in (block if limit is None else block[: limit * cfg.data.batch_size])]


def trial_depth_rows(row: dict[str, Any], kind: str, depth_m: Sequence[float]) -> list[dict[str, Any]]:
    """A trial's per-depth RMSE at its kept checkpoint's epoch (else its last epoch)."""
    run = RunDir(str(row.get("run_dir") or ""))
    history = run.metrics() if row.get("run_dir") else []
    if not history:
        return []
    best = run.best_record() or {}
    chosen = next((m for m in history if m.get("epoch") == best.get("epoch")), history[-1])
    label = f"trial #{int(row['trial_number'])}"
    rows = []
    for metric, prefix in (AE_PANELS if kind == "ae" else PANELS).items():
        for k, depth in enumerate(depth_m):
            value = chosen.get(f"{prefix}{k}")
            if isinstance(value, (int, float)) and np.isfinite(value):
                rows.append({"method": label, "depth_index": k, "depth_m": float(depth), "metric": metric,
                             "value": float(value)})
    return rows


def baseline_depth_table(cfg: ExperimentConfig, patch_ids: list[int], study_dir: Path,
                         methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-depth RMSE of the baselines on `patch_ids` (cached in STUDY_DIR/report/)."""
    from depthdif.baselines.registry import BASELINES

    names = list(methods) if methods is not None else list(BASELINES)
    key = _cache_key(cfg, patch_ids, names)
    cache, key_file = study_dir / CACHE_DIR / CACHE_FILE, study_dir / CACHE_DIR / CACHE_KEY
    if cache.exists() and key_file.exists() and key_file.read_text() == key:
        return pd.read_parquet(cache)
    table = _score_baselines(cfg, patch_ids, names)
    from depthdif.atomic import atomic_path, atomic_write_text

    with atomic_path(cache) as tmp:
        table.to_parquet(tmp, index=False)
    atomic_write_text(key_file, key)
    return table


def _cache_key(cfg: ExperimentConfig, patch_ids: list[int], names: list[str]) -> str:
    store = Path(cfg.data.store)
    stamp = (store / "normalization.json").stat().st_mtime_ns if (store / "normalization.json").exists() else 0
    payload = {"store": str(store), "stamp": stamp, "data": to_dict(cfg.data),
               "evaluation": to_dict(cfg.evaluation), "ids": patch_ids, "methods": names}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _score_baselines(cfg: ExperimentConfig, patch_ids: list[int], names: list[str]) -> pd.DataFrame:
    from depthdif.baselines.registry import build_baseline
    from depthdif.data.dataset import PatchDataset
    from depthdif.evaluation.compare import DEPTH, compare_methods
    from depthdif.evaluation.store_evaluation import batches_of

    eo = list(cfg.data.eo_channels)
    train = PatchDataset(cfg.data.store, "train", eo_channels=eo)
    scored = PatchDataset(cfg.data.store, "val", eo_channels=eo, patch_ids=patch_ids)
    methods = [build_baseline(name, cfg.evaluation.baselines) for name in names]
    for method in methods:
        print(f"report: fitting baseline {method.name} on the train split", file=sys.stderr, flush=True)
        method.fit(train)
    d, ev = cfg.data, cfg.evaluation
    comparison = compare_methods(methods, batches_of(scored, d.batch_size, None), depth=scored.depth,
                                 depth_mean=scored.normalization.depth_mean, depth_std=scored.normalization.depth_std,
                                 withheld_fraction=d.withheld_fraction, withheld_seed=d.withheld_seed,
                                 withheld_mode=d.withheld_mode, max_depth_m=ev.max_depth_m,
                                 bands_m=ev.depth_bands_m, progress=False)
    table = comparison.table
    table = table[(table["scope"] == DEPTH) & table["metric"].isin(list(PANELS))]
    return table[COLUMNS].reset_index(drop=True)


def depth_table(front: pd.DataFrame, kind: str, cfg: ExperimentConfig, depth_m: Sequence[float],
                study_dir: Path, workers: int, baselines: bool = True) -> tuple[pd.DataFrame, str]:
    """(long table: method, depth_index, depth_m, metric, value; a note on what was compared)."""
    rows = [r for trial in front.to_dict("records") for r in trial_depth_rows(trial, kind, depth_m)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if kind == "ae":
        return table, "autoencoder trials reconstruct the dense field itself: no baseline compares to them"
    if not baselines:
        return table, "baselines skipped (--no-baselines)"
    ids = scored_patch_ids(cfg, workers)
    base = baseline_depth_table(cfg, ids, study_dir)
    within = cfg.evaluation.max_depth_m
    note = (f"trials: their validation at the kept checkpoint; baselines: fitted on the train split and scored on "
            f"the same {len(ids)} val windows with the same withheld floats (data.withheld_mode="
            f"{cfg.data.withheld_mode}, fraction {cfg.data.withheld_fraction:g}, seed {cfg.data.withheld_seed}); "
            f"levels ≤ {within:g} m")
    table = pd.concat([table, base], ignore_index=True) if len(table) else base
    return table[table["depth_m"] <= within].reset_index(drop=True), note
