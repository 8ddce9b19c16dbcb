"""Lightning callbacks of the training loop: per-epoch report + checkpoint, RNG, shard trace.

`EpochReporter` is the one place where an epoch's metrics leave the trainer. It hands
(metrics, checkpoint staging dir or None) to a `publish` function; the Ray worker publishes to
`ray.train.report`, the in-process loop moves the checkpoint into the run dir and calls the
caller's `report`. Everything else (best-so-far, cost, the epoch log line, metrics.jsonl) is
identical on both paths.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import lightning.pytorch as pl
import numpy as np
import torch

from depthdif.train.faults import NONFINITE_STATUS, NonFiniteLossStop

CHECKPOINT_FILE = "checkpoint.ckpt"
METRICS_FILE = "metrics.jsonl"
# Substrings of validation metrics where lower is better; "best/<key>" keeps their minimum.
LOWER_IS_BETTER = ("loss", "rmse", "mae", "crps")

Publish = Callable[[dict[str, Any], Path | None], None]


def is_error_metric(key: str) -> bool:
    """Validation error metrics (tracked best-so-far); spreads, biases, fractions are not."""
    return key.startswith("val/") and any(token in key for token in LOWER_IS_BETTER)


def checkpoint_dir_name(epoch: int) -> str:
    """Deterministic checkpoint folder name (sorts by epoch; `epoch` counts completed epochs)."""
    return f"checkpoint_epoch={epoch:05d}"


def epoch_seed(seed: int, rank: int, epoch: int) -> int:
    """The RNG seed of (run seed, rank, epoch): a resumed epoch replays the same random draws."""
    return (seed * 1_000_003 + rank * 7919 + epoch * 104_729) % (2**31 - 1)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class EpochSeeder(pl.Callback):
    """Reseed torch/numpy/random at each epoch boundary from (seed, rank, next epoch).

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
    """Every epoch: metrics (+ best-so-far and cost) to `publish`; every N epochs a checkpoint."""

    def __init__(self, publish: Publish, *, every_n_epochs: int, max_epochs: int, rank: int,
                 run_dir: Path, nonfinite: NonFiniteLossStop, progress: bool = True):
        self.publish = publish
        self.every_n_epochs, self.max_epochs = every_n_epochs, max_epochs
        self.rank, self.run_dir, self.nonfinite, self.progress = rank, Path(run_dir), nonfinite, progress
        self.best: dict[str, float] = {}
        self.train_seconds = 0.0  # accumulated over resumes through state_dict
        self.last_metrics: dict[str, float] = {}
        self.last_checkpoint_epoch: int | None = None
        self._epoch_start = time.perf_counter()

    # --- state carried in the Lightning checkpoint (so resumes keep best and cost) -------------
    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best), "train_seconds": self.train_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = dict(state_dict.get("best", {}))
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.train_seconds += time.perf_counter() - self._epoch_start
        epoch = trainer.current_epoch + 1
        metrics = self._collect(trainer, epoch)
        staging = None
        if not self.nonfinite.tripped and self._is_checkpoint_epoch(epoch):
            staging = self._save_staging(trainer, epoch)
        self.last_metrics = metrics
        if staging is not None:
            self.last_checkpoint_epoch = epoch
        if self.rank == 0:
            # The line is on disk before the checkpoint is published: a kill in between replays
            # the epoch from the previous checkpoint (last line wins), never loses the line.
            append_jsonl(self.run_dir / METRICS_FILE, metrics)
            if self.progress:
                print(format_epoch_line(metrics, self.max_epochs), file=sys.stderr, flush=True)
        try:
            self.publish(metrics, staging)
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging.parent, ignore_errors=True)

    def _is_checkpoint_epoch(self, epoch: int) -> bool:
        return epoch % self.every_n_epochs == 0 or epoch >= self.max_epochs

    def _collect(self, trainer: pl.Trainer, epoch: int) -> dict[str, float]:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1)}
        for key, value in metrics.items():
            if is_error_metric(key) and np.isfinite(value) and value < self.best.get(key, float("inf")):
                self.best[key] = value
        metrics.update({f"best/{k}": v for k, v in self.best.items()})
        metrics.update({"epoch": float(epoch), "step": float(trainer.global_step),
                        "cost/train_seconds": self.train_seconds})
        # A string, so Tune's result table shows it; the driver reads the worker's return value.
        metrics["status"] = NONFINITE_STATUS if self.nonfinite.tripped else "ok"
        return metrics

    def _save_staging(self, trainer: pl.Trainer, epoch: int) -> Path | None:
        """All ranks call save_checkpoint (it has a barrier); only rank 0 gets a folder back."""
        staging_root = Path(tempfile.mkdtemp(prefix=f"depthdif-ckpt-r{self.rank}-"))
        folder = staging_root / checkpoint_dir_name(epoch)
        folder.mkdir()
        trainer.save_checkpoint(folder / CHECKPOINT_FILE, weights_only=False)
        if self.rank != 0:
            shutil.rmtree(staging_root, ignore_errors=True)
            return None
        return folder


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line and fsync it. A torn tail left by a kill is closed off with a newline
    first, so it stays one bad line (readers skip it) instead of swallowing this one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        torn = False
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            torn = fh.read(1) != b"\n"
        fh.write((b"\n" if torn else b"") + json.dumps(row).encode() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def format_epoch_line(metrics: dict[str, float], max_epochs: int) -> str:
    """`epoch 3/10  train/loss=0.1234  val/rmse_full=0.5678  (12.3 s)`; best/* left out."""
    shown = [f"{k}={v:.4g}" for k, v in sorted(metrics.items())
             if isinstance(v, float) and not k.startswith("best/") and "_depth/" not in k
             and k not in ("epoch", "step", "cost/train_seconds")]
    if metrics.get("status", "ok") != "ok":
        shown.append(f"status={metrics['status']}")
    return (f"epoch {int(metrics['epoch'])}/{max_epochs}  " + "  ".join(shown)
            + f"  ({metrics['cost/train_seconds']:.1f} s)")


class PatchIdRecorder(pl.Callback):
    """Append each trained/validated patch_id to `<dir>/<split>-epoch<E>-rank<R>.txt` (shard proof).

    Padding batches (patch_id -1, see loop.EqualSteps) are not samples and are not recorded.
    """

    def __init__(self, out_dir: Path, rank: int):
        self.out_dir, self.rank = Path(out_dir), rank
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def _write(self, split: str, epoch: int, batch: Any) -> None:
        ids = [int(i) for i in torch.as_tensor(batch["patch_id"]).reshape(-1).tolist() if int(i) >= 0]
        with open(self.out_dir / f"{split}-epoch{epoch}-rank{self.rank}.txt", "a") as fh:
            fh.writelines(f"{i}\n" for i in ids)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        self._write("train", trainer.current_epoch, batch)

    def on_validation_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                  batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if not trainer.sanity_checking:
            self._write("val", trainer.current_epoch, batch)
