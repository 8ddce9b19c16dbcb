"""Evaluate methods on one split of a store and write a self-explaining evaluation directory.

    fit every method on the train split → score all on the same patches and withheld profiles
    → <out>/eval_metrics.parquet, rmse_by_depth.html, summary.md, config.yaml

The directory explains itself (STYLE.md habit 6): the resolved config and the exact settings
(store, split, fraction, seed, patches) are written next to the numbers.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from depthdif.config.loader import atomic_write_text, dump_yaml
from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset
from depthdif.evaluation.compare import Comparison, compare_methods, write_table
from depthdif.evaluation.report import rmse_by_depth_figure, summary_markdown, write_html

METRICS_FILE, HTML_FILE, SUMMARY_FILE, CONFIG_FILE = ("eval_metrics.parquet", "rmse_by_depth.html",
                                                      "summary.md", "config.yaml")


@dataclass
class EvaluationOutputs:
    comparison: Comparison
    metrics_path: Path
    html_path: Path
    summary_path: Path


def collate(items: list[dict]) -> dict:
    """Stack dataset items into a batch (the same as torch's default collate for our tensors)."""
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def batches_of(dataset, batch_size: int, max_patches: int | None):
    """Batches of the first `max_patches` patches in index order (a fixed, reproducible subset)."""
    n = len(dataset) if max_patches is None else min(len(dataset), max_patches)
    for start in range(0, n, batch_size):
        yield collate([dataset[i] for i in range(start, min(start + batch_size, n))])


def check_normalization(dataset: PatchDataset, method) -> None:
    """A model trained on other statistics would be scored in the wrong units: refuse it."""
    theirs = getattr(getattr(method, "system", None), "normalization", None)
    if theirs is None:
        return
    ours = dataset.normalization
    if theirs.depth_mean.shape != ours.depth_mean.shape or not (
            np.allclose(theirs.depth_mean, ours.depth_mean, atol=1e-4)
            and np.allclose(theirs.depth_std, ours.depth_std, atol=1e-4)):
        raise ValueError(f"{method.name}: the checkpoint's per-depth normalization differs from the store "
                         f"{dataset.store_path}'s; evaluate it on the store it was trained on")


def evaluate_on_store(methods: Sequence, cfg: ExperimentConfig, store: str | Path, split: str, out_dir: str | Path,
                      *, max_patches: int | None = None, progress: bool = True) -> EvaluationOutputs:
    """Fit `methods` (Predictor protocol) on the train split, score them on `split`, write the outputs."""
    out_dir = Path(out_dir)
    eo = list(cfg.data.eo_channels)
    train, scored = PatchDataset(store, "train", eo_channels=eo), PatchDataset(store, split, eo_channels=eo)
    if len(scored) == 0:
        raise ValueError(f"{store}: split {split!r} has no patches")
    for method in methods:
        check_normalization(scored, method)
        if getattr(method, "system", None) is None:  # a trained model has nothing left to fit
            print(f"fitting {method.name} on the train split ({len(train)} patches)", file=sys.stderr)
        method.fit(train)
    ev, data = cfg.evaluation, cfg.data
    comparison = compare_methods(
        methods, batches_of(scored, data.batch_size, max_patches), depth=scored.depth,
        depth_mean=scored.normalization.depth_mean, depth_std=scored.normalization.depth_std,
        withheld_fraction=data.withheld_fraction, withheld_seed=data.withheld_seed,
        withheld_mode=data.withheld_mode, max_depth_m=ev.max_depth_m, bands_m=ev.depth_bands_m, progress=progress)
    metrics_path = write_table(comparison.table, out_dir / METRICS_FILE)
    html_path = write_html(rmse_by_depth_figure(comparison), out_dir / HTML_FILE)
    fallback = scored.float_index.fallback if data.withheld_mode == "float" else None
    header = (f"# Evaluation: {store} split {split}\n\n{comparison.n_patches} patches; "
              f"{comparison.withheld_text()}"
              + (f" (note: {fallback})" if fallback else "")
              + f"; overall scores pool levels ≤ {ev.max_depth_m:g} m; RMSE/MAE/bias/CRPS in °C.\n\n")
    summary_path = atomic_write_text(out_dir / SUMMARY_FILE, header + summary_markdown(comparison) + "\n")
    atomic_write_text(out_dir / CONFIG_FILE, dump_yaml(cfg))
    return EvaluationOutputs(comparison, metrics_path, html_path, summary_path)
