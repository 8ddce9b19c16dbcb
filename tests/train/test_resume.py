"""Resume continues from the saved epoch with the same optimizer, EMA and RNG state."""

from __future__ import annotations

import torch

from depthdif.cli import main
from depthdif.config.loader import save
from depthdif.train import run
from depthdif.train.run_dir import RunDir, checkpoint_name

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


def test_cli_resume_continues_a_local_mode_run(tiny_store, tmp_path, capsys):
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
