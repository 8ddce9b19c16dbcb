"""Plotly figures of a `StudyReport` (render only: every number comes from the record).

The Pareto and hypervolume figures are study/plot.py's; learning curves are Optuna's own
builder (`plot_intermediate_values`, fed by the per-epoch values dashboard.py writes); the rest
are plotly graph objects: parallel coordinates, importances, RMSE by depth, reconstruction maps.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .pareto import param_columns
from .plot import hypervolume_figure, numeric_params, pareto_figure
from .report import StudyReport, importance_evaluator
from .units import axis_title

TEMPLATE = "plotly_white"
TRIAL_COLORS = ["#d62728", "#9467bd", "#e377c2", "#8c564b", "#bcbd22", "#17becf"]
BASELINE_COLORS = {"climatology": "#7f7f7f", "idw": "#1f77b4", "oi": "#2ca02c", "eo_regression": "#ff7f0e",
                   "oi_eo": "#000000"}
DEPTH_PANELS = (("rmse_withheld", "withheld floats (transfers to real Argo)"), ("rmse_full", "full field (vs truth)"))


def default_color_param(report: StudyReport) -> str | None:
    """The parameter that matters most for the first objective (else the first numeric one)."""
    params = numeric_params(report.pareto.trials)
    if report.color_by in params:
        return report.color_by
    ranked = report.importances.get(report.pareto.metrics[0], {})
    return next((p for p in ranked if p in params), params[0] if params else None)


def study_figures(report: StudyReport) -> dict[str, go.Figure]:
    """Every figure of the report by section id (a section without data is left out)."""
    name = report.summary.name
    figures = {"pareto": pareto_figure(report.pareto, f"{name}: Pareto front", color_by=default_color_param(report))}
    if len(report.pareto.metrics) > 1:
        figures["hypervolume"] = hypervolume_figure(report.pareto, f"{name}: hypervolume")
    optional = {"curves": learning_curves_figure(report), "parallel": parallel_figure(report),
                "importance": importance_figure(report), "depth": depth_figure(report), "map": map_figure(report)}
    figures.update({k: v for k, v in optional.items() if v is not None})
    for figure in figures.values():
        figure.update_layout(template=TEMPLATE, margin={"l": 70, "r": 30, "t": 80, "b": 60})
    return figures


def learning_curves_figure(report: StudyReport) -> go.Figure | None:
    """Optuna's intermediate-values plot: the first objective per epoch, one line per trial."""
    study = report.optuna_study
    if study is None or not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        return None
    fig = optuna.visualization.plot_intermediate_values(study)
    metric = report.pareto.metrics[0]
    fig.update_layout(title=f"Learning curves: {metric} per epoch", xaxis_title="epoch",
                      yaxis_title=axis_title(metric, report.pareto.directions[0]), showlegend=False)
    return fig


def parallel_figure(report: StudyReport) -> go.Figure | None:
    """Parallel coordinates of the complete trials: each parameter, then each objective."""
    trials = report.pareto.trials[report.pareto.trials["eligible"]]
    if len(trials) < 2:
        return None
    dims = []
    for column in param_columns(trials):
        values = trials[column]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all() and not values.map(lambda v: isinstance(v, (bool, np.bool_))).any():
            dims.append({"label": column.removeprefix("param/").rsplit(".", 1)[-1], "values": numeric.tolist()})
        else:  # categorical: one tick per choice
            labels = values.astype(str)
            choices = sorted(labels.unique())
            dims.append({"label": column.rsplit(".", 1)[-1], "values": labels.map(choices.index).tolist(),
                         "tickvals": list(range(len(choices))), "ticktext": choices})
    for metric, column in zip(report.pareto.metrics, report.pareto.columns):
        dims.append({"label": axis_title(metric), "values": trials[column].astype(float).tolist()})
    first = trials[report.pareto.columns[0]].astype(float)
    fig = go.Figure(go.Parcoords(dimensions=dims, line={"color": first.tolist(), "colorscale": "Viridis",
                                                        "showscale": True, "reversescale": True,
                                                        "colorbar": {"title": {"text": report.pareto.metrics[0]}}}))
    fig.update_layout(title=f"Parameters and objectives of the {len(trials)} complete trials "
                            f"(colour: {report.pareto.metrics[0]})")
    return fig


def importance_figure(report: StudyReport) -> go.Figure | None:
    """fANOVA importance of each parameter, one bar group per objective."""
    if not report.importances:
        return None
    params = sorted({p for values in report.importances.values() for p in values})
    fig = go.Figure()
    for metric, values in report.importances.items():
        fig.add_trace(go.Bar(y=params, x=[values.get(p, 0.0) for p in params], name=metric, orientation="h",
                             hovertemplate=f"{metric}<br>%{{y}}: %{{x:.3f}}<extra></extra>"))
    fig.update_layout(title=f"Parameter importance per objective (Optuna {importance_evaluator()[1]})", barmode="group",
                      xaxis_title="importance (share of the objective's variance)",
                      height=max(300, 120 + 60 * len(params) * max(1, len(report.importances)) // 2))
    return fig


def depth_figure(report: StudyReport) -> go.Figure | None:
    """RMSE (°C) against depth for the front's trials (solid) and the baselines (dashed)."""
    table = report.depth
    if table is None or table.empty:
        return None
    panels = [p for p in DEPTH_PANELS if (table["metric"] == p[0]).any()]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, subplot_titles=[t for _, t in panels])
    methods = list(dict.fromkeys(table["method"]))
    trials = [m for m in methods if m.startswith("trial #")]
    for col, (metric, _) in enumerate(panels, start=1):
        rows = table[table["metric"] == metric]
        for method in methods:
            line = rows[rows["method"] == method].sort_values("depth_m")
            if line.empty:
                continue
            is_trial = method in trials
            color = (TRIAL_COLORS[trials.index(method) % len(TRIAL_COLORS)] if is_trial
                     else BASELINE_COLORS.get(method, "#333333"))
            fig.add_trace(go.Scatter(
                x=line["value"], y=line["depth_m"], mode="lines+markers", name=method, legendgroup=method,
                showlegend=col == 1, line={"color": color, "dash": "solid" if is_trial else "dash",
                                           "width": 2.5 if is_trial else 1.5},
                hovertemplate=f"{method}<br>%{{y:.0f}} m: %{{x:.3f}} °C<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="RMSE (°C)", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="depth (m)", autorange="reversed", row=1, col=1)
    fig.update_layout(title="RMSE by depth: Pareto-front trials (solid) vs baselines (dashed)", height=560)
    return fig


def map_figure(report: StudyReport) -> go.Figure | None:
    """Truth, reconstruction, error and spread at one time step; a slider picks the depth level."""
    rec = report.reconstruction
    if rec is None:
        return None
    panels = [("truth (°C)", rec.truth, "Thermal"), ("reconstruction, ensemble mean (°C)", rec.mean, "Thermal"),
              ("error = mean − truth (°C)", rec.error, "RdBu_r"), (f"spread, std of {rec.samples} members (°C)",
                                                                   rec.spread, "Viridis")]
    panels = [p for p in panels if p[1] is not None]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.07,
                        shared_yaxes=True)
    right_edges = [fig.get_subplot(1, col).xaxis.domain[1] for col in range(1, len(panels) + 1)]
    obs_y, obs_x = np.nonzero(rec.observed)
    for level_i in range(len(rec.levels)):
        shared = _joint_range([v[level_i] for t, v, s in panels if s == "Thermal"])  # truth and mean alike
        for col, (title, values, scale) in enumerate(panels, start=1):
            fig.add_trace(_map_trace(rec, values[level_i], scale, title, right_edges[col - 1], level_i == 0,
                                     shared if scale == "Thermal" else None), row=1, col=col)
        fig.add_trace(go.Scatter(x=rec.lon[obs_x], y=rec.lat[obs_y], mode="markers", name="Argo profiles in the input",
                                 marker={"symbol": "circle-open", "color": "black", "size": 6},
                                 visible=level_i == 0, showlegend=False), row=1, col=min(2, len(panels)))
    per_level = len(panels) + 1
    steps = [{"label": f"{d:.0f} m", "method": "update",
              "args": [{"visible": [i // per_level == li for i in range(per_level * len(rec.levels))]}]}
             for li, d in enumerate(rec.depth_m)]
    fig.update_layout(title=f"Reconstruction by {rec.trial_label} on {rec.time}; ○ = Argo profiles in the input; "
                            "depth: slider below",
                      sliders=[{"steps": steps, "active": 0, "currentvalue": {"prefix": "depth: "}, "y": -0.08}],
                      height=470, showlegend=False)
    fig.update_xaxes(title_text="longitude (°E)")
    fig.update_yaxes(title_text="latitude (°N)", col=1)
    return fig


def _joint_range(arrays: list[np.ndarray]) -> tuple[float, float] | None:
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    return (float(finite.min()), float(finite.max())) if finite.size else None


def _map_trace(rec, values: np.ndarray, scale: str, title: str, right_edge: float, visible: bool,
               limits: tuple[float, float] | None) -> go.Heatmap:
    """One panel at one level; the error is centred on 0, truth and mean share `limits`."""
    if scale == "RdBu_r":
        finite = values[np.isfinite(values)]
        bound = float(np.max(np.abs(finite))) if finite.size else 1.0
        limits = (-bound, bound)
    zmin, zmax = limits if limits else (None, None)
    return go.Heatmap(z=np.where(np.isfinite(values), values, None).tolist(), x=rec.lon, y=rec.lat,
                      colorscale=scale, zmin=zmin, zmax=zmax, visible=visible, showscale=True, name=title,
                      colorbar={"x": right_edge + 0.003, "xanchor": "left", "len": 0.75, "thickness": 10},
                      hovertemplate=f"{title}<br>%{{y:.2f}}°N %{{x:.2f}}°E: %{{z:.3f}}<extra></extra>")
