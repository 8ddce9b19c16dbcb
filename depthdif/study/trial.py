"""The Tune trial: sampled params → ExperimentConfig → a training run → objectives reported.

One trial = one training run (`depthdif.train.run`) in the run dir named after the Tune trial id
(deterministic, so a restored trial finds its own checkpoints). Two backends, one reporting
logic (`ObjectiveTracker`):

- `in_process`: 1 worker, no GPU; the trial's own process trains and calls `ray.tune.report`
  each epoch. No TorchTrainer, so no ~15 s worker-group start per trial;
- `ray`: a TorchTrainer with N workers; the trial reserves `{"CPU": 0.01}` and the Train workers
  hold the real resources; each epoch reaches Tune from the Train controller, through the
  queue of Ray's `TuneReportCallback`.

Objectives are reported as `objective/<metric>`: validation error metrics as their best value so
far (the trainer's `best/<metric>`), everything else (cost, model size) as the last value. A run
that ends non-finite or crashed reports `trial_failed: 1` with its error and returns: the study
records it FAILED, tells the searcher, and goes on (no Tune retry of a deterministic failure).
"""

from __future__ import annotations

import math
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from depthdif import train
from depthdif.config import ExperimentConfig, from_dict
from depthdif.config.loader import apply_overrides
from depthdif.train.run_dir import RunDir, checkpoint_file

from .config_metrics import CONFIG_METRICS
from .results import objective_key
from .searcher import ERROR, FAILED, FIDELITY, MAX_FIDELITY, TRIAL_NUMBER
from .spec import Objective, StudySpec, max_epochs

TRAIN_DRIVER_CPU = 0.01  # a trial that only drives a TorchTrainer holds (almost) nothing


@dataclass(frozen=True)
class TrialSetup:
    """Plain, picklable facts every trial needs (shipped to trial processes by Tune)."""

    kind: str
    experiment: dict[str, Any]
    objectives: tuple[tuple[str, str], ...]
    runs_dir: str
    in_process: bool
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float

    @classmethod
    def from_spec(cls, spec: StudySpec, study_dir: Path) -> "TrialSetup":
        res = spec.resources
        return cls(spec.kind, dict(spec.experiment), tuple((o.metric, o.direction) for o in spec.objectives),
                   str(Path(study_dir) / "runs"), res.in_process(), res.workers, res.cpus_per_worker,
                   res.gpus_per_worker)

    def objective_list(self) -> list[Objective]:
        return [Objective(m, d) for m, d in self.objectives]

    def resources(self) -> dict[str, float]:
        """What Tune reserves for the trial process itself."""
        if self.in_process:
            return {"cpu": self.cpus_per_worker, "gpu": self.gpus_per_worker}
        return {"cpu": TRAIN_DRIVER_CPU}

    def footprint(self) -> dict[str, float]:
        """What the trial really uses (recorded in results.parquet)."""
        return {"num_workers": self.workers, "cpus": self.workers * self.cpus_per_worker,
                "gpus": self.workers * self.gpus_per_worker}


def trial_config(setup: TrialSetup, config: dict[str, Any]) -> ExperimentConfig:
    """Base config with the sampled params applied by their dotted names (validated once, here)."""
    placement = {"ray.num_workers": setup.workers, "ray.cpus_per_worker": setup.cpus_per_worker,
                 "ray.gpus_per_worker": setup.gpus_per_worker}
    if not (setup.experiment.get("logging") or {}).get("mlflow_experiment"):
        placement["logging.mlflow_experiment"] = Path(setup.runs_dir).parent.name  # the study's name
    data = apply_overrides(setup.experiment, {**sampled_params(config), **placement}, ExperimentConfig)
    return from_dict(ExperimentConfig, data, "study base config + trial params")


def sampled_params(config: dict[str, Any]) -> dict[str, Any]:
    """The searcher's params from a Tune config (bookkeeping keys start with '_')."""
    return {k: v for k, v in config.items() if not k.startswith("_")}


class ObjectiveTracker:
    """Turns each epoch's trainer metrics into the result Tune sees (objectives, fidelity, ...)."""

    def __init__(self, objectives: list[Objective], max_fidelity: int, run_dir: Path,
                 config_metrics: dict[str, float] | None = None):
        self.objectives, self.max_fidelity, self.run_dir = objectives, max_fidelity, Path(run_dir)
        self.config_metrics = dict(config_metrics or {})
        self.reports = 0
        self.best_primary: float | None = None
        self.checkpoint_path = ""
        self._load_best()

    def _load_best(self) -> None:
        """A resumed trial continues from the best checkpoint it had kept before the restart."""
        record = RunDir(self.run_dir).best_record()
        if record is not None:
            self.best_primary, self.checkpoint_path = float(record["value"]), str(record["checkpoint_path"])

    def payload(self, metrics: dict[str, Any], checkpoint_dir: str | Path | None) -> dict[str, Any]:
        self.reports += 1
        out = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        metrics = {**self.config_metrics, **metrics}
        out.update(self.config_metrics)
        for objective in self.objectives:
            out[objective_key(objective.metric)] = self.objective_value(objective, metrics)
        out[FIDELITY] = int(metrics.get("epoch", self.reports))
        out[MAX_FIDELITY] = self.max_fidelity
        out["train_seconds"] = float(metrics.get("cost/train_seconds", math.nan))
        out["run_dir"] = str(self.run_dir)
        if checkpoint_dir is not None:
            self.keep_checkpoint(Path(checkpoint_dir), out)
        out["checkpoint_path"] = self.checkpoint_path
        return out

    @staticmethod
    def objective_value(objective: Objective, metrics: dict[str, Any]) -> float:
        """Best-so-far where the trainer keeps one (`best/<m>`: best_metrics.py), else the last value."""
        value = metrics.get(f"best/{objective.metric}", metrics.get(objective.metric))
        return math.nan if value is None else float(value)

    def keep_checkpoint(self, checkpoint_dir: Path, out: dict[str, Any]) -> None:
        """Keep a copy of the checkpoint where the first objective was best (export reads it)."""
        primary = self.objectives[0]
        value = out[objective_key(primary.metric)]
        improved = math.isfinite(value) and (self.best_primary is None or (
            value < self.best_primary if primary.direction == "minimize" else value > self.best_primary))
        record = {"metric": primary.metric, "value": value, "epoch": out[FIDELITY]}
        kept = RunDir(self.run_dir).keep_best(checkpoint_dir, record) if improved else None
        if kept is not None:
            self.best_primary, self.checkpoint_path = value, str(kept)
        elif not self.checkpoint_path:  # nothing kept yet: point at the latest checkpoint
            self.checkpoint_path = str(checkpoint_file(checkpoint_dir))


def tune_reporter(tracker: ObjectiveTracker, in_process: bool) -> Callable[[dict, Path | None], None]:
    """`report` for `depthdif.train.run`: each epoch's objectives to Tune.

    In process it calls `tune.report`; with the ray backend it runs in the Train controller, where
    only the queue of a `TuneReportCallback` made here, in the Tune session, reaches this trial."""
    if in_process:
        return lambda metrics, checkpoint_dir: tune.report(tracker.payload(metrics, checkpoint_dir))
    queue = TuneReportCallback()
    return lambda metrics, checkpoint_dir: queue.after_report(None, [tracker.payload(metrics, checkpoint_dir)], None)


def run_trial(config: dict[str, Any], setup: TrialSetup) -> None:
    """The Tune function trainable (one study trial)."""
    trial_id = tune.get_context().get_trial_id()
    run_dir = Path(setup.runs_dir) / trial_id
    objectives = setup.objective_list()
    tracker = ObjectiveTracker(objectives, 0, run_dir)
    try:
        cfg = trial_config(setup, config)
        tracker.max_fidelity = max_epochs(setup.kind, cfg)
        derived = {k: fn(setup.kind, cfg) for k, fn in CONFIG_METRICS.items()}
        tracker.config_metrics = {k: v for k, v in derived.items() if v is not None}
        print(f"trial {trial_id} (#{config.get(TRIAL_NUMBER)}): {sampled_params(config)}", file=sys.stderr)
        result = train.run(setup.kind, cfg, run_dir, backend="in_process" if setup.in_process else "ray",
                           report=tune_reporter(tracker, setup.in_process), progress=False)
        error = None if result.ok else f"training {result.status}: {result.error}"
        if error is None and result.epochs_trained == 0:
            # A restored study re-ran a trial whose training had already finished (the driver
            # died before Tune recorded the end): nothing was trained, report the final epoch.
            tune.report(tracker.payload(result.metrics, result.checkpoint_dir))
    except Exception as exc:  # noqa: BLE001 - any failure becomes a FAILED trial, the study goes on
        traceback.print_exc(file=sys.stderr)
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        tune.report({FAILED: 1, ERROR: error[:4000], FIDELITY: tracker.reports,
                     MAX_FIDELITY: tracker.max_fidelity, "run_dir": str(run_dir),
                     **{objective_key(o.metric): math.nan for o in objectives}})


def make_trainable(setup: TrialSetup) -> Any:
    """The trainable Tune runs (and `Tuner.restore` is given again on resume)."""
    return tune.with_resources(tune.with_parameters(run_trial, setup=setup), setup.resources())

