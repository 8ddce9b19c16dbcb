"""Plotly rendering of a Pareto record: traces, hover text, standalone HTML files."""

from __future__ import annotations

import pandas as pd
import pytest

from depthdif.study.pareto import compute_pareto
from depthdif.study.plot import (HYPERVOLUME_HTML, PARETO_HTML, PARETO_PNG, hypervolume_figure,
                                 image_exporter_available, pareto_figure, write_study_plots)


def _results(n_objectives: int = 2) -> pd.DataFrame:
    rows = [
        (0, "COMPLETE", [1.0, 4.0, 2.0]),
        (1, "COMPLETE", [2.0, 2.0, 1.0]),
        (2, "COMPLETE", [3.0, 5.0, 3.0]),   # dominated by trial 0 in every layout
        (3, "PRUNED", [0.5, 0.5, 0.5]),
        (4, "FAILED", [None, None, None]),
    ]
    records = []
    for number, state, values in rows:
        record = {"trial_id": f"trial_{number}", "trial_number": number, "state": state,
                  "param/model.ambient_occlusion.further_drop_prob": 0.1 * (number + 1)}
        record.update({f"objective/m{i}": values[i] for i in range(n_objectives)})
        records.append(record)
    return pd.DataFrame(records)


def _objectives(n: int):
    return [(f"m{i}", "minimize") for i in range(n)]


def test_two_objective_figure_highlights_front_and_shows_params_on_hover():
    result = compute_pareto(_results(2), _objectives(2))
    fig = pareto_figure(result)
    traces = {t.name: t for t in fig.data}
    assert list(traces["Pareto front"].x) == [1.0, 2.0]
    assert list(traces["trials"].x) == [3.0]
    assert list(traces["other trials (failed / pruned / running)"].x) == [0.5]  # pruned, failed has no values
    assert "further_drop_prob = 0.1" in traces["Pareto front"].text[0]
    assert "trial_0" in traces["Pareto front"].text[0]
    assert fig.layout.xaxis.title.text == "m0 (↓ better)"
    assert "front boundary" in traces


@pytest.mark.parametrize("n,trace_type", [(1, "scatter"), (3, "scatter3d")])
def test_layout_follows_number_of_objectives(n, trace_type):
    result = compute_pareto(_results(n), _objectives(n))
    fig = pareto_figure(result)
    assert {t.type for t in fig.data} == {trace_type}
    front = next(t for t in fig.data if t.name == "Pareto front")
    assert len(front.x) == len(result.front)


def test_hypervolume_figure_plots_the_history():
    result = compute_pareto(_results(2), _objectives(2))
    fig = hypervolume_figure(result)
    assert list(fig.data[0].x) == [0, 1, 2, 3, 4]
    assert fig.data[0].y[-1] == pytest.approx(result.hypervolume)
    assert "reference point" in fig.layout.title.text


def test_write_study_plots_writes_standalone_html(tmp_path):
    result = compute_pareto(_results(2), _objectives(2))
    written, note = write_study_plots(result, tmp_path, title="demo")
    names = {p.name for p in written}
    assert {PARETO_HTML, HYPERVOLUME_HTML} <= names
    html = (tmp_path / PARETO_HTML).read_text()
    assert "trial_1" in html and "plotly" in html.lower() and '<script src="https://cdn.plot.ly' not in html
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    if image_exporter_available():
        assert PARETO_PNG in names or "failed" in note
    else:
        assert PARETO_PNG not in names and "kaleido" in note


def test_ae_study_draws_the_pca_reference_line():
    """Issue 17: every AE trial logs the PCA of its width; the front is drawn beside that floor."""
    rows = [{"trial_id": f"t{k}", "trial_number": k, "state": "COMPLETE", "objective/val/ae_rmse": ae,
             "objective/model/latent_channels": width, "metric/val/pca_rmse": pca}
            for k, (width, ae, pca) in enumerate([(8, 0.03, 0.06), (4, 0.10, 0.18), (8, 0.04, 0.06), (12, 0.015, 0.03)])]
    result = compute_pareto(pd.DataFrame(rows), [("val/ae_rmse", "minimize"), ("model/latent_channels", "minimize")])
    traces = {t.name: t for t in pareto_figure(result).data}
    line = traces["PCA at the same width (val/pca_rmse)"]
    assert list(line.y) == [4, 8, 12] and list(line.x) == pytest.approx([0.18, 0.06, 0.03])
    plain = compute_pareto(_results(2), _objectives(2))
    assert not any("PCA" in (t.name or "") for t in pareto_figure(plain).data)


def test_color_by_a_parameter_with_one_scale_and_a_menu_of_the_others():
    results = _results(2).assign(**{"param/training.lr": [1e-4, 1e-3, 1e-2, 5e-3, None]})
    results = results.rename(columns={"objective/m0": "objective/val/rmse_withheld",
                                      "objective/m1": "objective/cost/train_seconds"})
    result = compute_pareto(results, [("val/rmse_withheld", "minimize"), ("cost/train_seconds", "minimize")])
    fig = pareto_figure(result, color_by="training.lr")
    traces = {t.name: t for t in fig.data}
    assert list(traces["Pareto front"].marker.color) == [1e-4, 1e-3]
    assert list(traces["trials"].marker.color) == [1e-2]
    assert traces["Pareto front"].marker.cmin == traces["trials"].marker.cmin == 1e-4  # one scale: complete trials
    assert traces["Pareto front"].marker.cmax == 1e-2 and traces["Pareto front"].marker.showscale
    assert traces["other trials (failed / pruned / running)"].marker.color == "#aaaaaa"
    assert fig.layout.xaxis.title.text == "val/rmse_withheld (°C, ↓ better)"
    assert fig.layout.yaxis.title.text == "cost/train_seconds (s, ↓ better)"
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == ["model.ambient_occlusion.further_drop_prob", "training.lr"]
    trials, front = menu.buttons[0].args[0]["marker.color"]  # restyled traces: trials, then the front
    assert menu.active == 1 and trials == pytest.approx([0.3]) and front == pytest.approx([0.1, 0.2])
