"""One reconstruction of the best trial, as maps: truth, ensemble mean, error and spread.

The best trial (first objective) reconstructs a square region around the val window with the
most observed profiles, at that window's time step: overlapping windows every half patch,
blended with predict's Hann taper, K seeded members (spread = their standard deviation). The
region is at most REGION_PATCHES patches wide, so the cost is bounded (≤ 25 windows) whatever
the store's size. Values in °C, NaN on land and below the sea floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REGION_PATCHES = 3
MAP_SAMPLES = 4
MAX_LEVELS = 6


@dataclass(frozen=True)
class ReconstructionMap:
    """Maps (levels, lat, lon) of one time step; `truth`/`error` are None on an Argo-only store."""

    trial_label: str
    time: str
    levels: list[int]
    depth_m: list[float]
    lat: np.ndarray
    lon: np.ndarray
    mean: np.ndarray
    spread: np.ndarray
    truth: np.ndarray | None
    observed: np.ndarray  # (lat, lon) bool: a profile was in the input at this step
    samples: int

    @property
    def error(self) -> np.ndarray | None:
        return None if self.truth is None else self.mean - self.truth


def region_windows(store: Any, centre: dict[str, int], size: int) -> tuple[pd.DataFrame, tuple[int, int, int]]:
    """Windows tiling the region around `centre` (time_index, y0, x0) and the region (y0, x0, side)."""
    from depthdif.predict import tile_offsets

    nlat, nlon = store.ds.sizes["lat"], store.ds.sizes["lon"]
    side = min(REGION_PATCHES * size, nlat, nlon)
    ry = int(np.clip(centre["y0"] + size // 2 - side // 2, 0, nlat - side))
    rx = int(np.clip(centre["x0"] + size // 2 - side // 2, 0, nlon - side))
    offsets = tile_offsets(side, size, max(1, size // 2))
    yy, xx = (a.ravel() for a in np.meshgrid(offsets + ry, offsets + rx, indexing="ij"))
    lat, lon = store.ds["lat"].values.astype(np.float64), store.ds["lon"].values.astype(np.float64)
    t = int(centre["time_index"])
    days = int(store.ds["time"].values[t].astype("datetime64[D]").astype(np.int64))
    centre_px = size / 2 - 0.5
    windows = pd.DataFrame({"patch_id": np.arange(len(yy)), "time_index": t, "y0": yy, "x0": xx, "size": size,
                            "time_days": days,
                            "lat": np.interp(yy + centre_px, np.arange(lat.size), lat),
                            "lon": np.interp(xx + centre_px, np.arange(lon.size), lon)})
    return windows, (ry, rx, side)


def chosen_levels(depth_m: np.ndarray, max_depth_m: float) -> list[int]:
    """Up to MAX_LEVELS level indices spread over the levels within `max_depth_m`."""
    within = np.flatnonzero(depth_m <= max_depth_m)
    within = within if within.size else np.arange(depth_m.size)
    picks = np.unique(np.round(np.linspace(0, within.size - 1, min(MAX_LEVELS, within.size))).astype(int))
    return [int(within[i]) for i in picks]


def reconstruction_map(checkpoint: str | Path, patch_ids: list[int], trial_label: str,
                       samples: int = MAP_SAMPLES) -> ReconstructionMap:
    """Reconstruct the region around the best-observed scored window with the checkpoint's model."""
    from depthdif.data import schema as S
    from depthdif.data.store import OceanStore
    from depthdif.predict import SlabAccumulator, ensemble_batches, taper_window
    from depthdif.train.systems import load_system

    system = load_system(checkpoint)
    if not callable(getattr(system, "sample", None)):
        raise ValueError(f"{checkpoint}: an autoencoder has no sampler; no reconstruction map")
    store = OceanStore.open(system.cfg.data.store, check_chunks=False)
    index = store.index.set_index("patch_id").loc[patch_ids]
    centre = index.sort_values("n_profiles", ascending=False, kind="stable").iloc[0]
    size = int(centre["size"])
    windows, (ry, rx, side) = region_windows(store, centre.to_dict(), size)
    acc, taper = SlabAccumulator.empty(store.n_levels, side, side), taper_window(size)
    for numbers, means, variances in ensemble_batches(system, store.path, windows, samples,
                                                      system.cfg.sampling.seed, 8, progress=False):
        for number, mean, var in zip(numbers, means, variances):
            row = windows.iloc[int(number)]
            acc.add(mean, var, int(row["y0"]) - ry, int(row["x0"]) - rx, taper)
    t, box = int(centre["time_index"]), (slice(None), slice(ry, ry + side), slice(rx, rx + side))
    land = np.asarray(store.ds[S.LAND].values, dtype=bool)[box[1:]]
    invalid = np.broadcast_to(land, (store.n_levels, side, side)).copy()
    truth = None
    if store.has_target:
        invalid |= ~np.asarray(store.ds[S.Y_MASK].isel(time=t).values, dtype=bool)[box]
        truth = np.where(invalid, np.nan, np.asarray(store.ds[S.Y].isel(time=t).values, dtype=np.float64)[box])
    mean, spread = acc.finish(invalid)
    observed = np.asarray(store.ds[S.X_MASK].isel(time=t).values, dtype=bool)[box].any(axis=0)
    levels = chosen_levels(np.asarray(store.depth), system.cfg.evaluation.max_depth_m)
    return ReconstructionMap(
        trial_label=trial_label, time=str(store.ds["time"].values[t])[:10], levels=levels,
        depth_m=[float(store.depth[k]) for k in levels],
        lat=store.ds["lat"].values[ry:ry + side].astype(np.float64),
        lon=store.ds["lon"].values[rx:rx + side].astype(np.float64),
        mean=mean[levels].astype(np.float64), spread=spread[levels].astype(np.float64),
        truth=None if truth is None else truth[levels], observed=observed, samples=samples)
