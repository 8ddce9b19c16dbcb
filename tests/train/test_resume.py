"""Resume continues from the newest complete checkpoint with the same optimizer, EMA and RNG state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from depthdif.cli import main
from depthdif.config.loader import replace_dotted, save
from depthdif.train import run
from depthdif.train.run_dir import (METRICS_FILE, RAY_SNAPSHOT, RunDir, checkpoint_name, discard_staged,
                                    stage_checkpoint)

from ._tiny import tiny_config

LIMIT = 3  # training batches per epoch


def final_state(result) -> dict[str, torch.Tensor]:
    ckpt = torch.load(RunDir(result.run_dir).latest().file, map_location="cpu", weights_only=True)
    return ckpt["state_dict"]


def test_crash_then_resume_equals_an_uninterrupted_run(tiny_store, tmp_path):
    """Pixel model (with EMA and an optimizer with moments): resumed weights are bit-identical."""
    cfg = tiny_config(tiny_store, **{"training.limit_train_batches": LIMIT})
    logged_when_published = []  # a kill right after a checkpoint is published must not lose its line

    def report(metrics, checkpoint_dir):
        if checkpoint_dir is not None:
            logged_when_published.append([row["epoch"] for row in RunDir(tmp_path / "straight").metrics()])

    straight = run("pixel", cfg, tmp_path / "straight", report=report, progress=False)
    assert straight.status == "completed", straight.error
    assert logged_when_published == [[1], [1, 2]]

    crashing = tiny_config(tiny_store, **{"training.limit_train_batches": LIMIT,
                                          "debug.crash_at_step": LIMIT + 1})
    first = run("pixel", crashing, tmp_path / "resumed", progress=False)
    assert first.status == "failed" and "InjectedCrash" in first.error
    assert RunDir(tmp_path / "resumed").latest().folder.name == checkpoint_name(1)
    second = run("pixel", crashing, tmp_path / "resumed", progress=False)  # marker: no crash
    assert second.status == "completed", second.error
    assert second.epochs_trained == 1
    assert [row["epoch"] for row in RunDir(second.run_dir).metrics()] == [1, 2]
    assert second.metrics["step"] == 2 * LIMIT

    expected, actual = final_state(straight), final_state(second)
    assert any(k.startswith("ema.") for k in expected)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    assert second.metrics["val/rmse_full"] == straight.metrics["val/rmse_full"]


def test_cli_resume_continues_an_in_process_run(tiny_store, tmp_path, capsys):
    config = tmp_path / "ae.yaml"
    save(tiny_config(tiny_store, **{"ae.training.max_epochs": 1}), config)
    args = ["train", "ae", "--config", str(config), "--workers", "0", "--storage", str(tmp_path), "--name", "run"]
    assert main(args) == 0
    run_dir = RunDir(tmp_path / "run")
    assert run_dir.exists() and run_dir.kind() == "ae"
    assert main(["train", "ae", "--resume", str(run_dir.path), "--set", "ae.training.max_epochs=3"]) == 0
    assert [row["epoch"] for row in run_dir.metrics()] == [1, 2, 3]
    assert run_dir.latest().epoch == 3
    assert "completed" in capsys.readouterr().err
    assert main(["train", "pixel", "--resume", str(run_dir.path)]) == 2  # wrong kind for this run dir


def stale_ray_snapshot(run: RunDir, epoch: int) -> None:
    """Rewrite Ray's snapshot as it stood when `epoch` was its newest checkpoint: what a kill between
    Ray's upload of the next checkpoint and its snapshot update leaves behind (issue 12)."""
    path = run.path / RAY_SNAPSHOT
    state = json.loads(path.read_text())
    keep = [i for i, r in enumerate(state["checkpoint_results"]) if r["checkpoint_dir_name"] <= checkpoint_name(epoch)]
    state["checkpoint_results"] = [state["checkpoint_results"][i] for i in keep]
    state["checkpoint_report_indices"] = [state["checkpoint_report_indices"][i] for i in keep]
    state["latest_checkpoint_result"] = state["checkpoint_results"][-1]
    state["current_report_index"] = epoch
    path.write_text(json.dumps(state))


@pytest.mark.slow
def test_resume_uses_the_run_dirs_newer_checkpoint_over_rays_stale_snapshot(tiny_store, ray_session, tmp_path):
    cfg = tiny_config(tiny_store, **{"training.limit_train_batches": 2})
    first = run("ae", cfg, tmp_path / "run", backend="ray", progress=False)
    assert first.ok, first.error
    run_dir = RunDir(first.run_dir)
    stale_ray_snapshot(run_dir, 1)  # Ray believes epoch 1 is its newest; the run dir holds 2
    more = replace_dotted(cfg, {"ae.training.max_epochs": 3})
    second = run("ae", more, run_dir.path, backend="ray", progress=False)
    assert second.ok, second.error
    assert second.epochs_trained == 1  # epoch 3 only: epoch 2 is not redone
    raw = [json.loads(line)["epoch"] for line in (run_dir.path / METRICS_FILE).read_text().splitlines()]
    assert raw == [1, 2, 3]
    assert run_dir.latest().epoch == 3


class LeavesAMark:
    """An object whose unpickling would run code (touch a file): weights_only loading refuses it."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_lightning_resume_loads_weights_only(tiny_store, tmp_path):
    cfg = tiny_config(tiny_store, **{"ae.training.max_epochs": 1, "training.limit_train_batches": 2})
    run_dir = RunDir(tmp_path / "run")
    assert run("ae", cfg, run_dir.path, progress=False).ok
    ckpt = torch.load(run_dir.latest().file, map_location="cpu", weights_only=True)
    mark = tmp_path / "code_ran"
    ckpt["callbacks"]["planted"] = LeavesAMark(mark)
    staged = stage_checkpoint(1, lambda f: torch.save(ckpt, f), keep=True)
    run_dir.publish(staged, keep=2)  # a complete checkpoint, as far as its manifest goes
    discard_staged(staged)
    resumed = run("ae", replace_dotted(cfg, {"ae.training.max_epochs": 2}), run_dir.path, progress=False)
    assert resumed.status == "failed" and "weights" in resumed.error.lower()
    assert not mark.exists()  # the planted code never ran
