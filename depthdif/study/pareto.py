"""Pareto front and hypervolume of a multi-objective study: compute only, a typed record out.

The renderer (`study/plot.py`) draws the record; tests assert on it (Optuna's
`_get_pareto_front_info` pattern). Everything is computed in *minimization form*: a maximized
objective is negated first, so "smaller is better" holds on every axis.

Rules, stated once:
- **Eligible trials**: state COMPLETE with every objective finite. FAILED, PRUNED (early-stopped,
  truncated metrics) and RUNNING trials never enter the front or the hypervolume.
- **Ties**: a point dominates another only when it is no worse in every objective and strictly
  better in at least one, so exact duplicates never dominate each other: *all copies of a
  non-dominated point are on the front*.
- **Reference point** (when none is given): per objective, the worst eligible value plus 10 % of the
  eligible range (when the range is 0: 10 % of |worst|, or 0.1 when worst is 0), in the
  objective's own units and direction (a maximized objective's reference lies below its worst).
  One reference point serves the final hypervolume and the whole history, so the history is
  non-decreasing and comparable across trial numbers. Pass an explicit `reference` to compare
  studies (e.g. samplers in a benchmark) on the same footing.
- **Hypervolume**: the volume dominated by the front and bounded by the reference point; points
  not strictly better than the reference in every objective contribute nothing. 1-D and 2-D are
  exact sweeps; ≥ 3-D uses exact slicing (HSO: sort by the last objective; each slab between two
  consecutive values adds thickness × the (d-1)-D hypervolume of the points at or below it), about
  O(n^(d-1)) work: instant for the tens to hundreds of trials of a study with 2-4 objectives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from .results import OBJECTIVE_PREFIX, objective_key

Direction = Literal["minimize", "maximize"]
DIRECTIONS = ("minimize", "maximize")
REFERENCE_MARGIN = 0.10
DOMINANCE_BLOCK = 256


class ObjectiveLike(Protocol):
    """Anything with a metric name and a direction (the study spec's `Objective`)."""

    metric: str
    direction: str


@dataclass(frozen=True)
class ParetoResult:
    """The front of a study and its hypervolume, in the objectives' own units.

    `trials` holds every input row plus `eligible` (COMPLETE with finite objectives) and
    `on_front`; `front` is the on-front rows sorted by the first objective; `history` has one
    row per trial number: the hypervolume of eligible trials with a number ≤ it.
    """

    metrics: tuple[str, ...]
    directions: tuple[str, ...]
    columns: tuple[str, ...]
    trials: pd.DataFrame
    front: pd.DataFrame
    reference_point: tuple[float, ...]
    hypervolume: float
    history: pd.DataFrame


def to_minimization(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Negate maximized columns so that smaller is better everywhere."""
    for direction in directions:
        if direction not in DIRECTIONS:
            raise ValueError(f"objective direction {direction!r}: allowed values are {list(DIRECTIONS)}")
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(values, dtype=np.float64) * signs


def non_dominated_mask(points: np.ndarray) -> np.ndarray:
    """True for rows of `points` (n, m), minimization form, that no other row dominates.

    Duplicates do not dominate each other, so every copy of a front point is kept.
    Vectorized in blocks of candidate dominators (memory ~ block × n × m booleans).
    """
    points = np.asarray(points, dtype=np.float64)
    dominated = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), DOMINANCE_BLOCK):
        block = points[start:start + DOMINANCE_BLOCK, None, :]
        no_worse = np.all(block <= points[None], axis=2)
        strictly_better = np.any(block < points[None], axis=2)
        dominated |= np.any(no_worse & strictly_better, axis=0)
    return ~dominated


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Exact hypervolume of `points` (n, m) in minimization form, bounded by `reference` (m,)."""
    ref = np.asarray(reference, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] > 3:  # dominated points add nothing; filtering only saves work in ≥ 4-D
        pts = np.unique(pts[non_dominated_mask(pts)], axis=0)
    return float(_hv_recursive(pts, ref))


def _hv_recursive(pts: np.ndarray, ref: np.ndarray) -> float:
    """Points lie strictly inside the reference box (dominated ones are harmless, only slower)."""
    m = pts.shape[1]
    if m == 1:
        return float(ref[0] - pts[:, 0].min())
    if m == 2:
        return _hv_2d(pts, ref)
    # Slice along the last objective: between consecutive values z_i < z_{i+1} the dominated
    # region's cross-section is the (m-1)-D hypervolume of the points with z ≤ z_i.
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    total = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        thickness = upper - pts[i, -1]
        if thickness <= 0:
            continue
        section = pts[: i + 1, :-1]
        if m > 3:  # the 2-D sweep skips dominated points itself; deeper levels stay small this way
            section = section[non_dominated_mask(section)]
        total += thickness * _hv_recursive(section, ref[:-1])
    return total


def _hv_2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Sweep along the first objective; each point adds the strip between its y and the best y so far."""
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    best_before = np.concatenate([[ref[1]], np.minimum.accumulate(pts[:, 1])[:-1]])
    gain = np.clip(best_before - pts[:, 1], 0.0, None)
    return float(np.sum((ref[0] - pts[:, 0]) * gain))


def default_reference(values: np.ndarray, directions: Sequence[str]) -> tuple[float, ...]:
    """Worst eligible value plus 10 % of the range per objective, in the objectives' own units."""
    minimized = to_minimization(values, directions)
    worst, best = minimized.max(axis=0), minimized.min(axis=0)
    span = worst - best
    fallback = np.where(np.abs(worst) > 0, np.abs(worst), 1.0)  # 10 % of |worst| or 0.1
    margin = REFERENCE_MARGIN * np.where(span > 0, span, fallback)
    return tuple(float(v) for v in to_minimization((worst + margin)[None, :], directions)[0])


def _metrics_and_directions(objectives: Sequence[ObjectiveLike | tuple[str, str]]):
    pairs = [(o[0], o[1]) if isinstance(o, tuple) else (o.metric, o.direction) for o in objectives]
    if not pairs:
        raise ValueError("pareto: at least one objective is required")
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def eligible_mask(results: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """COMPLETE trials whose objectives are all finite (see the module docstring)."""
    complete = (results["state"] == "COMPLETE").to_numpy() if "state" in results else np.ones(len(results), bool)
    values = results[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    return complete & np.all(np.isfinite(values), axis=1)


def compute_pareto(results: pd.DataFrame, objectives: Sequence[ObjectiveLike | tuple[str, str]],
                   reference: Sequence[float] | None = None) -> ParetoResult:
    """Front, hypervolume and hypervolume history of a results table (one row per trial).

    `results` needs the `objective/<metric>` columns, `state` and `trial_number` (row order is
    used when it is absent). `reference` is in the objectives' own units and directions.
    """
    metrics, directions = _metrics_and_directions(objectives)
    columns = tuple(objective_key(m) for m in metrics)
    missing = [c for c in columns if c not in results.columns]
    if missing and results.empty:  # a study before its first trial: an empty front, not an error
        results = results.assign(**{c: pd.Series(dtype="float64") for c in missing})
    elif missing:
        raise ValueError(f"pareto: results table lacks objective columns {missing}; "
                         f"it has {sorted(c for c in results.columns if c.startswith(OBJECTIVE_PREFIX))}")
    trials = results.reset_index(drop=True).copy()
    if "trial_number" not in trials:
        trials["trial_number"] = np.arange(len(trials))
    eligible = eligible_mask(trials, columns)
    values = trials[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    minimized = to_minimization(values, directions)
    on_front = np.zeros(len(trials), dtype=bool)
    on_front[np.flatnonzero(eligible)] = non_dominated_mask(minimized[eligible])
    trials["eligible"], trials["on_front"] = eligible, on_front
    if reference is None:
        reference = default_reference(values[eligible], directions) if eligible.any() else tuple(
            float("nan") for _ in metrics)
    if len(reference) != len(metrics):
        raise ValueError(f"pareto: reference point has {len(reference)} values for {len(metrics)} objectives")
    ref_min = to_minimization(np.asarray(reference, dtype=np.float64)[None, :], directions)[0]
    total = hypervolume(minimized[eligible], ref_min) if eligible.any() else 0.0
    front = trials[on_front].sort_values(list(columns[:1]) + ["trial_number"]).reset_index(drop=True)
    return ParetoResult(metrics=metrics, directions=directions, columns=columns, trials=trials,
                        front=front, reference_point=tuple(float(v) for v in reference),
                        hypervolume=total, history=_history(trials, minimized, eligible, ref_min))


def _history(trials: pd.DataFrame, minimized: np.ndarray, eligible: np.ndarray,
             ref_min: np.ndarray) -> pd.DataFrame:
    """Hypervolume of eligible trials numbered ≤ n, for every trial number n (sorted).

    Incremental: a new non-dominated point p adds its exclusive contribution
    vol([p, ref]) − HV({max(q, p) : q on the front}), so the history costs about one small
    hypervolume per front-changing trial instead of one full recomputation per trial.
    """
    numbers = trials["trial_number"].to_numpy()
    rows, current = [], 0.0
    front = np.empty((0, minimized.shape[1]))
    usable = bool(np.all(np.isfinite(ref_min)))
    for n in np.unique(numbers):
        for p in minimized[(numbers == n) & eligible] if usable else ():
            if np.any(p >= ref_min) or np.any(np.all(front <= p, axis=1)):
                continue  # outside the box, or weakly dominated: no new volume
            current += float(np.prod(ref_min - p)) - hypervolume(np.maximum(front, p), ref_min)
            front = np.vstack([front[~np.all(p <= front, axis=1)], p])
        rows.append({"trial_number": int(n), "hypervolume": current})
    return pd.DataFrame(rows, columns=["trial_number", "hypervolume"])


def param_columns(results: pd.DataFrame) -> list[str]:
    """The `param/<dotted key>` columns, in table order (for hover text and printing)."""
    return [c for c in results.columns if c.startswith("param/")]


def front_table(result: ParetoResult, max_rows: int = 50) -> str:
    """The front as a compact plain-text table: trial, objectives (with units), parameters by
    their last name part (the full dotted keys are in pareto.parquet)."""
    from .units import metric_unit

    params = param_columns(result.front)
    short = {c: c.removeprefix("param/").rsplit(".", 1)[-1] for c in params}
    if len(set(short.values())) < len(short):  # two keys end alike: keep their dotted names
        short = {c: c.removeprefix("param/") for c in params}
    names = {c: f"{m} ({metric_unit(m) + ', ' if metric_unit(m) else ''}{'↓' if d == 'minimize' else '↑'})"
             for m, c, d in zip(result.metrics, result.columns, result.directions)}
    table = result.front[["trial_number", "trial_id", *result.columns, *params]].head(max_rows)
    table = table.rename(columns={"trial_number": "#", "trial_id": "trial", **names, **short})
    return table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
