"""Argo-like floats for the synthetic ocean: smooth curved drift tracks and profile sampling.

Real floats park at ~1000 dbar and drift a few km per day, surfacing every ~10 days with a
profile from ~2000 dbar (some shallower: older floats, shelf seas, early surfacing). We mimic that:
each float moves along a track whose heading turns at a slowly varying rate, bounces off
coasts and the basin edge, and profiles once per store time step down to a random maximum depth
(mostly ~2000 m) from a few metres below the surface, never below the sea floor, with Gaussian
sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from depthdif.data.profiles import make_profiles


@dataclass
class FloatSpec:
    """How many floats, how they move and what they measure."""

    obs_fraction: float = 0.01          # floats per ocean pixel (= profiles per pixel per time step)
    speed_px: tuple[float, float] = (1.0, 3.0)   # drift per time step, pixels
    turn_rad: float = 0.35              # max turning rate per time step (radians)
    deep_fraction: float = 0.8          # share of profiles reaching ~2000 m
    deep_range_m: tuple[float, float] = (1900.0, 2050.0)
    shallow_range_m: tuple[float, float] = (300.0, 1500.0)
    # Shallowest measurement: floats stop sampling a few metres below the surface, so (as with real
    # Argo ingested without extrapolation) the top GLORYS levels are often unobserved.
    top_range_m: tuple[float, float] = (1.0, 10.0)
    sensor_noise_c: float = 0.01        # degC (Argo: ~0.002 instrument + representativeness)


def n_floats(ocean: np.ndarray, obs_fraction: float) -> int:
    return max(1, int(round(obs_fraction * int(ocean.sum()))))


def float_tracks(ocean: np.ndarray, ntime: int, count: int, spec: FloatSpec,
                 rng: np.random.Generator, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Positions (ntime, count, 2) as fractional (row, col) pixels, always on an ocean cell.

    `scale` converts a drift of speed_px into rows and columns (anisotropic cells: the OSSE drifts
    in km and passes rows/km and columns/km)."""
    h, w = ocean.shape
    wet = np.argwhere(ocean)
    start = wet[rng.integers(0, len(wet), count)] + rng.uniform(-0.4, 0.4, (count, 2))
    heading = rng.uniform(0, 2 * np.pi, count)
    turn = rng.uniform(-spec.turn_rad, spec.turn_rad, count)
    speed = rng.uniform(*spec.speed_px, count)
    pos = np.empty((ntime, count, 2))
    pos[0] = start
    for t in range(1, ntime):
        turn = np.clip(turn + rng.normal(0, spec.turn_rad / 4, count), -spec.turn_rad, spec.turn_rad)
        heading = heading + turn
        step = speed[:, None] * np.stack([np.sin(heading) * scale[0], np.cos(heading) * scale[1]], axis=1)
        proposal = pos[t - 1] + step
        cell = np.rint(proposal).astype(int)
        inside = (cell[:, 0] >= 0) & (cell[:, 0] < h) & (cell[:, 1] >= 0) & (cell[:, 1] < w)
        ok = inside.copy()
        ok[inside] = ocean[cell[inside, 0], cell[inside, 1]]
        # Blocked floats stay put and turn around (a coast or the basin edge).
        pos[t] = np.where(ok[:, None], proposal, pos[t - 1])
        heading = np.where(ok, heading, heading + np.pi + rng.uniform(-0.5, 0.5, count))
    return pos


def max_depths(count: int, spec: FloatSpec, rng: np.random.Generator) -> np.ndarray:
    """Profile bottom depth in metres: mostly ~2000 m, the rest shallower."""
    deep = rng.random(count) < spec.deep_fraction
    return np.where(deep, rng.uniform(*spec.deep_range_m, count), rng.uniform(*spec.shallow_range_m, count))


def sample_profiles(y: np.ndarray, y_valid: np.ndarray, depth: np.ndarray, times: np.ndarray,
                    lat: np.ndarray, lon: np.ndarray, spec: FloatSpec, seed: int) -> pd.DataFrame:
    """Fly floats over the true field y (T, D, H, W) and return the profile table.

    A profile measures every level between its shallowest depth (a few metres) and its max depth
    that lies above the sea floor (y_valid), with N(0, sensor_noise_c) noise.
    """
    rng = np.random.default_rng([seed, 7])
    ntime, _, h, w = y.shape
    ocean = y_valid[0, 0]
    count = n_floats(ocean, spec.obs_fraction)
    tracks = float_tracks(ocean, ntime, count, spec, rng)
    t_idx = np.repeat(np.arange(ntime), count)
    rows, cols = tracks[..., 0].ravel(), tracks[..., 1].ravel()
    iy, ix = np.rint(rows).astype(np.int64), np.rint(cols).astype(np.int64)
    columns = y[t_idx, :, iy, ix]               # (N, D)
    top = rng.uniform(*spec.top_range_m, t_idx.size)[:, None]
    in_range = (depth[None, :] >= top) & (depth[None, :] <= max_depths(t_idx.size, spec, rng)[:, None])
    measured = y_valid[t_idx, :, iy, ix] & in_range
    temp = columns + rng.normal(0, spec.sensor_noise_c, columns.shape)
    dlat = float(np.median(np.diff(lat))) if lat.size > 1 else 0.0
    dlon = float(np.median(np.diff(lon))) if lon.size > 1 else 0.0
    platform = np.tile(np.array([f"9{seed % 100:02d}{i:04d}" for i in range(count)]), ntime)
    return make_profiles(
        platform=platform, time=times[t_idx],
        lat=lat[0] + rows * dlat, lon=lon[0] + cols * dlon,
        temp=np.where(measured, temp, np.nan), mask=measured,
        time_index=t_idx, iy=iy, ix=ix, source=f"synthetic(seed={seed})",
    )


# --- OSSE floats: real cycle length and drift in km, any time step ---------------------------------

@dataclass
class CycleSpec:
    """Argo-like sampling for an OSSE: each float profiles every `cycle_days` (phases staggered),
    drifting `drift_km_per_day` between profiles; `obs_fraction` is profiles per ocean cell per
    time step on average, as in `data synth`."""

    obs_fraction: float = 0.01
    cycle_days: float = 10.0
    drift_km_per_day: tuple[float, float] = (2.0, 8.0)
    max_depth_m: float = 2000.0
    floats: FloatSpec = None  # depth reach, top depth, sensor noise, turning (defaults: FloatSpec())

    def __post_init__(self) -> None:
        if self.floats is None:
            self.floats = FloatSpec()
        if not 0 < self.obs_fraction <= 1 or self.cycle_days <= 0:
            raise ValueError(f"osse: obs_fraction must be in (0, 1] and cycle_days > 0, got "
                             f"{self.obs_fraction}, {self.cycle_days}")


def plan_cycles(ocean: np.ndarray, times: np.ndarray, lat: np.ndarray, lon: np.ndarray, spec: CycleSpec,
                seed: int) -> pd.DataFrame:
    """Where and when every float surfaces: platform, cycle, time, row/col (fractional pixels),
    lat/lon, max_depth_m, top_m. Values are sampled later, one time step at a time."""
    rng = np.random.default_rng([seed, 11])
    t_ns = np.asarray(times, "datetime64[ns]").astype(np.int64)
    step_days = float(np.median(np.diff(t_ns))) / 86400e9 if t_ns.size > 1 else 1.0
    span_days = (t_ns[-1] - t_ns[0]) / 86400e9 + step_days
    count = max(1, int(round(spec.obs_fraction * int(ocean.sum()) * max(spec.cycle_days / step_days, 1.0))))
    n_cycles = int(np.ceil(span_days / spec.cycle_days)) + 1
    km_row = abs(float(np.median(np.diff(lat)))) * 111.2 if lat.size > 1 else 10.0
    km_col = abs(float(np.median(np.diff(lon)))) * 111.2 * np.cos(np.radians(float(np.mean(lat)))) \
        if lon.size > 1 else 10.0
    drift = FloatSpec(**{**spec.floats.__dict__, "speed_px": tuple(v * spec.cycle_days for v in spec.drift_km_per_day)})
    tracks = float_tracks(ocean, n_cycles, count, drift, rng, scale=(1.0 / km_row, 1.0 / km_col))
    phase = rng.uniform(0, spec.cycle_days, count)
    cycle = np.repeat(np.arange(n_cycles), count)
    when = t_ns[0] - step_days / 2 * 86400e9 + (phase[None, :] + spec.cycle_days * np.arange(n_cycles)[:, None]) \
        * 86400e9
    rows, cols = tracks[..., 0].ravel(), tracks[..., 1].ravel()
    n = rows.size
    reach = np.minimum(max_depths(n, spec.floats, rng), spec.max_depth_m)
    return pd.DataFrame({
        "platform": np.tile(np.array([f"OSSE{seed % 1000:03d}{i:05d}" for i in range(count)]), n_cycles),
        "cycle": cycle.astype(np.int64), "time": when.ravel().astype("datetime64[ns]"),
        "row": rows, "col": cols, "lat": np.interp(rows, np.arange(lat.size), lat),
        "lon": np.interp(cols, np.arange(lon.size), lon), "max_depth_m": reach,
        "top_m": rng.uniform(*spec.floats.top_range_m, n)})


def sample_columns(y: np.ndarray, depth: np.ndarray, planned: pd.DataFrame, noise_c: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(temp, mask) (N, D) of the planned profiles in one step's field y (D, H, W): every level between
    the profile's top and its reach that lies above the sea floor, plus N(0, noise_c) noise."""
    iy, ix = np.rint(planned["row"].to_numpy()).astype(np.int64), np.rint(planned["col"].to_numpy()).astype(np.int64)
    columns = y[:, iy, ix].T
    in_range = (depth[None, :] >= planned["top_m"].to_numpy()[:, None]) & \
        (depth[None, :] <= planned["max_depth_m"].to_numpy()[:, None])
    measured = np.isfinite(columns) & in_range
    temp = columns + rng.normal(0, noise_c, columns.shape)
    return np.where(measured, temp, np.nan).astype(np.float32), measured
