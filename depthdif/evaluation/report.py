"""Render a `Comparison`: RMSE by depth for every method, as standalone plotly HTML.

Render only: every number drawn comes from `compare.py`'s table. Two panels share the depth
axis (surface at the top): the full field (vs y) and the withheld profiles (vs held-out x).
The HTML embeds plotly.js, so it opens offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from depthdif.evaluation.compare import Comparison
from depthdif.atomic import atomic_path

PANELS = (("rmse_full", "full field (vs y)"), ("rmse_withheld", "withheld profiles"))


def rmse_by_depth_figure(comparison: Comparison, max_depth_m: float | None = None) -> go.Figure:
    """One line per method and panel: RMSE (degC) against depth (m), depth increasing downwards."""
    fig = make_subplots(rows=1, cols=len(PANELS), shared_yaxes=True,
                        subplot_titles=[title for _, title in PANELS])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    for col, (metric, _) in enumerate(PANELS, start=1):
        table = comparison.by_depth(metric)
        if max_depth_m is not None:
            table = table[table.index <= max_depth_m]
        for i, method in enumerate(comparison.methods):
            values = table[method].to_numpy(dtype=float)
            fig.add_trace(go.Scatter(
                x=values, y=table.index.to_numpy(), mode="lines+markers", name=method, legendgroup=method,
                showlegend=col == 1, line={"color": palette[i % len(palette)]},
                hovertemplate=f"{method}<br>depth %{{y:.1f}} m<br>RMSE %{{x:.3f}} °C<extra></extra>",
                connectgaps=False), row=1, col=col)
        fig.update_xaxes(title_text="RMSE (°C)", row=1, col=col, rangemode="tozero")
    fig.update_yaxes(title_text="depth (m)", autorange="reversed", row=1, col=1)
    fig.update_layout(
        title=f"RMSE by depth: {comparison.n_patches} patches, {_withheld_title(comparison)}",
        template="plotly_white", height=650, hovermode="closest")
    return fig


def _withheld_title(comparison: Comparison) -> str:
    what = "floats" if comparison.withheld_mode == "float" else "columns per patch"
    return f"{comparison.withheld_fraction:.0%} of {what} withheld (seed {comparison.withheld_seed})"


def write_html(fig: go.Figure, path: str | os.PathLike) -> Path:
    """Standalone HTML (plotly.js embedded: opens offline) via a temp file + rename."""
    with atomic_path(path) as tmp:
        fig.write_html(tmp, include_plotlyjs=True, full_html=True)
    return Path(path)


def summary_markdown(comparison: Comparison, bands: bool = True) -> str:
    """A markdown table of the overall (and per-band) RMSE of each method, for READMEs and logs."""
    overall = comparison.overall()
    columns = [c for c in ("rmse_full", "rmse_withheld", "mae_withheld", "bias_withheld", "crps_withheld",
                           "spread_skill_ratio")
               if c in overall.columns]
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for method, row in overall.iterrows():
        lines.append(f"| {method} | " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    if bands:
        band_rows = comparison.table[comparison.table["scope"] == "band"]
        if len(band_rows):
            pivot = band_rows.pivot_table(index="method", columns=["metric", "band"], values="value",
                                          sort=False, dropna=False).reindex(comparison.methods)
            headers = [f"{metric.removeprefix('rmse_')} {band}" for metric, band in pivot.columns]
            lines += ["", "RMSE (°C) per depth band:", "",
                      "| method | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
            for method, row in pivot.iterrows():
                lines.append(f"| {method} | " + " | ".join(_fmt(v) for v in row.to_numpy()) + " |")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"
