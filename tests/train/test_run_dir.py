"""RunDir: publishing, pruning, completeness, the resume point, the metrics log, the best checkpoint.

Checkpoint folders here are written by `stage_checkpoint` with small stand-in weights files: the
layout rules do not depend on what Lightning puts inside (test_resume.py trains for real).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from depthdif.config.schema import ExperimentConfig
from depthdif.train.run_dir import (RunDir, checkpoint_file, checkpoint_name, discard_staged, read_checkpoint,
                                    stage_checkpoint)


def staged(epoch: int, payload: bytes | None = None) -> Path:
    """A sealed staged checkpoint whose weights file holds `payload` (default: a few bytes)."""
    return stage_checkpoint(epoch, lambda f: f.write_bytes(payload or f"weights {epoch}".encode()), keep=True)


def publish(run: RunDir, epoch: int, keep: int = 10):
    folder = staged(epoch)
    try:
        return run.publish(folder, keep)
    finally:
        discard_staged(folder)


def test_publish_moves_a_sealed_checkpoint_into_place_and_prunes(tmp_path):
    run = RunDir(tmp_path / "run")
    for epoch in (1, 2, 3):
        published = publish(run, epoch, keep=2)
        assert published.folder == run.path / checkpoint_name(epoch) and published.epoch == epoch
        assert published.file.read_bytes() == f"weights {epoch}".encode()
    assert [c.epoch for c in run.checkpoints()] == [2, 3]
    assert run.latest().epoch == 3
    assert not list(run.path.glob(".partial-*"))
    publish(run, 3, keep=2)  # an epoch published again (a redone epoch) replaces the folder
    assert [c.epoch for c in run.checkpoints()] == [2, 3]


def test_only_rank_zero_keeps_its_staged_folder():
    """Every rank saves (Lightning's save is a collective); other ranks' temp dirs are removed."""
    written = []
    assert stage_checkpoint(1, written.append, keep=False) is None
    assert written and not written[0].parent.parent.exists()
    folder = staged(1)
    assert json.loads((folder / "checkpoint.json").read_text()) == {"epoch": 1, "bytes": len(b"weights 1")}
    discard_staged(folder)
    assert not folder.parent.exists()


@pytest.mark.parametrize("damage", ["truncated", "no manifest, torn", "manifest only", "bad manifest"])
def test_a_torn_or_half_uploaded_checkpoint_is_never_the_resume_point(tmp_path, damage):
    run = RunDir(tmp_path / "run")
    publish(run, 1)
    newer = run.path / checkpoint_name(2)
    shutil.copytree(staged(2, b"x" * 100), newer)  # as Ray uploads it: plain copy, no rename
    weights, manifest = checkpoint_file(newer), newer / "checkpoint.json"
    if damage == "truncated":
        weights.write_bytes(b"x" * 40)  # the kill came mid-copy
    elif damage == "no manifest, torn":
        manifest.unlink()
    elif damage == "manifest only":
        weights.unlink()
    else:
        manifest.write_text("{not json")
    assert read_checkpoint(newer) is None
    assert run.resume_point().epoch == 1
    publish(run, 3, keep=1)  # pruning counts complete checkpoints only, and never trips on the torn one
    assert [c.epoch for c in run.checkpoints()] == [3]


def test_a_checkpoint_written_before_manifests_is_read_through_torch(tmp_path):
    folder = tmp_path / checkpoint_name(4)
    folder.mkdir()
    torch.save({"epoch": 3, "state_dict": {}}, checkpoint_file(folder))  # Lightning counts from 0
    assert read_checkpoint(folder).epoch == 4
    checkpoint_file(folder).write_bytes(checkpoint_file(folder).read_bytes()[:20])
    assert read_checkpoint(folder) is None


def test_resume_point_is_the_newest_complete_checkpoint_wherever_it_is(tmp_path):
    """Ray's snapshot may lag the run dir (kill between upload and snapshot) or lead it."""
    run = RunDir(tmp_path / "run")
    publish(run, 1)
    publish(run, 3)
    ray_snapshot = staged(2)
    assert run.resume_point(ray_snapshot).epoch == 3  # the run dir is ahead: no epoch is redone
    ahead = staged(5)
    assert run.resume_point(ray_snapshot, ahead) == read_checkpoint(ahead)
    assert run.resume_point(None).epoch == 3
    assert RunDir(tmp_path / "empty").resume_point() is None
    (run.path / "checkpoint_manager_snapshot.json").write_text("{}")
    run.drop_ray_snapshot()  # a run moved off Ray: its snapshot would name folders pruned later
    assert not (run.path / "checkpoint_manager_snapshot.json").exists() and run.resume_point().epoch == 3


def test_metrics_log_skips_a_torn_line_and_keeps_the_last_line_of_an_epoch(tmp_path):
    run = RunDir(tmp_path / "run")
    run.append_metrics({"epoch": 1.0, "val/loss": 0.9})
    with open(run.path / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 2.0, "val/lo')  # killed mid-write
    run.append_metrics({"epoch": 2.0, "val/loss": 0.7})
    run.append_metrics({"epoch": 2.0, "val/loss": 0.6})  # the epoch redone after a resume
    assert run.metrics() == [{"epoch": 1.0, "val/loss": 0.9}, {"epoch": 2.0, "val/loss": 0.6}]


def test_config_kind_and_a_fresh_start(tmp_path):
    run = RunDir(tmp_path / "run")
    assert not run.exists() and run.kind() is None
    run.write_config(ExperimentConfig(), "ae")
    assert run.exists() and run.kind() == "ae"
    publish(run, 1)
    run.append_metrics({"epoch": 1.0})
    run.keep_best(run.latest().folder, {"metric": "val/loss", "value": 0.5})
    (run.path / "checkpoint_manager_snapshot.json").write_text("{}")
    run.clear()
    assert run.checkpoints() == [] and run.metrics() == [] and run.best_record() is None
    assert sorted(p.name for p in run.path.iterdir()) == ["config.yaml", "kind.txt"]


def test_keep_best_copies_the_weights_and_records_why(tmp_path):
    run = RunDir(tmp_path / "run")
    first = publish(run, 1)
    kept = run.keep_best(first.folder, {"metric": "val/loss", "value": 0.5, "epoch": 1})
    assert kept.read_bytes() == first.file.read_bytes() and kept.parent != first.folder
    assert run.best_record() == {"metric": "val/loss", "value": 0.5, "epoch": 1, "checkpoint_path": str(kept)}
    publish(run, 2, keep=1)  # pruning the numbered checkpoints never touches the kept best
    assert kept.read_bytes() == b"weights 1"
    assert run.keep_best(tmp_path / "nothing", {"value": 0.1}) is None
    assert json.loads((kept.parent / "best.json").read_text())["value"] == 0.5
