"""One driver per study (issue 12 rows 1 and 6): a second driver is refused naming the first;
`study status` says whether the driver is alive, marks a dead driver's RUNNING rows and never
counts more finished trials than the budget."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from depthdif.cli import main
from depthdif.study.results import ORPHAN_ERROR, read_results, trial_row, write_results
from depthdif.study.spec import load_study_spec, save_study_spec
from _study_helpers import TINY_EXPERIMENT, write_study

REPO = Path(__file__).resolve().parents[2]


def _driver(args: list[str], log: Path) -> subprocess.Popen:
    """A `depthdif` driver in its own process group (its local Ray dies with it, nothing else)."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "depthdif.cli", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=REPO, start_new_session=True)


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def _running_rows(study_dir: Path) -> int:
    try:
        return int((read_results(study_dir)["state"] == "RUNNING").sum())
    except Exception:  # noqa: BLE001 - not written yet
        return 0


@pytest.mark.slow
def test_two_drivers_started_together_one_runs_the_other_is_refused(tmp_path, tiny_store, capsys):
    from depthdif.study.driver_lock import DriverState, driver_state, hold_driver_lock

    experiment = {**TINY_EXPERIMENT, "training": {**TINY_EXPERIMENT["training"], "max_epochs": 200}}
    path = write_study(tmp_path, tiny_store, name="twice", trials=4, experiment=experiment)
    study_dir = tmp_path / "studies" / "twice"
    args = ["study", "run", str(path), "--address", "local"]
    drivers = [_driver(args, tmp_path / f"driver{i}.log") for i in range(2)]
    try:
        _wait(lambda: any(d.poll() is not None for d in drivers), 180, "the second driver to give up")
        loser = next(d for d in drivers if d.poll() is not None)
        winner = next(d for d in drivers if d is not loser)
        loser_log = (tmp_path / f"driver{drivers.index(loser)}.log").read_text()
        assert loser.returncode == 2, loser_log
        assert f"another driver is running this study (pid {winner.pid} on host {socket.gethostname()}, started " \
               in loser_log and "(study run)" in loser_log
        _wait(lambda: _running_rows(study_dir) > 0, 240, "the winner's first trial")
        assert winner.poll() is None
        state = driver_state(study_dir)
        assert state.alive and state.holder.pid == winner.pid
        assert main(["study", "resume", str(study_dir)]) == 2  # resume refuses a live driver too
        assert f"another driver is running this study (pid {winner.pid}" in capsys.readouterr().err
        assert main(["study", "status", str(study_dir)]) == 0
        assert f"driver: running (pid {winner.pid} on host" in capsys.readouterr().out
    finally:
        for d in drivers:
            if d.poll() is None:
                os.killpg(d.pid, signal.SIGKILL)
                d.wait(timeout=30)
    assert stat.S_IMODE(study_dir.stat().st_mode) == 0o700  # Tune's pickles: owner only
    state = driver_state(study_dir)  # SIGKILL drops the flock; the dead holder's record stays
    assert not state.alive and state.dead and state.holder.pid == winner.pid
    assert main(["study", "status", str(study_dir)]) == 0
    out = capsys.readouterr().out
    assert f"driver: DEAD (pid {winner.pid}" in out and "RUNNING (driver dead)" in out
    assert main(["study", "run", str(path)]) == 2  # run never takes a dead driver's study over
    assert f"died without finishing (pid {winner.pid}" in capsys.readouterr().err
    with hold_driver_lock(study_dir, "study resume", take_over_stale=True) as dead:  # resume does
        assert dead.pid == winner.pid and driver_state(study_dir).alive
    assert driver_state(study_dir) == DriverState(False, None)  # released cleanly: no stale record


def _dead_holder_record(study_dir: Path) -> int:
    """The lock record a SIGKILLed driver leaves behind (no process holds the flock any more)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    record = {"pid": proc.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00",
              "command": "study resume"}
    (study_dir / "driver.lock").write_text(json.dumps(record) + "\n")
    return proc.pid


def _row(trial_id: str, number: int, state: str, error: str = "") -> dict:
    return trial_row(trial_id=trial_id, trial_number=number, state=state, params={"training.lr": 1e-3},
                     result={"objective/val/loss": 0.5, "objective/cost/train_seconds": 2.0, "fidelity": 1},
                     metrics=["val/loss", "cost/train_seconds"], resources={}, duration_s=3.0, error=error)


def test_status_marks_a_dead_drivers_running_rows_and_never_counts_past_the_budget(tmp_path, tiny_store, capsys):
    spec = load_study_spec(write_study(tmp_path, tiny_store, name="dead", trials=3))
    study_dir = tmp_path / "studies" / "dead"
    study_dir.mkdir(parents=True)
    save_study_spec(spec, study_dir)
    rows = [_row("a", 0, "COMPLETE"), _row("b", 1, "FAILED", ORPHAN_ERROR), _row("c", 2, "COMPLETE"),
            _row("d", 3, "RUNNING")]
    write_results(study_dir, rows)
    pid = _dead_holder_record(study_dir)
    assert main(["study", "status", str(study_dir)]) == 0
    out = capsys.readouterr().out
    assert f"driver: DEAD (pid {pid} on host {socket.gethostname()}" in out and "study resume" in out
    assert "trials: 2/3 finished" in out and "RUNNING=1 (driver dead: not running)" in out
    assert "(+1 orphaned by a driver restart, not counted)" in out
    assert "#3 d RUNNING (driver dead)" in out
    # the resumed driver finished the running trial: 3/3, never 4/3
    write_results(study_dir, rows[:3] + [_row("d", 3, "COMPLETE")])
    from depthdif.study.driver_lock import hold_driver_lock

    with hold_driver_lock(study_dir, "study resume", take_over_stale=True) as dead:
        assert dead.pid == pid
    assert main(["study", "status", str(study_dir)]) == 0
    out = capsys.readouterr().out
    assert "driver: not running" in out and "trials: 3/3 finished" in out and "COMPLETE=3" in out
