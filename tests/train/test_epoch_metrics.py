"""What an epoch reports: train/loss as the epoch mean, val/* only when it validated, declared bests."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest

from depthdif.train import run
from depthdif.train.best_metrics import BETTER, BestSoFar, better
from depthdif.train.datamodule import make_loaders
from depthdif.train.run_dir import RunDir
from depthdif.train.systems import build_system, store_meta

from ._tiny import tiny_config


class LossRecorder(pl.Callback):
    def __init__(self):
        self.losses, self.sizes = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss))
        self.sizes.append(int(batch["x"].shape[0]))


@pytest.mark.parametrize("kind", ["ae", "pixel"])
def test_train_loss_is_the_epoch_mean_not_the_last_batch(tiny_store, tmp_path, kind):
    cfg = tiny_config(tiny_store)
    system = build_system(kind, cfg, store_meta(cfg))
    recorder = LossRecorder()
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=4, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[recorder], default_root_dir=str(tmp_path))
    trainer.fit(system, make_loaders(cfg, kind=kind)[0])
    mean = sum(l * n for l, n in zip(recorder.losses, recorder.sizes)) / sum(recorder.sizes)
    assert len(set(recorder.losses)) == 4  # the batches differ, so mean and last batch differ
    assert float(trainer.callback_metrics["train/loss"]) == pytest.approx(mean, rel=1e-5)
    assert float(trainer.callback_metrics["train/loss"]) != pytest.approx(recorder.losses[-1], rel=1e-5)


def test_epochs_without_validation_do_not_report_stale_val_metrics(tiny_store, tmp_path):
    cfg = tiny_config(tiny_store, **{"ae.training.max_epochs": 3, "training.val_every_n_epochs": 2,
                                     "training.limit_train_batches": 2})
    reported = []
    result = run("ae", cfg, tmp_path / "run", report=lambda metrics, _: reported.append(metrics), progress=False)
    assert result.ok, result.error
    logged = RunDir(result.run_dir).metrics()
    for rows in (reported, logged):  # what Tune sees and what the log keeps
        assert [r["epoch"] for r in rows] == [1, 2, 3]
        val_keys = [{k for k in r if k.startswith("val/")} for r in rows]
        assert val_keys[0] == set() and "val/ae_rmse" in val_keys[1] and val_keys[2] == set()
        assert "best/val/ae_rmse" not in rows[0]
        assert rows[2]["best/val/ae_rmse"] == rows[1]["val/ae_rmse"]  # the best so far stays reported
        assert math.isfinite(rows[2]["train/loss"])


def test_best_direction_is_declared_per_metric(monkeypatch):
    assert better("val/rmse_withheld") == "lower" and better("val/rmse_depth/7") == "lower"
    assert better("val/ae_rmse_band/0-100m") == "lower"
    for undeclared in ("val/bias_full", "val/spread_full", "train/loss", "val/spread_skill_ratio"):
        assert better(undeclared) is None, undeclared  # no "better" direction: no best tracked
    monkeypatch.setitem(BETTER, "val/skill", "higher")
    best = BestSoFar()
    best.update({"val/loss": 0.5, "val/skill": 0.2, "val/bias_full": -0.1})
    out = best.update({"val/loss": 0.7, "val/skill": 0.4, "val/bias_full": 0.0})
    assert out == {"best/val/loss": 0.5, "best/val/skill": 0.4}
    assert best.update({"val/loss": math.nan})["best/val/loss"] == 0.5  # NaN never becomes best
    again = BestSoFar()
    again.load_state_dict(best.state_dict())  # what a checkpoint carries across a resume
    assert again.values == best.values
