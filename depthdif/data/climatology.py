"""The real background temperature T(z, latitude, month): Levitus & Boyer (1994), 4 deg, 15 levels.

The file ships inside the package (depthdif/resources/, 1.4 MB; provenance in
levitus94_README.md) so the synthetic ocean needs no download and no ../shared checkout; a
`--climatology PATH` option may point elsewhere. About 0.1 % of wet points near polar shelves are
spuriously cold (down to -5.6 degC): we clip at the freezing point of seawater.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.ndimage import distance_transform_edt

PACKAGED_FILE = Path(__file__).resolve().parents[1] / "resources" / "levitus94_monthly_4deg_15lev.nc"
# Seawater freezes near -1.9 degC at 35 psu: colder climatology values are artefacts.
FREEZING_C = -1.9


@dataclass
class Climatology:
    """Monthly temperature on depth nodes; node 0 is the surface (from the SST field)."""

    depth: np.ndarray   # (K,) metres, 0 first
    lat: np.ndarray     # (Y,) degrees north
    lon: np.ndarray     # (X,) degrees east in [0, 360)
    theta: np.ndarray   # (12, K, Y, X) degC, NaN on land / below the sea floor
    source: str


def resolve_climatology_path(path: str | Path | None = None) -> Path:
    """The given file, else the copy shipped in the package; a clear error when absent."""
    candidate = Path(path) if path else PACKAGED_FILE
    if not candidate.is_file():
        hint = "" if path else " (the package was installed without its resources; pass --climatology)"
        raise FileNotFoundError(f"climatology file not found: {candidate}{hint}")
    return candidate


def load_climatology(path: str | Path | None = None) -> Climatology:
    """Read theta + sst into one (month, node, lat, lon) array with the surface as node 0."""
    path = resolve_climatology_path(path)
    with xr.open_dataset(path) as ds:
        missing = [v for v in ("theta", "sst") if v not in ds]
        if missing:
            raise ValueError(f"{path}: missing variables {missing}; expected theta(month, depth, lat, lon), "
                             "sst(month, lat, lon)")
        theta = ds["theta"].transpose("month", "depth", "lat", "lon").values.astype(np.float64)
        sst = ds["sst"].transpose("month", "lat", "lon").values.astype(np.float64)
        depth = ds["depth"].values.astype(np.float64)
        lat, lon = ds["lat"].values.astype(np.float64), ds["lon"].values.astype(np.float64) % 360
    sst = np.where(np.isfinite(theta[:, 0]), sst, np.nan)  # surface only where the column is wet
    full = np.concatenate([sst[:, None], theta], axis=1)
    full = np.where(np.isfinite(full), np.maximum(full, FREEZING_C), np.nan)
    return Climatology(np.concatenate([[0.0], depth]), lat, lon, full, str(path))


def _seasonal(theta: np.ndarray, day_of_year: float) -> np.ndarray:
    """Linear interpolation between monthly means centred mid-month (cyclic)."""
    pos = (day_of_year / 365.25 * 12 - 0.5) % 12
    m0 = int(np.floor(pos))
    w = pos - m0
    return (1 - w) * theta[m0] + w * theta[(m0 + 1) % 12]


def _fill_down(profiles: np.ndarray) -> np.ndarray:
    """Carry the deepest valid value downward (cold deep water below the shallowest floor)."""
    out = profiles.copy()
    for k in range(1, out.shape[-1]):
        out[..., k] = np.where(np.isfinite(out[..., k]), out[..., k], out[..., k - 1])
    return out


def _fill_land(field: np.ndarray) -> np.ndarray:
    """Give every NaN cell of each (lat, lon) slice its nearest wet neighbour's value, so a
    synthetic coast that differs from the real one still finds water properties there."""
    out = field.copy()
    for k in range(out.shape[0]):
        dry = ~np.isfinite(out[k])
        if dry.all():
            out[k] = out[k - 1]
        elif dry.any():
            _, (iy, ix) = distance_transform_edt(dry, return_indices=True)
            out[k] = out[k][iy, ix]
    return out


def background_field(clim: Climatology, lat: np.ndarray, lon: np.ndarray, day_of_year: float) -> np.ndarray:
    """T on the climatology's depth nodes for every basin pixel, (K, len(lat), len(lon)):
    seasonal interpolation, land and sub-floor cells filled (down, then sideways), then bilinear
    interpolation in latitude and (periodic) longitude."""
    field = _seasonal(clim.theta, day_of_year)                       # (K, Y, X)
    field = _fill_land(np.moveaxis(_fill_down(np.moveaxis(field, 0, -1)), -1, 0))
    fy = np.interp(np.asarray(lat, float), clim.lat, np.arange(clim.lat.size))
    y0 = np.clip(np.floor(fy).astype(int), 0, clim.lat.size - 2)
    wy = np.clip(fy - y0, 0.0, 1.0)[:, None]
    step = float(np.median(np.diff(clim.lon)))
    fx = ((np.asarray(lon, float) % 360) - clim.lon[0]) / step
    x0 = np.floor(fx).astype(int)
    wx = (fx - x0)[None, :]
    x0, x1 = x0 % clim.lon.size, (x0 + 1) % clim.lon.size
    rows = field[:, y0] * (1 - wy) + field[:, y0 + 1] * wy              # (K, H, X)
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


def profile_at(clim: Climatology, lat: float, lon: float, day_of_year: float,
               depths: np.ndarray) -> np.ndarray:
    """Climatological T at the given depths for one position (nearest wet 4-degree column)."""
    field = _fill_down(np.moveaxis(_seasonal(clim.theta, day_of_year), 0, -1))  # (Y, X, K)
    dlat = np.abs(clim.lat - lat)[:, None]
    dlon = np.abs((clim.lon - lon % 360 + 180) % 360 - 180)[None, :]
    dist = np.where(np.isfinite(field[..., 0]), dlat**2 + dlon**2, np.inf)
    iy, ix = np.unravel_index(np.argmin(dist), dist.shape)
    return np.interp(depths, clim.depth, field[iy, ix])

