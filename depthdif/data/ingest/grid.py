"""The target grid of an ingested store: latitudes, longitudes and depth levels.

The store keeps a model field's own regular grid when it has one (y is not regridded unless
`--regrid` asks); otherwise the SST file's grid, an explicit `--grid lat0,lat1,lon0,lon1,res`, or
(for a curvilinear model field) a regular grid at about its native spacing. Longitudes are kept
contiguous and increasing in whichever convention the region needs. Depth levels are the model
file's, the 50 standard GLORYS12 levels, or a list (metres; a file or comma-separated values).
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
        if self.shape != other.shape:
            return False
        dlon = np.mod(self.lon - other.lon + 180.0, 360.0) - 180.0  # either longitude convention
        return bool(np.allclose(self.lat, other.lat, atol=GRID_TOLERANCE_DEG)
                    and np.all(np.abs(dlon) <= GRID_TOLERANCE_DEG))

    def bounds_text(self) -> str:
        return (f"lat {self.lat.min():.3f}..{self.lat.max():.3f}, lon {self.lon.min():.3f}.."
                f"{self.lon.max():.3f} ({self.lat.size}x{self.lon.size})")


def parse_grid(spec: str) -> Grid:
    """`lat0,lat1,lon0,lon1,res[,lon_res]` (degrees) → Grid with cell centres from lat0/lon0 inside
    the bounds (`lon_res` defaults to `res`).

    Centres never overshoot: the last one is the largest lat0 + k·res <= lat1 (same for lon). A
    region across the antimeridian or Greenwich is given with lon0 > lon1 in either convention
    (`170,-170` or `330,10`); its longitudes are stored contiguous and increasing (170..190,
    -30..10), so windows run across the seam.
    """
    try:
        numbers = [float(p) for p in spec.split(",")]
        if len(numbers) not in (5, 6):
            raise ValueError
    except ValueError:
        raise ValueError(f"--grid: expected lat0,lat1,lon0,lon1,res[,lon_res] (5 or 6 numbers), got {spec!r}") from None
    lat0, lat1, lon0, lon1, res = numbers[:5]
    lon_res = numbers[5] if len(numbers) == 6 else res
    if lon1 <= lon0:
        lon1 += 360.0
    if min(res, lon_res) <= 0 or lat1 <= lat0 or not (-90 <= lat0 and lat1 <= 90) or lon1 - lon0 > 360:
        raise ValueError(f"--grid: need res > 0, lat0 < lat1 within [-90, 90], a longitude span <= 360; got {spec!r}")
    lon = centres(lon0, lon1, lon_res)
    return Grid(lat=centres(lat0, lat1, res), lon=contiguous_longitudes(lon))


def centres(start: float, stop: float, step: float) -> np.ndarray:
    """start, start + step, ... up to stop inclusive (1e-9 relative slack for float noise)."""
    n = int(np.floor((stop - start) / step * (1 + 1e-9) + 1e-9)) + 1
    return np.round(start + step * np.arange(n), 9)


def contiguous_longitudes(lon: np.ndarray) -> np.ndarray:
    """Increasing longitudes without a jump: [-180, 180) unless the span crosses 180°, then [0, 360)."""
    lon = np.asarray(lon, float)
    east = np.round(np.mod(lon + 180.0, 360.0) - 180.0, 9)  # rounding: no 0.30000000000001 after the mod
    if np.all(np.diff(east) > 0):
        return east
    shifted = np.round(np.mod(lon, 360.0), 9)
    if np.all(np.diff(shifted) > 0):
        return shifted
    return lon


def unwrap_order(lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, contiguous longitudes) that put a source's longitudes in increasing order without
    a seam: the largest gap around the circle becomes the edge (0..360 subsets across Greenwich)."""
    wrapped = np.mod(np.asarray(lon, float), 360.0)
    order = np.argsort(wrapped, kind="stable")
    circle = wrapped[order]
    gaps = np.diff(np.concatenate([circle, circle[:1] + 360.0]))
    start = (int(np.argmax(gaps)) + 1) % circle.size
    order = np.roll(order, -start)
    unrolled = np.unwrap(np.radians(wrapped[order]))
    return order, contiguous_longitudes(np.degrees(unrolled))


def auto_grid(lat: np.ndarray, lon: np.ndarray) -> Grid:
    """A regular grid inside a curvilinear field's box at about its native spacing (1 significant
    digit, in degrees of latitude), for `--grid` left out."""
    coslat = np.cos(np.radians(lat))
    steps = []
    for axis in (0, 1):
        if lat.shape[axis] > 1:
            dlon = np.mod(np.diff(lon, axis=axis) + 180.0, 360.0) - 180.0
            steps.append(np.nanmedian(np.hypot(np.diff(lat, axis=axis),
                                               dlon * np.take(coslat, range(lat.shape[axis] - 1), axis=axis))))
    res = float(f"{max(min(steps, default=0.1), 1e-3):.1g}")
    lat0, lat1 = float(np.nanmin(lat)), float(np.nanmax(lat))
    lon_res = float(f"{res / max(np.cos(np.radians((lat0 + lat1) / 2)), 0.05):.1g}")  # ~square cells
    _, lon_sorted = unwrap_order(lon.ravel())
    lon0, lon1 = float(lon_sorted[0]), float(lon_sorted[-1])
    return Grid(lat=centres(np.ceil(lat0 / res) * res, lat1, res),
                lon=contiguous_longitudes(centres(np.ceil(lon0 / lon_res) * lon_res, lon1, lon_res)))


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


def read_depths(spec: str, available_m: np.ndarray | None, *, interpolate: bool = False) -> np.ndarray:
    """Depth levels from `glorys`, a file, or comma-separated metres.

    With a z-level model field (`available_m`), the levels must be among its levels unless
    `interpolate` (--regrid, or a terrain-following field) allows vertical interpolation."""
    if spec == "glorys":
        return np.asarray(GLORYS_DEPTHS_M if available_m is None or interpolate else available_m, float)
    path = Path(spec)
    # A list of metres is read as one before any file lookup: a long list is no valid path (ENAMETOOLONG).
    if "," in spec or _is_number(spec):
        text = spec.replace(",", " ").split()
    elif path.exists():
        text = path.read_text().replace(",", " ").split()
    else:
        raise FileNotFoundError(f"{path}: --depths file not found (or pass --depths glorys, or metres "
                                "separated by commas)")
    try:
        depths = np.array([float(t) for t in text], float)
    except ValueError:
        raise IngestError(path, "--depths file must hold numbers (metres), one per line or comma-separated") from None
    if depths.size == 0 or np.any(depths < 0) or np.any(np.diff(depths) <= 0):
        raise IngestError(path, "--depths: need at least one depth, all >= 0, strictly increasing")
    if available_m is not None and not interpolate:
        missing = [float(d) for d in depths if not np.any(np.isclose(available_m, d, rtol=1e-3, atol=0.01))]
        if missing:
            raise IngestError(path, f"mismatched grids: depths {missing[:5]} are not model levels "
                                    f"(available: {np.round(available_m, 3).tolist()[:10]}...); pass --regrid "
                                    "to interpolate the model field vertically")
    return depths


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


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
