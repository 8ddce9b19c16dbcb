"""Horizontal mapping of a source field onto the store's regular lat/lon grid.

Three cases, chosen once per source and reused for every level and time step:
- `SameGrid`: the source is the target up to order (latitudes flipped, 0..360 longitudes
  rotated so the region is contiguous): values are only reindexed, never interpolated;
- `Bilinear` (SST on a regular grid): linear in lat/lon, periodic across the seam of a global
  file; a target cell whose stencil touches land or a gap stays invalid, never zero-filled;
- `NeighbourWeights` (curvilinear model grids such as ROMS/NEMO, or `--regrid`): pyresample's
  kd-tree on the sphere finds the source points near each target centre (within 1.5 source
  spacings). A target cell is ocean when its NEAREST source point is valid (the coastline does not
  creep seaward); its value is the Gaussian-weighted mean (sigma = half a source spacing) of the
  valid neighbours. pyresample is pip-installable with wheels, kept by the Pytroll community, and
  works on any 2-D lat/lon swath including the antimeridian and polar folds; xESMF (conservative
  remapping) needs the ESMF library from conda, which `.ci/setup` cannot install.
Each mapper also reports `covered`: target cells inside the source's footprint.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .cf import Horizontal
from .grid import Grid, contiguous_longitudes, unwrap_order, wrap_longitude

EARTH_RADIUS_M = 6_371_000.0
NEIGHBOURS = 8
RADIUS_SPACINGS = 1.5


class SameGrid:
    """The source grid is the target (up to order): reindex only."""

    def __init__(self, lat_order: np.ndarray, lon_order: np.ndarray, shape: tuple[int, int]):
        self.lat_order, self.lon_order = lat_order, lon_order
        self.covered = np.ones(shape, dtype=bool)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return values[..., self.lat_order, :][..., self.lon_order]


class Bilinear:
    """Linear interpolation from a regular source (any longitude convention, periodic if global)."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, grid: Grid):
        self.lat_order = np.argsort(lat)
        self.lat = lat[self.lat_order]
        wrapped = wrap_longitude(lon, grid.lon)
        self.lon_order = np.argsort(wrapped)
        self.lon = wrapped[self.lon_order]
        spacing = float(np.median(np.diff(self.lon))) if self.lon.size > 1 else 360.0
        self.periodic = self.lon.size > 2 and self.lon[-1] - self.lon[0] + spacing > 359.0
        if self.periodic:  # one wrapped column on each side so the seam interpolates too
            self.lon = np.concatenate([[self.lon[-1] - 360.0], self.lon, [self.lon[0] + 360.0]])
        self.grid = grid
        half_lat = float(np.median(np.diff(self.lat))) / 2 if self.lat.size > 1 else 0.5
        lat_in = (grid.lat >= self.lat[0] - half_lat) & (grid.lat <= self.lat[-1] + half_lat)
        lon_in = np.ones(grid.lon.size, bool) if self.periodic else \
            (grid.lon >= self.lon[0] - spacing / 2) & (grid.lon <= self.lon[-1] + spacing / 2)
        self.covered = lat_in[:, None] & lon_in[None, :]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """(..., H_src, W_src) in the file's order → (..., H, W) on the grid."""
        v = values[..., self.lat_order, :][..., self.lon_order]
        if self.periodic:
            v = np.concatenate([v[..., -1:], v, v[..., :1]], axis=-1)
        lead = [f"d{i}" for i in range(v.ndim - 2)]
        src = xr.DataArray(v, dims=(*lead, "lat", "lon"), coords={"lat": self.lat, "lon": self.lon})
        # Half a cell beyond the outer centres is still inside the file: extend the edge value there.
        out = src.interp(lat=self.grid.lat, lon=self.grid.lon, method="linear",
                         kwargs={"fill_value": None}).values
        return np.where(self.covered, out, np.nan).astype(np.float32)


class NeighbourWeights:
    """Gaussian-weighted neighbours on the sphere (pyresample kd-tree); see the module docstring."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, grid: Grid):
        from pyresample import geometry, kd_tree

        lat2, lon2 = (lat, lon) if lat.ndim == 2 else np.meshgrid(lat, lon, indexing="ij")
        lon2 = np.mod(lon2 + 180.0, 360.0) - 180.0
        self.source_shape = lat2.shape
        self.spacing_m = source_spacing_m(lat2, lon2)
        source = geometry.SwathDefinition(lons=lon2, lats=lat2)
        tlon, tlat = np.meshgrid(np.mod(grid.lon + 180.0, 360.0) - 180.0, grid.lat)
        target = geometry.SwathDefinition(lons=tlon, lats=tlat)
        with warnings.catch_warnings():  # "possibly more than 8 neighbours": the nearest 8 are enough
            warnings.filterwarnings("ignore", message="Possible more than")
            valid_in, valid_out, index, distance = kd_tree.get_neighbour_info(
                source, target, RADIUS_SPACINGS * self.spacing_m, neighbours=NEIGHBOURS)
        self.valid_in = np.flatnonzero(np.asarray(valid_in).ravel())
        self.shape = grid.shape
        self.covered = np.asarray(valid_out, bool).reshape(grid.shape) & np.isfinite(distance[:, 0]).reshape(grid.shape)
        self.index = np.asarray(index).reshape(-1, NEIGHBOURS)
        sigma = self.spacing_m / 2
        weights = np.exp(-(np.nan_to_num(distance, posinf=np.inf) / sigma) ** 2)
        self.weights = np.where(np.isfinite(distance), weights, 0.0).reshape(-1, NEIGHBOURS)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        lead = values.shape[:-2]
        flat = values.reshape(-1, int(np.prod(self.source_shape)))[:, self.valid_in]
        out = np.full((flat.shape[0], self.index.shape[0]), np.nan, dtype=np.float32)
        padded = np.concatenate([flat, np.full((flat.shape[0], 1), np.nan)], axis=1)  # fill index → NaN
        index = np.minimum(self.index, flat.shape[1])
        for k in range(flat.shape[0]):  # one level at a time: (cells, neighbours) stays small
            near = padded[k][index]
            ok = np.isfinite(near)
            w = np.where(ok, self.weights, 0.0)
            total = w.sum(axis=1)
            mean = (np.where(ok, near, 0.0) * w).sum(axis=1)
            ocean = ok[:, 0] & (total > 0)
            out[k, ocean] = (mean[ocean] / total[ocean]).astype(np.float32)
        return out.reshape(*lead, *self.shape)


def source_spacing_m(lat: np.ndarray, lon: np.ndarray) -> float:
    """Median distance between neighbouring source points along both grid axes (metres)."""
    steps = []
    for axis in (0, 1):
        if lat.shape[axis] > 1:
            a = np.radians(np.take(lat, range(lat.shape[axis] - 1), axis=axis))
            b = np.radians(np.take(lat, range(1, lat.shape[axis]), axis=axis))
            dlon = np.radians(np.diff(lon, axis=axis))
            hav = np.sin((b - a) / 2) ** 2 + np.cos(a) * np.cos(b) * np.sin(dlon / 2) ** 2
            steps.append(float(np.nanmedian(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(hav, 0, 1))))))
    return max(min(steps, default=10_000.0), 1.0)


def native_grid(where: Horizontal) -> tuple[Grid, SameGrid]:
    """A rectilinear source's own grid (latitudes ascending, longitudes contiguous) and its reindexer."""
    lat_order = np.argsort(where.lat)
    lon_order, lon = unwrap_order(where.lon)
    grid = Grid(lat=where.lat[lat_order], lon=contiguous_longitudes(lon))
    return grid, SameGrid(lat_order, lon_order, grid.shape)


def mapper_for(where: Horizontal, grid: Grid, *, smooth: bool):
    """SameGrid when the source is the grid; else NeighbourWeights (models: `smooth`) or Bilinear (SST)."""
    if not where.curvilinear:
        own, same = native_grid(where)
        if own.matches(grid):
            return same
        if not smooth:
            return Bilinear(where.lat, where.lon, grid)
    return NeighbourWeights(where.lat, where.lon, grid)
