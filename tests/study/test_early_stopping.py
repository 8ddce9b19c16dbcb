"""Honest multi-objective early stopping: stopped trials are PRUNED (with fidelity), never on the front."""

from __future__ import annotations

import math

import optuna

from depthdif.study.pareto import compute_pareto
from depthdif.study.runner import JOURNAL_FILE, optuna_storage, run_study
from depthdif.study.search_space import DefineByRun, load_search_space
from depthdif.config import ExperimentConfig
from depthdif.study.searcher import FAILED, StudySearcher, classify_outcome, objective_key
from depthdif.study.spec import Objective, load_study_spec
from depthdif.study.status import format_status, study_status
from _study_helpers import TINY_EXPERIMENT, write_study

OBJECTIVES = [Objective("val/loss", "minimize"), Objective("model/unet_base_channels", "minimize")]


def result(fidelity: int, max_fidelity: int = 3, **values):
    out = {"fidelity": fidelity, "max_fidelity": max_fidelity,
           objective_key("val/loss"): 0.5, objective_key("model/unet_base_channels"): 8.0}
    out.update(values)
    return out


def test_classify_outcome():
    assert classify_outcome(result(3), False, OBJECTIVES).state == "COMPLETE"
    pruned = classify_outcome(result(1), False, OBJECTIVES)
    assert (pruned.state, pruned.fidelity, pruned.values) == ("PRUNED", 1, [0.5, 8.0])
    failed = classify_outcome({**result(2), FAILED: 1, "error": "training nonfinite_loss: nan at step 3"},
                              False, OBJECTIVES)
    assert failed.state == "FAILED" and "nonfinite" in failed.error
    assert classify_outcome(result(3, **{objective_key("val/loss"): math.inf}), False, OBJECTIVES).state == "FAILED"
    missing = classify_outcome({"fidelity": 3, "max_fidelity": 3, "val/x": 1.0}, False, OBJECTIVES)
    assert missing.state == "FAILED" and "never reported" in missing.error
    assert classify_outcome(None, True, OBJECTIVES, "OOM").error == "OOM"


def test_searcher_tells_optuna_pruned_and_failed(tmp_path):
    space = load_search_space({"training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2}}, ExperimentConfig())
    searcher = StudySearcher(objectives=OBJECTIVES, space=DefineByRun(space, {}),
                             sampler=optuna.samplers.RandomSampler(0), storage=optuna_storage(tmp_path),
                             study_name="s")
    configs = [searcher.suggest(f"t{i}") for i in range(3)]
    assert [c["_trial_number"] for c in configs] == [0, 1, 2] and all("training.lr" in c for c in configs)
    searcher.on_trial_complete("t0", result(3))
    searcher.on_trial_complete("t1", result(1, **{objective_key("val/loss"): 0.01}))  # better but truncated
    searcher.on_trial_complete("t2", {**result(1), FAILED: 1, "error": "boom"})
    study = optuna.load_study(study_name="s", storage=optuna_storage(tmp_path))
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                      optuna.trial.TrialState.FAIL]
    assert study.trials[1].user_attrs["fidelity"] == 1 and study.trials[1].values is None
    assert study.trials[2].user_attrs["error"] == "boom"
    assert [t.number for t in study.best_trials] == [0]  # the truncated 0.01 never reaches the front
    assert (tmp_path / JOURNAL_FILE).exists()


def test_asha_stopped_trial_is_pruned_and_off_the_front(tmp_path, tiny_store, ray_session):
    experiment = {**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": 2}}
    space = {"model.unet.base_channels": {"type": "categorical", "choices": [8, 4]},
             "model.ambient_occlusion.further_drop_prob": {"type": "float", "low": 0.1, "high": 0.5}}
    # Random seed 0 draws 4 then 8: ASHA keeps the first (nothing to compare with) and stops the
    # second at epoch 1 because 8 channels is worse than 4 on the stopping objective.
    path = write_study(tmp_path, tiny_store, name="asha", space=space, experiment=experiment, trials=2,
                       objectives=[{"metric": "model/unet_base_channels", "direction": "minimize"},
                                   {"metric": "val/loss", "direction": "minimize"}],
                       early_stopping={"scheduler": "asha", "grace": 1, "reduction_factor": 2})
    spec = load_study_spec(path)
    outcome = run_study(spec, progress=False)
    df = outcome.results.sort_values("trial_number").reset_index(drop=True)
    assert list(df["state"]) == ["COMPLETE", "PRUNED"]
    assert list(df["param/model.unet.base_channels"]) == [4, 8]
    assert list(df["fidelity"]) == [2, 1]
    assert math.isfinite(df.loc[1, "objective/val/loss"])  # truncated values kept for inspection
    pareto = compute_pareto(df, spec.objectives)
    assert list(pareto.front["trial_id"]) == [df.loc[0, "trial_id"]]
    assert not pareto.trials.set_index("trial_id").loc[df.loc[1, "trial_id"], "eligible"]
    study = optuna.load_study(study_name="asha", storage=optuna_storage(outcome.study_dir))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    assert study.trials[1].user_attrs["fidelity"] == 1
    assert [t.number for t in study.best_trials] == [0]
    text = format_status(study_status(outcome.study_dir))
    assert "PRUNED=1" in text and "COMPLETE=1" in text
