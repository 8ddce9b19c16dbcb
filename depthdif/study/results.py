"""One Parquet table per study (`<study_dir>/results.parquet`), one row per trial.

Rewritten atomically (temp file + rename) every time a trial starts or finishes, so Pareto plots,
`study status` and export can read it while the study runs. Columns (kept exact: the Pareto and
export code read them):

    trial_id, trial_number, state (COMPLETE | FAILED | PRUNED | STOPPED | RUNNING),
    param/<dotted key> …, objective/<metric> …, metric/<name> … (other last metrics),
    fidelity (epochs done), duration_s, train_seconds, num_workers, cpus, gpus,
    checkpoint_path, run_dir, error

No Ray or Optuna import here: readers of a study need only pandas/pyarrow.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from depthdif.atomic import atomic_path

RESULTS_FILE = "results.parquet"
# STOPPED: a healthy trial ended by the study itself (fail-fast), recorded with the reason.
STATES = ("COMPLETE", "FAILED", "PRUNED", "STOPPED", "RUNNING")
PARAM_PREFIX, OBJECTIVE_PREFIX, METRIC_PREFIX = "param/", "objective/", "metric/"
HEAD_COLUMNS = ["trial_id", "trial_number", "state"]
TAIL_COLUMNS = ["fidelity", "duration_s", "train_seconds", "num_workers", "cpus", "gpus",
                "checkpoint_path", "run_dir", "error"]
# Keys of a trial's result that are bookkeeping, not trainer metrics.
_NOT_METRICS = ("objective/", "config/")


def objective_key(metric: str) -> str:
    """The reported (and results-table) name of an objective's value: `objective/<metric>`."""
    return f"{OBJECTIVE_PREFIX}{metric}"


def results_path(study_dir: str | os.PathLike) -> Path:
    return Path(study_dir) / RESULTS_FILE


def read_results(study_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a study (empty, with the fixed columns, before any trial started)."""
    path = results_path(study_dir)
    if not path.exists():
        return pd.DataFrame(columns=HEAD_COLUMNS + TAIL_COLUMNS)
    return pq.read_table(path).to_pandas()


def write_results(study_dir: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> Path:
    """Write all rows (sorted by trial number) atomically; readers never see a partial file."""
    frame = results_frame(rows)
    path = results_path(study_dir)
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    return path


def results_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows → a frame with the fixed column order: head, params, objectives, metrics, tail."""
    frame = pd.DataFrame(list(rows))
    for column in HEAD_COLUMNS + TAIL_COLUMNS:
        if column not in frame:
            frame[column] = pd.Series(dtype="object")
    def group(prefix: str) -> list[str]:
        return sorted(c for c in frame.columns if c.startswith(prefix))
    order = (HEAD_COLUMNS + group(PARAM_PREFIX) + group(OBJECTIVE_PREFIX) + group(METRIC_PREFIX)
             + TAIL_COLUMNS)
    frame = frame[order]
    if len(frame):
        frame = frame.sort_values("trial_number", kind="stable").reset_index(drop=True)
        frame["trial_number"] = frame["trial_number"].astype("int64")
    for column in ("fidelity", "num_workers"):
        frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    for column in ("duration_s", "train_seconds", "cpus", "gpus") + tuple(group(OBJECTIVE_PREFIX)):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in ("trial_id", "state", "checkpoint_path", "run_dir", "error"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def trial_row(*, trial_id: str, trial_number: int, state: str, params: dict[str, Any],
              result: dict[str, Any] | None, metrics: list[str], resources: dict[str, float],
              duration_s: float, fidelity: int | None = None, error: str = "") -> dict[str, Any]:
    """One results row from a trial's sampled params and its last reported result."""
    if state not in STATES:
        raise ValueError(f"state {state!r}: allowed values are {list(STATES)}")
    result = result or {}
    row: dict[str, Any] = {"trial_id": trial_id, "trial_number": int(trial_number), "state": state}
    row.update({f"{PARAM_PREFIX}{k}": v for k, v in sorted(params.items())})
    for metric in metrics:
        row[objective_key(metric)] = _number(result.get(objective_key(metric)))
    for key, value in result.items():
        if "/" in key and not key.startswith(_NOT_METRICS) and isinstance(value, (int, float)):
            row[f"{METRIC_PREFIX}{key}"] = float(value)
    row.update({
        "fidelity": int(fidelity if fidelity is not None else result.get("fidelity", 0) or 0),
        "duration_s": float(duration_s),
        "train_seconds": _number(result.get("train_seconds")),
        "num_workers": int(resources.get("num_workers", 1)),
        "cpus": float(resources.get("cpus", 0.0)),
        "gpus": float(resources.get("gpus", 0.0)),
        "checkpoint_path": str(result.get("checkpoint_path") or ""),
        "run_dir": str(result.get("run_dir") or ""),
        "error": error,
    })
    return row


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


class ResultsTable:
    """The rows of one study keyed by trial id; loaded from disk so a resumed study keeps them."""

    def __init__(self, study_dir: str | os.PathLike):
        self.study_dir = Path(study_dir)
        existing = read_results(self.study_dir)
        self.rows: dict[str, dict[str, Any]] = {
            r["trial_id"]: {k: v for k, v in r.items() if not _is_missing(v)}
            for r in existing.to_dict("records")
        }

    def update(self, row: dict[str, Any]) -> None:
        """Insert or replace the row of `row["trial_id"]` and rewrite the Parquet file."""
        self.rows[row["trial_id"]] = row
        write_results(self.study_dir, self.rows.values())

    def get(self, trial_id: str) -> dict[str, Any] | None:
        return self.rows.get(trial_id)


ORPHAN_ERROR = ("orphaned: the driver stopped before Ray Tune recorded this trial, so it was never "
                "resumed (the searcher proposed a new trial instead; Optuna has it as FAIL)")


def close_orphans(study_dir: str | os.PathLike, known_trial_ids: Iterable[str]) -> list[str]:
    """Mark RUNNING rows that Tune does not know as FAILED; returns their trial ids.

    Called once every Tune trial has finished: a row still RUNNING then belongs to a trial the
    driver started after its last experiment snapshot and before it was killed. It is not
    counted against the budget (the searcher proposed another trial in its place).
    """
    table = ResultsTable(study_dir)
    known = set(known_trial_ids)
    orphans = [tid for tid, row in table.rows.items() if row.get("state") == "RUNNING" and tid not in known]
    return _close(table, orphans, "FAILED", ORPHAN_ERROR)


def close_stopped(study_dir: str | os.PathLike, trial_ids: Iterable[str], reason: str) -> list[str]:
    """Mark the RUNNING rows of `trial_ids` STOPPED with `reason`; returns their trial ids.

    For trials the study itself ended without a final result (fail-fast stops the ones in
    flight, and Ray Tune tells no callback): never left RUNNING."""
    table = ResultsTable(study_dir)
    wanted = set(trial_ids)
    stopped = [tid for tid, row in table.rows.items() if row.get("state") == "RUNNING" and tid in wanted]
    return _close(table, stopped, "STOPPED", reason)


def _close(table: ResultsTable, trial_ids: list[str], state: str, error: str) -> list[str]:
    for trial_id in trial_ids:
        table.rows[trial_id] = {**table.rows[trial_id], "state": state, "error": error}
    if trial_ids:
        write_results(table.study_dir, table.rows.values())
    return trial_ids


def is_orphan(row: dict[str, Any]) -> bool:
    """A FAILED row of a trial orphaned by a driver restart (its budget slot went to a new trial)."""
    return row.get("state") == "FAILED" and str(row.get("error") or "").startswith(ORPHAN_ERROR[:40])


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
