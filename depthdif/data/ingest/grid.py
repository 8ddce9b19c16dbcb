"""The target grid of an ingested store: latitudes, longitudes, depth levels and time steps.

The store keeps the GLORYS grid when GLORYS is given (native grid: `y` is never regridded);
otherwise the OSTIA grid or an explicit `--grid lat0,lat1,lon0,lon1,res`. Depth levels are the
GLORYS file's, the 50 standard GLORYS12 levels, or a user file (metres, one per line or
comma-separated). Time steps are the GLORYS dates, else a regular axis every N days.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..schema import GLORYS_DEPTHS_M
from .conventions import IngestError

GRID_TOLERANCE_DEG = 1e-3  # two grids "match" when every coordinate agrees this closely


@dataclass(frozen=True)
class Grid:
    """Cell-centre coordinates of the target grid (both ascending, regular)."""

    lat: np.ndarray
    lon: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.lat.size, self.lon.size

    def matches(self, other: "Grid") -> bool:
        """Same cell centres (within GRID_TOLERANCE_DEG): files on one grid may be concatenated."""
        return (self.shape == other.shape and np.allclose(self.lat, other.lat, atol=GRID_TOLERANCE_DEG)
                and np.allclose(self.lon, other.lon, atol=GRID_TOLERANCE_DEG))

    def bounds_text(self) -> str:
        return (f"lat {self.lat.min():.3f}..{self.lat.max():.3f}, lon {self.lon.min():.3f}.."
                f"{self.lon.max():.3f} ({self.lat.size}x{self.lon.size})")


def parse_grid(spec: str) -> Grid:
    """`lat0,lat1,lon0,lon1,res` (degrees; inclusive cell centres) → Grid."""
    parts = spec.split(",")
    try:
        lat0, lat1, lon0, lon1, res = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--grid: expected lat0,lat1,lon0,lon1,res (5 numbers), got {spec!r}") from None
    if res <= 0 or lat1 <= lat0 or lon1 <= lon0 or not (-90 <= lat0 and lat1 <= 90):
        raise ValueError(f"--grid: need res > 0, lat0 < lat1 within [-90, 90], lon0 < lon1; got {spec!r}")
    lat = np.round(np.arange(lat0, lat1 + res / 2, res), 6)
    lon = np.round(np.arange(lon0, lon1 + res / 2, res), 6)
    return Grid(lat=lat, lon=lon)


def check_same_grid(grid: Grid, other: Grid, names: tuple[str, str], sources: list[str]) -> None:
    """Mismatched grids are an error: the GLORYS target is never silently regridded."""
    if not grid.matches(other):
        raise IngestError(sources, f"mismatched grids: {names[0]} grid is {grid.bounds_text()} but "
                                   f"{names[1]} grid is {other.bounds_text()}")


def wrap_longitude(lon: np.ndarray, grid_lon: np.ndarray) -> np.ndarray:
    """Express longitudes in the grid's convention ([-180, 180) or [0, 360))."""
    lon = np.asarray(lon, float)
    if np.nanmax(grid_lon) > 180:
        return np.mod(lon, 360.0)
    return np.mod(lon + 180.0, 360.0) - 180.0


def read_depths(spec: str, available_m: np.ndarray | None) -> np.ndarray:
    """Depth levels from `glorys` or a file; levels must exist in the GLORYS file when one is given."""
    if spec == "glorys":
        return np.asarray(GLORYS_DEPTHS_M if available_m is None else available_m, float)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"{path}: --depths file not found (or pass --depths glorys)")
    text = path.read_text().replace(",", " ").split()
    try:
        depths = np.array([float(t) for t in text], float)
    except ValueError:
        raise IngestError(path, "--depths file must hold numbers (metres), one per line or comma-separated") from None
    if depths.size == 0 or np.any(depths < 0) or np.any(np.diff(depths) <= 0):
        raise IngestError(path, "--depths: need at least one depth, all >= 0, strictly increasing")
    if available_m is not None:
        missing = [float(d) for d in depths if not np.any(np.isclose(available_m, d, rtol=1e-3, atol=0.01))]
        if missing:
            raise IngestError(path, f"mismatched grids: depths {missing[:5]} are not GLORYS levels "
                                    f"(available: {np.round(available_m, 3).tolist()[:10]}...)")
    return depths


def regular_times(start: np.datetime64, end: np.datetime64, step_days: float) -> np.ndarray:
    """Time steps every `step_days` from `start` (floored to a day) until `end` is within half a step."""
    if step_days <= 0:
        raise ValueError(f"--time-step-days must be > 0, got {step_days}")
    first = np.datetime64(start, "D").astype("datetime64[ns]")
    step = np.timedelta64(int(round(step_days * 86400)), "s").astype("timedelta64[ns]")
    # Round, not floor: the last measurement must lie within half a step of the last time step.
    n = int(np.floor((np.datetime64(end, "ns") - first) / step + 0.5)) + 1
    return first + step * np.arange(max(n, 1))


def time_window_days(times: np.ndarray, step_days: float) -> float:
    """Half the median spacing of the time axis (half of `step_days` for a single time step)."""
    if times.size > 1:
        spacing = np.median(np.diff(times.astype("datetime64[ns]").astype(np.int64))) / 86400e9
        return float(spacing) / 2
    return step_days / 2
