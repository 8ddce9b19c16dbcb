"""Pareto front and hypervolume on hand-made points, checked against hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from depthdif.study.pareto import (compute_pareto, default_reference, front_table, hypervolume,
                                   non_dominated_mask)


def _table(rows: list[tuple], metrics=("val/rmse", "val/score")) -> pd.DataFrame:
    """rows: (trial_number, state, value_1, value_2, ...)."""
    records = []
    for number, state, *values in rows:
        record = {"trial_id": f"t{number}", "trial_number": number, "state": state, "param/lr": 0.1 * number}
        record.update({f"objective/{m}": v for m, v in zip(metrics, values)})
        records.append(record)
    return pd.DataFrame(records)


def _inclusion_exclusion(points: np.ndarray, ref: np.ndarray) -> float:
    """Independent oracle: volume of a union of boxes [p, ref] by inclusion–exclusion."""
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(points, k):
            corner = np.max(subset, axis=0)
            total += (-1) ** (k + 1) * np.prod(np.clip(ref - corner, 0, None))
    return float(total)


def test_two_minimized_objectives_front_and_hypervolume_by_hand():
    points = np.array([[1, 5], [2, 3], [4, 1], [3, 4]], dtype=float)
    assert non_dominated_mask(points).tolist() == [True, True, True, False]
    # rectangles swept along x: (5-1)(6-5) + (5-2)(5-3) + (5-4)(3-1) = 4 + 6 + 2
    assert hypervolume(points, [5, 6]) == pytest.approx(12.0)


def test_three_objectives_hypervolume_by_hand():
    points = np.array([[1, 2, 3], [2, 1, 2], [3, 3, 1]], dtype=float)
    # boxes 6 + 12 + 3, pairwise overlaps 4 + 1 + 2, triple overlap 1
    assert hypervolume(points, [4, 4, 4]) == pytest.approx(15.0)


@pytest.mark.parametrize("dims", [3, 4])
def test_general_hypervolume_matches_inclusion_exclusion(dims):
    rng = np.random.default_rng(dims)
    points = rng.uniform(0, 1, size=(8, dims))
    ref = np.full(dims, 1.1)
    assert hypervolume(points, ref) == pytest.approx(_inclusion_exclusion(points, ref), rel=1e-12)


def test_points_outside_reference_contribute_nothing():
    assert hypervolume(np.array([[5.0, 0.0], [0.0, 7.0]]), [4, 4]) == 0.0
    assert hypervolume(np.array([[4.0, 1.0]]), [4, 4]) == 0.0  # on the boundary: no volume


def test_mixed_directions_ties_and_non_complete_states():
    results = _table([
        (0, "COMPLETE", 1.0, 10.0),   # A
        (1, "COMPLETE", 2.0, 20.0),   # B
        (2, "COMPLETE", 2.0, 15.0),   # dominated by B (same rmse, lower score)
        (3, "COMPLETE", 3.0, 20.0),   # dominated by B (higher rmse, same score)
        (4, "COMPLETE", 1.0, 10.0),   # duplicate of A: both stay on the front
        (5, "FAILED", 0.5, 100.0),    # would dominate everything, but failed
        (6, "PRUNED", 0.1, 1000.0),   # early-stopped: never on the front
        (7, "COMPLETE", float("nan"), 50.0),  # no finite objective: not eligible
    ])
    result = compute_pareto(results, [("val/rmse", "minimize"), ("val/score", "maximize")], reference=(4.0, 0.0))
    assert sorted(result.front["trial_number"]) == [0, 1, 4]
    assert result.trials["eligible"].tolist() == [True] * 5 + [False] * 3
    # union of [1,4]x[0,10] (30) and [2,4]x[0,20] (40) minus their overlap [2,4]x[0,10] (20)
    assert result.hypervolume == pytest.approx(50.0)
    assert result.front["objective/val/rmse"].tolist() == [1.0, 1.0, 2.0]  # sorted by first objective


def test_hypervolume_history_by_trial_number():
    results = _table([
        (0, "COMPLETE", 3.0, 1.0),
        (1, "FAILED", 0.0, 0.0),
        (2, "COMPLETE", 1.0, 3.0),
        (3, "COMPLETE", 2.0, 2.0),
    ], metrics=("a", "b"))
    result = compute_pareto(results, [("a", "minimize"), ("b", "minimize")], reference=(4.0, 4.0))
    history = result.history.set_index("trial_number")["hypervolume"]
    # n=0: box [3,4]x[1,4] = 3; n=1 failed: unchanged; n=2: + [1,3]x[3,4] = 2 → 5;
    # n=3: + (2,2) adds [2,3]x[2,3] = 1 → 6
    assert history.tolist() == pytest.approx([3.0, 3.0, 5.0, 6.0])
    assert history.iloc[-1] == pytest.approx(result.hypervolume)


def test_default_reference_rule_and_its_use():
    values = np.array([[1.0, 10.0], [3.0, 20.0]])
    # minimize: worst 3 + 10 % of range 2; maximize: worst 10 - 10 % of range 10
    assert default_reference(values, ["minimize", "maximize"]) == pytest.approx((3.2, 9.0))
    single = np.array([[2.0, 0.0]])
    assert default_reference(single, ["minimize", "minimize"]) == pytest.approx((2.2, 0.1))
    results = _table([(0, "COMPLETE", 1.0, 10.0), (1, "COMPLETE", 3.0, 20.0)])
    result = compute_pareto(results, [("val/rmse", "minimize"), ("val/score", "maximize")])
    assert result.reference_point == pytest.approx((3.2, 9.0))
    # minimized points (1,-10), (3,-20), ref (3.2,-9): 2.2*1 + 0.2*10
    assert result.hypervolume == pytest.approx(4.2)


def test_missing_objective_column_and_bad_direction_are_named():
    results = _table([(0, "COMPLETE", 1.0, 2.0)])
    with pytest.raises(ValueError, match="objective/val/crps"):
        compute_pareto(results, [("val/crps", "minimize")])
    with pytest.raises(ValueError, match="'upward'.*minimize"):
        compute_pareto(results, [("val/rmse", "upward")])


def test_no_eligible_trials_gives_empty_front_and_zero_volume():
    results = _table([(0, "FAILED", 1.0, 2.0), (1, "PRUNED", 1.0, 2.0)])
    result = compute_pareto(results, [("val/rmse", "minimize"), ("val/score", "maximize")])
    assert result.front.empty and result.hypervolume == 0.0
    assert result.history["hypervolume"].tolist() == [0.0, 0.0]


def test_front_table_lists_trials_objectives_and_params():
    results = _table([(0, "COMPLETE", 1.0, 10.0), (1, "COMPLETE", 2.0, 5.0)])
    text = front_table(compute_pareto(results, [("val/rmse", "minimize"), ("val/score", "maximize")]))
    assert "t0" in text and "t1" not in text and " lr" in text and "val/score (↑)" in text
    assert "val/rmse (°C, ↓)" in text and "param/" not in text  # short names, units (issue 14)
    assert max(len(line) for line in text.splitlines()) < 100


def test_study_without_trials_has_an_empty_front():
    empty = pd.DataFrame(columns=["trial_id", "trial_number", "state"])
    result = compute_pareto(empty, [("val/rmse", "minimize"), ("val/score", "maximize")])
    assert result.front.empty and result.hypervolume == 0.0 and result.history.empty


def _study_dir(tmp_path):
    """A real study directory: resolved study.yaml (spec loader) + results.parquet (results writer)."""
    import yaml

    from depthdif.study.results import write_results
    from depthdif.study.spec import load_study_spec, save_study_spec

    source = tmp_path / "demo.yaml"
    source.write_text(yaml.safe_dump({
        "kind": "pixel", "name": "demo", "storage": str(tmp_path),
        "objectives": [{"metric": "val/rmse", "direction": "minimize"},
                       {"metric": "val/score", "direction": "maximize"}],
        "search_space": {"training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2}},
    }))
    study_dir = tmp_path / "demo"
    save_study_spec(load_study_spec(source, check_metrics=False), study_dir)  # objectives made up here
    rows = _table([(0, "COMPLETE", 1.0, 10.0), (1, "COMPLETE", 2.0, 20.0), (2, "COMPLETE", 3.0, 5.0),
                   (3, "PRUNED", 0.1, 99.0), (4, "FAILED", None, None)]).to_dict("records")
    write_results(study_dir, rows)
    return study_dir


def test_study_pareto_command_writes_plots_and_front_parquet(tmp_path, capsys):
    import argparse

    from depthdif.commands import study_outputs

    study_dir = _study_dir(tmp_path)
    parser = argparse.ArgumentParser()
    study_outputs.register(parser.add_subparsers())
    args = parser.parse_args(["pareto", str(study_dir)])
    assert args.handler(args) == 0
    front = pd.read_parquet(study_dir / "pareto.parquet")
    assert sorted(front["trial_id"]) == ["t0", "t1"]
    assert (study_dir / "pareto.html").stat().st_size > 0 and (study_dir / "hypervolume.html").exists()
    out = capsys.readouterr().out
    assert "5 trials, 3 complete, 2 on the Pareto front" in out and "t1" in out
