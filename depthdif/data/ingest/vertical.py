"""Argo measurements → one temperature profile per float cycle on the store's depth levels.

Three steps, each a small function:
1. pressure (dbar) → depth (m) with TEOS-10 (`gsw.z_from_p`, latitude-dependent gravity);
2. each measurement's temperature kind (`temp_kind`: Argo files hold in-situ values; a table
   column named potential_temperature/theta holds potential ones) → the store's kind: in situ →
   potential with `gsw.pt0_from_t` (reference 0 dbar) so Argo matches model `thetao` (the
   difference reaches ~0.15 °C at 2000 m, as large as the deep-level spread), potential → in situ
   with `gsw.t_from_CT(CT_from_pt)`. Where salinity is missing or bad, SP = 35 is assumed:
   ±1 psu changes θ by < 0.004 °C at 2000 dbar.
3. linear interpolation onto the depth levels INSIDE the measured range only (no
   extrapolation above the shallowest or below the deepest good measurement), and only across
   gaps no wider than `max_gap_m(z) = max(MAX_GAP_FRACTION · z, MIN_MAX_GAP_M)`: a gap left by
   levels that failed QC is not bridged by a straight line. A level within LEVEL_TOLERANCE_M
   (1 cm) of a measured depth IS that measurement, so profiles already on standard levels keep
   every level whatever the float noise in their depths.
"""

from __future__ import annotations

import sys
from typing import Literal

import gsw
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .conventions import IngestError
from .model_vertical import LEVEL_TOLERANCE_M

TemperatureKind = Literal["potential", "in_situ"]
TEMPERATURE_KINDS = ("potential", "in_situ")
MAX_GAP_FRACTION = 0.25   # a bracketing gap may span up to 25 % of the target depth ...
MIN_MAX_GAP_M = 25.0      # ... and never less than 25 m (Argo samples every ~10 dbar near the top)
DEFAULT_PRACTICAL_SALINITY = 35.0
PROFILE_KEY = ["source", "platform", "cycle", "direction", "time", "lat", "lon"]


def depth_from_pressure(pressure_dbar: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Depth (m, positive down) from sea pressure with TEOS-10."""
    return -gsw.z_from_p(np.asarray(pressure_dbar, float), np.asarray(lat, float))


def potential_temperature(temp_degc: np.ndarray, pressure_dbar: np.ndarray, psal: np.ndarray,
                          lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Potential temperature (°C, reference 0 dbar) from in-situ temperature with TEOS-10."""
    sp = np.where(np.isfinite(psal), psal, DEFAULT_PRACTICAL_SALINITY)
    absolute_salinity = gsw.SA_from_SP(sp, pressure_dbar, lon, lat)
    return gsw.pt0_from_t(absolute_salinity, temp_degc, pressure_dbar)


def in_situ_temperature(theta_degc: np.ndarray, pressure_dbar: np.ndarray, psal: np.ndarray,
                        lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """In-situ temperature (°C) from potential temperature (reference 0 dbar) with TEOS-10."""
    sp = np.where(np.isfinite(psal), psal, DEFAULT_PRACTICAL_SALINITY)
    absolute_salinity = gsw.SA_from_SP(sp, pressure_dbar, lon, lat)
    return gsw.t_from_CT(absolute_salinity, gsw.CT_from_pt(absolute_salinity, theta_degc), pressure_dbar)


def max_gap_m(depth_m: np.ndarray) -> np.ndarray:
    """Widest gap between two measurements that interpolation may bridge at depth z."""
    return np.maximum(MAX_GAP_FRACTION * np.asarray(depth_m, float), MIN_MAX_GAP_M)


def interpolate_to_levels(depth_m: np.ndarray, values: np.ndarray,
                          levels_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One profile onto `levels_m`: (values float32 with NaN, valid bool), no extrapolation.

    Measurements at the same depth are averaged first (ascending and repeated levels).
    """
    levels = np.asarray(levels_m, float)
    out = np.full(levels.shape, np.nan, dtype=np.float32)
    ok = np.isfinite(depth_m) & np.isfinite(values)
    if ok.sum() == 0:
        return out, np.zeros(levels.shape, bool)
    depth, inverse = np.unique(np.asarray(depth_m, float)[ok], return_inverse=True)
    mean = np.bincount(inverse, weights=np.asarray(values, float)[ok]) / np.bincount(inverse)
    nearest = np.abs(levels[:, None] - depth[None, :]).min(axis=1)
    exact = nearest <= LEVEL_TOLERANCE_M  # float noise in depths must not drop a standard level
    if depth.size == 1:  # one measurement: only a level at that depth is inside the range
        out[exact] = mean[0]
        return out, exact
    inside = (levels >= depth[0] - LEVEL_TOLERANCE_M) & (levels <= depth[-1] + LEVEL_TOLERANCE_M)
    upper = np.clip(np.searchsorted(depth, levels, side="left"), 1, depth.size - 1)
    gap = depth[upper] - depth[upper - 1]
    valid = inside & (exact | (gap <= max_gap_m(levels)))
    out[valid] = np.interp(levels[valid], depth, mean).astype(np.float32)
    return out, valid


def store_temperature(df: pd.DataFrame, temperature: TemperatureKind) -> np.ndarray:
    """Each measurement's temperature in the store's kind (rows declare theirs in `temp_kind`)."""
    kinds = df["temp_kind"].to_numpy() if "temp_kind" in df else np.full(len(df), "in_situ", dtype=object)
    convert = kinds != temperature
    value = df["temp_degc"].to_numpy(dtype=float).copy()
    if convert.any():
        sub = df.loc[convert]
        pressure = np.where(sub["pressure_dbar"].notna(), sub["pressure_dbar"],
                            gsw.p_from_z(-sub["depth"].to_numpy(), sub["lat"].to_numpy()))
        args = (sub["temp_degc"].to_numpy(), pressure, sub["psal"].to_numpy(), sub["lon"].to_numpy(),
                sub["lat"].to_numpy())
        value[convert] = potential_temperature(*args) if temperature == "potential" else in_situ_temperature(*args)
    return value


def profiles_on_levels(measurements: pd.DataFrame, levels_m: np.ndarray,
                       temperature: TemperatureKind = "potential", progress: bool = False) -> pd.DataFrame:
    """Group measurements into profiles and put each on the depth levels.

    Returns one row per profile with at least one valid level: platform, cycle, direction,
    time, lat, lon, source, max_depth_m, temp (D,) float32 NaN-filled, mask (D,) bool.
    """
    if temperature not in TEMPERATURE_KINDS:
        raise ValueError(f"temperature: must be one of {list(TEMPERATURE_KINDS)}, got {temperature!r}")
    df = measurements.copy()
    depth = depth_from_pressure(df["pressure_dbar"].to_numpy(), df["lat"].to_numpy())
    df["depth"] = np.where(df["depth_m"].notna(), df["depth_m"], depth)
    df["value"] = store_temperature(df, temperature)
    rows = []
    groups = df.groupby(PROFILE_KEY, sort=True, dropna=False)
    for key, group in tqdm(groups, total=groups.ngroups, desc="Argo profiles", unit="profile",
                           disable=not progress, file=sys.stderr):
        values, valid = interpolate_to_levels(group["depth"].to_numpy(), group["value"].to_numpy(), levels_m)
        if valid.any():
            rows.append((*key, float(group["depth"].max()), values, valid))
    columns = PROFILE_KEY + ["max_depth_m", "temp", "mask"]
    return pd.DataFrame(rows, columns=columns)


def drop_duplicate_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """Keep the first of profiles that share (platform, cycle, direction) across files.

    The same float cycle often arrives twice (an ERDDAP extract and the GDAC file); counting it
    twice would double its weight in the cell mean and leak it across a withheld-profile split.
    Profiles without a platform or cycle number cannot be matched and are all kept.
    """
    known = (profiles["platform"].astype(str) != "") & (profiles["cycle"] >= 0)
    duplicate = known & profiles.duplicated(["platform", "cycle", "direction"], keep="first")
    return profiles.loc[~duplicate].reset_index(drop=True)


def require_profiles(profiles: pd.DataFrame, sources: list[str], n_measurements: int) -> pd.DataFrame:
    """Refuse a result with no profile on any level, naming the input files."""
    if profiles.empty:
        raise IngestError(sources, f"empty Argo table after QC: {n_measurements} good measurements but no "
                                   "profile covers any store depth level (check depths / pressure units)")
    return profiles
