"""2-worker CPU runs (real local Ray, DDP over gloo) of the pixel and latent models.

The autoencoder's 2-worker run is in test_shard_epoch.py (it also proves the sharding).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from depthdif.train.loop import fit_in_process, read_metrics_log
from depthdif.train.runner import run_training

from ._tiny import tiny_config


@pytest.mark.slow
def test_pixel_two_workers_reports_metrics_and_checkpoints(tiny_store, ray_session, tmp_path, monkeypatch):
    # Relative store and storage paths, as a user types them: workers run elsewhere, so the
    # driver must resolve them before they travel.
    monkeypatch.chdir(tiny_store.parent)
    cfg = tiny_config(Path(tiny_store.name), **{"training.limit_train_batches": 2})
    result = run_training("pixel", cfg, name="pixel2", storage_path=os.path.relpath(tmp_path),
                          num_workers=2, progress=False)
    assert result.status == "completed", result.error
    assert result.run_dir == tmp_path / "pixel2" and (result.run_dir / "config.yaml").exists()
    assert [row["epoch"] for row in read_metrics_log(result.run_dir)] == [1, 2]
    for key in ("train/loss", "val/loss", "val/rmse_full", "val/rmse_withheld", "cost/train_seconds"):
        assert math.isfinite(result.metrics[key]), key
    assert result.best["val/rmse_full"] <= result.metrics["val/rmse_full"]
    assert result.checkpoint_dir.name == "checkpoint_epoch=00002"
    assert (result.run_dir / "csv").is_dir()  # the Lightning CSV logger


@pytest.mark.slow
def test_latent_two_workers_on_a_trained_autoencoder(tiny_store, ray_session, tmp_path):
    ae_cfg = tiny_config(tiny_store, **{"ae.training.max_epochs": 1})
    ae = fit_in_process("ae", ae_cfg, tmp_path / "ae", progress=False)
    assert ae.status == "completed", ae.error
    cfg = tiny_config(tiny_store, **{"model.model_type": "latent_cond_dif", "training.limit_train_batches": 2,
                                     "training.max_epochs": 1,
                                     "latent.ae_checkpoint": str(ae.checkpoint_dir / "checkpoint.ckpt")})
    result = run_training("latent", cfg, name="latent2", storage_path=tmp_path, num_workers=2, progress=False)
    assert result.status == "completed", result.error
    assert result.metrics["epoch"] == 1 and math.isfinite(result.metrics["val/rmse_full"])
    assert result.metrics["model/latent_channels"] == 4.0  # the AE's width, identical after the DDP sync
    assert (result.checkpoint_dir / "checkpoint.ckpt").exists()
