"""Score several methods on the same patches and the same withheld profiles; one long table.

Every method sees the identical held-in batch (`withhold_profiles` depends only on the seed and
the float, or the patch in column mode) and is scored by its own `ReconstructionMetrics` against the original batch, so differences between
rows are differences between methods, never between samples. The result is a typed record
(STYLE.md habit 12): a long DataFrame that `report.py` renders and `write_table` saves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from depthdif.baselines.base import Predictor
from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.evaluation.withheld import WithheldMode, withheld_description, withheld_float_ids, withhold_profiles
from depthdif.atomic import atomic_path

TABLE_COLUMNS = ("method", "scope", "band", "depth_index", "depth_m", "metric", "value")
OVERALL, DEPTH, BAND = "overall", "depth", "band"


@dataclass
class Comparison:
    """Long table of scores (TABLE_COLUMNS) plus what produced it."""

    table: pd.DataFrame
    methods: list[str]
    n_patches: int
    withheld_fraction: float
    withheld_seed: int
    withheld_mode: str = "float"
    n_withheld_columns: int = 0  # withheld (scored) profiles = grid columns, over all patches
    n_withheld_floats: int = 0   # distinct withheld floats (float mode)

    def withheld_text(self) -> str:
        """One sentence saying exactly what was withheld and scored (for summaries and plots)."""
        return withheld_description(self.withheld_mode, self.withheld_fraction, self.withheld_seed,
                                    self.n_withheld_columns, self.n_withheld_floats, self.n_patches)

    def overall(self) -> pd.DataFrame:
        """method × metric pivot of the overall rows (handy for summaries and tests)."""
        rows = self.table[self.table["scope"] == OVERALL]
        return rows.pivot(index="method", columns="metric", values="value").reindex(self.methods)

    def by_depth(self, metric: str) -> pd.DataFrame:
        """depth_m × method pivot of one per-depth metric (e.g. `rmse_withheld`)."""
        rows = self.table[(self.table["scope"] == DEPTH) & (self.table["metric"] == metric)]
        return rows.pivot(index="depth_m", columns="method", values="value")[self.methods]


class SampledPredictor:
    """Adapts a trained system (`sample(batch, k, seed) -> (K, B, D, H, W)`) to the Predictor protocol.

    Keeps the ensemble so evaluation can score spread and CRPS; moves batches to the system's
    device and results back to the CPU, where the baselines and metrics run.
    """

    def __init__(self, system, samples: int, seed: int, name: str = "diffusion") -> None:
        self.system, self.samples, self.seed, self.name = system, samples, seed, name
        self.calls = 0

    def fit(self, dataset: Sequence[dict]) -> "SampledPredictor":
        return self  # trained already

    def sample(self, batch: dict) -> Tensor:
        device = next(self.system.parameters()).device
        moved = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}
        with torch.no_grad():
            members = self.system.sample(moved, k=self.samples, seed=self.seed + self.calls)
        self.calls += 1  # a fresh, reproducible seed per batch, as in validation
        return members.cpu()

    def predict(self, batch: dict) -> Tensor:
        return self.sample(batch).mean(dim=0)


def metrics_rows(method: str, metric: ReconstructionMetrics) -> list[dict]:
    """Overall, band and per-depth rows of one method's accumulated metric."""
    rows = []
    scalars = metric.compute()
    for key, value in scalars.items():
        if "/" in key and "_band/" not in key:
            continue  # per-depth keys come from by_depth() with all their metrics
        if "_band/" in key:
            name, band = key.split("_band/")
            rows.append(dict(scope=BAND, band=band, depth_index=-1, depth_m=np.nan, metric=name, value=float(value)))
        else:
            rows.append(dict(scope=OVERALL, band="", depth_index=-1, depth_m=np.nan, metric=key, value=float(value)))
    depth = metric.depth.cpu().numpy()
    for name, values in metric.by_depth().items():
        for k, value in enumerate(values.tolist()):
            rows.append(dict(scope=DEPTH, band="", depth_index=k, depth_m=float(depth[k]), metric=name,
                             value=float(value)))
    return [dict(method=method, **row) for row in rows]


def compare_methods(methods: Sequence[Predictor], batches: Iterable[dict], *, depth, depth_mean, depth_std,
                    withheld_fraction: float, withheld_seed: int, withheld_mode: WithheldMode = "float",
                    max_depth_m: float = 2000.0, bands_m: Sequence[float] = (0, 100, 500, 2000),
                    progress: bool = True) -> Comparison:
    """Score fitted `methods` on `batches` (collated, original: nothing withheld yet).

    Each method gets the same held-in batch (`withhold_profiles` with the given mode). A method with `sample(batch) -> (K, B, D, H, W)`
    (e.g. `SampledPredictor`) is scored as an ensemble (spread, CRPS); others through `predict`.
    """
    from tqdm.auto import tqdm

    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"compare_methods: method names must be unique, got {names}")
    metrics = {m.name: ReconstructionMetrics(depth, depth_mean, depth_std, max_depth_m, bands_m) for m in methods}
    n_patches, n_columns, floats = 0, 0, set()
    for batch in tqdm(batches, desc="evaluating", unit="batch", disable=not progress, file=sys.stderr):
        held_in, withheld = withhold_profiles(batch, withheld_fraction, withheld_seed, withheld_mode)
        for method in methods:
            pred = method.sample(held_in) if hasattr(method, "sample") else method.predict(held_in)
            metrics[method.name].update(pred, batch, withheld)
        n_patches += int(batch["x"].shape[0])
        columns = withheld.gt(0).any(dim=1)
        n_columns += int(columns.sum())
        if withheld_mode == "float":
            floats.update(withheld_float_ids(batch["float_ids"], columns, withheld_fraction, withheld_seed))
    if n_patches == 0:
        raise ValueError("compare_methods: no patches to evaluate (empty split?)")
    rows = [row for method in methods for row in metrics_rows(method.name, metrics[method.name])]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["depth_index"] = table["depth_index"].astype("int64")
    return Comparison(table, names, n_patches, withheld_fraction, withheld_seed, withheld_mode, n_columns, len(floats))


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Parquet via a temp file + rename: a reader never sees a half-written table."""
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
    return Path(path)
