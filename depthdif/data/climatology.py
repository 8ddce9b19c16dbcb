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
# Horizontal fill reaches this many 4-degree cells (~900 km); farther, a column keeps its own
# deepest wet value (a wide shelf far from deep water), then any cell still dry (a continent's
# interior) takes the nearest wet cell at its depth however far.
FILL_REACH_CELLS = 2.0


@dataclass
class Climatology:
    """Monthly temperature on depth nodes; node 0 is the surface (from the SST field)."""

    depth: np.ndarray   # (K,) metres, 0 first
    lat: np.ndarray     # (Y,) degrees north
    lon: np.ndarray     # (X,) degrees east in [0, 360)
    theta: np.ndarray   # (12, K, Y, X) degC, NaN on land / below the sea floor
    source: str
    filled: np.ndarray | None = None  # theta with every dry cell given water (fill_dry_cells)
    floor_m: np.ndarray | None = None  # (Y, X) sea-floor depth, 0 on land (from the wet levels if absent)

    def __post_init__(self) -> None:
        if self.filled is None:
            self.filled = fill_dry_cells(self.theta)
        if self.floor_m is None:
            self.floor_m = wet_floor(self.depth, self.theta)

    def wet_range(self, lat_range: tuple[float, float], lon_range: tuple[float, float],
                  margin_cells: float = FILL_REACH_CELLS) -> tuple[np.ndarray, np.ndarray]:
        """(K,) min and max over months of the wet cells within `margin_cells` cells of a box:
        the water a basin there may hold (bilinear and horizontal-fill neighbours included)."""
        step_y, step_x = float(np.median(np.diff(self.lat))), float(np.median(np.diff(self.lon)))
        pad_y, pad_x = (margin_cells + 1) * step_y, (margin_cells + 1) * step_x
        rows = (self.lat >= lat_range[0] - pad_y) & (self.lat <= lat_range[1] + pad_y)
        dlon = (self.lon - lon_range[0]) % 360
        cols = (dlon <= (lon_range[1] - lon_range[0]) % 360 + pad_x) | (dlon >= 360 - pad_x)
        box = self.theta[:, :, rows][:, :, :, cols]
        return np.nanmin(box, axis=(0, 2, 3)), np.nanmax(box, axis=(0, 2, 3))


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
        floor = -ds["bathymetry"].transpose("lat", "lon").values.astype(np.float64) if "bathymetry" in ds else None
    sst = np.where(np.isfinite(theta[:, 0]), sst, np.nan)  # surface only where the column is wet
    full = np.concatenate([sst[:, None], theta], axis=1)
    full = np.where(np.isfinite(full), np.maximum(full, FREEZING_C), np.nan)
    return Climatology(np.concatenate([[0.0], depth]), lat, lon, full, str(path), floor_m=floor)


def wet_floor(depth: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(Y, X) a floor depth from the wet levels: just below the deepest wet node, 0 where dry."""
    wet = np.isfinite(theta).any(axis=0)                            # (K, Y, X)
    deepest = np.where(wet, np.arange(depth.size)[:, None, None], -1).max(axis=0)
    below = np.append(depth, depth[-1] * 1.1)
    return np.where(deepest >= 0, 0.5 * (below[np.maximum(deepest, 0)] + below[np.maximum(deepest, 0) + 1]), 0.0)


def _seasonal(theta: np.ndarray, day_of_year: float) -> np.ndarray:
    """Linear interpolation between monthly means centred mid-month (cyclic)."""
    pos = (day_of_year / 365.25 * 12 - 0.5) % 12
    m0 = int(np.floor(pos))
    w = pos - m0
    return (1 - w) * theta[m0] + w * theta[(m0 + 1) % 12]


def _fill_down(columns: np.ndarray) -> np.ndarray:
    """Carry the deepest valid value downward along the last axis (below a column's floor)."""
    out = columns.copy()
    for k in range(1, out.shape[-1]):
        out[..., k] = np.where(np.isfinite(out[..., k]), out[..., k], out[..., k - 1])
    return out


def _fill_level(level: np.ndarray, reach: float | None) -> np.ndarray:
    """NaN cells of one (lat, lon) slice take the nearest wet cell's value at the same depth
    (periodic in longitude), only within `reach` cells when given."""
    dry = ~np.isfinite(level)
    if dry.all() or not dry.any():
        return level.copy()
    nx = level.shape[1]
    tiled = np.concatenate([level, level, level], axis=1)
    dist, (iy, ix) = distance_transform_edt(~np.isfinite(tiled), return_indices=True)
    near = tiled[iy, ix][:, nx:2 * nx]
    if reach is not None:
        near = np.where(dist[:, nx:2 * nx] <= reach, near, np.nan)
    return np.where(dry, near, level)


def fill_dry_cells(theta: np.ndarray, reach: float = FILL_REACH_CELLS) -> np.ndarray:
    """Water for every land and sub-floor cell of (month, K, Y, X), from the same depth first.

    1. nearest wet cell at the same depth within `reach` cells; 2. the column's deepest wet value
    below its floor; 3. nearest wet cell at the same depth, any distance. Filling a shelf column
    downward first (the old order) put 17 degC water at 2000 m under southern Africa (issue 16).
    """
    out = np.empty_like(theta)
    for m in range(theta.shape[0]):
        near = np.stack([_fill_level(level, reach) for level in theta[m]])
        down = np.moveaxis(_fill_down(np.moveaxis(near, 0, -1)), -1, 0)
        out[m] = np.stack([_fill_level(level, None) for level in down])
    return out


def _weights(clim: Climatology, lat: np.ndarray, lon: np.ndarray):
    """Bilinear indices and weights on the 4-degree grid: (y0, wy) per latitude, (x0, x1, wx) per
    longitude (periodic)."""
    fy = np.interp(np.asarray(lat, float), clim.lat, np.arange(clim.lat.size))
    y0 = np.clip(np.floor(fy).astype(int), 0, clim.lat.size - 2)
    wy = np.clip(fy - y0, 0.0, 1.0)
    step = float(np.median(np.diff(clim.lon)))
    fx = ((np.asarray(lon, float) % 360) - clim.lon[0]) / step
    x0 = np.floor(fx).astype(int)
    return y0, wy, x0 % clim.lon.size, (x0 + 1) % clim.lon.size, fx - x0


def _bilinear(field: np.ndarray, clim: Climatology, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(..., H, W) a (..., Y, X) field at latitudes lat (H, W), or (K, H, W) one map per leading
    index of a (K, Y, X) field, and longitudes lon (W,)."""
    y0, wy, x0, x1, wx = _weights(clim, lat, lon)
    if lat.ndim == 3:                                                # a latitude map per node
        k = np.arange(field.shape[0])[:, None, None]
        at = lambda y, x: field[k, y, x[None, None, :]]              # noqa: E731
    else:
        at = lambda y, x: field[..., y, x[None, :]]                  # noqa: E731
    return (at(y0, x0) * (1 - wx) + at(y0, x1) * wx) * (1 - wy) + (at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x1) * wx) * wy


def background_field(clim: Climatology, lat: np.ndarray, lon: np.ndarray, day_of_year: float,
                     lat_shift: np.ndarray | None = None) -> np.ndarray:
    """T on the climatology's depth nodes for every basin pixel, (K, len(lat), len(lon)):
    seasonal interpolation of the filled climatology, then bilinear in latitude and (periodic)
    longitude; `lat_shift` (K, H, W) degrees reads each pixel's water at each node from another
    latitude."""
    if lat_shift is None:
        lat2 = np.broadcast_to(np.asarray(lat, float)[:, None], (len(lat), len(lon)))
    else:
        lat2 = np.asarray(lat, float)[None, :, None] + lat_shift
    return _bilinear(_seasonal(clim.filled, day_of_year), clim, lat2, np.asarray(lon, float))


def floor_at(clim: Climatology, lat: np.ndarray, lon: np.ndarray, land_m: float = 0.0) -> np.ndarray:
    """The 4-degree sea-floor depth (H, W) at latitudes (H,) and longitudes (W,), bilinear; land
    counts as `land_m` (negative: the coast then falls between a land and a sea centre)."""
    lat2 = np.broadcast_to(np.asarray(lat, float)[:, None], (np.size(lat), np.size(lon)))
    return _bilinear(np.where(clim.floor_m > 0, clim.floor_m, land_m), clim, lat2, np.asarray(lon, float))


def background_points(clim: Climatology, lat: np.ndarray, lon: np.ndarray,
                      day_of_year: np.ndarray) -> np.ndarray:
    """(N, K) background at N scattered positions and days, exactly as background_field would give
    at those pixels: the reference that anomalies of real and synthetic profiles are taken from."""
    lat, lon, doy = (np.atleast_1d(np.asarray(a, float)) for a in (lat, lon, day_of_year))
    pos = (doy / 365.25 * 12 - 0.5) % 12
    m0 = np.floor(pos).astype(int)
    wm = (pos - m0)[:, None]
    y0, wy, x0, x1, wx = _weights(clim, lat, lon)
    wy, wx = wy[:, None], wx[:, None]

    def at(month):
        take = lambda y, x: clim.filled[month, :, y, x]              # noqa: E731  (N, K)
        return ((take(y0, x0) * (1 - wx) + take(y0, x1) * wx) * (1 - wy)
                + (take(y0 + 1, x0) * (1 - wx) + take(y0 + 1, x1) * wx) * wy)

    return (1 - wm) * at(m0) + wm * at((m0 + 1) % 12)
