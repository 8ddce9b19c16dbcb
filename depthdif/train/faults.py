"""The non-finite-loss stop: a NaN/inf loss ends the run at once, on every rank, unretried.

Two failures need two treatments:
- a crashed worker (process died, exception) is transient: the backend retries it from the newest
  complete checkpoint, up to `training.max_failures` times (runner.py, worker.py);
- a NaN/inf loss is deterministic: a retry would replay the same steps and burn the budget.
  `NonFiniteLossStop` stops every rank at once (the decision is reduced across ranks so DDP
  never hangs), the run ends with status `nonfinite_loss`, and `TrainingResult.raise_for_status`
  raises `NonFiniteLossError` instead of retrying.
Tests provoke both on purpose through the `debug` block (debug.py).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch

NONFINITE_STATUS = "nonfinite_loss"


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the run failed and must not be retried."""


def loss_value(outputs: Any) -> float | None:
    """The scalar loss from a training_step output (a tensor or a dict with "loss")."""
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    if isinstance(loss, torch.Tensor):
        return float(loss.detach().float().cpu())
    return None


class NonFiniteLossStop(pl.Callback):
    """Stop all ranks in the step where any rank sees a NaN/inf loss.

    The per-step check costs one scalar all-reduce under DDP; without it a rank that stopped
    alone would leave the others waiting in the next gradient all-reduce.
    """

    def __init__(self) -> None:
        self.tripped_at_step: int | None = None
        self.bad_value: float | None = None

    @property
    def tripped(self) -> bool:
        return self.tripped_at_step is not None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        value = loss_value(outputs)
        local_bad = value is not None and not math.isfinite(value)
        any_bad = trainer.strategy.reduce_boolean_decision(local_bad, all=False)
        if any_bad and not self.tripped:
            self.tripped_at_step = trainer.global_step
            self.bad_value = value
            trainer.should_stop = True

    def message(self) -> str:
        return (f"non-finite training loss at global step {self.tripped_at_step}"
                + (f" (loss={self.bad_value})" if self.bad_value is not None else " (on another rank)")
                + ": the run is stopped and not retried; lower training.lr, check the data, "
                  "or enable training.grad_clip")
