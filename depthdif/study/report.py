"""`depthdif study report`: everything a study found, in one self-contained `report.html`.

Compute, then a typed record (`StudyReport`), then render (report_figures.py draws,
report_page.py lays out one HTML file with plotly.js embedded once). The record holds:
the summary (budget, states, wall time, CPU/GPU time reserved), the Pareto result, parameter
importances per objective (Optuna's fANOVA evaluator, seeded), the per-depth RMSE of the front
against the baselines (report_depth.py), one reconstruction of the best trial (report_map.py),
the failed trials with their errors and the export folders `study export` recorded.
Written at the end of `study run`/`resume` and by `depthdif study report STUDY_DIR`.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from depthdif.atomic import atomic_write_text

from .dashboard import dashboard_command, journal_storage, recorded_exports
from .pareto import ParetoResult, compute_pareto
from .report_map import ReconstructionMap
from .results import read_results
from .spec import StudySpec, read_study_dir
from .status import study_status

REPORT_HTML = "report.html"


@dataclass(frozen=True)
class StudySummary:
    name: str
    kind: str
    study_dir: Path
    budget: int
    counts: dict[str, int]
    driver: str
    started: str
    ended: str
    wall_s: float
    cpu_s: float  # Σ trial duration × CPUs it held
    gpu_s: float
    dashboard: str


@dataclass
class StudyReport:
    summary: StudySummary
    spec: StudySpec
    pareto: ParetoResult
    optuna_study: optuna.Study | None
    importances: dict[str, dict[str, float]]  # objective metric -> {param: importance}
    depth: pd.DataFrame | None = None  # report_depth.COLUMNS
    depth_note: str = ""
    reconstruction: ReconstructionMap | None = None
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    exports: dict[int, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    color_by: str | None = None


def build_report(study_dir: str | os.PathLike, *, baselines: bool = True, reconstruction: bool = True,
                 color_by: str | None = None) -> StudyReport:
    """The report record of a study directory (no Ray; baselines and the map run in this process)."""
    study_dir = Path(study_dir).resolve()
    spec = read_study_dir(study_dir)
    results = read_results(study_dir)
    pareto = compute_pareto(results, spec.objectives)
    ostudy = _load_optuna(study_dir, spec.name)
    report = StudyReport(summary=_summary(study_dir, spec, results, ostudy), spec=spec, pareto=pareto,
                         optuna_study=ostudy, importances={}, color_by=color_by)
    report.importances = _importances(ostudy, spec, report.notes)
    report.failed = results[results["state"].isin(["FAILED", "STOPPED"])][
        ["trial_number", "trial_id", "state", "fidelity", "error"]].reset_index(drop=True)
    report.exports = recorded_exports(study_dir, spec.name)
    _add_depth_and_map(report, baselines, reconstruction)
    return report


def _load_optuna(study_dir: Path, name: str) -> optuna.Study | None:
    if not (study_dir / "optuna.journal").exists():
        return None
    try:
        return optuna.load_study(study_name=name, storage=journal_storage(study_dir))
    except KeyError:
        return None


def _summary(study_dir: Path, spec: StudySpec, results: pd.DataFrame, ostudy: optuna.Study | None) -> StudySummary:
    status = study_status(study_dir)
    trials = ostudy.get_trials(deepcopy=False) if ostudy is not None else []
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    started, ended = (min(starts) if starts else None), (max(ends) if ends else None)
    wall = (ended - started).total_seconds() if started and ended else float(results["duration_s"].sum())
    duration = pd.to_numeric(results["duration_s"], errors="coerce").fillna(0.0)
    fmt = (lambda t: t.strftime("%Y-%m-%d %H:%M:%S") if isinstance(t, dt.datetime) else "-")
    driver = ("running (or writing this report)" if status.driver.alive else
              "DEAD (resume it with `depthdif study resume`)" if status.driver.dead else "not running")
    return StudySummary(spec.name, spec.kind, study_dir, spec.trials, status.counts, driver, fmt(started), fmt(ended),
                        wall, float((duration * results["cpus"].astype(float)).sum()),
                        float((duration * results["gpus"].astype(float)).sum()), dashboard_command(study_dir))


def importance_evaluator() -> tuple[Any, str]:
    """fANOVA (seeded) when scikit-learn is installed, else PED-ANOVA (numpy only); with its name."""
    import importlib.util

    if importlib.util.find_spec("sklearn") is not None:
        return optuna.importance.FanovaImportanceEvaluator(seed=0), "fANOVA, seed 0"
    return optuna.importance.PedAnovaImportanceEvaluator(), "PED-ANOVA"


def _importances(ostudy: optuna.Study | None, spec: StudySpec, notes: list[str]) -> dict[str, dict[str, float]]:
    """Importances per objective over COMPLETE trials (importance_evaluator); a note when not computable."""
    if ostudy is None:
        notes.append("parameter importances: no Optuna journal")
        return {}
    complete = ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        notes.append(f"parameter importances need at least 2 complete trials (have {len(complete)})")
        return {}
    out = {}
    for i, objective in enumerate(spec.objectives):
        sign = 1.0 if objective.direction == "minimize" else -1.0  # PED-ANOVA ranks by lower-is-better
        evaluator, _ = importance_evaluator()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[objective.metric] = optuna.importance.get_param_importances(
                    ostudy, evaluator=evaluator, target=lambda t, i=i, sign=sign: sign * t.values[i])
        except (ValueError, RuntimeError) as exc:
            notes.append(f"parameter importances for {objective.metric}: {exc}")
    return out


def _add_depth_and_map(report: StudyReport, baselines: bool, reconstruction: bool) -> None:
    """Per-depth errors of the front and the best trial's map; each may fail alone, with a note."""
    from .report_depth import depth_table, scored_patch_ids
    from .report_map import reconstruction_map

    spec, front = report.spec, report.pareto.front
    if front.empty:
        report.notes.append("no COMPLETE trial yet: no per-depth errors and no reconstruction map")
        return
    cfg = spec.experiment_config()
    try:
        from depthdif.data.store import OceanStore

        depth = OceanStore.open(cfg.data.store, check_chunks=False).depth
        report.depth, report.depth_note = depth_table(front, spec.kind, cfg, depth, report.summary.study_dir,
                                                      spec.resources.workers, baselines)
    except (OSError, ValueError, KeyError) as exc:
        report.notes.append(f"per-depth errors: {type(exc).__name__}: {exc}")
    best = _best_with_checkpoint(report.pareto)
    if not reconstruction or spec.kind == "ae" or best is None:
        if spec.kind == "ae":
            report.notes.append("reconstruction map: an autoencoder study has no sampler")
        return
    try:
        ids = scored_patch_ids(cfg, spec.resources.workers)
        label = f"trial #{int(best['trial_number'])} ({best['trial_id']})"
        report.reconstruction = reconstruction_map(best["checkpoint_path"], ids, label)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        report.notes.append(f"reconstruction map: {type(exc).__name__}: {exc}")


def _best_with_checkpoint(pareto: ParetoResult) -> dict[str, Any] | None:
    """The front trial best on the first objective that kept a checkpoint."""
    front = pareto.front[pareto.front["checkpoint_path"].astype(str).map(lambda p: bool(p) and Path(p).is_file())]
    if front.empty:
        return None
    ascending = pareto.directions[0] == "minimize"
    return front.sort_values([pareto.columns[0], "trial_number"], ascending=[ascending, True]).iloc[0].to_dict()


def write_report(study_dir: str | os.PathLike, out: str | os.PathLike | None = None, **options: Any) -> Path:
    """Build the record, render it, write `report.html` (atomically) into the study dir or `out`."""
    from .report_page import report_html

    study_dir = Path(study_dir).resolve()
    report = build_report(study_dir, **options)
    path = Path(out) if out is not None else study_dir / REPORT_HTML
    atomic_write_text(path, report_html(report))
    for note in report.notes:
        print(f"report: {note}", file=sys.stderr)
    return path
