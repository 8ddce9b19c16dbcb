"""SIGKILL the `depthdif study run` driver mid-study, resume it: full budget, no trial lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from depthdif.study.results import read_results
from depthdif.study.runner import optuna_storage, resume_study
from depthdif.study.spec import load_study_spec
from _study_helpers import TINY_EXPERIMENT, write_study


def _wait_for(predicate, timeout_s: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"driver exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout_s} s:\n{log.read_text()[-3000:]}")


def _states(study_dir: Path) -> list[str]:
    try:
        return list(read_results(study_dir)["state"])
    except Exception:  # noqa: BLE001 - the file may be mid-replace on some filesystems
        return []


@pytest.mark.slow
def test_sigkilled_driver_resumes_to_the_full_budget(tmp_path, tiny_store, ray_session):
    experiment = {**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": 2}}
    path = write_study(tmp_path, tiny_store, name="killed", trials=3, experiment=experiment)
    study_dir = Path(load_study_spec(path).storage) / "killed"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        # its own process group: SIGKILL reaches the driver and the local Ray it started, nothing else
        proc = subprocess.Popen([sys.executable, "-m", "depthdif.cli", "study", "run", str(path), "--address", "local"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_for(lambda: _states(study_dir).count("COMPLETE") >= 1 and "RUNNING" in _states(study_dir),
                  240, proc, log)
        time.sleep(2.0)  # let the running trial get into its training
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    before = read_results(study_dir)
    assert proc.returncode == -signal.SIGKILL and 1 <= (before["state"] == "COMPLETE").sum() < 3
    killed_running = set(before.loc[before["state"] == "RUNNING", "trial_id"])

    outcome = resume_study(study_dir, progress=False)
    df = outcome.results
    assert len(df) == 3 and df["trial_id"].is_unique and sorted(df["trial_number"]) == [0, 1, 2]
    assert (df["state"] == "COMPLETE").all(), df[["trial_id", "state", "error"]]
    assert (df["fidelity"] == 2).all()
    assert killed_running <= set(df["trial_id"])  # the interrupted trial finished under its own id
    kept = before[before["state"] == "COMPLETE"].set_index("trial_id")
    after = df.set_index("trial_id")
    for trial_id in kept.index:  # finished trials are kept as they were, not re-run
        assert after.loc[trial_id, "objective/val/loss"] == kept.loc[trial_id, "objective/val/loss"]
    study = optuna.load_study(study_name="killed", storage=optuna_storage(study_dir))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 3 and not [t for t in study.trials if t.state.name == "RUNNING"]
    assert {t.user_attrs["ray_trial_id"] for t in complete} == set(df["trial_id"])
