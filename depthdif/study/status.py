"""`depthdif study status`: trials, states, objectives and the best so far, from the study dir.

Reads only `study.yaml`, `results.parquet` and the driver lock (no Ray, no Optuna), so it works
while a study runs, after it was killed, and on a laptop that copied the folder. The lock says
whether a driver is alive; RUNNING rows of a dead driver are marked as such. Trials orphaned by a
driver restart are listed but not counted as finished: their budget slot went to a new trial, so
the finished count never exceeds the budget. Compute a record, then render.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .driver_lock import DriverState, driver_state
from .results import PARAM_PREFIX, STATES, is_orphan, objective_key, read_results
from .spec import Objective, read_study_dir

DEAD_DRIVER = "driver dead"
PARETO_MARK = "*"


@dataclass(frozen=True)
class Best:
    metric: str
    direction: str
    value: float
    trial_number: int
    trial_id: str


@dataclass(frozen=True)
class StudyStatus:
    name: str
    kind: str
    study_dir: Path
    budget: int
    counts: dict[str, int]
    objectives: tuple[Objective, ...]
    best: tuple[Best, ...]
    table: pd.DataFrame
    driver: DriverState
    orphaned: int  # FAILED rows of trials a driver restart orphaned (counted in counts["FAILED"])

    @property
    def finished(self) -> int:
        """Trials that ended and count against the budget (orphans do not)."""
        return sum(n for state, n in self.counts.items() if state != "RUNNING") - self.orphaned


def study_status(study_dir: str | os.PathLike) -> StudyStatus:
    """The status record of a study directory."""
    study_dir = Path(study_dir)
    spec = read_study_dir(study_dir)
    table = read_results(study_dir)
    counts = {state: int((table["state"] == state).sum()) for state in STATES}
    best = tuple(b for b in (best_of(table, o) for o in spec.objectives) if b is not None)
    orphaned = sum(is_orphan(row) for row in table.to_dict("records"))
    return StudyStatus(spec.name, spec.kind, study_dir, spec.trials, counts, tuple(spec.objectives), best, table,
                       driver_state(study_dir), orphaned)


def best_of(table: pd.DataFrame, objective: Objective) -> Best | None:
    """Best finite value among COMPLETE trials (PRUNED/FAILED never count)."""
    column = objective_key(objective.metric)
    if column not in table:
        return None
    done = table[(table["state"] == "COMPLETE") & table[column].notna()]
    done = done[done[column].map(lambda v: math.isfinite(float(v)))]
    if done.empty:
        return None
    row = done.loc[done[column].idxmin() if objective.direction == "minimize" else done[column].idxmax()]
    return Best(objective.metric, objective.direction, float(row[column]), int(row["trial_number"]),
                str(row["trial_id"]))


def format_status(status: StudyStatus, max_rows: int = 40) -> str:
    """Human-readable status: header, driver, counts, best per objective, one line per trial."""
    counts = "  ".join(f"{s}={n}" for s, n in status.counts.items())
    if status.driver.dead and status.counts["RUNNING"]:
        counts += f" ({DEAD_DRIVER}: not running)"
    orphans = f"  (+{status.orphaned} orphaned by a driver restart, not counted)" if status.orphaned else ""
    lines = [f"study {status.name} ({status.kind}) at {status.study_dir}", format_driver(status),
             f"trials: {status.finished}/{status.budget} finished  {counts}{orphans}"]
    for best in status.best:
        lines.append(f"best {best.metric} ({best.direction}): {best.value:.5g}  "
                     f"trial #{best.trial_number} {best.trial_id}")
    if not status.best:
        lines.append("best: no COMPLETE trial yet")
    rows = status.table.to_dict("records")[-max_rows:] if max_rows > 0 else []
    metrics = [o.metric for o in status.objectives]
    front = pareto_numbers(status)
    if rows and front:
        lines.append(f"{PARETO_MARK} = on the Pareto front ({len(front)} trial(s))")
    for row in rows:
        if status.driver.dead and row.get("state") == "RUNNING":
            row = {**row, "state": f"RUNNING ({DEAD_DRIVER})"}
        mark = PARETO_MARK if int(row.get("trial_number", -1)) in front else " "
        lines.append(f"{mark} {format_trial_line(row, metrics)}")
    return "\n".join(lines)


def pareto_numbers(status: StudyStatus) -> set[int]:
    """Trial numbers on the Pareto front of the study's COMPLETE trials."""
    from .pareto import compute_pareto

    if not status.counts.get("COMPLETE"):
        return set()
    result = compute_pareto(status.table, list(status.objectives))
    return {int(n) for n in result.front["trial_number"]}


def format_study_list(storage: str | os.PathLike) -> str:
    """One line per study directory below `storage`: name, kind, progress, best, driver."""
    storage = Path(storage)
    if not storage.is_dir():
        raise FileNotFoundError(f"{storage}: no such storage folder")
    found = sorted(p for p in storage.iterdir() if (p / "study.yaml").is_file())
    if not found:
        return f"{storage}: no study directories (folders holding study.yaml)"
    lines = []
    for folder in found:
        try:
            status = study_status(folder)
        except (OSError, ValueError) as exc:
            lines.append(f"{folder.name}: unreadable ({exc})")
            continue
        best = ", ".join(f"{b.metric}={b.value:.4g}" for b in status.best) or "no COMPLETE trial"
        driver = "running" if status.driver.alive else (DEAD_DRIVER if status.driver.dead else "idle")
        report = "  report.html" if (folder / "report.html").exists() else ""
        lines.append(f"{folder.name:<20} {status.kind:<6} {status.finished}/{status.budget} finished  "
                     f"best {best}  driver {driver}{report}")
    return "\n".join(lines)


def format_driver(status: StudyStatus) -> str:
    driver = status.driver
    if driver.alive:
        who = driver.holder.describe() if driver.holder else "record not written yet"
        return f"driver: running ({who})"
    if driver.dead:
        return (f"driver: DEAD ({driver.holder.describe()}): the study was interrupted and nothing runs; "
                f"continue it with `depthdif study resume {status.study_dir}`")
    return "driver: not running"


def format_trial_line(row: dict[str, Any], metrics: list[str], done: int | None = None,
                      budget: int | None = None) -> str:
    """`[3/8] #2 a1b2c3 COMPLETE  val/rmse=0.41  cost/train_seconds=12  (lr=3e-4, …)  18.2 s`."""
    head = f"[{done}/{budget}] " if done is not None and budget is not None else ""
    values = []
    for metric in metrics:
        value = row.get(objective_key(metric))
        values.append(f"{metric}={_fmt(value)}")
    params = ", ".join(f"{k[len(PARAM_PREFIX):].rsplit('.', 1)[-1]}={_fmt(v)}"
                       for k, v in row.items() if k.startswith(PARAM_PREFIX) and not _missing(v))
    tail = f"  epochs={row.get('fidelity', 0)}  {float(row.get('duration_s') or 0):.1f} s"
    error = f"  error: {str(row['error'])[:160]}" if row.get("error") else ""
    return (f"{head}#{row.get('trial_number')} {row.get('trial_id')} {row.get('state'):<8} "
            + "  ".join(values) + f"  ({params})" + tail + error)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value: Any) -> str:
    if _missing(value):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
