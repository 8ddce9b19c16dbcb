"""Headless Chromium for the report tests: load a page, return its DOM after scripts ran and the
console messages it logged (Debian's `chromium`; .ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-unsafe-swiftshader", "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
CONSOLE = re.compile(r':CONSOLE(?:\(\d+\)|:\d+)\] "(.*)", source: (\S+)')
# Messages the browser itself logs about its software GL (no GPU here), not the page's.
BROWSER_NOTES = ("[.WebGL-", "Automatic fallback to software WebGL")


def chromium() -> str | None:
    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)


def load(page: Path, *, screenshot: Path | None = None, budget_ms: int = 15000) -> tuple[str, list[str]]:
    """(DOM after load, console messages of the page) — and a PNG of the full page if asked."""
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="depthdif-chromium-") as profile:
        common = [browser, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}"]
        done = subprocess.run([*common, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                              timeout=180)
        if screenshot is not None:
            subprocess.run([*common, "--window-size=1400,5200", f"--screenshot={screenshot}",
                            page.resolve().as_uri()], capture_output=True, timeout=180)
    messages = [m.group(1) for m in CONSOLE.finditer(done.stderr)]
    return done.stdout, [m for m in messages if not m.startswith(BROWSER_NOTES)]


def rendered_figures(dom: str) -> dict[str, bool]:
    """{figure div id: drawn} — plotly marks a drawn div `js-plotly-plot` and fills it with SVG."""
    ids = re.findall(r'<div id="(fig-[a-z]+)"', dom)
    starts = [dom.index(f'<div id="{i}"') for i in ids] + [len(dom)]
    return {i: "js-plotly-plot" in dom[a:b][:400] and 'class="main-svg"' in dom[a:b]
            for i, a, b in zip(ids, starts, starts[1:])}
