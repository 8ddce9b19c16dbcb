"""Issue 17: a latent study trial on a PCA code (fitted on the store, no AE checkpoint) runs end to end."""

from __future__ import annotations

import math

import pytest
import torch

from depthdif.study.results import read_results
from depthdif.study.runner import run_study
from depthdif.study.spec import load_study_spec
from depthdif.train.systems import load_system
from _study_helpers import TINY_EXPERIMENT, write_study


def test_latent_trial_on_a_pca_code(tmp_path, tiny_store, ray_session):
    experiment = {**TINY_EXPERIMENT, "model": {**TINY_EXPERIMENT["model"], "model_type": "latent_cond_dif"},
                  "ae": {"kind": "pca", "latent_channels": 3}}
    path = write_study(tmp_path, tiny_store, name="latent_pca", kind="latent", trials=1, experiment=experiment,
                       space={"training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2}},
                       objectives=[{"metric": "val/rmse_withheld", "direction": "minimize"},
                                   {"metric": "model/latent_channels", "direction": "minimize"}])
    outcome = run_study(load_study_spec(path), progress=False)
    df = read_results(outcome.study_dir)
    assert len(df) == 1 and df.loc[0, "state"] == "COMPLETE", df[["state", "error"]]
    assert math.isfinite(df.loc[0, "objective/val/rmse_withheld"])
    assert df.loc[0, "objective/model/latent_channels"] == 3.0
    system = load_system(df.loc[0, "checkpoint_path"])  # the fitted basis travels in the checkpoint
    assert system.cfg.ae.kind == "pca" and system.autoencoder.latent_channels == 3
    assert not torch.equal(system.autoencoder.components, torch.eye(8, 3))
