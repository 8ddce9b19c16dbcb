"""The Ray Train worker: what every training process runs (the only Ray file in train/).

Read top to bottom: config → this rank's shard → system → Trainer with RayDDPStrategy /
RayLightningEnvironment → prepare_trainer → fit (from the latest checkpoint if there is one).

Reporting: `RayTrainReportCallback` checkpoints every epoch and cannot report without a
checkpoint; we need metrics every epoch, checkpoints every `training.checkpoint_every_n_epochs`
and deterministic checkpoint folder names, so `EpochReporter` (callbacks.py) drives the epoch end
and `ray_publish` below is its Ray side: every rank calls `ray.train.report` (it is a collective),
rank 0 alone attaches the checkpoint. The function's return value (rank 0) carries the status,
last metrics and best-so-far back to the driver as `Result.return_value`, which also works when
the last report had no checkpoint (V2 keeps only checkpointed metrics in `Result.metrics`).

Train local mode (`num_workers=0`) runs this same function in the driver process; Ray does not
persist local-mode checkpoints, so there they are published into the run dir by the loop's
`RunDirCheckpoints`, exactly like `fit_in_process`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow.fs
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint
from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, prepare_trainer

from depthdif.config.loader import from_dict
from depthdif.config.schema import ExperimentConfig
from depthdif.train import loop
from depthdif.train.callbacks import CHECKPOINT_FILE, Publish


def train_fn(config: dict[str, Any]) -> dict[str, Any] | None:
    """Per-worker entry point given to TorchTrainer (`train_loop_config` is plain data)."""
    kind, run_dir = config["kind"], Path(config["run_dir"])
    quiet_report_logs()
    cfg = from_dict(ExperimentConfig, config["cfg"], f"{run_dir}/config.yaml")
    ctx = ray.train.get_context()
    local_mode = config.get("local_mode", False)

    placement = ray_placement(ctx.get_world_rank(), ctx.get_world_size(), local_mode)
    prepared = loop.prepare(kind, cfg, placement)  # this rank's shard only, equal steps
    publish = local_publish(run_dir, cfg) if local_mode else ray_publish(ctx.get_world_rank())
    callbacks = loop.build_callbacks(cfg, run_dir, placement, publish, prepared.max_epochs,
                                     progress=config.get("progress", True))
    trainer = loop.build_trainer(cfg, run_dir, placement, prepared.max_epochs, callbacks.all)
    if not local_mode:
        trainer = prepare_trainer(trainer)
    outcome = loop.fit(trainer, prepared, callbacks, cfg, placement, resume_point(run_dir))
    return outcome if ctx.get_world_rank() == 0 else None


def quiet_report_logs() -> None:
    """Ray logs every report's full metrics dict at INFO; our epoch line is the progress.

    Its logger is named after the module's file path (private API, so tolerate its absence)."""
    try:
        from ray.train.v2._internal.execution import context
    except ImportError:
        return
    logging.getLogger(context.__file__).setLevel(logging.WARNING)


def ray_placement(rank: int, world_size: int, local_mode: bool) -> loop.Placement:
    """DDP through Ray's Lightning integration; local mode is the plain single-process path."""
    if local_mode:
        return loop.Placement(rank=0, world_size=1)
    use_gpu = torch.cuda.is_available() and ray.train.torch.get_device().type == "cuda"
    return loop.Placement(rank=rank, world_size=world_size, strategy=RayDDPStrategy(),
                          plugins=[RayLightningEnvironment()],
                          accelerator="gpu" if use_gpu else "cpu", devices="auto")


def resume_point(run_dir: Path) -> Path | None:
    """Ray's latest checkpoint (set after a worker restart or a snapshot restore), else the run dir's."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return loop.latest_checkpoint(run_dir)
    is_local = isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem)
    folder = Path(checkpoint.path) if is_local else Path(checkpoint.to_directory())
    return folder / CHECKPOINT_FILE


def ray_publish(rank: int) -> Publish:
    """Report an epoch to Ray Train; rank 0 attaches the checkpoint folder (named by epoch)."""

    def publish(metrics: dict[str, float], staging: Path | None) -> None:
        if rank == 0 and staging is not None:
            ray.train.report(metrics, checkpoint=Checkpoint.from_directory(str(staging)),
                             checkpoint_dir_name=staging.name)
        else:
            ray.train.report(metrics, checkpoint=None)

    return publish


def local_publish(run_dir: Path, cfg: ExperimentConfig) -> Publish:
    """Local mode: move the checkpoint into the run dir ourselves, then report metrics to Ray."""
    store = loop.RunDirCheckpoints(run_dir, cfg.training.checkpoints_to_keep)

    def publish(metrics: dict[str, float], staging: Path | None) -> None:
        final = store.store(staging) if staging is not None else None
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(str(final)) if final else None)

    return publish

