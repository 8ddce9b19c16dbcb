"""Study → export folder → predict, with a real trained checkpoint and a real study directory.

The checkpoint comes from one tiny real training run (`depthdif.train.run`, 2 steps); the study
directory is written with the study layer's own spec and results writers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from safetensors.torch import load_file

from depthdif.cli import main
from depthdif.export import (MANIFEST, ExportError, export_study, load_export, read_export_info,
                             select_trials, verify_manifest)

REPO = Path(__file__).resolve().parents[2]
OBJECTIVES = [{"metric": "val/rmse_withheld", "direction": "minimize"},
              {"metric": "val/skill", "direction": "maximize"}]


@pytest.fixture(scope="module")
def trained(tiny_store, tmp_path_factory):
    """(config, checkpoint path) of a 2-step pixel training run on the tiny store."""
    from depthdif.config import ExperimentConfig, replace_dotted
    from depthdif.train import run
    from depthdif.train.run_dir import RunDir

    cfg = replace_dotted(ExperimentConfig(), {
        "data.store": str(tiny_store), "data.batch_size": 4, "data.val_subset": 2,
        "model.unet.base_channels": 8, "model.unet.channel_mults": [1, 2], "model.unet.attention_levels": [],
        "model.unet.groups": 4, "model.unet.time_embed_dim": 16,
        "diffusion.timesteps": 50, "sampling.steps": 3, "sampling.ensemble_size": 2,
        "training.max_epochs": 1, "training.limit_train_batches": 2, "training.limit_val_batches": 1,
    })
    result = run("pixel", cfg, tmp_path_factory.mktemp("run") / "trial", progress=False, resume=False)
    assert result.ok, result.error
    return cfg, RunDir(result.run_dir).latest().file


@pytest.fixture(scope="module")
def study_dir(trained, tmp_path_factory):
    """A study dir with 4 trials: t0, t1 on the front, t2 dominated, t3 failed."""
    from depthdif.config import to_dict
    from depthdif.study.results import write_results
    from depthdif.study.spec import load_study_spec, save_study_spec

    cfg, checkpoint = trained
    root = tmp_path_factory.mktemp("studies")
    source = root / "demo.yaml"
    source.write_text(yaml.safe_dump({
        "kind": "pixel", "name": "demo", "storage": str(root), "objectives": OBJECTIVES,
        "experiment": to_dict(cfg), "data": {"store": cfg.data.store},
        "search_space": {"training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2}},
    }))
    directory = root / "demo"
    save_study_spec(load_study_spec(source, check_metrics=False), directory)  # objectives made up here
    rows = []
    for number, (state, rmse, skill) in enumerate([("COMPLETE", 1.0, 0.5), ("COMPLETE", 2.0, 0.9),
                                                   ("COMPLETE", 2.5, 0.4), ("FAILED", None, None)]):
        rows.append({"trial_id": f"abc_0000{number}", "trial_number": number, "state": state,
                     "param/training.lr": 1e-3 * (number + 1), "objective/val/rmse_withheld": rmse,
                     "objective/val/skill": skill, "fidelity": 1, "duration_s": 3.0,
                     "checkpoint_path": str(checkpoint) if state == "COMPLETE" else None,
                     "run_dir": str(checkpoint.parent.parent), "error": "boom" if state == "FAILED" else None})
    write_results(directory, rows)
    return directory


@pytest.fixture(scope="module")
def exported(study_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    (path,) = export_study(study_dir, out, trial="abc_00001")
    return path


def _first_batch(store, n=3):
    from depthdif.data.dataset import PatchDataset

    items = [PatchDataset(store, "test")[i] for i in range(n)]
    return torch.utils.data.default_collate(items)


def test_export_folder_is_complete_and_self_describing(exported, trained):
    from depthdif.train.systems import load_system

    cfg, checkpoint = trained
    assert exported.name == "trial_abc_00001"
    assert {p.name for p in exported.iterdir()} == {"weights.safetensors", "config.yaml", "normalization.json",
                                                    "objectives.json", "params.json", "metadata.json", MANIFEST}
    verify_manifest(exported)
    info = read_export_info(exported)
    assert info.config == cfg and info.kind == "pixel" and info.trial_id == "abc_00001"
    assert info.params == {"training.lr": pytest.approx(2e-3)}
    assert info.objectives["val/skill"] == {"value": 0.9, "direction": "maximize"}
    assert info.metadata["package_version"] and info.metadata["source_checkpoint"] == str(checkpoint.resolve())
    assert info.metadata["state"] == "COMPLETE" and info.metadata["created"].endswith("+00:00")
    np.testing.assert_allclose(info.depth, load_system(checkpoint).depth)
    weights = load_file(str(exported / "weights.safetensors"))
    expected = load_system(checkpoint).export_state()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], expected[k]) for k in expected)


def test_loaded_export_samples_like_the_checkpoint(exported, trained, tiny_store):
    from depthdif.train.systems import load_system

    system, _ = load_export(exported)
    batch = _first_batch(tiny_store)
    got = system.sample(batch, 2, seed=5)
    want = load_system(trained[1]).sample(batch, 2, seed=5)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("damage", ["modify", "delete", "extra"])
def test_tampered_export_is_refused_naming_the_file(exported, tmp_path, damage):
    import shutil

    copy = tmp_path / exported.name
    shutil.copytree(exported, copy)
    if damage == "modify":
        (copy / "params.json").write_text(json.dumps({"training.lr": 1.0}))
        match = r"params\.json: checksum mismatch"
    elif damage == "delete":
        (copy / "normalization.json").unlink()
        match = r"normalization\.json: listed in MANIFEST\.sha256 but missing"
    else:
        (copy / "notes.txt").write_text("hi")
        match = r"notes\.txt: not listed"
    with pytest.raises(ExportError, match=match):
        load_export(copy)


def test_selection_pareto_best_and_trial(study_dir):
    from depthdif.study.results import read_results
    from depthdif.study.spec import read_study_dir

    results, objectives = read_results(study_dir), read_study_dir(study_dir).objectives
    assert sorted(select_trials(results, objectives, pareto=True)["trial_id"]) == ["abc_00000", "abc_00001"]
    assert select_trials(results, objectives, best="val/skill")["trial_id"].tolist() == ["abc_00001"]
    assert select_trials(results, objectives, best="val/rmse_withheld")["trial_id"].tolist() == ["abc_00000"]
    assert select_trials(results, objectives, trial="2")["trial_id"].tolist() == ["abc_00002"]
    with pytest.raises(ValueError, match=r"allowed values: \['val/rmse_withheld', 'val/skill'\]"):
        select_trials(results, objectives, best="val/loss")
    with pytest.raises(ValueError, match="no such trial"):
        select_trials(results, objectives, trial="zzz")


def test_export_command_pareto_and_overwrite(study_dir, tmp_path, capsys):
    from depthdif.commands import study_outputs

    parser = argparse.ArgumentParser()
    study_outputs.register(parser.add_subparsers())
    args = parser.parse_args(["export", str(study_dir), "--out", str(tmp_path), "--pareto"])
    assert args.handler(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial_abc_00000", "trial_abc_00001"]
    assert "exported" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        args.handler(args)
    (tmp_path / "trial_abc_00000" / "stale.txt").write_text("from the old export")
    args = parser.parse_args(["export", str(study_dir), "--out", str(tmp_path), "--best", "val/rmse_withheld",
                              "--overwrite"])
    assert args.handler(args) == 0
    assert not (tmp_path / "trial_abc_00000" / "stale.txt").exists()  # replaced whole, not merged
    verify_manifest(tmp_path / "trial_abc_00000")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp or old folders left


def test_predict_in_a_fresh_process_equals_in_process(exported, tiny_store, tmp_path):
    from depthdif.predict import MEAN, SPREAD, predict_export

    in_process = predict_export(exported, tiny_store, tmp_path / "a.zarr", split="test", samples=2, seed=3,
                                progress=False)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "depthdif.cli", "predict", "--export", str(exported), "--store",
               str(tiny_store), "--out", str(tmp_path / "b.zarr"), "--split", "test", "--samples", "2",
               "--seed", "3", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = xr.open_zarr(in_process, chunks=None), xr.open_zarr(tmp_path / "b.zarr", chunks=None)
    for name in (MEAN, SPREAD):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert np.isfinite(a[MEAN].values).any() and np.nanmax(a[SPREAD].values) > 0


def _model_rows(out: Path):
    import pandas as pd

    table = pd.read_parquet(out / "eval_metrics.parquet")
    return table[table["method"] == "model"].sort_values(["scope", "band", "depth_index", "metric"])


def test_eval_scores_an_export_like_its_checkpoint_against_the_baselines(exported, trained, tiny_store, tmp_path,
                                                                          capsys):
    """`eval --export` (issue 14): an exported model is scored beside the baselines, with the same
    numbers as its checkpoint; an export folder given as --checkpoint is pointed to --export."""
    _, checkpoint = trained
    common = ["--store", str(tiny_store), "--split", "test", "--max-patches", "2", "--methods", "idw",
              "--samples", "1", "--no-progress"]
    assert main(["eval", "--export", str(exported), *common, "--out", str(tmp_path / "e")]) == 0
    assert main(["eval", "--checkpoint", str(checkpoint.parent.parent), *common, "--out", str(tmp_path / "c")]) == 0
    by_export, by_checkpoint = _model_rows(tmp_path / "e"), _model_rows(tmp_path / "c")
    assert len(by_export) > 0
    np.testing.assert_allclose(by_export["value"].to_numpy(), by_checkpoint["value"].to_numpy(), rtol=1e-5,
                               equal_nan=True)
    import pandas as pd

    assert set(pd.read_parquet(tmp_path / "e" / "eval_metrics.parquet")["method"]) == {"model", "idw"}
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(exported), *common]) == 2
    assert f"pass it as --export {exported}" in capsys.readouterr().err


def test_a_train_run_exports_and_predicts_from_the_cli(trained, tiny_store, tmp_path, capsys):
    """`depthdif export RUN_DIR --out DIR`, then `predict --export DIR` (issue 14)."""
    _, checkpoint = trained
    run_dir, out = checkpoint.parent.parent, tmp_path / "pixel-demo"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    verify_manifest(out)
    info = read_export_info(out)
    assert info.metadata["run_dir"] == str(run_dir.resolve()) and info.metadata["checkpoint"] == "latest"
    assert info.kind == "pixel" and info.objectives["val/loss"]["direction"] == "minimize"
    assert main(["export", str(run_dir), "--out", str(out)]) == 2  # exists: refused without --overwrite
    pred = tmp_path / "pred.zarr"
    assert main(["predict", "--export", str(out), "--store", str(tiny_store), "--out", str(pred), "--split", "test",
                 "--samples", "1", "--no-progress"]) == 0
    assert np.isfinite(xr.open_zarr(pred, chunks=None)["temperature_mean"].values).any()
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a run directory" in capsys.readouterr().err
