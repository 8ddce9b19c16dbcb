"""One training process: system + this rank's loaders → a Lightning Trainer → fit. No Ray here.

`train_process` is what every backend runs in each training process: the in-process backend
once in the caller's process (runner.py), the Ray backend on every worker (worker.py, which
only adds the Ray strategy and how an epoch is published). Checkpoints are ours, not
Lightning's: `EpochReporter` stages one every `training.checkpoint_every_n_epochs` and the
backend's `publish` puts it in place (callbacks.py, run_dir.py).

Equal steps per rank: DDP all-reduces gradients every step, so every rank must run the same
number of steps or the longer rank waits forever. Shards differ by at most one sample, hence by at
most one batch. `EqualSteps` pads a short rank with one *padding batch*: a copy of its last batch
with every validity mask zeroed and patch_id -1. Losses are masked (S = A ⊙ Y, or y_valid_mask
for the AE), so the padding batch contributes a zero loss and zero gradient; the DDP average of
that one step is then (sum of the other ranks' gradients) / world_size. Every real sample is
still seen exactly once per epoch (tests/train/test_shard_epoch.py). Caveat: an AE with
`ae.loss.masked_only: false` does learn from the padding copy (its loss is not masked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import lightning.pytorch as pl
import torch
import torch.distributed as dist

from depthdif.config.schema import ExperimentConfig
from depthdif.train.callbacks import EpochReporter, EpochSeeder, Publish, epoch_seed, seed_all
from depthdif.train.debug import debug_callbacks
from depthdif.train.faults import NONFINITE_STATUS, NonFiniteLossStop
from depthdif.train.result import COMPLETED
from depthdif.train.run_dir import Checkpoint, RunDir

MASK_KEYS = ("x_valid_mask", "y_valid_mask", "eo_valid_mask")


@dataclass
class Placement:
    """Where this process sits in the run: its rank and the Lightning distribution settings."""

    rank: int = 0
    world_size: int = 1
    strategy: Any = "auto"
    plugins: list = field(default_factory=list)
    accelerator: str = "cpu"
    devices: Any = 1


@dataclass
class Prepared:
    system: pl.LightningModule
    train_loader: Iterable
    val_loader: Iterable | None
    max_epochs: int


def train_process(kind: str, cfg: ExperimentConfig, run: RunDir, placement: Placement, publish: Publish,
                  resume_from: Checkpoint | None, *, system: pl.LightningModule | None = None,
                  progress: bool = True,
                  wrap_trainer: Callable[[pl.Trainer], pl.Trainer] | None = None) -> dict[str, Any]:
    """prepare → callbacks → trainer → fit, for this process; the outcome as plain data.

    `system`: an already built system (the in-process backend's, from the checks); `wrap_trainer`:
    what the Ray worker applies to the Trainer (`prepare_trainer`)."""
    prepared = prepare(kind, cfg, placement, system, resuming=resume_from is not None)
    nonfinite = NonFiniteLossStop()
    reporter = EpochReporter(publish, every_n_epochs=cfg.training.checkpoint_every_n_epochs,
                             max_epochs=prepared.max_epochs, rank=placement.rank, run_dir=run,
                             nonfinite=nonfinite, progress=progress)
    # Debug hooks first (a crash or NaN happens before anything reports), then the NaN stop, the
    # epoch report, and the reseeding that must follow the report of an epoch.
    callbacks = [*debug_callbacks(cfg.debug, run.path, placement.rank), nonfinite, reporter,
                 EpochSeeder(cfg.training.seed, placement.rank)]
    trainer = build_trainer(cfg, run, placement, prepared.max_epochs, callbacks)
    if wrap_trainer is not None:
        trainer = wrap_trainer(trainer)
    start_epoch = resume_from.epoch if resume_from else 0
    # Lightning builds the first epoch's iterator before any hook runs: seed it here the way
    # EpochSeeder seeds every later epoch, so a resumed epoch replays the same draws.
    seed_all(epoch_seed(cfg.training.seed, placement.rank, start_epoch))
    trainer.fit(prepared.system, prepared.train_loader, prepared.val_loader,
                ckpt_path=str(resume_from.file) if resume_from else None, weights_only=True)
    status, error = (NONFINITE_STATUS, nonfinite.message()) if nonfinite.tripped else (COMPLETED, None)
    return {"status": status, "error": error, "metrics": dict(reporter.last_metrics),
            "best": dict(reporter.best.values), "epochs_trained": reporter.epochs_trained}


def prepare(kind: str, cfg: ExperimentConfig, placement: Placement,
            system: pl.LightningModule | None = None, resuming: bool = False) -> Prepared:
    """System (same init on every rank) + this rank's train/val shards, padded to equal steps."""
    from depthdif.train.datamodule import make_loaders
    from depthdif.train.systems import build_system, store_meta

    if system is None:
        seed_all(cfg.training.seed)
        system = build_system(kind, cfg, store_meta(cfg), resuming=resuming)
    train_loader, val_loader = make_loaders(cfg, rank=placement.rank, world_size=placement.world_size, kind=kind)
    steps = max_across_ranks(len(train_loader))
    if steps != len(train_loader):
        train_loader = EqualSteps(train_loader, steps)
    max_epochs = int(getattr(system, "max_epochs", cfg.training.max_epochs))
    return Prepared(system, train_loader, val_loader, max_epochs)


def build_trainer(cfg: ExperimentConfig, run: RunDir, placement: Placement, max_epochs: int,
                  callbacks: list[pl.Callback]) -> pl.Trainer:
    """A Lightning Trainer configured from `training.*`; checkpoints are ours, not Lightning's."""
    from depthdif.train.loggers import make_loggers

    t = cfg.training
    return pl.Trainer(
        max_epochs=max_epochs, accelerator=placement.accelerator, devices=placement.devices,
        strategy=placement.strategy, plugins=placement.plugins or None, callbacks=callbacks,
        logger=make_loggers(cfg, run), precision=t.precision,
        gradient_clip_val=t.grad_clip, limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches, check_val_every_n_epoch=t.val_every_n_epochs,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, use_distributed_sampler=False, log_every_n_steps=1,
    )


# --- equal steps per rank ----------------------------------------------------------------------
def max_across_ranks(n: int) -> int:
    """max(n) over the ranks of the initialized process group (n itself without one)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return n
    t = torch.tensor([n], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def padding_batch(batch: dict) -> dict:
    """A zero-weight copy of `batch`: validity masks zeroed, patch_id -1 (not a sample)."""
    out = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    for key in MASK_KEYS:
        if key in out:
            out[key] = torch.zeros_like(out[key])
    if "patch_id" in out:
        out["patch_id"] = torch.full_like(torch.as_tensor(out["patch_id"]), -1)
    return out


class EqualSteps:
    """Iterate a loader, then pad with zero-weight batches up to `steps` (see module doc)."""

    def __init__(self, loader: Iterable, steps: int):
        self.loader, self.steps = loader, steps

    def __len__(self) -> int:
        return self.steps

    @property
    def sampler(self) -> Any:
        """Exposed so Lightning's `set_epoch` still reaches the inner loader's seeded shuffle."""
        return getattr(self.loader, "sampler", None)

    def __iter__(self) -> Iterator[dict]:
        last, n = None, 0
        for last in self.loader:
            n += 1
            yield last
        for _ in range(self.steps - n):
            yield padding_batch(last)
