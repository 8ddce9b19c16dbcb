"""The synthetic sea floor: real land and large-scale depth from the climatology's 4-degree
bathymetry, plus an idealized coast with shelf and slope, a rough abyss and seamounts.

Why both: models must learn land masks and a y_valid_mask that shrinks with depth, so every basin
gets a coast; it is drawn on the side that faces the nearest real land (south of Africa: the
north), and wherever the basin overlaps real land (a user's region on a continent) that land is
land too, at the climatology's resolution. The water under it then never has to be invented.
"""

from __future__ import annotations

import numpy as np

from depthdif.data.climatology import Climatology, floor_at
from depthdif.data.ocean_motion import smooth_noise

REAL_LAND_DEPTH_M = -1500.0   # land cells of the 4-degree floor, so the coast falls between centres
LOOKOUT_DEG = (2.0, 4.0, 6.0, 8.0)  # how far beyond each edge we look for real land


def coast_side(lat: np.ndarray, lon: np.ndarray, clim: Climatology) -> int:
    """Which edge holds the continent (0 south, 1 north, 2 west, 3 east): the one whose
    surroundings are shallowest in the real bathymetry."""
    def mean_floor(lats, lons):
        return float(np.mean(floor_at(clim, lats, lons, land_m=REAL_LAND_DEPTH_M)))

    out = np.array(LOOKOUT_DEG)
    scores = [mean_floor(lat[0] - out, lon), mean_floor(lat[-1] + out, lon),
              mean_floor(lat, lon[0] - out), mean_floor(lat, lon[-1] + out)]
    return int(np.argmin(scores))


def sea_floor(lat: np.ndarray, lon: np.ndarray, clim: Climatology, rng: np.random.Generator) -> np.ndarray:
    """Sea-floor depth (m, > 0 in the ocean, <= 0 on land), (H, W)."""
    h, w = lat.size, lon.size
    deg = float(np.mean(np.diff(lat))) if h > 1 else 0.1
    real = floor_at(clim, lat, lon, land_m=REAL_LAND_DEPTH_M) + 300.0 * smooth_noise((h, w), 1.0 / deg, rng)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    side = coast_side(lat, lon, clim)
    along, across, n_across = [(xx, yy, h), (xx, h - 1 - yy, h), (yy, xx, w), (yy, w - 1 - xx, w)][side]
    phase, wavelength = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 0.8) * max(h, w)
    coast = n_across * (0.12 + 0.05 * np.sin(2 * np.pi * along / wavelength + phase))
    dist_deg = (across - coast) * deg  # > 0 offshore
    abyss = np.clip(real, 2500.0, 6000.0) + 400.0 * np.clip(smooth_noise((h, w), 0.3 / deg, rng), -2, 2)
    depth = np.where(dist_deg > 0, 60.0 + (abyss - 60.0) * (1 - np.exp(-np.maximum(dist_deg, 0) / 0.9)), -50.0)
    for _ in range(max(1, int(round(h * w * deg * deg / 150)))):  # seamounts, ~one per 150 deg^2
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.3, 0.8) / deg
        height = rng.uniform(0.5, 1.05) * abyss.mean()
        depth -= height * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)) * (dist_deg > 0)
    return np.minimum(depth, real)
