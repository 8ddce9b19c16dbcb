"""The ray backend: a Ray Train TorchTrainer whose workers run the training loop of loop.py.

Driver side, `fit_on_ray`: a TorchTrainer named after the run dir (`storage_path` = its parent),
so Ray keeps its checkpoints and snapshot in the run dir and a second launch of the same run dir
finds them; crashes are retried by Ray's FailureConfig (`training.max_failures`); the caller's
`report` sees every epoch through a Train callback (`ForwardReports`, run in the controller).

Worker side, `train_fn`, top to bottom: config → placement (RayDDPStrategy /
RayLightningEnvironment) → `loop.train_process` with `prepare_trainer`, resuming from the newest
complete checkpoint (RunDir.resume_point: the run dir's, or Ray's when its snapshot is newer;
a kill between Ray's upload and its snapshot leaves the run dir ahead).

Reporting: `RayTrainReportCallback` checkpoints every epoch and cannot report without a
checkpoint; we need metrics every epoch, checkpoints every `training.checkpoint_every_n_epochs`
and deterministic checkpoint folder names, so `EpochReporter` (callbacks.py) drives the epoch end
and `ray_publish` below is its Ray side: every rank calls `ray.train.report` (a collective), rank 0
alone attaches the checkpoint. Rank 0's return value carries the outcome to the driver as
`Result.return_value`, which works when the last report had no checkpoint too (V2 keeps only
checkpointed metrics in `Result.metrics`).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pyarrow.fs
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint
from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, prepare_trainer
from ray.train.v2.api.callback import UserCallback

from depthdif.config.schema import ExperimentConfig
from depthdif.train import loop
from depthdif.train.callbacks import Publish
from depthdif.train.ray_runtime import ensure_ray
from depthdif.train.result import TrainingResult, result_from_outcome
from depthdif.train.run_dir import RunDir


# --- driver side ---------------------------------------------------------------------------------
def fit_on_ray(kind: str, cfg: ExperimentConfig, run: RunDir, report: Any, progress: bool) -> TrainingResult:
    """Fit the TorchTrainer and translate its end: the worker's outcome, or the error Ray gave up with."""
    from ray.train.torch import TorchTrainer

    ensure_ray(cfg.ray.address)
    use_gpu = cfg.ray.gpus_per_worker > 0
    resources = {"CPU": cfg.ray.cpus_per_worker, **({"GPU": cfg.ray.gpus_per_worker} if use_gpu else {})}
    trainer = TorchTrainer(
        train_fn,
        train_loop_config={"kind": kind, "cfg": cfg, "run_dir": str(run.path), "progress": progress},
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.ray.num_workers, use_gpu=use_gpu,
                                               resources_per_worker=resources),
        run_config=ray.train.RunConfig(
            name=run.path.name, storage_path=str(run.path.parent),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.training.checkpoints_to_keep),
            failure_config=ray.train.FailureConfig(max_failures=cfg.training.max_failures),
            # Ray Train's INFO lines repeat every metrics dict; our epoch lines are the progress.
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),
            callbacks=[ForwardReports(report)] if report is not None else None),
    )
    try:
        result = trainer.fit()
    except Exception as exc:  # TrainingFailedError: Ray's retries are spent
        message = str(exc).strip()[:500]
        print(f"training failed: {message}", file=sys.stderr)
        return result_from_outcome(None, run, error=f"{type(exc).__name__}: {message}")
    outcome = result.return_value if isinstance(result.return_value, dict) else None
    return result_from_outcome(outcome, run)


class ForwardReports(UserCallback):
    """Hands rank 0's metrics of every report (and the checkpoint folder, if any) to `report`."""

    def __init__(self, report: Any):
        self.report = report

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        self.report(dict(metrics[0]), Path(checkpoint.path) if checkpoint is not None else None)


# --- worker side ---------------------------------------------------------------------------------
def train_fn(config: dict[str, Any]) -> dict[str, Any] | None:
    """Per-worker entry point given to TorchTrainer."""
    quiet_report_logs()
    cfg: ExperimentConfig = config["cfg"]
    run = RunDir(config["run_dir"])
    ctx = ray.train.get_context()
    rank = ctx.get_world_rank()
    outcome = loop.train_process(config["kind"], cfg, run, ray_placement(rank, ctx.get_world_size()),
                                 ray_publish(rank), run.resume_point(ray_checkpoint_folder()),
                                 progress=config.get("progress", True), wrap_trainer=prepare_trainer)
    return outcome if rank == 0 else None


def quiet_report_logs() -> None:
    """Ray logs every report's full metrics dict at INFO; our epoch line is the progress.

    Its logger is named after the module's file path (private API, so tolerate its absence)."""
    try:
        from ray.train.v2._internal.execution import context
    except ImportError:
        return
    logging.getLogger(context.__file__).setLevel(logging.WARNING)


def ray_placement(rank: int, world_size: int) -> loop.Placement:
    """DDP through Ray's Lightning integration, on the device Ray gave this worker."""
    use_gpu = torch.cuda.is_available() and ray.train.torch.get_device().type == "cuda"
    return loop.Placement(rank=rank, world_size=world_size, strategy=RayDDPStrategy(),
                          plugins=[RayLightningEnvironment()],
                          accelerator="gpu" if use_gpu else "cpu", devices="auto")


def ray_checkpoint_folder() -> Path | None:
    """The checkpoint Ray's snapshot points at (after a restart or a relaunch), as a local folder."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return None
    if isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem):
        return Path(checkpoint.path)
    return Path(checkpoint.to_directory())


def ray_publish(rank: int) -> Publish:
    """Report an epoch to Ray Train; rank 0 attaches the checkpoint folder (named by epoch)."""

    def publish(metrics: dict[str, Any], staged: Path | None) -> None:
        if rank == 0 and staged is not None:
            ray.train.report(metrics, checkpoint=Checkpoint.from_directory(str(staged)),
                             checkpoint_dir_name=staged.name)
        else:
            ray.train.report(metrics, checkpoint=None)

    return publish
