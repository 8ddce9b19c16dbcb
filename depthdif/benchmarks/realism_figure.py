"""The realism figure: real (blue) vs synthetic (orange), six panels, hand-written SVG."""

from __future__ import annotations

import numpy as np

from depthdif.benchmarks.realism_metrics import BANDS_M, DISTANCE_EDGES_KM, Realism
from depthdif.benchmarks.svg_plot import REAL, SYNTH, Panel, legend, page

W, H, PAD_X, PAD_Y = 300, 220, 100, 70


def _panel(col: int, row: int, **kw) -> Panel:
    return Panel(x0=PAD_X + col * (W + PAD_X), y0=PAD_Y + row * (H + PAD_Y), w=W, h=H, **kw)


def std_panel(pooled: tuple[Realism, Realism], rows: list, depth: np.ndarray) -> str:
    top = max(np.nanmax(r.anomaly_std) for pair in [pooled] + [(a, b) for _, a, b in rows] for r in pair)
    p = _panel(0, 0, xlim=(0, float(np.ceil(top * 2) / 2)), ylim=(0, 2000), y_down=True,
               title="anomaly std per depth", xlabel="°C", ylabel="depth (m)")
    for (_, real, synth) in rows:
        p.line(real.anomaly_std, depth, REAL, dash="3 3", width=1)
        p.line(synth.anomaly_std, depth, SYNTH, dash="3 3", width=1)
    p.line(pooled[0].anomaly_std, depth, REAL)
    p.line(pooled[1].anomaly_std, depth, SYNTH)
    xt = [(t, f"{t:g}") for t in np.linspace(p.xlim[0], p.xlim[1], 5)]
    return p.svg(xt, [(z, f"{z}") for z in (0, 500, 1000, 1500, 2000)])


def length_panel(pooled: tuple[Realism, Realism]) -> str:
    real, synth = pooled
    p = _panel(1, 0, xlim=(0, 800), ylim=(len(BANDS_M) - 0.5, -0.5), title="decorrelation length (bar: real 16-84 %)",
               xlabel="km", ylabel="")
    for b in range(len(BANDS_M)):
        p.hbar(*real.decorrelation_range[b], b, REAL)
        p.points([min(real.decorrelation_km[b], 800)], [b], REAL)
        p.points([min(synth.decorrelation_km[b], 800)], [b], SYNTH)
    labels = [("surface" if lo == 0 else f"{lo:.0f}-{hi:.0f}", b) for b, (lo, hi) in enumerate(BANDS_M)]
    return p.svg([(t, f"{t}") for t in (0, 200, 400, 600, 800)], [(b, name) for name, b in labels])


def rho_panel(pooled: tuple[Realism, Realism], band: int, col: int, row: int) -> str:
    lo, hi = BANDS_M[band]
    p = _panel(col, row, xlim=(0, 450), ylim=(-0.5, 1.05), title=f"correlation vs distance, {lo:.0f}-{hi:.0f} m",
               xlabel="pair distance (km)", ylabel="correlation")
    centre = 0.5 * (DISTANCE_EDGES_KM[1:] + DISTANCE_EDGES_KM[:-1])
    for stats, color in zip(pooled, (REAL, SYNTH)):
        p.line(centre, stats.rho_bins[band], color)
        p.points(centre, stats.rho_bins[band], color)
    r = np.linspace(0, 450, 50)
    for stats, color in zip(pooled, (REAL, SYNTH)):
        p.line(r, np.exp(-r / stats.decorrelation_km[band]), color, dash="2 4", width=1)
    return p.svg([(t, f"{t}") for t in (0, 100, 200, 300, 400)], [(t, f"{t:g}") for t in (-0.5, 0, 0.5, 1)])


def sst_panel(pooled: tuple[Realism, Realism], rows: list) -> str:
    p = _panel(0, 2, xlim=(0.5, len(BANDS_M) - 0.5), ylim=(-0.3, 1.05), title="SST-subsurface anomaly correlation",
               xlabel="depth band", ylabel="correlation")
    x = np.arange(1, len(BANDS_M))
    for (_, real, synth) in rows:
        p.line(x, real.sst_corr[1:], REAL, dash="3 3", width=1)
        p.line(x, synth.sst_corr[1:], SYNTH, dash="3 3", width=1)
    for stats, color in zip(pooled, (REAL, SYNTH)):
        p.line(x, stats.sst_corr[1:], color)
        p.points(x, stats.sst_corr[1:], color)
    ticks = [(b, f"{lo:.0f}-{hi:.0f}") for b, (lo, hi) in enumerate(BANDS_M) if b > 0]
    return p.svg(ticks, [(t, f"{t:g}") for t in (0, 0.5, 1)])


def gradient_panel(pooled: tuple[Realism, Realism], rows: list) -> str:
    sets = [("pooled", *pooled)] + [(name[:14], a, b) for name, a, b in rows]
    top = max(max(a.gradient, b.gradient) for _, a, b in sets)
    p = _panel(1, 2, xlim=(0, top * 1.1), ylim=(len(sets) - 0.5, -0.5), title="steepest thermocline gradient (median)",
               xlabel="°C per 100 m", ylabel="")
    for i, (_, real, synth) in enumerate(sets):
        p.points([real.gradient], [i], REAL)
        p.points([synth.gradient], [i], SYNTH)
    return p.svg([(t, f"{t:.0f}") for t in np.linspace(0, top, 5)], [(i, name) for i, (name, _, _) in enumerate(sets)])


def realism_svg(pooled: tuple[Realism, Realism], rows: list, depth: np.ndarray) -> str:
    body = [std_panel(pooled, rows, depth), length_panel(pooled), rho_panel(pooled, 2, 0, 1),
            rho_panel(pooled, 4, 1, 1), sst_panel(pooled, rows), gradient_panel(pooled, rows),
            legend(PAD_X, 20, [("real (solid: default basin region; dashed: other sets)", REAL),
                               ("synthetic twin", SYNTH)])]
    return page(2 * (W + PAD_X) + 20, 3 * (H + PAD_Y) + 40, body)
