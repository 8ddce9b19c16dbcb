"""A real tiny study on local Ray: two objectives, results.parquet, Optuna journal, failures."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from depthdif.cli import main
from depthdif.study.results import read_results
from depthdif.study.runner import StudyFailed, optuna_storage, run_study
from depthdif.study.spec import load_study_spec
from depthdif.train.systems import load_system
from _study_helpers import write_study


def test_two_objective_study_completes_with_one_row_per_trial(tmp_path, tiny_store, ray_session, capsys):
    path = write_study(tmp_path, tiny_store, name="quick", trials=3, concurrency=2,
                       resources={"workers": 1, "cpus_per_worker": 1.0})
    spec = load_study_spec(path)
    outcome = run_study(spec, progress=True)
    df = read_results(outcome.study_dir)
    assert len(df) == 3 and df["trial_id"].is_unique and sorted(df["trial_number"]) == [0, 1, 2]
    assert (df["state"] == "COMPLETE").all(), df[["state", "error"]]
    for column in ("objective/val/loss", "objective/cost/train_seconds"):
        assert df[column].map(math.isfinite).all()
    assert df["param/training.lr"].between(1e-4, 1e-2).all()
    assert df["param/model.ambient_occlusion.min_kept_observed_pixels"].between(1, 3).all()
    assert (df["fidelity"] == 1).all() and (df["num_workers"] == 1).all() and (df["cpus"] == 1.0).all()
    assert (df["duration_s"] >= df["train_seconds"]).all() and (df["train_seconds"] > 0).all()
    # the objective is the trainer's best-so-far of the same metric
    assert (df["objective/val/loss"] <= df["metric/val/loss"] + 1e-9).all()
    system = load_system(df.loc[0, "checkpoint_path"])
    assert system.cfg.training.lr == pytest.approx(df.loc[0, "param/training.lr"])
    assert Path(df.loc[0, "run_dir"]).name == df.loc[0, "trial_id"]
    study = optuna.load_study(study_name="quick", storage=optuna_storage(outcome.study_dir))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    by_number = df.set_index("trial_number")
    for t in study.trials:
        assert t.values == pytest.approx([by_number.loc[t.number, "objective/val/loss"],
                                          by_number.loc[t.number, "objective/cost/train_seconds"]])
        assert t.user_attrs["ray_trial_id"] == by_number.loc[t.number, "trial_id"]
    err = capsys.readouterr().err
    assert err.count(" COMPLETE ") == 3 and "[3/3]" in err  # the live line per finished trial
    assert main(["study", "status", str(outcome.study_dir)]) == 0
    out = capsys.readouterr().out
    assert "3/3 finished" in out and "best val/loss (minimize)" in out
    with pytest.raises(FileExistsError, match="study resume"):
        run_study(spec, progress=False)


def test_all_failing_trials_stop_the_study_with_the_first_error(tmp_path, tiny_store, ray_session):
    path = write_study(tmp_path, tiny_store, name="nan", trials=6, fail_fast_after=2,
                       overrides={"debug.nan_at_step": 0})
    with pytest.raises(StudyFailed) as err:
        run_study(load_study_spec(path), progress=False)
    assert "stopped early" in str(err.value) and "nonfinite" in str(err.value)
    df = read_results(Path(load_study_spec(path).storage) / "nan")
    finished = df[df["state"] != "RUNNING"]
    assert 2 <= len(finished) < 6 and (finished["state"] == "FAILED").all()
    assert finished["error"].str.contains("nonfinite").all()
    study = optuna.load_study(study_name="nan", storage=optuna_storage(Path(load_study_spec(path).storage) / "nan"))
    assert {t.state.name for t in study.trials if t.state.name != "RUNNING"} == {"FAIL"}


@pytest.mark.slow
def test_two_worker_trial_runs_a_torch_trainer(tmp_path, tiny_store, ray_session):
    """The cluster path: a trial with 2 workers drives a TorchTrainer (DDP over gloo) and its
    objectives reach Tune and Optuna through the Train→Tune report callback."""
    path = write_study(tmp_path, tiny_store, name="ddp", trials=1,
                       resources={"workers": 2, "cpus_per_worker": 0.5})
    outcome = run_study(load_study_spec(path), progress=False)
    df = read_results(outcome.study_dir)
    assert len(df) == 1 and df.loc[0, "state"] == "COMPLETE", df[["state", "error"]]
    assert df.loc[0, "num_workers"] == 2 and df.loc[0, "fidelity"] == 1
    assert math.isfinite(df.loc[0, "objective/val/loss"])
    assert load_system(df.loc[0, "checkpoint_path"]).cfg.training.lr == pytest.approx(df.loc[0, "param/training.lr"])
    study = optuna.load_study(study_name="ddp", storage=optuna_storage(outcome.study_dir))
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
