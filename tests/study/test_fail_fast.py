"""Fail-fast ends cleanly (issue 12 row 5): when the first finished trial fails, the healthy trial
still in flight is stopped and recorded STOPPED with the reason, in results.parquet and in Optuna."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from depthdif.cli import main
from depthdif.study.results import read_results
from depthdif.study.runner import StudyFailed, optuna_storage, run_study
from depthdif.study.spec import load_study_spec
from _study_helpers import TINY_EXPERIMENT, write_study

# Random sampler, seed 0: trial 0 draws 100000 (healthy: never NaN), trial 1 draws 0 (NaN at step 0).
SPACE = {"debug.nan_at_step": {"type": "categorical", "choices": [0, 100000]},
         "training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2}}


@pytest.mark.slow
def test_fail_fast_stops_and_records_the_trial_in_flight(tmp_path, tiny_store, ray_session, capsys):
    experiment = {**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": 200}}
    path = write_study(tmp_path, tiny_store, name="ff", trials=4, concurrency=2, fail_fast_after=1,
                       space=SPACE, experiment=experiment)
    with pytest.raises(StudyFailed, match=r"all 1 finished trials failed \(the study stopped early\).*nonfinite"):
        run_study(load_study_spec(path), progress=False)
    study_dir = Path(load_study_spec(path).storage) / "ff"
    df = read_results(study_dir).set_index("trial_number")
    assert set(df.index) == {0, 1}, df[["trial_id", "state", "error"]]  # the budget was not burnt
    assert df.loc[1, "state"] == "FAILED" and "nonfinite" in df.loc[1, "error"]
    healthy = df.loc[0]
    assert healthy["param/debug.nan_at_step"] == 100000
    assert healthy["state"] == "STOPPED" and 0 <= healthy["fidelity"] < 200
    assert healthy["error"].startswith("stopped: the study failed fast (1 finished trial(s) failed")
    assert "nonfinite" in healthy["error"]  # the reason carries the first error
    study = optuna.load_study(study_name="ff", storage=optuna_storage(study_dir))
    states = {t.number: t.state.name for t in study.trials}
    assert states[0] == "FAIL" and states[1] == "FAIL" and "RUNNING" not in states.values()
    assert study.trials[0].user_attrs["error"] == healthy["error"]
    assert main(["study", "status", str(study_dir)]) == 0
    out = capsys.readouterr().out
    assert "STOPPED=1" in out and "RUNNING=0" in out and "driver: not running" in out
