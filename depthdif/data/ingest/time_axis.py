"""The store's time axis: its steps, what period each step stands for, and who lands on it.

Rules (each step has an interval; an observation or SST record belongs to the steps it overlaps):
- a model field's dates are the axis (y is never time-averaged); `--time-range` clips them;
- `--time-step` with a fixed duration (`1D`, `7D`, `12h`, `30.4375D`) makes a regular axis over
  the span of `--time-from` (argo / ostia); each step stands for ±half a step (or
  ±`--time-window-days`) around its time, and an Argo profile goes to the nearest step inside;
- `--time-step` with a calendar offset (`1MS`, `1YS`, `W-MON`) labels each period by its start
  and stands for [label, next label), like a monthly mean;
- an SST file's own records (`--time-from ostia` without `--time-step`) are the steps; with
  CF time bounds (`time_bnds`, monthly means) each step stands for its bounds, else for ±half
  the median record spacing.
An SST value for a step is the mean of the records overlapping the step's interval, weighted by
the overlap (instantaneous records: equal weights for those inside it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .conventions import IngestError

DAY_NS = 86400e9


@dataclass(frozen=True)
class TimeAxis:
    """Steps (T,) datetime64[ns] and the interval each stands for: [lower, upper] (centred) or
    [lower, upper) (periods)."""

    times: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    periods: bool
    rule: str

    @property
    def size(self) -> int:
        return int(self.times.size)

    def assign(self, when: np.ndarray) -> np.ndarray:
        """Step index for each instant; -1 outside every step's interval."""
        t = np.asarray(when, "datetime64[ns]").astype(np.int64)
        lo, hi, centre = (a.astype(np.int64) for a in (self.lower, self.upper, self.times))
        if self.periods:
            idx = np.clip(np.searchsorted(lo, t, side="right") - 1, 0, self.size - 1)
            inside = (t >= lo[idx]) & (t < hi[idx])
        else:
            pos = np.clip(np.searchsorted(centre, t), 1, max(self.size - 1, 1)) if self.size > 1 \
                else np.zeros(t.shape, np.int64)
            left = np.clip(pos - 1, 0, self.size - 1)
            idx = np.where(np.abs(centre[pos] - t) < np.abs(centre[left] - t), pos, left)
            inside = (t >= lo[idx]) & (t <= hi[idx])
        return np.where(inside, idx, -1).astype(np.int64)

    def record_weights(self, step: int, rec_lower: np.ndarray, rec_upper: np.ndarray) -> np.ndarray:
        """Weight of each SST record in step `step`: overlap length for records with bounds,
        1 for instants inside the step, 0 otherwise."""
        lo, hi = self.lower[step].astype(np.int64), self.upper[step].astype(np.int64)
        r0, r1 = rec_lower.astype(np.int64), rec_upper.astype(np.int64)
        instant = r0 == r1
        inside = (r0 >= lo) & ((r0 < hi) if self.periods else (r0 <= hi))
        overlap = np.maximum(np.minimum(r1, hi) - np.maximum(r0, lo), 0).astype(float)
        return np.where(instant, inside.astype(float), overlap)

    def clip(self, time_range: tuple[np.datetime64, np.datetime64] | None) -> "TimeAxis":
        if time_range is None:
            return self
        keep = (self.times >= time_range[0]) & (self.times <= time_range[1])
        if not keep.any():
            raise IngestError("--time-range", f"no time step inside {time_range[0]}..{time_range[1]} "
                                              f"(axis {str(self.times[0])[:10]}..{str(self.times[-1])[:10]})")
        return TimeAxis(self.times[keep], self.lower[keep], self.upper[keep], self.periods, self.rule)


def parse_time_range(text: str | None) -> tuple[np.datetime64, np.datetime64] | None:
    """`START,END` (ISO dates, inclusive) → a pair of datetime64[ns]."""
    if not text:
        return None
    try:
        start, end = (np.datetime64(pd.Timestamp(p.strip()).to_datetime64(), "ns") for p in text.split(","))
    except (ValueError, TypeError):
        raise ValueError(f"--time-range: expected START,END as dates (2020-01-01,2020-12-31), got {text!r}") from None
    if end < start:
        raise ValueError(f"--time-range: END before START in {text!r}")
    return start, end


def step_duration(step: str) -> pd.Timedelta | None:
    """The fixed length of a `--time-step`, or None for a calendar offset (1MS, 1YS, W-MON)."""
    try:
        offset = to_offset(step)
    except ValueError:
        raise ValueError(f"--time-step: {step!r} is not a pandas offset (examples: 1D, 7D, 12h, 1MS)") from None
    try:
        duration = pd.Timedelta(offset)
    except (ValueError, TypeError):
        return None
    if duration <= pd.Timedelta(0):
        raise ValueError(f"--time-step must be positive, got {step!r}")
    return duration


def regular_axis(start: np.datetime64, end: np.datetime64, step: str, window_days: float | None) -> TimeAxis:
    """Steps every `step` covering [start, end]: fixed durations from `start`'s day, centred
    windows; calendar offsets from the period holding `start`, period intervals."""
    duration = step_duration(step)
    if duration is not None:
        first = np.datetime64(start, "D").astype("datetime64[ns]")
        step_ns = np.timedelta64(duration.value, "ns")
        # Round, not floor: the last observation must lie within half a step of the last step.
        n = int(np.floor((np.datetime64(end, "ns") - first) / step_ns + 0.5)) + 1
        times = first + step_ns * np.arange(max(n, 1))
        half = duration.value / 2 if window_days is None else window_days * DAY_NS
        return centred(times, half, f"every {step}, ±{half / DAY_NS:g} days around each step")
    offset = to_offset(step)
    first = offset.rollback(pd.Timestamp(start).normalize())
    labels = pd.date_range(first, pd.Timestamp(end), freq=offset)
    times = labels.to_numpy("datetime64[ns]")
    upper = (labels + offset).to_numpy("datetime64[ns]")
    return TimeAxis(times, times.copy(), upper, True, f"calendar periods of {step}, [label, next label)")


def centred(times: np.ndarray, half_ns: float, rule: str) -> TimeAxis:
    half = np.timedelta64(int(round(half_ns)), "ns")
    times = np.asarray(times, "datetime64[ns]")
    return TimeAxis(times, times - half, times + half, False, rule)


def record_axis(times: np.ndarray, bounds: np.ndarray | None, window_days: float | None) -> TimeAxis:
    """A file's own records as steps: their CF bounds when present, else centred windows."""
    times = np.asarray(times, "datetime64[ns]")
    if bounds is not None and window_days is None:
        return TimeAxis(times, bounds[:, 0].astype("datetime64[ns]"), bounds[:, 1].astype("datetime64[ns]"),
                        True, "the file's time bounds")
    return centred(times, default_half_window_ns(times, window_days), "the file's dates, ±half the spacing")


def default_half_window_ns(times: np.ndarray, window_days: float | None) -> float:
    """±window_days, else half the median spacing (a day for a single date)."""
    if window_days is not None:
        return window_days * DAY_NS
    if times.size > 1:
        return float(np.median(np.diff(times.astype(np.int64)))) / 2
    return DAY_NS / 2


def coverage_warning(axis: TimeAxis, with_sst: np.ndarray | None, with_argo: np.ndarray | None) -> str | None:
    """A message when most steps lack SST or Argo (a time step mismatched with the inputs)."""
    problems = []
    for name, has in (("SST", with_sst), ("Argo", with_argo)):
        if has is not None and (~has).sum() > axis.size / 2:
            problems.append(f"{int((~has).sum())} of {axis.size} time steps have no {name}")
    if not problems:
        return None
    return ("; ".join(problems) + f" (axis: {axis.rule}); choose --time-from / --time-step to match the "
            "inputs' time resolution (e.g. --time-step 1MS for monthly SST)")
