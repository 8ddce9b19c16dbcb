"""Training: `run(kind, cfg, run_dir, backend="in_process"|"ray", report=...)` is the one entry point.

    runner.py      run(): absolute paths, checks (the system built once), the run's config,
                   the in-process backend and its retries
    run_dir.py     RunDir: the run folder's layout, checkpoints, resume point, metrics log, best
    loop.py        one training process: loaders + Lightning Trainer + fit (no Ray)
    worker.py      the ray backend: TorchTrainer (driver) and its per-worker function
    callbacks.py   per-epoch report + checkpoint, RNG seeding
    best_metrics.py  which validation metrics keep a best value, and which way is better
    faults.py      the non-finite-loss stop;  debug.py: test-only fault injection and traces
    datamodule.py  loaders (shards, seeded shuffle, the validation draw);  systems.py: kind → module
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainingResult", "run"]


def __getattr__(name: str) -> Any:
    """`run` and `TrainingResult` load on first use: importing a light module of this package
    (run_dir, ray_runtime) must not import Lightning and every model."""
    if name == "run":
        from depthdif.train.runner import run

        return run
    if name == "TrainingResult":
        from depthdif.train.result import TrainingResult

        return TrainingResult
    raise AttributeError(f"module 'depthdif.train' has no attribute {name!r}")
