"""Test-only hooks, driven by the `debug` config block: crash or poison a run on purpose, trace shards.

Tests use them to prove recovery (a crash is retried from the newest checkpoint, a NaN loss stops
every rank at once) and sharding (each patch seen once per epoch across workers). A real run
leaves `debug` at its defaults, and then `debug_callbacks` adds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from depthdif.config.schema import DebugConfig


class InjectedCrash(RuntimeError):
    """A crash raised on purpose by `debug.crash_at_step`."""


def debug_callbacks(cfg: DebugConfig, run_dir: Path, rank: int) -> list[pl.Callback]:
    """The hooks `cfg` asks for (none by default); they run before every other callback."""
    hooks: list[pl.Callback] = []
    if cfg.record_patch_ids_dir:
        hooks.append(PatchIdRecorder(Path(cfg.record_patch_ids_dir), rank))
    if cfg.crash_at_step is not None or cfg.nan_at_step is not None:
        hooks.append(FaultInjector(cfg, run_dir, rank))
    return hooks


def crash_marker(marker_dir: Path, step: int) -> Path:
    """The file whose presence means "this run already crashed once at `step`"."""
    return Path(marker_dir) / f".injected_crash_at_step_{step}"


class FaultInjector(pl.Callback):
    """Crash once at a global step (a marker file makes it once), or poison a batch with NaN."""

    def __init__(self, cfg: DebugConfig, run_dir: Path, rank: int):
        self.cfg, self.rank = cfg, rank
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
