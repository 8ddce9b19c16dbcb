"""The study's live status line: counts of the budget, elapsed time, ETA, best so far, hypervolume.

    [5/12 done | 2 running | 1 failed | 0 pruned] 3m12s elapsed, ETA ~4m05s | best val/rmse_withheld 0.412 °C, cost/train_seconds 11.8 s | HV 0.52

Computed from the results table (a record), then rendered. On a terminal the line is redrawn in
place about once a second while trials run (other lines are printed above it); when stderr is
not a terminal (CI logs, `ray job logs`) it is printed as a plain line after each finished
trial, so a log stays readable.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import IO, Sequence

import pandas as pd

from .pareto import compute_pareto
from .spec import Objective
from .status import best_of
from .units import with_unit

REFRESH_S = 1.0


@dataclass(frozen=True)
class LiveStatus:
    budget: int
    done: int
    running: int
    failed: int
    pruned: int
    elapsed_s: float
    eta_s: float | None
    best: tuple[tuple[str, float], ...]
    hypervolume: float | None

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.pruned


def live_status(table: pd.DataFrame, objectives: Sequence[Objective], budget: int, elapsed_s: float) -> LiveStatus:
    """The status record of a results table `elapsed_s` seconds after the driver started."""
    states = table["state"].value_counts().to_dict() if len(table) else {}
    done, failed = int(states.get("COMPLETE", 0)), int(states.get("FAILED", 0)) + int(states.get("STOPPED", 0))
    pruned, running = int(states.get("PRUNED", 0)), int(states.get("RUNNING", 0))
    finished = done + failed + pruned
    eta = elapsed_s / finished * max(budget - finished, 0) if finished else None
    best = tuple((b.metric, b.value) for b in (best_of(table, o) for o in objectives) if b is not None)
    hv = None
    if done and len(objectives) > 1:
        hv = compute_pareto(table, objectives).hypervolume
    return LiveStatus(budget, done, running, failed, pruned, elapsed_s, eta, best, hv)


def duration_text(seconds: float) -> str:
    """`42s`, `3m12s`, `2h05m`."""
    seconds = int(round(max(seconds, 0.0)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def status_line(status: LiveStatus) -> str:
    """One line (no newline) describing `status`."""
    counts = (f"[{status.finished}/{status.budget} finished: {status.done} done | {status.running} running | "
              f"{status.failed} failed | {status.pruned} pruned]")
    eta = f", ETA ~{duration_text(status.eta_s)}" if status.eta_s is not None and status.finished < status.budget else ""
    parts = [f"{counts} {duration_text(status.elapsed_s)} elapsed{eta}"]
    if status.best:
        parts.append("best " + ", ".join(f"{m} {with_unit(m, v)}" for m, v in status.best))
    if status.hypervolume is not None and math.isfinite(status.hypervolume):
        parts.append(f"HV {status.hypervolume:.4g}")
    return " | ".join(parts)


class LiveLine:
    """Prints status lines: redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, stream: IO[str] | None = None):
        self._stream = stream
        self.shown = ""  # the line currently drawn at the bottom of a terminal
        self.last_draw = 0.0

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    @property
    def tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def due(self) -> bool:
        """Whether a terminal redraw is due (the status is worth computing)."""
        return self.tty and time.monotonic() - self.last_draw >= REFRESH_S

    def message(self, text: str) -> None:
        """A normal line (a trial started or finished), printed above the status line."""
        self._clear()
        print(text, file=self.stream, flush=True)
        if self.shown:
            self._draw(self.shown)

    def update(self, line: str, *, milestone: bool) -> None:
        """A new status: redrawn on a terminal (at most once per REFRESH_S unless a milestone);
        printed as a plain line off a terminal, at milestones (a trial finished) only."""
        if not self.tty:
            if milestone:
                print(line, file=self.stream, flush=True)
            return
        if milestone or time.monotonic() - self.last_draw >= REFRESH_S:
            self._draw(line)

    def close(self) -> None:
        """End the redrawn line with a newline so later output starts on a fresh line."""
        if self.tty and self.shown:
            print("", file=self.stream, flush=True)
        self.shown = ""

    def _draw(self, line: str) -> None:
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self.shown, self.last_draw = line, time.monotonic()

    def _clear(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[2K")
