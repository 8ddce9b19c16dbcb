"""results.parquet: exact columns, one row per trial, atomic rewrites, reload on resume."""

from __future__ import annotations

import math

import pytest

from depthdif.study.results import ResultsTable, read_results, results_frame, trial_row, write_results

FOOTPRINT = {"num_workers": 2, "cpus": 2.0, "gpus": 0.0}
METRICS = ["val/rmse_withheld", "cost/train_seconds"]


def row(trial_id: str, number: int, state: str = "COMPLETE", **result):
    base = {"objective/val/rmse_withheld": 0.5 + number, "objective/cost/train_seconds": 10.0,
            "val/loss": 0.25, "best/val/loss": 0.2, "fidelity": 3, "train_seconds": 9.0,
            "checkpoint_path": f"/runs/{trial_id}/best_checkpoint/checkpoint.ckpt", "run_dir": f"/runs/{trial_id}",
            "time_total_s": 12.0, "config": {"training.lr": 1e-3}}
    base.update(result)
    return trial_row(trial_id=trial_id, trial_number=number, state=state,
                     params={"training.lr": 1e-3 * (number + 1), "latent.freeze": "full"},
                     result=base, metrics=METRICS, resources=FOOTPRINT, duration_s=12.5)


def test_row_columns_are_exact():
    r = row("a1", 0)
    assert r["trial_id"] == "a1" and r["trial_number"] == 0 and r["state"] == "COMPLETE"
    assert r["param/training.lr"] == pytest.approx(1e-3) and r["param/latent.freeze"] == "full"
    assert r["objective/val/rmse_withheld"] == 0.5 and r["objective/cost/train_seconds"] == 10.0
    assert r["metric/val/loss"] == 0.25 and r["metric/best/val/loss"] == 0.2
    assert "metric/objective/val/rmse_withheld" not in r and "metric/time_total_s" not in r
    assert (r["fidelity"], r["duration_s"], r["train_seconds"]) == (3, 12.5, 9.0)
    assert (r["num_workers"], r["cpus"], r["gpus"]) == (2, 2.0, 0.0)
    assert r["checkpoint_path"].endswith("checkpoint.ckpt") and r["run_dir"] == "/runs/a1" and r["error"] == ""
    with pytest.raises(ValueError, match="allowed values"):
        trial_row(trial_id="x", trial_number=0, state="DONE", params={}, result={}, metrics=[],
                  resources={}, duration_s=0)


def test_write_read_sorted_with_fixed_order(tmp_path):
    rows = [row("b2", 1), row("a1", 0, state="FAILED", **{"objective/val/rmse_withheld": math.nan})]
    write_results(tmp_path, rows)
    df = read_results(tmp_path)
    assert list(df["trial_id"]) == ["a1", "b2"] and list(df["trial_number"]) == [0, 1]
    cols = list(df.columns)
    assert cols[:3] == ["trial_id", "trial_number", "state"]
    assert cols[-9:] == ["fidelity", "duration_s", "train_seconds", "num_workers", "cpus", "gpus",
                         "checkpoint_path", "run_dir", "error"]
    assert cols.index("param/training.lr") < cols.index("objective/val/rmse_withheld") < cols.index("metric/val/loss")
    assert math.isnan(df.loc[0, "objective/val/rmse_withheld"])
    assert str(df["objective/cost/train_seconds"].dtype) == "float64" and str(df["fidelity"].dtype) == "int64"
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]  # no temp file left behind


def test_missing_table_reads_as_empty_with_columns(tmp_path):
    df = read_results(tmp_path)
    assert len(df) == 0 and {"trial_id", "state", "checkpoint_path", "error"} <= set(df.columns)


def test_table_updates_in_place_and_reloads(tmp_path):
    table = ResultsTable(tmp_path)
    table.update(row("a1", 0, state="RUNNING"))
    table.update(row("b2", 1))
    table.update(row("a1", 0))  # the running trial finished: same row, no duplicate
    reloaded = ResultsTable(tmp_path)  # what a resumed driver sees
    assert sorted(reloaded.rows) == ["a1", "b2"]
    reloaded.update(row("c3", 2, state="PRUNED", fidelity=1))
    df = read_results(tmp_path)
    assert list(df["state"]) == ["COMPLETE", "COMPLETE", "PRUNED"] and df["trial_id"].is_unique
    assert list(df["fidelity"]) == [3, 3, 1]


def test_conditional_params_and_mixed_rows_frame():
    a = row("a1", 0)
    b = row("b2", 1)
    b["param/model.ambient_occlusion.min_kept_observed_pixels"] = 3
    df = results_frame([a, b])
    assert df["param/model.ambient_occlusion.min_kept_observed_pixels"].isna().tolist() == [True, False]


def test_close_orphans_marks_unknown_running_rows_failed(tmp_path):
    from depthdif.study.results import ORPHAN_ERROR, close_orphans

    write_results(tmp_path, [row("a1", 0), row("b2", 1, state="RUNNING"), row("c3", 2, state="RUNNING")])
    assert close_orphans(tmp_path, known_trial_ids=["a1", "c3"]) == ["b2"]
    df = read_results(tmp_path).set_index("trial_id")
    assert df.loc["b2", "state"] == "FAILED" and df.loc["b2", "error"] == ORPHAN_ERROR
    assert df.loc["c3", "state"] == "RUNNING" and df.loc["a1", "state"] == "COMPLETE"
