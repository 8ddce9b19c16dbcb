"""Temporal leakage between splits, and what to do about it.

The patch index never lets a val/test window share a pixel with a train window at the SAME time
step (splits are drawn per space x time cell). The ocean, however, remembers: a val window at
step t and a train window over the same pixels at step t±1 see nearly the same eddies, so the
score flatters the model. Rule: a val/test window LEAKS when it shares a pixel with a train window
whose time is less than `decorrelation_days` away (default 15 days, about half the mesoscale
decorrelation time; the distance is between step times). `SplitSpec.leakage` says what to do:
"warn" (default: keep them, warn with counts), "drop" (remove the leaking val/test windows, a
temporal buffer as in blocked cross-validation) or "refuse" (raise). Pure spatial blocking
(`--time-block` >= the number of steps) never leaks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from depthdif.data.index import coverage_mask, window_sums

LEAKAGE_POLICIES = ("warn", "drop", "refuse")


class SplitLeakageWarning(UserWarning):
    """Val/test windows overlap train windows within the decorrelation time."""


def leaking_rows(index: pd.DataFrame, times: np.ndarray, shape: tuple[int, int],
                 decorrelation_days: float) -> np.ndarray:
    """Bool per index row: a val/test window sharing a pixel with a train window < decorrelation away."""
    leaks = np.zeros(len(index), dtype=bool)
    if decorrelation_days <= 0 or len(index) == 0:
        return leaks
    days = np.asarray(times, "datetime64[ns]").astype(np.int64) / 86400e9
    by_time = index.groupby("time_index").indices
    covers: dict[int, np.ndarray] = {}
    for t, rows in sorted(by_time.items()):
        held = rows[index["split"].to_numpy()[rows] != "train"]
        if held.size == 0:
            continue
        near = np.flatnonzero(np.abs(days - days[t]) < decorrelation_days)
        covers = {k: v for k, v in covers.items() if k in near}  # keep only what the next steps reuse
        union = np.zeros(shape, dtype=bool)
        for k in near:
            if k not in covers:
                covers[k] = coverage_mask(index, int(k), shape, "train")
            union |= covers[k]
        sub = index.iloc[held]
        hits = window_sums(union.astype(np.float64), sub["y0"].to_numpy(), sub["x0"].to_numpy(),
                           int(sub["size"].iloc[0]))
        leaks[held] = hits > 0
    return leaks


def apply_leakage_rule(index: pd.DataFrame, times: np.ndarray, shape: tuple[int, int],
                       decorrelation_days: float, policy: str) -> tuple[pd.DataFrame, dict]:
    """(index after the policy, summary for the store's config); see the module docstring."""
    if policy not in LEAKAGE_POLICIES:
        raise ValueError(f"split.leakage: must be one of {list(LEAKAGE_POLICIES)}, got {policy!r}")
    leaks = leaking_rows(index, times, shape, decorrelation_days)
    held = (index["split"] != "train").to_numpy()
    summary = {"decorrelation_days": float(decorrelation_days), "policy": policy,
               "held_out_windows": int(held.sum()), "leaking_windows": int(leaks.sum())}
    if not leaks.any():
        return index, summary
    message = (f"split leakage: {int(leaks.sum())} of {int(held.sum())} val/test windows share pixels with a "
               f"train window less than {decorrelation_days:g} days away; use a larger --space-block, a "
               "--time-block spanning the record (pure spatial blocking), or --leakage drop")
    if policy == "refuse":
        raise ValueError(message)
    if policy == "warn":
        warnings.warn(message, SplitLeakageWarning, stacklevel=2)
        return index, summary
    kept = index.loc[~leaks].reset_index(drop=True)
    for split in ("val", "test"):
        if (index["split"] == split).any() and not (kept["split"] == split).any():
            raise ValueError(f"{message}; dropping them would leave no {split} window")
    kept["patch_id"] = np.arange(len(kept), dtype=np.int64)
    summary["dropped_windows"] = int(leaks.sum())
    return kept, summary
