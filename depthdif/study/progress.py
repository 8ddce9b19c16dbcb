"""Watching a running study from the Tune driver: the results table, a live line, a failure guard.

`StudyRecorder` is a Tune callback: it writes each trial's row to results.parquet as the trial
starts, reports and finishes (same COMPLETE/PRUNED/FAILED rule as the searcher), writes each
epoch's value and the trial's paths into the Optuna journal (dashboard.py), prints one line per
started and finished trial, and keeps the live status line (live_status.py) current. `FailureGuard` is a Tune stopper: when the first `threshold` finished
trials all failed, the study stops and the runner raises with the first error, instead of
burning the whole budget on a broken config. Tune ends the trials still in flight then without
telling any callback, so the recorder closes their rows as STOPPED with that reason.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ray import tune

from .dashboard import DashboardWriter
from .live_status import LiveLine, live_status, status_line
from .results import ResultsTable, close_stopped, objective_key, results_frame, trial_row
from .searcher import TRIAL_NUMBER, classify_outcome
from .spec import Objective
from .status import format_trial_line
from .trial import sampled_params


class FailureGuard(tune.Stopper):
    """Stop the experiment when `threshold` trials failed and none succeeded."""

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.failed = 0
        self.succeeded = 0
        self.first_error = ""

    def record(self, state: str, error: str) -> None:
        if state == "FAILED":
            self.failed += 1
            self.first_error = self.first_error or error
        elif state in ("COMPLETE", "PRUNED"):
            self.succeeded += 1

    def tripped(self) -> bool:
        return self.succeeded == 0 and self.failed >= self.threshold

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.tripped()

    def reason(self) -> str:
        return (f"stopped: the study failed fast ({self.failed} finished trial(s) failed and none succeeded; "
                f"first error: {self.first_error})")


class StudyRecorder(tune.Callback):
    """Keeps results.parquet current and prints a line per finished trial."""

    def __init__(self, study_dir: str | Path, objectives: list[Objective], budget: int,
                 footprint: dict[str, float], guard: FailureGuard, progress: bool = True,
                 study_name: str = ""):
        self.study_dir = str(study_dir)
        self.objectives = list(objectives)
        self.budget, self.footprint, self.guard, self.progress = budget, dict(footprint), guard, progress
        first = self.objectives[0].metric
        self.dashboard = DashboardWriter(study_dir, study_name, first, objective_key(first)) if study_name else None
        self._table: ResultsTable | None = None
        self._started: dict[str, float] = {}
        self._line: LiveLine | None = None
        self._t0 = time.time()

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks into tuner.pkl
        state = self.__dict__.copy()
        state["_table"], state["_started"], state["_line"] = None, {}, None
        return state

    @property
    def line(self) -> LiveLine:
        if self._line is None:
            self._line = LiveLine()
        return self._line

    @property
    def table(self) -> ResultsTable:
        if self._table is None:  # (re)load: a resumed study keeps the rows it had
            self._table = ResultsTable(self.study_dir)
        return self._table

    def setup(self, **info: Any) -> None:
        self._table = ResultsTable(self.study_dir)
        self._t0 = time.time()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self.progress and self.line.due():
            self.line.update(self.status_line(), milestone=False)

    def status_line(self) -> str:
        table = results_frame(self.table.rows.values())
        return status_line(live_status(table, self.objectives, self.budget, time.time() - self._t0))

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._started.setdefault(trial.trial_id, time.time())
        row = self._write(trial, "RUNNING", trial.last_result)
        if self.progress:
            self.line.message(f"started #{row['trial_number']} {trial.trial_id}: {sampled_params(trial.config)}")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._write(trial, "RUNNING", result)
        if self.dashboard is not None:
            self.dashboard.record(int(trial.config.get(TRIAL_NUMBER, -1)), result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, errored=False, error_text="")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = trial.get_error()
        self._finish(trial, errored=True, error_text=str(error).strip().splitlines()[-1] if error else "")

    def _close_stopped(self, trials: list) -> None:
        """Fail-fast stopped the trials in flight without a callback: record them STOPPED."""
        if not self.guard.tripped():
            return
        stopped = close_stopped(self.study_dir, [t.trial_id for t in trials], self.guard.reason())
        self._table = None  # reload: close_stopped rewrote the file
        if stopped:
            print(f"{len(stopped)} trial(s) in flight stopped because the study failed fast: {stopped}",
                  file=sys.stderr, flush=True)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._close_stopped(trials)
        if self.progress:
            self.line.close()

    def _finish(self, trial: Any, errored: bool, error_text: str) -> None:
        outcome = classify_outcome(trial.last_result, errored, self.objectives, error_text)
        row = self._write(trial, outcome.state, trial.last_result, outcome.fidelity, outcome.error)
        self._started.pop(trial.trial_id, None)
        self.guard.record(outcome.state, f"trial {trial.trial_id}: {outcome.error}")
        if self.progress:
            done = sum(r["state"] != "RUNNING" for r in self.table.rows.values())
            self.line.message(format_trial_line(row, [o.metric for o in self.objectives], done, self.budget))
            self.line.update(self.status_line(), milestone=True)

    def _write(self, trial: Any, state: str, result: dict | None, fidelity: int | None = None,
               error: str = "") -> dict[str, Any]:
        result = dict(result or {})
        started = self._started.get(trial.trial_id)
        duration = time.time() - started if started else float(result.get("time_total_s", 0.0) or 0.0)
        number = trial.config.get(TRIAL_NUMBER, -1)
        row = trial_row(trial_id=trial.trial_id, trial_number=number, state=state,
                        params=sampled_params(trial.config), result=result,
                        metrics=[o.metric for o in self.objectives], resources=self.footprint,
                        duration_s=duration, fidelity=fidelity, error=error)
        self.table.update(row)
        return row
