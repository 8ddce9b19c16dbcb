"""Realism statistics of a set of temperature profiles: what decides how hard reconstruction is.

All of them work on anomalies, profile minus the Levitus climatology at the same place and day
(`depthdif.data.climatology.background_points`, the very background the synthetic ocean starts
from), on the same depth levels, and are computed identically for real Argo and for synthetic
columns sampled at the real profiles' positions and times (the "twin"):

- per-depth anomaly std: how far the ocean strays from climatology (the climatology baseline's error);
- horizontal decorrelation length per depth band: from pairs of profiles of the same month,
  rho_ij = 1 - (a_i - a_j)^2 / (2 var), fitted to exp(-r / L) (the structure function, so a
  regional bias cancels); L decides how far one profile informs its neighbours (OI's prior);
- the thermocline's vertical gradient: per profile, the steepest cooling between 20 and 1000 m;
- the SST-subsurface anomaly correlation per band: what EO regression and the model exploit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depthdif.data.climatology import Climatology, background_points

SURFACE_M = 20.0   # a profile's "SST": its anomaly at its shallowest level, when above this depth
                   # (ERDDAP floats start at 15.8 m on the GLORYS levels, the GDAC one at ~10 m)
BANDS_M = ((0.0, SURFACE_M), (SURFACE_M, 100.0), (100.0, 500.0), (500.0, 1000.0), (1000.0, 2000.0))
GRADIENT_RANGE_M = (20.0, 1000.0)
EARTH_RADIUS_KM = 6371.0


@dataclass
class ProfileSet:
    """Profiles on common depth levels; `group` labels independent sources (a float, a file)."""

    name: str
    lat: np.ndarray      # (N,)
    lon: np.ndarray      # (N,)
    time: np.ndarray     # (N,) datetime64[ns]
    group: np.ndarray    # (N,) int
    depth: np.ndarray    # (D,) metres
    temp: np.ndarray     # (N, D) degC, NaN where not measured

    def subset(self, keep: np.ndarray) -> ProfileSet:
        return ProfileSet(self.name, self.lat[keep], self.lon[keep], self.time[keep], self.group[keep],
                          self.depth, self.temp[keep])


def day_of_year(time: np.ndarray) -> np.ndarray:
    t = np.asarray(time, dtype="datetime64[D]")
    return (t - t.astype("datetime64[Y]")).astype(float)


def node_weights(nodes: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(D, K) matrix W with W @ profile_on_nodes = the profile linearly interpolated to `depth`."""
    return np.stack([np.interp(depth, nodes, np.eye(nodes.size)[k]) for k in range(nodes.size)], axis=1)


def anomalies(ps: ProfileSet, clim: Climatology) -> np.ndarray:
    """(N, D) profile minus the climatology at its position and day of year."""
    bg = background_points(clim, ps.lat, ps.lon, day_of_year(ps.time))      # (N, K)
    return ps.temp - bg @ node_weights(clim.depth, ps.depth).T


def demeaned(anom: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Anomalies minus each group's mean per level (a float's regional bias is not variability)."""
    out = anom.copy()
    with np.errstate(all="ignore"):
        for g in np.unique(group):
            rows = group == g
            out[rows] -= np.nanmean(anom[rows], axis=0)
    return out


def anomaly_std(ps: ProfileSet, anom: np.ndarray) -> np.ndarray:
    """(D,) std of the demeaned anomalies per level (NaN where fewer than 5 profiles)."""
    a = demeaned(anom, ps.group)
    n = np.isfinite(a).sum(0)
    with np.errstate(all="ignore"):
        return np.where(n >= 5, np.sqrt(np.nanmean(a**2, axis=0)), np.nan)


def surface_anomaly(anom: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(N,) anomaly at each profile's shallowest measured level if above SURFACE_M, else NaN."""
    first = np.argmax(np.isfinite(anom), axis=1)
    value = anom[np.arange(len(anom)), first]
    return np.where(depth[first] < SURFACE_M, value, np.nan)


def band_mean(anom: np.ndarray, depth: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """(N,) mean anomaly over the band's levels; NaN when under half of them were measured.
    The surface band is the profile's shallowest level (surface_anomaly)."""
    if band[1] <= SURFACE_M:
        return surface_anomaly(anom, depth)
    levels = (depth >= band[0]) & (depth < band[1])
    part = anom[:, levels]
    n = np.isfinite(part).sum(1)
    with np.errstate(all="ignore"):
        return np.where(n * 2 >= levels.sum(), np.nanmean(part, axis=1), np.nan)


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (haversine)."""
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def same_month_pairs(ps: ProfileSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance km) for every pair of distinct profiles of one group (float) and calendar
    month: the separations a float's own track samples (tens to a few hundred km, 3-31 days)."""
    month = np.asarray(ps.time, dtype="datetime64[M]")
    i, j = np.triu_indices(len(month), k=1)
    keep = (month[i] == month[j]) & (ps.group[i] == ps.group[j])
    i, j = i[keep], j[keep]
    return i, j, distance_km(ps.lat[i], ps.lon[i], ps.lat[j], ps.lon[j])


def pair_correlations(a: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair rho_ij = 1 - (a_i - a_j)^2 / (2 var a), and which pairs have both values."""
    ok = np.isfinite(a[i]) & np.isfinite(a[j])
    var = np.nanvar(a)
    rho = 1 - (a[i] - a[j]) ** 2 / (2 * var) if var > 0 else np.full(i.shape, np.nan)
    return rho, ok


LENGTHS_KM = np.geomspace(5.0, 3000.0, 400)


def decorrelation_length(rho: np.ndarray, r_km: np.ndarray) -> float:
    """L minimizing sum (rho_ij - exp(-r_ij / L))^2 over a log grid of 5-3000 km (NaN: no pairs)."""
    if rho.size < 3:
        return float("nan")
    cost = ((rho[None, :] - np.exp(-r_km[None, :] / LENGTHS_KM[:, None])) ** 2).sum(1)
    return float(LENGTHS_KM[np.argmin(cost)])


def length_interval(rho: np.ndarray, r_km: np.ndarray, block: np.ndarray, reps: int = 200,
                    seed: int = 0) -> tuple[float, float]:
    """16-84 % bootstrap interval of the decorrelation length, resampling whole months (`block`
    per pair) so pairs sharing a profile stay together."""
    rng = np.random.default_rng(seed)
    blocks = np.unique(block)
    if blocks.size < 3:
        return float("nan"), float("nan")
    members = [np.flatnonzero(block == b) for b in blocks]
    draws = [decorrelation_length(rho[idx], r_km[idx]) for idx in
             (np.concatenate([members[k] for k in rng.integers(0, blocks.size, blocks.size)]) for _ in range(reps))]
    return float(np.nanpercentile(draws, 16)), float(np.nanpercentile(draws, 84))


def binned_correlation(rho: np.ndarray, r_km: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean rho and pair count per distance bin (for the figure)."""
    which = np.digitize(r_km, edges) - 1
    mean = np.array([rho[which == b].mean() if (which == b).any() else np.nan for b in range(len(edges) - 1)])
    return mean, np.bincount(np.clip(which, 0, len(edges) - 2), minlength=len(edges) - 1)


def max_gradient(temp: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) steepest cooling rate (degC per 100 m) between adjacent measured levels inside
    GRADIENT_RANGE_M, and the depth (m) where it sits."""
    inside = (depth >= GRADIENT_RANGE_M[0]) & (depth <= GRADIENT_RANGE_M[1])
    t, z = temp[:, inside], depth[inside]
    grad = -(t[:, 1:] - t[:, :-1]) / (z[1:] - z[:-1]) * 100.0
    mid = 0.5 * (z[1:] + z[:-1])
    ok = np.isfinite(grad).any(1)
    k = np.argmax(np.where(np.isfinite(grad), grad, -np.inf), axis=1)
    return np.where(ok, grad[np.arange(len(grad)), k], np.nan), np.where(ok, mid[k], np.nan)


def sst_correlation(anom: np.ndarray, depth: np.ndarray, group: np.ndarray,
                    band: tuple[float, float]) -> float:
    """Correlation across profiles of the SST-proxy anomaly with the band-mean anomaly."""
    a = demeaned(anom, group)
    if band[0] < SURFACE_M:
        return float("nan")  # the band is the SST proxy itself
    sst = surface_anomaly(a, depth)
    sub = band_mean(a, depth, band)
    ok = np.isfinite(sst) & np.isfinite(sub)
    if ok.sum() < 5:
        return float("nan")
    return float(np.corrcoef(sst[ok], sub[ok])[0, 1])


@dataclass
class Realism:
    """The figures for one profile set (one value per depth level or per band)."""

    n_profiles: int
    n_pairs: list[int]
    anomaly_std: np.ndarray          # (D,)
    decorrelation_km: list[float]    # per band
    decorrelation_range: list[tuple[float, float]]  # per band, 16-84 % bootstrap over months
    gradient: float                  # median steepest cooling, degC / 100 m
    gradient_depth: float            # median depth of it, m
    sst_corr: list[float]            # per band
    rho_bins: list[np.ndarray]       # per band, binned rho (figure)
    mean_profile: np.ndarray         # (D,) mean temperature (the old, weaker check: means agree)


DISTANCE_EDGES_KM = np.array([0, 25, 50, 100, 200, 400, 800, 1600, 5000.0])


def realism(ps: ProfileSet, clim: Climatology) -> Realism:
    anom = anomalies(ps, clim)
    a = demeaned(anom, ps.group)
    i, j, r = same_month_pairs(ps)
    block = np.asarray(ps.time[i], dtype="datetime64[M]").astype(np.int64) * 10_000 + ps.group[i]
    lengths, ranges, pairs, bins = [], [], [], []
    for band in BANDS_M:
        rho, ok = pair_correlations(band_mean(a, ps.depth, band), i, j)
        lengths.append(decorrelation_length(rho[ok], r[ok]))
        ranges.append(length_interval(rho[ok], r[ok], block[ok]))
        pairs.append(int(ok.sum()))
        bins.append(binned_correlation(rho[ok], r[ok], DISTANCE_EDGES_KM)[0])
    grad, where = max_gradient(ps.temp, ps.depth)
    return Realism(len(ps.lat), pairs, anomaly_std(ps, anom), lengths, ranges, float(np.nanmedian(grad)),
                   float(np.nanmedian(where)), [sst_correlation(anom, ps.depth, ps.group, b) for b in BANDS_M],
                   bins, np.nanmean(ps.temp, axis=0))
