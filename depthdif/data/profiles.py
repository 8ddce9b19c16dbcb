"""The profile table (one row per Argo profile) and binning profiles onto the store grid.

Shared by the synthetic floats and the real-format ingest: both build this table, then call
`bin_profiles` to make the gridded `x` / `x_valid_mask`. Evaluation reads the table to withhold
whole profiles.

Columns (see PROFILE_COLUMNS): profile_id int64, platform str, time datetime64[ns],
time_index int64 (store time step), lat/lon float64 (degrees, the measured position),
iy/ix int64 (nearest grid cell), temp list[float32] per store depth level (degC, NaN where not
measured), mask list[bool] per level, source str (generator or file name).

Binning rule: every profile goes to its nearest grid cell (iy, ix) and its nearest store time step.
When several profiles land in one cell at one time step, each depth level takes the MEAN of the
profiles' valid values at that level; a level is observed if at least one profile measured it.
Rows with time_index, iy or ix equal to -1 (outside the grid) are not binned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROFILE_COLUMNS = ("profile_id", "platform", "time", "time_index", "lat", "lon", "iy", "ix", "temp",
                   "mask", "source")


def grid_cells(lat: np.ndarray, lon: np.ndarray, lat_grid: np.ndarray,
               lon_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest cell (iy, ix) on a regular grid; -1 when more than half a cell outside it."""
    return _nearest(np.asarray(lat, float), np.asarray(lat_grid, float)), \
        _nearest(np.asarray(lon, float), np.asarray(lon_grid, float))


def _nearest(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if grid.size == 1:
        return np.zeros(values.shape, dtype=np.int64)
    step = np.median(np.diff(grid))
    idx = np.rint((values - grid[0]) / step).astype(np.int64)
    inside = (idx >= 0) & (idx < grid.size) & np.isfinite(values)
    return np.where(inside, idx, -1)


def time_steps(times: np.ndarray, grid_times: np.ndarray, max_gap_days: float | None = None) -> np.ndarray:
    """Nearest store time step for each profile time; -1 when farther than max_gap_days.

    max_gap_days defaults to half the (median) store time step, so each profile counts once.
    """
    t = np.asarray(times, dtype="datetime64[ns]").astype(np.int64) / 86400e9
    g = np.asarray(grid_times, dtype="datetime64[ns]").astype(np.int64) / 86400e9
    if max_gap_days is None:
        max_gap_days = float(np.median(np.diff(g))) / 2 if g.size > 1 else 0.5
    pos = np.clip(np.searchsorted(g, t), 1, max(g.size - 1, 1)) if g.size > 1 else np.zeros(t.shape, int)
    left = np.clip(pos - 1, 0, g.size - 1)
    pick = np.where(np.abs(g[pos] - t) < np.abs(g[left] - t), pos, left)
    return np.where(np.abs(g[pick] - t) <= max_gap_days, pick, -1).astype(np.int64)


def make_profiles(*, platform, time, lat, lon, temp: np.ndarray, mask: np.ndarray | None = None,
                  time_index=None, iy=None, ix=None, source: str = "") -> pd.DataFrame:
    """Build a table in the schema from arrays; temp/mask are (N, D) with NaN where unmeasured."""
    temp = np.asarray(temp, dtype=np.float32)
    mask = np.isfinite(temp) if mask is None else np.asarray(mask, dtype=bool) & np.isfinite(temp)
    n = temp.shape[0]
    missing = np.full(n, -1, dtype=np.int64)
    df = pd.DataFrame({
        "profile_id": np.arange(n, dtype=np.int64),
        "platform": np.asarray(platform).astype(str),
        "time": np.asarray(time, dtype="datetime64[ns]"),
        "time_index": missing if time_index is None else np.asarray(time_index, dtype=np.int64),
        "lat": np.asarray(lat, dtype=np.float64), "lon": np.asarray(lon, dtype=np.float64),
        "iy": missing if iy is None else np.asarray(iy, dtype=np.int64),
        "ix": missing if ix is None else np.asarray(ix, dtype=np.int64),
        "temp": list(np.where(mask, temp, np.nan).astype(np.float32)),
        "mask": list(mask),
        "source": np.full(n, source, dtype=object),
    })
    return df


def validate_profiles(df: pd.DataFrame, n_levels: int, where: str = "profiles") -> pd.DataFrame:
    """Check the schema; raise ValueError naming the column and problem."""
    missing = [c for c in PROFILE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing columns {missing}; required: {list(PROFILE_COLUMNS)}")
    if df["profile_id"].duplicated().any():
        raise ValueError(f"{where}: profile_id is not unique")
    for col in ("temp", "mask"):
        lengths = df[col].map(len)
        bad = lengths != n_levels
        if bad.any():
            raise ValueError(f"{where}: column {col!r} has {int(bad.sum())} rows whose length is not the "
                             f"number of depth levels ({n_levels}); e.g. length {int(lengths[bad].iloc[0])}")
    return df


def profile_arrays(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) temp (float32, NaN where unmeasured) and (N, D) bool mask."""
    if len(df) == 0:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), bool)
    temp = np.stack([np.asarray(v, dtype=np.float32) for v in df["temp"]])
    mask = np.stack([np.asarray(v, dtype=bool) for v in df["mask"]]) & np.isfinite(temp)
    return temp, mask


def bin_profiles(df: pd.DataFrame, shape: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Grid the profiles: x (T, D, H, W) float32 (NaN where unobserved) and x_valid_mask (bool).

    Several profiles in one cell at one time step: per level, the mean of their valid values.
    """
    ntime, n_levels, h, w = shape
    x = np.full(shape, np.nan, dtype=np.float32)
    valid = np.zeros(shape, dtype=bool)
    if len(df) == 0:
        return x, valid
    validate_profiles(df, n_levels)
    t, iy, ix = (df[c].to_numpy(np.int64) for c in ("time_index", "iy", "ix"))
    inside = (t >= 0) & (t < ntime) & (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    temp, mask = profile_arrays(df)
    cell = (t * h + iy) * w + ix
    cells, group = np.unique(cell[inside], return_inverse=True)
    sums = np.zeros((cells.size, n_levels))
    counts = np.zeros((cells.size, n_levels), dtype=np.int64)
    np.add.at(sums, group, np.where(mask[inside], temp[inside], 0.0))
    np.add.at(counts, group, mask[inside])
    ct, rest = np.divmod(cells, h * w)
    cy, cx = np.divmod(rest, w)
    observed = counts > 0
    x[ct, :, cy, cx] = np.where(observed, sums / np.maximum(counts, 1), np.nan)
    valid[ct, :, cy, cx] = observed
    return x, valid
