"""2-worker CPU runs (real local Ray, DDP over gloo) of the pixel and latent models.

The autoencoder's 2-worker run is in test_shard_epoch.py (it also proves the sharding).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from depthdif.train import run
from depthdif.train.run_dir import RunDir, checkpoint_name

from ._tiny import tiny_config


@pytest.mark.slow
def test_pixel_two_workers_reports_metrics_and_checkpoints(tiny_store, ray_session, tmp_path, monkeypatch):
    # Relative store and storage paths, as a user types them: workers run elsewhere, so the
    # driver must resolve them before they travel.
    monkeypatch.chdir(tiny_store.parent)
    cfg = tiny_config(Path(tiny_store.name), **{"training.limit_train_batches": 2, "ray.num_workers": 2})
    result = run("pixel", cfg, Path(os.path.relpath(tmp_path)) / "pixel2", backend="ray", progress=False)
    assert result.status == "completed", result.error
    assert result.run_dir == tmp_path / "pixel2" and RunDir(result.run_dir).exists()
    assert [row["epoch"] for row in RunDir(result.run_dir).metrics()] == [1, 2]
    for key in ("train/loss", "val/loss", "val/rmse_full", "val/rmse_withheld", "cost/train_seconds"):
        assert math.isfinite(result.metrics[key]), key
    assert result.best["val/rmse_full"] <= result.metrics["val/rmse_full"]
    assert result.checkpoint_dir.name == checkpoint_name(2)
    assert (result.run_dir / "csv").is_dir()  # the Lightning CSV logger


@pytest.mark.slow
def test_latent_two_workers_on_a_trained_autoencoder(tiny_store, ray_session, tmp_path):
    ae_cfg = tiny_config(tiny_store, **{"ae.training.max_epochs": 1})
    ae = run("ae", ae_cfg, tmp_path / "ae", progress=False)
    assert ae.status == "completed", ae.error
    cfg = tiny_config(tiny_store, **{"training.limit_train_batches": 2, "training.max_epochs": 1, "ray.num_workers": 2,
                                     "latent.ae_checkpoint": str(RunDir(ae.run_dir).latest().file)})
    result = run("latent", cfg, tmp_path / "latent2", backend="ray", progress=False)
    assert result.status == "completed", result.error
    assert result.metrics["epoch"] == 1 and math.isfinite(result.metrics["val/rmse_full"])
    assert result.metrics["model/latent_channels"] == 4.0  # the AE's width, identical after the DDP sync
    assert RunDir(result.run_dir).latest().file.exists()
