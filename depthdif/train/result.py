"""What a training run ended with, whichever backend ran it (the study records one per trial)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthdif.train.faults import NONFINITE_STATUS, NonFiniteLossError
from depthdif.train.run_dir import RunDir

COMPLETED, FAILED = "completed", "failed"


@dataclass
class TrainingResult:
    status: str  # "completed" | "nonfinite_loss" | "failed"
    metrics: dict[str, float]  # the last reported epoch
    best: dict[str, float]  # best-so-far of each tracked validation metric (best_metrics.py)
    checkpoint_dir: Path | None  # the newest complete checkpoint folder of the run
    run_dir: Path
    error: str | None = None
    epochs_trained: int = 0  # by this call: 0 when the run had already finished

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    def raise_for_status(self) -> "TrainingResult":
        """Raise `NonFiniteLossError` / `RuntimeError` unless the run completed."""
        if self.status == NONFINITE_STATUS:
            raise NonFiniteLossError(f"{self.run_dir}: {self.error}")
        if self.status != COMPLETED:
            raise RuntimeError(f"{self.run_dir}: training {self.status}: {self.error}")
        return self


def result_from_outcome(outcome: dict[str, Any] | None, run: RunDir, error: str | None = None) -> TrainingResult:
    """A TrainingResult from a training process's outcome, completed from the run dir's metrics log
    (a crashed run, or one that had nothing left to train, reports no outcome metrics)."""
    outcome = outcome or {}
    log = run.metrics()
    metrics = {k: v for k, v in (outcome.get("metrics") or (log[-1] if log else {})).items()
               if isinstance(v, (int, float))}  # the "status" string lives in .status
    best = outcome.get("best") or {k[len("best/"):]: v for k, v in metrics.items() if k.startswith("best/")}
    status = FAILED if error else outcome.get("status", COMPLETED if metrics else FAILED)
    latest = run.latest()
    return TrainingResult(status=status, metrics=dict(metrics), best=dict(best),
                          checkpoint_dir=latest.folder if latest else None, run_dir=run.path,
                          error=error or outcome.get("error"), epochs_trained=int(outcome.get("epochs_trained", 0)))
