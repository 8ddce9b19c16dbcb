"""The Tune trial: sampled params → ExperimentConfig → a training run → objectives reported.

One trial = one training run named after the Tune trial id (deterministic, so a restored trial
finds its own checkpoints). Two backends, one reporting logic (`ObjectiveTracker`):

- in-process (`fit_in_process`): 1 worker, no GPU; the trial's own process trains and calls
  `ray.tune.report` each epoch. No TorchTrainer, so no ~15 s worker-group start per trial;
- TorchTrainer (`run_training`): N workers; the trial reserves `{"CPU": 0.01}` and the Train
  workers hold the real resources; metrics reach Tune through `ObjectiveReportCallback`.

Objectives are reported as `objective/<metric>`: validation error metrics as their best value so
far (the trainer's `best/<metric>`), everything else (cost, model size) as the last value. A run
that ends non-finite or crashed reports `trial_failed: 1` with its error and returns: the study
records it FAILED, tells the searcher, and goes on (no Tune retry of a deterministic failure).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from depthdif.config import ExperimentConfig, atomic_write_text, from_dict, replace_dotted

from .searcher import ERROR, FAILED, FIDELITY, MAX_FIDELITY, TRIAL_NUMBER, objective_key
from .spec import Objective, StudySpec, max_epochs

BEST_DIR = "best_checkpoint"
BEST_RECORD = "best.json"  # which objective value the kept checkpoint scored
CHECKPOINT_FILE = "checkpoint.ckpt"
TRAIN_DRIVER_CPU = 0.01  # a trial that only drives a TorchTrainer holds (almost) nothing


def _latent_channels(kind: str, cfg: ExperimentConfig) -> float | None:
    # A latent run with an AE checkpoint takes the checkpoint's own `ae` config: only the trainer
    # knows its width then, so nothing is derived here (the trainer's metric is used if logged).
    if kind == "ae" or (kind == "latent" and cfg.latent.ae_checkpoint is None):
        return float(cfg.ae.latent_channels)
    return None


# Objectives derivable from the trial's config (model size); a metric the trainer logs wins.
CONFIG_METRICS: dict[str, Callable[[str, ExperimentConfig], float | None]] = {
    "model/latent_channels": _latent_channels,
    "model/unet_base_channels": lambda kind, cfg: float(cfg.model.unet.base_channels),
}


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
    """Base config with the sampled params applied by their dotted names."""
    params = sampled_params(config)
    base = from_dict(ExperimentConfig, setup.experiment, "study base config")
    placement = {"ray.num_workers": setup.workers, "ray.cpus_per_worker": setup.cpus_per_worker,
                 "ray.gpus_per_worker": setup.gpus_per_worker}
    return replace_dotted(base, {**params, **placement}, "trial params")


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
        record = self.run_dir / BEST_DIR / BEST_RECORD
        if record.exists():
            data = json.loads(record.read_text())
            self.best_primary, self.checkpoint_path = float(data["value"]), str(data["checkpoint_path"])

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
        """Best-so-far for validation errors the trainer tracks (`best/<m>`), else the last value."""
        value = metrics.get(f"best/{objective.metric}", metrics.get(objective.metric))
        return math.nan if value is None else float(value)

    def keep_checkpoint(self, checkpoint_dir: Path, out: dict[str, Any]) -> None:
        """Keep a copy of the checkpoint where the first objective was best (export reads it)."""
        latest = checkpoint_dir / CHECKPOINT_FILE
        primary = self.objectives[0]
        value = out[objective_key(primary.metric)]
        improved = self.best_primary is None or (
            value < self.best_primary if primary.direction == "minimize" else value > self.best_primary)
        if not math.isfinite(value) or not latest.exists():
            self.checkpoint_path = self.checkpoint_path or str(latest)
            return
        if improved:
            self.best_primary = value
            target = self.run_dir / BEST_DIR / CHECKPOINT_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copyfile(latest, partial)
            os.replace(partial, target)  # readers never see half a checkpoint
            self.checkpoint_path = str(target)
            atomic_write_text(target.parent / BEST_RECORD, json.dumps(
                {"metric": primary.metric, "value": value, "epoch": out[FIDELITY], "checkpoint_path": str(target)}))


class ObjectiveReportCallback(TuneReportCallback):
    """TuneReportCallback that adds objectives/fidelity to rank 0's metrics (TorchTrainer trials)."""

    def __init__(self, tracker: ObjectiveTracker):
        super().__init__()
        self.tracker = tracker

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        path = checkpoint.path if checkpoint is not None else None
        merged = self.tracker.payload(metrics[0], path)
        super().after_report(run_context, [merged, *metrics[1:]], None)


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
        result = _train(setup, cfg, trial_id, run_dir, tracker)
        error = None if result.ok else f"training {result.status}: {result.error}"
        if error is None and tracker.reports == 0:
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


def _train(setup: TrialSetup, cfg: ExperimentConfig, trial_id: str, run_dir: Path, tracker: ObjectiveTracker):
    if setup.in_process:
        from depthdif.train.loop import fit_in_process

        def report(metrics: dict, checkpoint_dir: Path | None) -> None:
            tune.report(tracker.payload(metrics, checkpoint_dir))

        return fit_in_process(setup.kind, cfg, run_dir, report=report, resume=True, progress=False)
    from depthdif.train.runner import run_training

    return run_training(setup.kind, cfg, name=trial_id, storage_path=setup.runs_dir,
                        num_workers=setup.workers, use_gpu=setup.gpus_per_worker > 0,
                        extra_callbacks=(ObjectiveReportCallback(tracker),), progress=False)


def make_trainable(setup: TrialSetup) -> Any:
    """The trainable Tune runs (and `Tuner.restore` is given again on resume)."""
    return tune.with_resources(tune.with_parameters(run_trial, setup=setup), setup.resources())

