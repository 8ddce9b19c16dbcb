"""Units of the metrics a study reports, for axis titles and printed values.

Derived from the metric name the way the trainers build it (evaluation/metrics.py reports errors
in °C after de-normalization; losses are on normalized fields; cost/* are seconds), so a new
metric gets the right unit without being listed.
"""

from __future__ import annotations

import math

_RULES = (  # (substring of the metric name, unit); first match wins
    ("seconds", "s"),
    ("loss", "normalized"),
    ("fraction", "fraction"),
    ("_channels", "channels"),
    ("ratio", "ratio"),
    ("skill", "ratio"),
    ("rmse", "°C"), ("mae", "°C"), ("bias", "°C"), ("crps", "°C"), ("spread", "°C"),
)


def metric_unit(metric: str) -> str:
    """The unit of a metric (`val/rmse_withheld` → `°C`), or '' when unknown."""
    for needle, unit in _RULES:
        if needle in metric:
            return unit
    return ""


def axis_title(metric: str, direction: str | None = None) -> str:
    """`val/rmse_withheld (°C, ↓ better)`."""
    unit = metric_unit(metric)
    arrow = {"minimize": "↓ better", "maximize": "↑ better"}.get(direction or "", "")
    inside = ", ".join(p for p in (unit, arrow) if p)
    return f"{metric} ({inside})" if inside else metric


def with_unit(metric: str, value: float) -> str:
    """`0.412 °C`, `11.8 s`, `0.031` (normalized and ratio values carry no suffix)."""
    if value is None or not math.isfinite(float(value)):
        return "-"
    unit = metric_unit(metric)
    suffix = f" {unit}" if unit in ("°C", "s", "channels") else ""
    return f"{float(value):.4g}{suffix}"
