"""What optuna-dashboard shows of a study: objective names, learning curves, links to files.

The study's Optuna journal (`optuna.journal`) is what `optuna-dashboard` opens. Written here:
- the objectives' names (`study.metric_names`), so the dashboard says `val/rmse_withheld`
  rather than "Objective 0";
- one intermediate value per epoch (the first objective's value that epoch), so learning
  curves show; Optuna's `Trial.report` refuses multi-objective studies, the storage does not;
- user attrs `run_dir` and `checkpoint_path` while a trial runs (Optuna freezes a trial's attrs
  once it is told), and the study's user attr `exports` ({trial number: [export folders]}),
  which `study export` adds to whenever it writes a folder.
All writes go through the journal's file lock, so they are safe beside the running searcher.
"""

from __future__ import annotations

import math
import os
import shlex
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

JOURNAL_FILE = "optuna.journal"
EXPORTS_ATTR = "exports"
RUN_DIR_ATTR, CHECKPOINT_ATTR = "run_dir", "checkpoint_path"


def journal_storage(study_dir: str | os.PathLike) -> JournalStorage:
    """A journal file any Optuna tool can open (`optuna.load_study(storage=JournalStorage(...))`)."""
    return JournalStorage(JournalFileBackend(str(Path(study_dir) / JOURNAL_FILE)))


def dashboard_command(study_dir: str | os.PathLike) -> str:
    """The exact shell command that opens this study in optuna-dashboard."""
    journal = Path(study_dir).resolve() / JOURNAL_FILE
    return f"optuna-dashboard {shlex.quote(str(journal))}"


def dashboard_hint(study_dir: str | os.PathLike) -> str:
    return (f"optuna-dashboard: {dashboard_command(study_dir)}  "
            "(pip install -e '.[dashboard]'; then open http://127.0.0.1:8080)")


def create_named_study(storage: JournalStorage, name: str, directions: list[str],
                       metrics: list[str]) -> optuna.Study:
    """The study in the journal (created when absent) with its objectives' names set."""
    study = optuna.create_study(storage=storage, study_name=name, directions=directions, load_if_exists=True)
    if study.metric_names != list(metrics):
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2; the dashboard reads it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(metrics))
    return study


class DashboardWriter:
    """Per-epoch values and file links of running trials, written from the study driver."""

    def __init__(self, study_dir: str | os.PathLike, study_name: str, metric: str, objective_column: str):
        self.study_dir, self.study_name = str(study_dir), study_name
        self.metric, self.objective_column = metric, objective_column
        self._storage: JournalStorage | None = None
        self._attrs: dict[int, dict[str, str]] = {}

    def __getstate__(self) -> dict[str, Any]:  # pickled with Tune's callbacks: no open journal
        return {**self.__dict__, "_storage": None, "_attrs": {}}

    @property
    def storage(self) -> JournalStorage:
        if self._storage is None:
            self._storage = journal_storage(self.study_dir)
        return self._storage

    def record(self, trial_number: int, result: dict[str, Any]) -> bool:
        """Write one epoch's value and the trial's current paths; False if Optuna refused (the
        trial is already finished there, or unknown)."""
        if trial_number < 0:
            return False
        try:
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(
                self.storage.get_study_id_from_name(self.study_name), trial_number)
            value = epoch_value(result, self.metric, self.objective_column)
            step = int(result.get("fidelity", 0) or 0)
            if value is not None and step > 0:
                self.storage.set_trial_intermediate_value(trial_id, step, value)
            self._record_paths(trial_id, trial_number, result)
        except (KeyError, RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            return False
        return True

    def _record_paths(self, trial_id: int, trial_number: int, result: dict[str, Any]) -> None:
        known = self._attrs.setdefault(trial_number, {})
        for key in (RUN_DIR_ATTR, CHECKPOINT_ATTR):
            value = str(result.get(key) or "")
            if value and known.get(key) != value:
                self.storage.set_trial_user_attr(trial_id, key, value)
                known[key] = value


def epoch_value(result: dict[str, Any], metric: str, objective_column: str) -> float | None:
    """The metric's own value this epoch (a learning curve), else the objective's; None if not finite."""
    for key in (metric, objective_column):
        value = result.get(key)
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            return float(value)
    return None


def record_exports(study_dir: str | os.PathLike, study_name: str, exported: dict[int, str]) -> None:
    """Add {trial number: export folder} to the study's `exports` user attr (dashboard + report)."""
    if not (Path(study_dir) / JOURNAL_FILE).exists() or not exported:
        return
    study = optuna.load_study(study_name=study_name, storage=journal_storage(study_dir))
    current: dict[str, list[str]] = dict(study.user_attrs.get(EXPORTS_ATTR, {}))
    for number, folder in exported.items():
        folders = current.setdefault(str(number), [])
        if str(folder) not in folders:
            folders.append(str(folder))
    study.set_user_attr(EXPORTS_ATTR, current)


def recorded_exports(study_dir: str | os.PathLike, study_name: str) -> dict[int, list[str]]:
    """{trial number: export folders still on disk} as `record_exports` kept them."""
    if not (Path(study_dir) / JOURNAL_FILE).exists():
        return {}
    try:
        study = optuna.load_study(study_name=study_name, storage=journal_storage(study_dir))
    except KeyError:
        return {}
    found = {int(k): [f for f in v if Path(f).is_dir()] for k, v in study.user_attrs.get(EXPORTS_ATTR, {}).items()}
    return {k: v for k, v in found.items() if v}
