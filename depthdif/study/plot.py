"""Render a `ParetoResult` with plotly: standalone HTML, PNG when an image exporter exists.

Render only: every number drawn comes from `study/pareto.py`. The Pareto figure shows all
eligible trials, the front highlighted (a step line through it in 2-D), non-eligible trials
(FAILED / PRUNED / RUNNING) as grey crosses at their last values when they have any, and a
hover with the trial's id, state and parameters. 1 objective: value vs trial number;
2: scatter; 3: 3-D scatter; more: a scatter matrix. In 2-D, an objective with a reference metric
logged by every trial (`REFERENCES`: the AE study's `val/ae_rmse` → `val/pca_rmse`, the PCA of the
same width) also gets that reference as a line against the other objective (issue 17).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from depthdif.study.pareto import ParetoResult, param_columns
from depthdif.study.units import axis_title
from depthdif.atomic import atomic_path

PARETO_HTML, HYPERVOLUME_HTML, PARETO_PNG = "pareto.html", "hypervolume.html", "pareto.png"
FRONT_COLOR, TRIAL_COLOR, OTHER_COLOR = "#d62728", "#1f77b4", "#aaaaaa"
# objective metric -> (results column of its reference, legend name)
REFERENCES = {"val/ae_rmse": ("metric/val/pca_rmse", "PCA at the same width (val/pca_rmse)")}


def hover_text(trials: pd.DataFrame, result: ParetoResult) -> list[str]:
    """One hover string per trial: id, number, state, objectives, parameters."""
    params = param_columns(trials)
    texts = []
    for _, row in trials.iterrows():
        lines = [f"trial {row.get('trial_id', '')} (#{row['trial_number']}) {row.get('state', '')}"]
        lines += [f"{metric} = {row[c]:.6g}" for metric, c in zip(result.metrics, result.columns)
                  if pd.notna(row[c])]
        lines += [f"{c.removeprefix('param/')} = {_short(row[c])}" for c in params]
        texts.append("<br>".join(lines))
    return texts


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def _axis_title(result: ParetoResult, i: int) -> str:
    """`val/rmse_withheld (°C, ↓ better)`: the metric, its unit and which way is better."""
    return axis_title(result.metrics[i], result.directions[i])


OTHER_NAME, TRIALS_NAME, FRONT_NAME = "other trials (failed / pruned / running)", "trials", "Pareto front"


def _groups(result: ParetoResult) -> list[tuple[str, pd.DataFrame, dict]]:
    trials = result.trials
    has_values = trials[list(result.columns)].notna().all(axis=1)
    other = trials[~trials["eligible"] & has_values]
    return [
        (OTHER_NAME, other, {"color": OTHER_COLOR, "symbol": "x", "size": 7}),
        (TRIALS_NAME, trials[trials["eligible"] & ~trials["on_front"]], {"color": TRIAL_COLOR, "size": 8}),
        (FRONT_NAME, trials[trials["on_front"]], {"color": FRONT_COLOR, "size": 11,
                                                  "line": {"width": 1, "color": "black"}}),
    ]


def pareto_figure(result: ParetoResult, title: str = "Pareto front", color_by: str | None = None) -> go.Figure:
    """All trials with the front highlighted; the layout depends on the number of objectives.

    `color_by`: a parameter (dotted key) whose value colours the complete trials; a menu on the
    figure switches to any other numeric parameter."""
    n = len(result.columns)
    fig = go.Figure()
    for name, rows, marker in _groups(result):
        if rows.empty:
            continue
        if color_by is not None and name != OTHER_NAME:
            marker = {**marker, **color_marker(rows, color_by, color_limits(result.trials, color_by),
                                               show_scale=name == FRONT_NAME)}
        text = hover_text(rows, result)
        common = {"name": name, "mode": "markers", "marker": marker, "text": text, "hoverinfo": "text"}
        if n == 1:
            fig.add_trace(go.Scatter(x=rows["trial_number"], y=rows[result.columns[0]], **common))
        elif n == 2:
            fig.add_trace(go.Scatter(x=rows[result.columns[0]], y=rows[result.columns[1]], **common))
        elif n == 3:
            fig.add_trace(go.Scatter3d(x=rows[result.columns[0]], y=rows[result.columns[1]],
                                       z=rows[result.columns[2]], **common))
        else:
            dims = [{"label": result.metrics[i], "values": rows[c]} for i, c in enumerate(result.columns)]
            fig.add_trace(go.Splom(dimensions=dims, name=name, marker=marker, text=text, hoverinfo="text"))
    if n == 2 and not result.front.empty:
        fig.add_trace(_front_steps(result))
    reference = _reference_line(result) if n == 2 else None
    if reference is not None:
        fig.add_trace(reference)
    if color_by is not None:
        add_color_menu(fig, result, color_by)
    _label_axes(fig, result, n)
    fig.update_layout(title=f"{title}: {len(result.front)} of {int(result.trials['eligible'].sum())} "
                            f"complete trials on the front", template="plotly_white")
    return fig


def numeric_params(trials: pd.DataFrame) -> list[str]:
    """Parameters (dotted keys) with numeric values: the ones a colour scale can show."""
    keys = []
    for column in param_columns(trials):
        values = pd.to_numeric(trials[column], errors="coerce")
        if values.notna().any() and not trials[column].map(lambda v: isinstance(v, (bool, np.bool_))).any():
            keys.append(column.removeprefix("param/"))
    return keys


def color_marker(rows: pd.DataFrame, param: str, limits: tuple[float, float], show_scale: bool) -> dict:
    """Marker settings colouring `rows` by a parameter on one shared scale (Viridis, `limits`)."""
    values = pd.to_numeric(rows.get(f"param/{param}"), errors="coerce")
    marker = {"color": values.tolist(), "colorscale": "Viridis", "cmin": limits[0], "cmax": limits[1],
              "showscale": show_scale}
    if show_scale:
        marker["colorbar"] = {"title": {"text": param}, "len": 0.8}
    return marker


def color_limits(trials: pd.DataFrame, param: str) -> tuple[float, float]:
    """The parameter's range over the complete trials (one scale for front and non-front points)."""
    values = pd.to_numeric(trials.loc[trials["eligible"], f"param/{param}"], errors="coerce").dropna()
    return (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)


def add_color_menu(fig: go.Figure, result: ParetoResult, color_by: str) -> None:
    """A menu above the figure to colour the complete trials by another numeric parameter."""
    groups = {name: rows for name, rows, _ in _groups(result)}
    indices = [i for i, t in enumerate(fig.data) if t.name in (TRIALS_NAME, FRONT_NAME)]
    params = numeric_params(result.trials)
    buttons = []
    for param in params:
        lo, hi = color_limits(result.trials, param)
        colors = [pd.to_numeric(groups[fig.data[i].name].get(f"param/{param}"), errors="coerce").tolist()
                  for i in indices]
        buttons.append({"label": param, "method": "restyle", "args": [
            {"marker.color": colors, "marker.cmin": lo, "marker.cmax": hi, "marker.colorbar.title.text": param},
            indices]})
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"})
    if len(buttons) > 1:
        active = params.index(color_by) if color_by in params else 0
        fig.update_layout(updatemenus=[{"buttons": buttons, "direction": "down", "active": active, "x": 0.09,
                                        "xanchor": "left", "y": 1.0, "yanchor": "bottom", "pad": {"b": 6}}],
                          annotations=[{"text": "colour by", "showarrow": False, "xref": "paper", "yref": "paper",
                                        "x": 0.0, "y": 1.0, "yanchor": "bottom", "yshift": 12}])


def _front_steps(result: ParetoResult) -> go.Scatter:
    """A step line through the 2-D front, so the dominated region's boundary is visible."""
    front = result.front.sort_values(result.columns[0])
    x, y = front[result.columns[0]].to_numpy(), front[result.columns[1]].to_numpy()
    return go.Scatter(x=x, y=y, mode="lines", line={"shape": "hv", "color": FRONT_COLOR, "dash": "dot"},
                      name="front boundary", hoverinfo="skip")


def _reference_line(result: ParetoResult) -> go.Scatter | None:
    """The reference of one objective (mean per value of the other objective), as a dashed line."""
    for i, metric in enumerate(result.metrics):
        column, name = REFERENCES.get(metric, (None, None))
        if column is None or column not in result.trials:
            continue
        other = result.columns[1 - i]
        rows = result.trials[result.trials[column].notna() & result.trials[other].notna()]
        if rows.empty:
            return None
        line = rows.groupby(other)[column].mean().sort_index()
        xy = (line.to_numpy(), line.index.to_numpy())[:: 1 if i == 0 else -1]
        return go.Scatter(x=xy[0], y=xy[1], mode="lines+markers", name=name,
                          line={"color": "black", "dash": "dash"}, marker={"symbol": "diamond", "size": 7})
    return None


def _label_axes(fig: go.Figure, result: ParetoResult, n: int) -> None:
    if n == 1:
        fig.update_layout(xaxis_title="trial number", yaxis_title=_axis_title(result, 0))
    elif n == 2:
        fig.update_layout(xaxis_title=_axis_title(result, 0), yaxis_title=_axis_title(result, 1))
    elif n == 3:
        fig.update_layout(scene={"xaxis_title": _axis_title(result, 0), "yaxis_title": _axis_title(result, 1),
                                 "zaxis_title": _axis_title(result, 2)})


def hypervolume_figure(result: ParetoResult, title: str = "Hypervolume") -> go.Figure:
    """Hypervolume of the complete trials so far versus trial number (one fixed reference)."""
    ref = ", ".join(f"{m}={v:.4g}" for m, v in zip(result.metrics, result.reference_point))
    fig = go.Figure(go.Scatter(x=result.history["trial_number"], y=result.history["hypervolume"],
                               mode="lines+markers", line={"shape": "hv"}, name="hypervolume"))
    fig.update_layout(title=f"{title} vs trial number (reference point: {ref})", template="plotly_white",
                      xaxis_title="trial number", yaxis_title="hypervolume")
    return fig


def image_exporter_available() -> bool:
    """Plotly writes PNG through kaleido; without it we write HTML only and say so."""
    return importlib.util.find_spec("kaleido") is not None


def _atomic(path: Path, write) -> Path:
    with atomic_path(path) as tmp:
        write(str(tmp))
    return path


def write_study_plots(result: ParetoResult, out_dir: str | Path, title: str = "") -> tuple[list[Path], str | None]:
    """Write pareto.html and hypervolume.html (+ pareto.png when kaleido exists) atomically.

    Returns the written paths and a note when the PNG was skipped. The HTML files embed
    plotly.js, so they open offline.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{title}: " if title else ""
    pareto, hv = pareto_figure(result, f"{prefix}Pareto front"), hypervolume_figure(result, f"{prefix}Hypervolume")
    written = [_atomic(out_dir / PARETO_HTML, lambda p: pareto.write_html(p, include_plotlyjs=True)),
               _atomic(out_dir / HYPERVOLUME_HTML, lambda p: hv.write_html(p, include_plotlyjs=True))]
    if not image_exporter_available():
        return written, "PNG skipped: no image exporter (install `kaleido` to get pareto.png)"
    try:
        written.append(_atomic(out_dir / PARETO_PNG, lambda p: pareto.write_image(p, format="png")))
    except Exception as exc:  # kaleido present but unusable (e.g. no browser): HTML is enough
        return written, f"PNG skipped: image export failed ({exc})"
    return written, None
