"""Fault injection for tests, and the non-finite-loss stop.

Two different failures need two different treatments:
- a crashed worker (process died, exception) is transient: Ray Train restarts the worker group
  from the latest checkpoint, up to `training.max_failures` times;
- a NaN/inf loss is deterministic: a retry would replay the same steps and burn the budget.
  `NonFiniteLossStop` stops every rank at once (the decision is reduced across ranks so DDP
  never hangs), the run ends with status `nonfinite_loss`, and the driver raises
  `NonFiniteLossError` instead of retrying.

`FaultInjector` makes both happen on purpose at a chosen global step, so tests prove recovery.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from depthdif.config.schema import FaultInjectionConfig

NONFINITE_STATUS = "nonfinite_loss"


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the run failed and must not be retried."""


class InjectedCrash(RuntimeError):
    """A crash raised on purpose by `training.fault_injection.crash_at_step` (tests only)."""


def crash_marker(marker_dir: Path, step: int) -> Path:
    """The file whose presence means "this run already crashed once at `step`"."""
    return Path(marker_dir) / f".injected_crash_at_step_{step}"


class FaultInjector(pl.Callback):
    """Crash once at a global step (a marker file makes it once), or poison a batch with NaN."""

    def __init__(self, cfg: FaultInjectionConfig, run_dir: Path, rank: int):
        self.cfg = cfg
        self.rank = rank
        self.marker_dir = Path(cfg.marker_dir) if cfg.marker_dir else Path(run_dir)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if self.cfg.crash_at_step is not None and step == self.cfg.crash_at_step:
            self._crash_once(step)
        if self.cfg.nan_at_step is not None and step == self.cfg.nan_at_step and self.rank == 0:
            poison_batch(batch)

    def _crash_once(self, step: int) -> None:
        if self.rank != self.cfg.crash_rank:
            return
        marker = crash_marker(self.marker_dir, step)
        if marker.exists():
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"rank {self.rank} crashed here on purpose\n")
        raise InjectedCrash(f"fault injection: rank {self.rank} crashes at global step {step} "
                            f"(marker {marker}; delete it to crash again)")


def poison_batch(batch: Any) -> None:
    """Fill every floating tensor of a batch with NaN, in place (the loss then becomes NaN)."""
    tensors = batch.values() if isinstance(batch, dict) else batch
    for value in tensors:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            value.fill_(float("nan"))


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
