"""Lightning callbacks of the training loop: the per-epoch report + checkpoint, and the RNG.

`EpochReporter` is the one place where an epoch's metrics leave the trainer. It hands
(metrics, staged checkpoint folder or None) to a `publish` function: the in-process backend
moves the checkpoint into the run dir and calls the caller's `report`; the Ray worker calls
`ray.train.report`. Everything else (best-so-far, cost, the epoch line, metrics.jsonl) is the
same on both backends.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import lightning.pytorch as pl
import torch

from depthdif.train.best_metrics import BestSoFar
from depthdif.train.faults import NONFINITE_STATUS, NonFiniteLossStop
from depthdif.train.run_dir import RunDir, discard_staged, stage_checkpoint

Publish = Callable[[dict[str, Any], Path | None], None]
VAL_PREFIX = "val/"


def epoch_seed(seed: int, rank: int, epoch: int) -> int:
    """The RNG seed of (run seed, rank, epoch): a resumed epoch replays the same random draws."""
    return (seed * 1_000_003 + rank * 7919 + epoch * 104_729) % (2**31 - 1)


def seed_all(seed: int) -> None:
    """Python, numpy and torch RNGs, through Lightning's `seed_everything` (quietly)."""
    pl.seed_everything(seed, verbose=False)


class EpochSeeder(pl.Callback):
    """Reseed every RNG at each epoch boundary from (seed, rank, next epoch).

    Why not save RNG states in the checkpoint: only rank 0 writes it, so other ranks' states
    would be lost. Seeding by epoch makes the stream a pure function of where we are, so a run
    resumed at epoch e draws exactly what an uninterrupted run draws (the loop seeds the first
    epoch the same way before `fit`, because Lightning creates the first iterator before hooks).
    """

    def __init__(self, seed: int, rank: int):
        self.seed, self.rank = seed, rank

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seed_all(epoch_seed(self.seed, self.rank, trainer.current_epoch + 1))


class EpochReporter(pl.Callback):
    """Every epoch: metrics (+ best-so-far and cost) to `publish`; every N epochs a checkpoint.

    `val/*` values are reported only for epochs that validated: Lightning keeps the last
    validation's values around, and re-reporting them would tell Tune and the log stale news."""

    def __init__(self, publish: Publish, *, every_n_epochs: int, max_epochs: int, rank: int,
                 run_dir: RunDir, nonfinite: NonFiniteLossStop, progress: bool = True):
        self.publish = publish
        self.every_n_epochs, self.max_epochs = every_n_epochs, max_epochs
        self.rank, self.run_dir, self.nonfinite, self.progress = rank, run_dir, nonfinite, progress
        self.best = BestSoFar()
        self.train_seconds = 0.0  # accumulated over resumes through state_dict
        self.last_metrics: dict[str, Any] = {}
        self.epochs_trained = 0  # by this process (a resumed run counts only its new epochs)
        self._epoch_start = time.perf_counter()
        self._validated = False

    # --- state carried in the Lightning checkpoint (so resumes keep best and cost) -------------
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best.state_dict(), "train_seconds": self.train_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best.load_state_dict(state_dict.get("best", {}))
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.perf_counter()
        self._validated = False

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validated = self._validated or not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.train_seconds += time.perf_counter() - self._epoch_start
        epoch = trainer.current_epoch + 1
        metrics = self._collect(trainer, epoch)
        staged = None
        if not self.nonfinite.tripped and (epoch % self.every_n_epochs == 0 or epoch >= self.max_epochs):
            # Every rank saves (a collective); only rank 0 gets the folder.
            staged = stage_checkpoint(epoch, lambda f: trainer.save_checkpoint(f, weights_only=False),
                                      keep=self.rank == 0)
        self.last_metrics, self.epochs_trained = metrics, self.epochs_trained + 1
        if self.rank == 0:
            # The line is on disk before the checkpoint is published: a kill in between replays
            # the epoch from the previous checkpoint (last line wins), never loses the line.
            self.run_dir.append_metrics(metrics)
            if self.progress:
                print(format_epoch_line(metrics, self.max_epochs), file=sys.stderr, flush=True)
        try:
            self.publish(metrics, staged)
        finally:
            if staged is not None:
                discard_staged(staged)

    def _collect(self, trainer: pl.Trainer, epoch: int) -> dict[str, Any]:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if (self._validated or not k.startswith(VAL_PREFIX))
                   and (isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1))}
        metrics.update(self.best.update(metrics))
        metrics.update({"epoch": float(epoch), "step": float(trainer.global_step),
                        "cost/train_seconds": self.train_seconds})
        # A string, so Tune's result table shows it; the driver reads the worker's return value.
        metrics["status"] = NONFINITE_STATUS if self.nonfinite.tripped else "ok"
        return metrics


def format_epoch_line(metrics: dict[str, Any], max_epochs: int) -> str:
    """`epoch 3/10  train/loss=0.1234  val/rmse_full=0.5678  (12.3 s)`; best/* left out."""
    shown = [f"{k}={v:.4g}" for k, v in sorted(metrics.items())
             if isinstance(v, float) and not k.startswith("best/") and "_depth/" not in k
             and k not in ("epoch", "step", "cost/train_seconds")]
    if metrics.get("status", "ok") != "ok":
        shown.append(f"status={metrics['status']}")
    return (f"epoch {int(metrics['epoch'])}/{max_epochs}  " + "  ".join(shown)
            + f"  ({metrics['cost/train_seconds']:.1f} s)")
