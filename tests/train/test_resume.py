"""Resume continues from the saved epoch with the same optimizer, EMA and RNG state."""

from __future__ import annotations

import torch

from depthdif.cli import main
from depthdif.config.loader import save
from depthdif.train.loop import fit_in_process, latest_checkpoint, read_metrics_log

from ._tiny import tiny_config

LIMIT = 3  # training batches per epoch


def final_state(result) -> dict[str, torch.Tensor]:
    ckpt = torch.load(result.checkpoint_dir / "checkpoint.ckpt", map_location="cpu", weights_only=True)
    return ckpt["state_dict"]


def test_crash_then_resume_equals_an_uninterrupted_run(tiny_store, tmp_path):
    """Pixel model (with EMA and an optimizer with moments): resumed weights are bit-identical."""
    cfg = tiny_config(tiny_store, **{"training.limit_train_batches": LIMIT})
    logged_when_published = []  # a kill right after a checkpoint is published must not lose its line

    def report(metrics, checkpoint_dir):
        if checkpoint_dir is not None:
            logged_when_published.append([row["epoch"] for row in read_metrics_log(tmp_path / "straight")])

    straight = fit_in_process("pixel", cfg, tmp_path / "straight", report=report, progress=False)
    assert straight.status == "completed", straight.error
    assert logged_when_published == [[1], [1, 2]]

    crashing = tiny_config(tiny_store, **{"training.limit_train_batches": LIMIT,
                                          "training.fault_injection.crash_at_step": LIMIT + 1})
    first = fit_in_process("pixel", crashing, tmp_path / "resumed", progress=False)
    assert first.status == "failed" and "InjectedCrash" in first.error
    assert latest_checkpoint(tmp_path / "resumed").parent.name == "checkpoint_epoch=00001"
    second = fit_in_process("pixel", crashing, tmp_path / "resumed", progress=False)  # marker: no crash
    assert second.status == "completed", second.error
    assert [row["epoch"] for row in read_metrics_log(second.run_dir)] == [1, 2]
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
    run_dir = tmp_path / "run"
    assert (run_dir / "config.yaml").exists() and (run_dir / "kind.txt").read_text().strip() == "ae"
    assert main(["train", "ae", "--resume", str(run_dir), "--set", "ae.training.max_epochs=3"]) == 0
    assert [row["epoch"] for row in read_metrics_log(run_dir)] == [1, 2, 3]
    assert latest_checkpoint(run_dir).parent.name == "checkpoint_epoch=00003"
    assert "completed" in capsys.readouterr().err
    assert main(["train", "pixel", "--resume", str(run_dir)]) == 2  # wrong kind for this run dir
