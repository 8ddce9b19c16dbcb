"""A few hand-written SVG panels for benchmark figures: no plotting dependency (plotly is fenced to
study/plot.py and evaluation/), and the files render inline in any markdown viewer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REAL = "#1f77b4"
SYNTH = "#ff7f0e"


@dataclass
class Panel:
    """One axes box at (x0, y0) of size (w, h) with data ranges; `items` collects SVG elements."""

    x0: float
    y0: float
    w: float
    h: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    title: str
    xlabel: str
    ylabel: str
    y_down: bool = False        # depth axes grow downward
    items: list[str] = field(default_factory=list)

    def px(self, x):
        return self.x0 + (np.asarray(x, float) - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * self.w

    def py(self, y):
        frac = (np.asarray(y, float) - self.ylim[0]) / (self.ylim[1] - self.ylim[0])
        return self.y0 + (frac if self.y_down else 1 - frac) * self.h

    def line(self, x, y, color: str, dash: str = "", width: float = 1.8) -> None:
        x = np.clip(np.asarray(x, float), min(self.xlim), max(self.xlim))   # stay inside the box
        y = np.clip(np.asarray(y, float), min(self.ylim), max(self.ylim))
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= 2:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(self.px(x[ok]), self.py(y[ok])))
            extra = f' stroke-dasharray="{dash}"' if dash else ""
            self.items.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"{extra}/>')

    def points(self, x, y, color: str, r: float = 3.5) -> None:
        for a, b in zip(np.asarray(x, float), np.asarray(y, float)):
            if np.isfinite(a) and np.isfinite(b):
                self.items.append(f'<circle cx="{self.px(a):.1f}" cy="{self.py(b):.1f}" r="{r}" fill="{color}"/>')

    def hbar(self, lo: float, hi: float, y: float, color: str) -> None:
        """A horizontal interval (e.g. a bootstrap range) at height y."""
        if np.isfinite(lo) and np.isfinite(hi):
            a, b = np.clip(self.px([lo, hi]), self.x0, self.x0 + self.w)
            self.items.append(f'<line x1="{a:.1f}" x2="{b:.1f}" y1="{self.py(y):.1f}" y2="{self.py(y):.1f}" '
                              f'stroke="{color}" stroke-width="6" stroke-opacity="0.35"/>')

    def svg(self, xticks, yticks) -> str:
        out = [f'<rect x="{self.x0}" y="{self.y0}" width="{self.w}" height="{self.h}" fill="none" stroke="#999"/>',
               f'<text x="{self.x0}" y="{self.y0 - 8}" font-weight="bold">{self.title}</text>',
               f'<text x="{self.x0 + self.w / 2}" y="{self.y0 + self.h + 32}" text-anchor="middle">{self.xlabel}</text>',
               f'<text x="{self.x0 - 40}" y="{self.y0 + self.h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {self.x0 - 40} {self.y0 + self.h / 2})">{self.ylabel}</text>']
        out += [f'<text x="{self.px(t):.0f}" y="{self.y0 + self.h + 14}" text-anchor="middle">{label}</text>'
                for t, label in xticks]
        out += [f'<text x="{self.x0 - 5}" y="{self.py(t) + 4:.0f}" text-anchor="end">{label}</text>' for t, label in yticks]
        return "\n".join(out + self.items)


def legend(x: float, y: float, entries: list[tuple[str, str]]) -> str:
    return "\n".join(f'<rect x="{x}" y="{y + 16 * i - 9}" width="14" height="4" fill="{c}"/>'
                     f'<text x="{x + 20}" y="{y + 16 * i - 4}">{label}</text>' for i, (label, c) in enumerate(entries))


def page(width: float, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="11"><rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")
