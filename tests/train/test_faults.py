"""An injected crash is recovered from the newest checkpoint; a NaN loss ends the run at once."""

from __future__ import annotations

import json

import pytest

from depthdif.config import ConfigError
from depthdif.config.loader import load
from depthdif.config.schema import ExperimentConfig
from depthdif.train import run
from depthdif.train.debug import crash_marker
from depthdif.train.faults import NonFiniteLossError
from depthdif.train.run_dir import METRICS_FILE, RunDir

from ._tiny import tiny_config

STEPS_PER_EPOCH = 12  # tiny_store: 24 training patches, batch 2, one process


def nan_config(store, **extra):
    return tiny_config(store, **{"ae.training.max_epochs": 3, "training.max_failures": 2,
                                 "debug.nan_at_step": 2, **extra})


def assert_stopped_at_once(result):
    assert result.status == "nonfinite_loss"
    assert "non-finite training loss at global step 3" in result.error
    rows = RunDir(result.run_dir).metrics()
    assert len(rows) == 1 and rows[0]["status"] == "nonfinite_loss" and rows[0]["step"] == 3
    assert result.checkpoint_dir is None  # NaN weights are never checkpointed
    with pytest.raises(NonFiniteLossError):
        result.raise_for_status()


def test_nan_loss_stops_in_process_without_retry(tiny_store, tmp_path):
    assert_stopped_at_once(run("ae", nan_config(tiny_store), tmp_path / "run", progress=False))


def test_fault_injection_lives_in_the_debug_block(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("debug:\n  crash_at_step: -1\n")
    with pytest.raises(ConfigError, match="debug.crash_at_step"):
        load(ExperimentConfig, bad)
    moved = tmp_path / "moved.yaml"
    moved.write_text("training:\n  fault_injection:\n    crash_at_step: 3\n")
    with pytest.raises(ConfigError, match=r"training.fault_injection: moved: .*`debug` block"):
        load(ExperimentConfig, moved)


def test_crash_without_retries_fails_with_the_error(tiny_store, tmp_path):
    cfg = tiny_config(tiny_store, **{"debug.crash_at_step": 1})
    result = run("ae", cfg, tmp_path / "run", progress=False)
    assert result.status == "failed" and "InjectedCrash" in result.error
    assert crash_marker(tmp_path / "run", 1).exists()


@pytest.mark.slow
def test_injected_crash_on_one_of_two_workers_is_recovered(tiny_store, ray_session, tmp_path):
    crash_step = STEPS_PER_EPOCH // 2 + 1  # 2 workers: 6 steps per epoch; crash in epoch 2
    cfg = tiny_config(tiny_store, **{"training.max_failures": 1, "ray.num_workers": 2,
                                     "debug.crash_at_step": crash_step, "debug.marker_dir": str(tmp_path / "markers")})
    result = run("ae", cfg, tmp_path / "crash", backend="ray", progress=False)
    assert crash_marker(tmp_path / "markers", crash_step).exists()  # it did crash
    assert result.status == "completed", result.error
    # Raw log lines: epoch 1 was reported once, so the restart resumed from its checkpoint
    # instead of training from scratch (which would have logged epoch 1 again).
    lines = [json.loads(line) for line in (result.run_dir / METRICS_FILE).read_text().splitlines()]
    assert [row["epoch"] for row in lines] == [1, 2]
    assert result.metrics["epoch"] == 2 and result.metrics["step"] == 12


@pytest.mark.slow
def test_nan_on_one_of_two_workers_stops_both_without_retry(tiny_store, ray_session, tmp_path):
    """Rank 0's batch is poisoned; rank 1 (finite loss) must stop in the same step, no hang."""
    result = run("ae", nan_config(tiny_store, **{"ray.num_workers": 2}), tmp_path / "nan2", backend="ray",
                 progress=False)
    assert_stopped_at_once(result)
