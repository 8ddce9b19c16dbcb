"""The Lightning loggers of a run: the CSV log always, plus `logging.backend`'s (TensorBoard, MLflow).

Everything stays on disk beside the run: TensorBoard event files in `<run_dir>/tensorboard/`, an
MLflow *file store* (no tracking server; MLflow 3 keeps it in maintenance mode behind
MLFLOW_ALLOW_FILE_STORE, set here) in `<run_dir>/../mlruns` unless `logging.mlflow_tracking_uri`
says otherwise (e.g. `sqlite:///abs/mlflow.db`). MLflow is an optional extra (`pip install -e '.[mlflow]'`): asking for it without
the package fails before training, with the install command.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from depthdif.config.schema import ExperimentConfig
from depthdif.train.run_dir import RunDir

TENSORBOARD_DIR, MLRUNS_DIR = "tensorboard", "mlruns"
DEFAULT_EXPERIMENT = "depthdif"


def check_backend(cfg: ExperimentConfig) -> None:
    """Refuse a backend whose package is missing, naming the extra that installs it."""
    backend = cfg.logging.backend
    if backend == "mlflow" and importlib.util.find_spec("mlflow") is None:
        raise ValueError("logging.backend: mlflow needs the mlflow package: pip install -e '.[mlflow]'")
    if backend == "tensorboard" and not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise ValueError("logging.backend: tensorboard needs tensorboard or tensorboardX: pip install tensorboard")


def mlflow_tracking_uri(cfg: ExperimentConfig, run: RunDir) -> str:
    """The configured URI, else a file store beside the run dirs (shared by a study's trials)."""
    return cfg.logging.mlflow_tracking_uri or (run.path.parent / MLRUNS_DIR).resolve().as_uri()


def make_loggers(cfg: ExperimentConfig, run: RunDir) -> list:
    """[CSVLogger, + the backend's logger] for the Lightning Trainer."""
    from lightning.pytorch.loggers import CSVLogger

    save_dir, name = run.lightning_log
    loggers = [CSVLogger(save_dir=str(save_dir), name=name)]
    check_backend(cfg)
    if cfg.logging.backend == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(run.path), name=TENSORBOARD_DIR, version="",
                                         default_hp_metric=False))
    elif cfg.logging.backend == "mlflow":
        from lightning.pytorch.loggers import MLFlowLogger

        uri = mlflow_tracking_uri(cfg, run)
        if uri.startswith("file:"):  # MLflow 3 keeps its file store working behind this opt-in
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        loggers.append(MLFlowLogger(experiment_name=cfg.logging.mlflow_experiment or DEFAULT_EXPERIMENT,
                                    run_name=Path(run.path).name, tracking_uri=uri,
                                    tags={"run_dir": str(run.path)}))
    return loggers
