"""Warm start through Optuna's storage: the new study starts with the old COMPLETE trials."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from depthdif.config import ConfigError
from depthdif.study.results import trial_row, write_results
from depthdif.study.runner import optuna_storage, run_study
from depthdif.study.spec import load_study_spec, save_study_spec
from depthdif.study.warm_start import WARM_START_ATTR, warm_start_trials
from _study_helpers import TINY_SPACE, write_study

METRICS = ["val/loss", "cost/train_seconds"]


def make_old_study(tmp_path: Path, store: Path, space: dict | None = None) -> Path:
    """A finished study dir as the runner leaves it: study.yaml + results.parquet."""
    spec = load_study_spec(write_study(tmp_path / "old_src", store, name="old", space=space))
    old_dir = tmp_path / "old_study"
    save_study_spec(spec, old_dir)
    rows = []
    for number, (state, lr, loss) in enumerate([("COMPLETE", 1e-3, 0.4), ("COMPLETE", 5e-3, 0.3),
                                                 ("PRUNED", 2e-3, 0.1), ("FAILED", 3e-3, math.nan),
                                                 ("COMPLETE", 5e-2, 0.2)]):  # lr outside the new range
        params = {"model.ambient_occlusion.further_drop_prob": 0.2, "training.lr": lr,
                  "model.ambient_occlusion.min_kept_observed_pixels": 2}
        result = {"objective/val/loss": loss, "objective/cost/train_seconds": 5.0 + number, "fidelity": 1}
        rows.append(trial_row(trial_id=f"old{number}", trial_number=number, state=state, params=params,
                              result=result, metrics=METRICS, resources={}, duration_s=1.0))
    write_results(old_dir, rows)
    return old_dir


def test_only_complete_in_range_trials_are_copied(tmp_path, tiny_store):
    old_dir = make_old_study(tmp_path, tiny_store)
    spec = load_study_spec(write_study(tmp_path / "new_src", tiny_store, name="new"))
    trials = warm_start_trials(old_dir, spec.space(), spec.objectives)
    assert [t.user_attrs["source_trial_id"] for t in trials] == ["old0", "old1"]
    assert trials[1].values == [0.3, 6.0] and trials[1].params["training.lr"] == 5e-3
    assert all(t.user_attrs[WARM_START_ATTR] == str(old_dir) for t in trials)


def test_different_keys_or_objectives_are_refused(tmp_path, tiny_store):
    other = {k: v for k, v in TINY_SPACE.items() if k != "training.lr"}
    old_dir = make_old_study(tmp_path, tiny_store, space=other)
    spec = load_study_spec(write_study(tmp_path / "new_src", tiny_store, name="new"))
    with pytest.raises(ConfigError, match="training.lr"):
        warm_start_trials(old_dir, spec.space(), spec.objectives)
    old_dir2 = make_old_study(tmp_path / "b", tiny_store)
    spec2 = load_study_spec(write_study(tmp_path / "new2", tiny_store, name="new2",
                                        objectives=[{"metric": "val/rmse_full", "direction": "minimize"}]))
    with pytest.raises(ConfigError, match="val/rmse_full"):
        warm_start_trials(old_dir2, spec2.space(), spec2.objectives)


def test_warm_started_study_starts_with_the_old_trials(tmp_path, tiny_store, ray_session):
    old_dir = make_old_study(tmp_path, tiny_store)
    spec = load_study_spec(write_study(tmp_path / "new_src", tiny_store, name="warm", trials=1))
    outcome = run_study(spec, warm_start=old_dir, progress=False)
    study = optuna.load_study(study_name="warm", storage=optuna_storage(outcome.study_dir))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert [t.user_attrs.get("source_trial_id") for t in study.trials[:2]] == ["old0", "old1"]
    new = study.trials[2]
    assert WARM_START_ATTR not in new.user_attrs and new.number == 2
    assert len(outcome.results) == 1 and outcome.results.loc[0, "trial_number"] == 2
    assert outcome.results.loc[0, "state"] == "COMPLETE"
