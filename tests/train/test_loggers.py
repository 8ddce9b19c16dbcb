"""`logging.backend`: each epoch's metrics also reach TensorBoard event files or a local MLflow
file store (no server), beside the CSV log that every run keeps."""

from __future__ import annotations

import importlib.util

import pytest

from depthdif.train import run
from depthdif.train.loggers import MLRUNS_DIR, TENSORBOARD_DIR
from ._tiny import tiny_config

ONE_EPOCH = {"training.max_epochs": 1, "training.limit_train_batches": 2}


def test_tensorboard_backend_writes_event_files_in_the_run_dir(tiny_store, tmp_path):
    from tensorboardX.event_file_writer import EventFileWriter  # noqa: F401 - the writer Lightning falls back to

    cfg = tiny_config(tiny_store, **ONE_EPOCH, **{"logging.backend": "tensorboard"})
    result = run("pixel", cfg, tmp_path / "tb-run", progress=False)
    assert result.ok, result.error
    events = list((tmp_path / "tb-run" / TENSORBOARD_DIR).rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert (tmp_path / "tb-run" / "csv").is_dir()  # the CSV log is kept whatever the backend


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow not installed (extra [mlflow])")
def test_mlflow_backend_logs_to_a_local_file_store(tiny_store, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # the reader below opens the same file store
    cfg = tiny_config(tiny_store, **ONE_EPOCH, **{"logging.backend": "mlflow", "logging.mlflow_experiment": "demo"})
    result = run("pixel", cfg, tmp_path / "runs" / "ml-run", progress=False)
    assert result.ok, result.error
    store = tmp_path / "runs" / MLRUNS_DIR
    client = mlflow.tracking.MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name("demo")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == "ml-run" and logged.data.tags["run_dir"] == str((tmp_path / "runs" / "ml-run"))
    assert "train/loss" in logged.data.metrics and "val/loss" in logged.data.metrics


def test_a_missing_backend_package_fails_before_training(tiny_store, tmp_path, monkeypatch):
    import importlib.util as util

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    cfg = tiny_config(tiny_store, **{"logging.backend": "mlflow"})
    with pytest.raises(ValueError, match=r"pip install -e '\.\[mlflow\]'"):
        run("pixel", cfg, tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()
