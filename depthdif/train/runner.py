"""Launch one training run as a Ray Train `TorchTrainer` and turn its end into a `TrainingResult`.

The run directory is `<storage_path>/<name>`. The name is deterministic (a Tune trial passes its
trial id; the CLI derives one from the kind and the resolved config), so launching the same
(storage_path, name) again finds Ray's run snapshot and resumes from the latest checkpoint;
that is also how `--resume RUN_DIR` works. `storage_path` is made absolute first: Ray 2.60 fails on
relative paths (RAY_NOTES.md §1.3).

Everything that can fail without a worker is checked before one starts: the config (already
typed), the trainer kind, the store and its level count (by building the system once).

Failures: a crash is retried by Ray up to `training.max_failures` times from the latest
checkpoint; beyond that the result has status "failed". A NaN/inf loss is not a crash: the
workers stop and return status "nonfinite_loss" (nothing is retried, see faults.py), and
`TrainingResult.raise_for_status()` raises `NonFiniteLossError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from depthdif.config.loader import dump_yaml
from depthdif.config.schema import ExperimentConfig, RayConfig
from depthdif.train.faults import NonFiniteLossError
from depthdif.train.loop import (TrainingResult, check_run_inputs, result_from_outcome,
                                 write_run_config)

__all__ = ["TrainingResult", "NonFiniteLossError", "run_training", "default_run_name",
           "absolute_storage", "ensure_ray"]

QUIET_RAY_ENV = {"RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def default_run_name(kind: str, cfg: ExperimentConfig) -> str:
    """`<kind>-<hash of the resolved config>`: the same command resumes the same run.

    The `ray` block (workers, address, storage) is left out of the hash: where a run executes
    does not change what it trains, so it may resume with a different number of workers.
    """
    what = dataclasses.replace(cfg, ray=RayConfig())
    digest = hashlib.sha256(dump_yaml(what).encode()).hexdigest()[:10]
    return f"{kind}-{digest}"


def absolute_storage(storage_path: str | Path) -> Path:
    """An absolute local/shared-filesystem path (`~` expanded); URIs are refused for now."""
    text = str(storage_path)
    if "://" in text:
        raise ValueError(f"ray.storage_path: {text!r}: cloud URIs are not supported by the trainer yet "
                         "(its run dir holds metrics.jsonl and the config); use a shared filesystem path")
    return Path(text).expanduser().resolve()


def ensure_ray(address: str | None) -> None:
    """Join `address` / $RAY_ADDRESS if given, else start a local runtime (unless one is up)."""
    import ray

    for key, value in QUIET_RAY_ENV.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    ray.init(address=target, log_to_driver=True)


def run_training(kind: str, cfg: ExperimentConfig, *, name: str, storage_path: str | Path,
                 num_workers: int | None = None, use_gpu: bool | None = None,
                 extra_callbacks: Sequence = (), progress: bool = True) -> TrainingResult:
    """Train `kind` ("pixel" | "latent" | "ae") on Ray Train; reuse of (storage_path, name) resumes.

    `num_workers` / `use_gpu` override `cfg.ray` (0 workers = Train local mode, in this process).
    `extra_callbacks` are Ray Train `UserCallback`s (e.g. Tune's `TuneReportCallback`).
    Config and data errors raise before any worker starts; training failures come back as
    `TrainingResult.status` ("completed" | "nonfinite_loss" | "failed") with `error` set.
    """
    cfg = with_absolute_paths(cfg)
    workers = cfg.ray.num_workers if num_workers is None else num_workers
    if workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {workers}")
    resolved = check_run_inputs(kind, cfg, world_size=max(workers, 1))
    run_dir = absolute_storage(storage_path) / name
    write_run_config(resolved, run_dir, kind)
    gpu = cfg.ray.gpus_per_worker > 0 if use_gpu is None else use_gpu
    trainer = make_trainer(kind, cfg, run_dir, workers, gpu, extra_callbacks, progress)
    # Ray retries crashed workers itself; local mode runs in this process, so retry here.
    local_retries = cfg.training.max_failures if workers == 0 else 0
    return finish(trainer, run_dir, local_retries)


def with_absolute_paths(cfg: ExperimentConfig) -> ExperimentConfig:
    """Workers run in other directories (and on other nodes): resolve local paths in the driver."""
    from depthdif.config.loader import replace_dotted

    paths = {"data.store": cfg.data.store, "latent.ae_checkpoint": cfg.latent.ae_checkpoint}
    updates = {key: str(Path(value).expanduser().resolve())
               for key, value in paths.items() if value and "://" not in value}
    return replace_dotted(cfg, updates, "<absolute paths>")


def make_trainer(kind: str, cfg: ExperimentConfig, run_dir: Path, workers: int, use_gpu: bool,
                 extra_callbacks: Sequence, progress: bool):
    """The TorchTrainer: scaling, run name + absolute storage, checkpoint and failure policy."""
    import ray.train
    from ray.train.torch import TorchTrainer

    from depthdif.config.loader import to_dict
    from depthdif.train.worker import train_fn

    if workers > 0:
        ensure_ray(cfg.ray.address)
    else:  # local mode ignores LoggingConfig: silence the per-report dict dump here
        logging.getLogger("ray.train.v2._internal.execution.train_fn_utils").setLevel(logging.WARNING)
    resources = {"CPU": cfg.ray.cpus_per_worker}
    if use_gpu:
        resources["GPU"] = cfg.ray.gpus_per_worker or 1.0
    return TorchTrainer(
        train_fn,
        train_loop_config={"kind": kind, "cfg": to_dict(cfg), "run_dir": str(run_dir),
                           "local_mode": workers == 0, "progress": progress},
        scaling_config=ray.train.ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                               resources_per_worker=resources if workers else None),
        run_config=ray.train.RunConfig(
            name=run_dir.name, storage_path=str(run_dir.parent),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.training.checkpoints_to_keep),
            failure_config=ray.train.FailureConfig(max_failures=cfg.training.max_failures),
            # Ray Train's INFO lines repeat every metrics dict; our epoch lines are the progress.
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),
            callbacks=list(extra_callbacks) or None),
    )


def finish(trainer, run_dir: Path, local_retries: int = 0) -> TrainingResult:
    """Fit and translate: the worker's return value, or the error Ray gave up with."""
    for attempt in range(local_retries + 1):
        try:
            result = trainer.fit()
        except Exception as exc:  # TrainingFailedError from Ray; the raw error in local mode
            if attempt < local_retries:
                print(f"training crashed ({first_line(exc, 200)}); retry {attempt + 1}/{local_retries} "
                      "from the latest checkpoint", file=sys.stderr)
                continue
            print(f"training failed: {first_line(exc)}", file=sys.stderr)
            return result_from_outcome(None, run_dir, error=f"{type(exc).__name__}: {first_line(exc)}")
        outcome = result.return_value if isinstance(result.return_value, dict) else None
        return result_from_outcome(outcome, run_dir)
    raise AssertionError("unreachable")


def first_line(exc: BaseException, limit: int = 500) -> str:
    text = str(exc).strip()
    return text[:limit]
