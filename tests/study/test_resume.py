"""SIGKILL the `depthdif study run` driver mid-study, resume it: full budget, no trial lost or doubled."""

from __future__ import annotations

import json
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


EPOCHS = 30


def _wait_for(predicate, timeout_s: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"driver exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s:\n{log.read_text()[-3000:]}")


def _running_with_checkpoint(study_dir: Path) -> bool:
    """A trial is mid-training with a checkpoint, and Tune's experiment snapshot knows it."""
    try:
        df = read_results(study_dir)
    except Exception:  # noqa: BLE001
        return False
    running = df.loc[(df["state"] == "RUNNING") & (df["fidelity"] >= 1), "trial_id"]
    snapshots = " ".join(p.read_text() for p in (study_dir / "tune").glob("experiment_state-*.json"))
    return any(trial_id in snapshots for trial_id in running)


def _epochs_logged(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [int(json.loads(line)["epoch"]) for line in lines if line.strip()]


def _states(study_dir: Path) -> list[str]:
    try:
        return list(read_results(study_dir)["state"])
    except Exception:  # noqa: BLE001 - the file may be mid-replace on some filesystems
        return []


def after_row(df, trial_id: str) -> dict:
    return df.set_index("trial_id").loc[trial_id].to_dict() | {"trial_id": trial_id}


@pytest.mark.slow
def test_sigkilled_driver_resumes_to_the_full_budget(tmp_path, tiny_store, ray_session):
    # many short epochs: a trial lasts seconds even in a reused trial process, so the kill lands
    # while one is mid-training with checkpoints behind it
    experiment = {**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": EPOCHS}}
    path = write_study(tmp_path, tiny_store, name="killed", trials=3, experiment=experiment)
    study_dir = Path(load_study_spec(path).storage) / "killed"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["TUNE_GLOBAL_CHECKPOINT_S"] = "1"  # snapshot often, so the running trial is in the snapshot
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        # its own process group: SIGKILL reaches the driver and the local Ray it started, nothing else
        proc = subprocess.Popen([sys.executable, "-m", "depthdif.cli", "study", "run", str(path), "--address", "local"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        # kill once a trial finished and another has checkpointed at least one epoch
        _wait_for(lambda: "COMPLETE" in _states(study_dir) and _running_with_checkpoint(study_dir), 240, proc, log)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    before = read_results(study_dir)
    assert proc.returncode == -signal.SIGKILL and 1 <= (before["state"] == "COMPLETE").sum() < 3
    killed_running = set(before.loc[before["state"] == "RUNNING", "trial_id"])

    outcome = resume_study(study_dir, progress=False)
    df = outcome.results
    assert df["trial_id"].is_unique and df["trial_number"].is_unique
    done = df[df["state"] == "COMPLETE"]
    # A trial started after Tune's last snapshot is unknown to the restored run: it is recorded
    # FAILED (orphaned), never resumed nor counted; the budget is filled by new trials.
    orphans = df[df["state"] != "COMPLETE"]
    assert len(done) == 3 and (done["fidelity"] == EPOCHS).all(), df[["trial_id", "state", "error"]]
    assert (orphans["state"] == "FAILED").all() and orphans["error"].str.startswith("orphaned").all()
    assert killed_running <= set(df["trial_id"])
    resumed = killed_running & set(done["trial_id"])
    assert resumed  # the snapshotted running trial was resumed under its own id
    for trial_id in resumed:  # from its checkpoint, not from scratch: epoch 1 ran once
        epochs = _epochs_logged(Path(after_row(df, trial_id)["run_dir"]))
        assert epochs.count(1) == 1 and max(epochs) == EPOCHS, epochs
    kept = before[before["state"] == "COMPLETE"].set_index("trial_id")
    after = df.set_index("trial_id")
    for trial_id in kept.index:  # finished trials are kept as they were
        assert after.loc[trial_id, "state"] == "COMPLETE"
        assert after.loc[trial_id, "objective/val/loss"] == kept.loc[trial_id, "objective/val/loss"]
    study = optuna.load_study(study_name="killed", storage=optuna_storage(study_dir))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 3 and not [t for t in study.trials if t.state.name == "RUNNING"]
    assert {t.user_attrs["ray_trial_id"] for t in complete} == set(done["trial_id"])
    assert sorted(t.number for t in complete) == sorted(done["trial_number"])
    optuna_state = {t.number: t.state.name for t in study.trials}
    expected = {"COMPLETE": "COMPLETE", "FAILED": "FAIL"}
    for number, state in zip(df["trial_number"], df["state"]):  # Optuna and the table agree
        assert optuna_state[number] == expected[state]
    extra = set(optuna_state) - set(df["trial_number"])  # asked but killed before Tune started it
    assert all(optuna_state[n] == "FAIL" for n in extra)


def test_objective_tracker_keeps_its_best_checkpoint_across_a_restart(tmp_path):
    from depthdif.study.spec import Objective
    from depthdif.study.trial import ObjectiveTracker
    from depthdif.train.run_dir import checkpoint_file, checkpoint_name

    run_dir = tmp_path / "run"
    objectives = [Objective("val/loss", "minimize"), Objective("cost/train_seconds", "minimize")]

    def checkpoint(epoch: int) -> Path:
        folder = run_dir / checkpoint_name(epoch)
        folder.mkdir(parents=True)
        checkpoint_file(folder).write_text(f"epoch {epoch}")
        return folder

    first = ObjectiveTracker(objectives, 3, run_dir)
    out = first.payload({"epoch": 1.0, "val/loss": 0.5, "best/val/loss": 0.5, "cost/train_seconds": 2.0}, checkpoint(1))
    assert out["objective/val/loss"] == 0.5 and out["fidelity"] == 1 and out["max_fidelity"] == 3
    assert out["objective/cost/train_seconds"] == 2.0 and out["train_seconds"] == 2.0
    best = Path(out["checkpoint_path"])
    assert best.read_text() == "epoch 1"
    resumed = ObjectiveTracker(objectives, 3, run_dir)  # the trial process restarted
    out = resumed.payload({"epoch": 2.0, "val/loss": 0.7, "best/val/loss": 0.5, "cost/train_seconds": 4.0},
                          checkpoint(2))
    assert out["objective/val/loss"] == 0.5 and best.read_text() == "epoch 1"  # worse epoch: best kept
    out = resumed.payload({"epoch": 3.0, "val/loss": 0.3, "best/val/loss": 0.3, "cost/train_seconds": 6.0},
                          checkpoint(3))
    assert out["objective/val/loss"] == 0.3 and best.read_text() == "epoch 3"
