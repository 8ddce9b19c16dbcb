"""Lay a `StudyReport` out as one self-contained HTML page (plotly.js embedded once, in <head>).

Opens offline, from a copied study folder too: links to run dirs, checkpoints and exports are
relative to the page when they lie below its folder.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import pandas as pd
from plotly.offline import get_plotlyjs

from .report import StudyReport
from .report_figures import study_figures
from .results import PARAM_PREFIX
from .units import with_unit

SECTIONS = (("pareto", "Pareto front"), ("hypervolume", "Hypervolume"), ("curves", "Learning curves"),
            ("parallel", "Parallel coordinates"), ("importance", "Parameter importance"),
            ("depth", "RMSE by depth: front vs baselines"), ("map", "A reconstruction of the best trial"))
STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:1.5em}
header p{margin:0;opacity:.85}nav{padding:8px 32px;background:#e8eef4;position:sticky;top:0;z-index:5}
nav a{margin-right:14px;color:#1f3b57;text-decoration:none;font-size:.92em}main{padding:8px 32px 40px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:16px 0;padding:12px 18px}
h2{font-size:1.15em;margin:4px 0 10px;color:#1f3b57}table{border-collapse:collapse;font-size:.86em}
td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f5f7}.note{color:#666;font-size:.88em}.err{color:#a00;font-family:monospace;font-size:.85em}
.scroll{overflow-x:auto}code{background:#f3f5f7;padding:1px 4px;border-radius:3px}.kv td:first-child{color:#555;white-space:nowrap}
"""


def report_html(report: StudyReport) -> str:
    """The whole page as a string."""
    figures = study_figures(report)
    page_dir = report.summary.study_dir
    nav = ['<a href="#summary">Summary</a>'] + [f'<a href="#{k}">{html.escape(t)}</a>' for k, t in SECTIONS
                                                 if k in figures] + ['<a href="#front">Front table</a>',
                                                                     '<a href="#failed">Failed trials</a>']
    parts = [_summary_section(report)]
    for key, title in SECTIONS:
        if key in figures:
            div = figures[key].to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{key}",
                                       default_width="100%", config={"displaylogo": False, "responsive": True})
            note = f'<p class="note">{html.escape(report.depth_note)}</p>' if key == "depth" and report.depth_note else ""
            parts.append(f'<section id="{key}"><h2>{html.escape(title)}</h2>{note}{div}</section>')
    parts += [_front_section(report, page_dir), _failed_section(report), _notes_section(report)]
    s = report.summary
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(s.name)}: depthdif study report</title><style>{STYLE}</style>'
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f'<header><h1>Study {html.escape(s.name)}</h1><p>{html.escape(s.kind)} trainer · '
            f'{html.escape(str(s.study_dir))}</p></header><nav>{"".join(nav)}</nav><main>{"".join(parts)}</main>'
            f'</body></html>\n')


def _summary_section(report: StudyReport) -> str:
    s, p = report.summary, report.pareto
    counts = ", ".join(f"{n} {state.lower()}" for state, n in s.counts.items() if n)
    finished = sum(n for state, n in s.counts.items() if state != "RUNNING")
    objectives = "; ".join(f"{m} ({d})" for m, d in zip(p.metrics, p.directions))
    rows = [("trials", f"{finished}/{s.budget} finished ({counts or 'none yet'})"),
            ("objectives", objectives),
            ("on the Pareto front", f"{len(p.front)} of {int(p.trials['eligible'].sum())} complete trials"),
            ("hypervolume", f"{p.hypervolume:.4g} (reference {', '.join(f'{v:.4g}' for v in p.reference_point)})"),
            ("first start / last end", f"{s.started} / {s.ended}"),
            ("wall time", _hours(s.wall_s)),
            ("CPU time held", _hours(s.cpu_s)), ("GPU time held", _hours(s.gpu_s)),
            ("driver", s.driver), ("sampler", f"{report.spec.sampler.name} (seed {report.spec.sampler.seed})"),
            ("optuna-dashboard", f"<code>{html.escape(s.dashboard)}</code>")]
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{v if k == 'optuna-dashboard' else html.escape(v)}</td></tr>"
                   for k, v in rows)
    return f'<section id="summary"><h2>Summary</h2><table class="kv">{body}</table></section>'


def _hours(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    return f"{seconds / 3600:.2f} h ({seconds:.0f} s)" if seconds >= 60 else f"{seconds:.1f} s"


def _link(path: str, page_dir: Path, text: str | None = None) -> str:
    if not path:
        return "-"
    target = Path(path)
    try:
        href = os.path.relpath(target, page_dir) if target.is_relative_to(page_dir) else target.as_uri()
    except ValueError:
        href = target.as_uri()
    return f'<a href="{html.escape(href)}">{html.escape(text or target.name)}</a>'


def _front_section(report: StudyReport, page_dir: Path) -> str:
    p = report.pareto
    if p.front.empty:
        return '<section id="front"><h2>Front table</h2><p class="note">no COMPLETE trial yet</p></section>'
    params = [c for c in p.front.columns if c.startswith(PARAM_PREFIX)]
    head = (["trial", "id"] + list(p.metrics) + [c.removeprefix(PARAM_PREFIX).rsplit(".", 1)[-1] for c in params]
            + ["run dir", "checkpoint", "exports"])
    rows = []
    for row in p.front.to_dict("records"):
        exports = report.exports.get(int(row["trial_number"]), [])
        cells = ([f"#{int(row['trial_number'])}", html.escape(str(row["trial_id"]))]
                 + [html.escape(with_unit(m, row[c])) for m, c in zip(p.metrics, p.columns)]
                 + [html.escape(_value(row.get(c))) for c in params]
                 + [_link(str(row.get("run_dir") or ""), page_dir), _link(str(row.get("checkpoint_path") or ""), page_dir),
                    " ".join(_link(e, page_dir) for e in exports) or
                    f'<span class="note">none yet: <code>depthdif study export {html.escape(str(page_dir))} '
                    f'--trial {int(row["trial_number"])} --out DIR</code></span>'])
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    titles = ["", ""] + list(p.metrics) + [c.removeprefix(PARAM_PREFIX) for c in params] + ["", "", ""]
    header = "<tr>" + "".join(f'<th title="{html.escape(t)}">{html.escape(h)}</th>' for h, t in zip(head, titles)) + "</tr>"
    return (f'<section id="front"><h2>Front table ({len(p.front)} trials)</h2><div class="scroll"><table>{header}'
            f'{"".join(rows)}</table></div></section>')


def _value(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _failed_section(report: StudyReport) -> str:
    failed: pd.DataFrame = report.failed
    if failed.empty:
        return '<section id="failed"><h2>Failed trials</h2><p class="note">none</p></section>'
    rows = "".join(f"<tr><td>#{int(r['trial_number'])}</td><td>{html.escape(str(r['trial_id']))}</td>"
                   f"<td>{html.escape(str(r['state']))}</td><td>{int(r['fidelity'])}</td>"
                   f'<td class="err">{html.escape(str(r["error"])[:600])}</td></tr>'
                   for r in failed.to_dict("records"))
    return (f'<section id="failed"><h2>Failed trials ({len(failed)})</h2><table><tr><th>trial</th><th>id</th>'
            f'<th>state</th><th>epochs</th><th>error</th></tr>{rows}</table></section>')


def _notes_section(report: StudyReport) -> str:
    if not report.notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return f'<section id="notes"><h2>Notes</h2><ul class="note">{items}</ul></section>'
