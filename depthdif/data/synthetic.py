"""A realistic synthetic ocean: the embedded default data set (no download, deterministic by seed).

What makes it useful for ranking models (issue 3, "Embedded default"):
- the background T(z) is REAL: the Levitus monthly climatology at the basin's positions,
  interpolated bilinearly in latitude and longitude, linearly in season and depth (coastal and
  sub-floor cells of the 4-degree grid take their nearest wet neighbour's water);
- a mixed layer that deepens in winter, and mesoscale eddies plus a meandering front that DISPLACE
  the thermocline: T(z) = T_bg(z - eta(x, y, t) exp(-z/1000 m) - mld exp(-z/200 m)), so the
  displacement fades at depth. Surface and subsurface are coupled nonlinearly, so the field is not
  Gaussian and optimal interpolation is not optimal;
- a coast with shelf and slope, a rough abyss and seamounts: land_mask and a y_valid_mask that
  shrinks with depth;
- EO: the surface smoothed like an L4 SST product, plus noise (optional SSS, ADT);
- Argo-like floats (depthdif/data/floats.py) give the sparse x.

Depth levels: n_levels < 50 takes the GLORYS levels at indices round(linspace(0, 49, n_levels)),
so any subset spans the whole column, from 0.494 m to 5727.9 m.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.ndimage import gaussian_filter

from depthdif.data import schema as S
from depthdif.data.climatology import Climatology, background_field, load_climatology
from depthdif.data.floats import FloatSpec, sample_profiles
from depthdif.data.index import SplitSpec
from depthdif.data.profiles import bin_profiles
from depthdif.data.store import write_store

DECAY_M = 1000.0  # e-folding depth of the eddy / front displacement
MIXED_DECAY_M = 200.0  # e-folding depth of the mixed-layer term


@dataclass
class SynthConfig:
    """Size, resolution and randomness of a synthetic ocean (defaults: a laptop-sized basin)."""

    nlat: int = 256
    nlon: int = 256
    ntime: int = 12
    n_levels: int = 50
    patch_size: int = 32
    stride: int = 32
    obs_fraction: float = 0.01        # profiles per ocean pixel per time step
    seed: int = 0
    lat_range: tuple[float, float] = (-45.0, -25.0)
    lon_range: tuple[float, float] = (15.0, 35.0)
    start: str = "2020-01-01"
    time_step_days: int = 7
    eo_channels: list[str] = field(default_factory=lambda: ["sst"])
    max_land_fraction: float = 0.5
    chunk: int | None = None  # Zarr chunk edge; None: chosen for the windows (data/chunking.py)
    eddy_amplitude_m: float = 150.0   # typical thermocline displacement of an eddy
    front_amplitude_m: float = 70.0
    sensor_noise_c: float = 0.01
    eo_noise_c: float = 0.15
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    time_block: int = 4
    space_block: int | None = None    # spatial split block edge in pixels (None: 2 x patch_size)
    decorrelation_days: float = 15.0  # split leakage rule (depthdif/data/split_leakage.py)
    leakage: str = "warn"
    climatology: str | None = None    # None: the file shipped in depthdif/resources

    def check(self) -> None:
        if self.nlat < self.patch_size or self.nlon < self.patch_size:
            raise ValueError(f"grid {self.nlat}x{self.nlon} is smaller than patch_size {self.patch_size}")
        if not 1 <= self.n_levels <= len(S.GLORYS_DEPTHS_M):
            raise ValueError(f"n_levels must be in [1, {len(S.GLORYS_DEPTHS_M)}], got {self.n_levels}")
        if not 0 < self.obs_fraction <= 1:
            raise ValueError(f"obs_fraction must be in (0, 1], got {self.obs_fraction}")
        bad = [c for c in self.eo_channels if c not in EO_BUILDERS]
        if bad or not self.eo_channels:
            raise ValueError(f"eo_channels {self.eo_channels}: allowed {sorted(EO_BUILDERS)}")
        if self.ntime < 1 or self.time_step_days < 1:
            raise ValueError("ntime and time_step_days must be >= 1")


def depth_levels(n_levels: int) -> np.ndarray:
    """n_levels GLORYS levels spanning the column: indices round(linspace(0, 49, n_levels))."""
    idx = np.unique(np.rint(np.linspace(0, len(S.GLORYS_DEPTHS_M) - 1, n_levels)).astype(int))
    return S.GLORYS_DEPTHS_M[idx]


def smooth_noise(shape: tuple[int, ...], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field with unit std (Gaussian-filtered white noise)."""
    field_ = gaussian_filter(rng.standard_normal(shape), sigma=max(sigma_px, 0.5), mode="wrap")
    return field_ / (field_.std() + 1e-12)


def bathymetry(lat: np.ndarray, lon: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sea-floor depth (m, > 0 in the ocean, <= 0 on land): a coast along one side of the basin
    with shelf and slope, a rough abyss (3.8-5.8 km) and a few seamounts (some break the surface)."""
    h, w = lat.size, lon.size
    deg = float(np.mean(np.diff(lat))) if h > 1 else 0.1
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    side = rng.integers(4)  # which edge holds the continent
    along, across, n_across = [(xx, yy, h), (xx, h - 1 - yy, h), (yy, xx, w), (yy, w - 1 - xx, w)][side]
    phase, wavelength = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 0.8) * max(h, w)
    coast = n_across * (0.12 + 0.05 * np.sin(2 * np.pi * along / wavelength + phase))
    dist_deg = (across - coast) * deg  # > 0 offshore
    abyss = 4800.0 + 500.0 * np.clip(smooth_noise((h, w), 3.0 / deg, rng), -2, 2)
    depth = np.where(dist_deg > 0, 60.0 + (abyss - 60.0) * (1 - np.exp(-np.maximum(dist_deg, 0) / 0.9)), -50.0)
    for _ in range(max(1, int(round(h * w * deg * deg / 150)))):  # seamounts, ~one per 150 deg^2
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.3, 0.8) / deg
        height = rng.uniform(0.5, 1.05) * abyss.mean()
        depth -= height * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)) * (dist_deg > 0)
    return depth


def displacement(lat: np.ndarray, lon: np.ndarray, ntime: int, cfg: SynthConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """Thermocline displacement (ntime, H, W) in metres, positive = deeper (warm anomaly):
    drifting Gaussian eddies + a meandering tanh front + weak smooth turbulence."""
    h, w = lat.size, lon.size
    deg = float(np.mean(np.diff(lat))) if h > 1 else 0.1
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    area = (lat[-1] - lat[0] + deg) * (lon[-1] - lon[0] + deg)
    n_eddies = max(2, int(round(area / 12)))
    centre = np.stack([rng.uniform(lat[0], lat[-1], n_eddies), rng.uniform(lon[0], lon[-1], n_eddies)], 1)
    radius = rng.uniform(0.3, 0.8, n_eddies)
    amp = cfg.eddy_amplitude_m * rng.uniform(0.4, 1.3, n_eddies) * rng.choice([-1, 1], n_eddies)
    drift = np.stack([rng.normal(0, 0.05, n_eddies), -rng.uniform(0.1, 0.35, n_eddies)], 1)  # deg/step, westward
    life_phase = rng.uniform(0, 2 * np.pi, n_eddies)
    front_lat = lat[0] + rng.uniform(0.35, 0.65) * (lat[-1] - lat[0])
    front_wl, front_phase = rng.uniform(4, 8), rng.uniform(0, 2 * np.pi)
    span = lon[-1] - lon[0] + deg
    out = np.empty((ntime, h, w))
    for t in range(ntime):
        pos = centre + drift * t
        pos[:, 1] = lon[0] + (pos[:, 1] - lon[0]) % span  # eddies re-enter from the east
        eta = np.zeros((h, w))
        for k in range(n_eddies):
            r2 = (lat2 - pos[k, 0]) ** 2 + (lon2 - pos[k, 1]) ** 2
            eta += amp[k] * (0.75 + 0.25 * np.sin(0.4 * t + life_phase[k])) * np.exp(-r2 / (2 * radius[k] ** 2))
        meander = 0.8 * np.sin(2 * np.pi * lon2 / front_wl + front_phase + 0.3 * t)
        eta += cfg.front_amplitude_m * np.tanh((lat2 - front_lat - meander) / 0.4)
        out[t] = eta
    out += 15.0 * smooth_noise((ntime, h, w), 0.25 / deg, rng)
    return out


def mixed_layer_depth(lat: np.ndarray, day_of_year: float) -> np.ndarray:
    """(H,) metres: ~10 m in summer, ~10 + 50 |lat|/45 m at the end of winter. Kept small: the
    monthly climatology already holds the seasonal mixed layer, smeared over its 0/25/85 m nodes;
    this term only sharpens it (larger values warmed 50-200 m by >1 degC vs real Argo)."""
    southern = lat < 0
    phase = np.where(southern, day_of_year - 15.0, day_of_year - 197.0)  # winter peaks mid-Jul / mid-Jan
    winter = 0.5 * (1 - np.cos(2 * np.pi * phase / 365.25))
    return 10.0 + 50.0 * winter * np.minimum(np.abs(lat) / 45.0, 1.2)


def temperature(bg: np.ndarray, nodes: np.ndarray, depth: np.ndarray, eta: np.ndarray,
                mld: np.ndarray) -> np.ndarray:
    """T(z) = T_bg(z - mld exp(-z/200 m) - eta exp(-z/1000 m)) per pixel -> (D, H, W).

    bg (K, H, W) on `nodes`; eta (H, W) eddy/front displacement; mld (H, 1) mixed-layer depth. The
    mixed-layer term homogenizes the top and vanishes below ~500 m; the eddy term reaches deeper.
    z_eff stays monotonic in z (no overturning) while eta > -1000 m.
    """
    g = np.exp(-depth / DECAY_M).astype(np.float32)[:, None, None]
    g_ml = np.exp(-depth / MIXED_DECAY_M).astype(np.float32)[:, None, None]
    z = depth.astype(np.float32)[:, None, None] - eta.astype(np.float32)[None] * g
    z = np.maximum(z - np.asarray(mld, np.float32)[None] * g_ml, 0.0)
    nodes32 = nodes.astype(np.float32)
    k = np.clip(np.searchsorted(nodes32, z, side="right") - 1, 0, nodes.size - 2)
    w = np.clip((z - nodes32[k]) / (nodes32[k + 1] - nodes32[k]), 0.0, 1.0)
    npix = bg.shape[1] * bg.shape[2]
    flat = k * npix + np.arange(npix).reshape(bg.shape[1:])[None]  # gather from the flat (K, H*W)
    values = bg.astype(np.float32).ravel()
    lo = np.take(values, flat)
    return lo + w * (np.take(values, flat + npix) - lo)


def _smooth_masked(field2d: np.ndarray, ocean: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing that ignores land (normalized convolution)."""
    num = gaussian_filter(np.where(ocean, field2d, 0.0), sigma)
    den = gaussian_filter(ocean.astype(float), sigma)
    return num / np.maximum(den, 1e-6)


def _sst(surface, eta, ocean, deg, rng, cfg):
    return _smooth_masked(surface, ocean, 0.1 / deg) + rng.normal(0, cfg.eo_noise_c, surface.shape)


def _sss(surface, eta, ocean, deg, rng, cfg):
    return 34.8 + 0.12 * (surface - surface[ocean].mean()) + rng.normal(0, 0.05, surface.shape)


def _adt(surface, eta, ocean, deg, rng, cfg):
    return 0.4 + 1.5e-3 * _smooth_masked(eta, ocean, 0.05 / deg) + rng.normal(0, 0.02, surface.shape)


# EO channel -> builder(surface T, displacement, ocean, pixel size in deg, rng, cfg); and its units.
EO_BUILDERS = {"sst": _sst, "sss": _sss, "adt": _adt}
EO_UNITS = {"sst": "degC", "sss": "1e-3", "adt": "m"}


def synthesize(cfg: SynthConfig, clim: Climatology | None = None,
               progress: bool = True) -> tuple[xr.Dataset, pd.DataFrame]:
    """Build the dataset (variables of depthdif/data/schema.py) and its profile table in memory."""
    from tqdm.auto import tqdm

    cfg.check()
    clim = clim or load_climatology(cfg.climatology)
    rng = np.random.default_rng(cfg.seed)
    lat = np.linspace(*cfg.lat_range, cfg.nlat)
    lon = np.linspace(*cfg.lon_range, cfg.nlon)
    deg = float(np.mean(np.diff(lat))) if cfg.nlat > 1 else 0.1
    depth = depth_levels(cfg.n_levels)
    times = np.datetime64(cfg.start, "D") + np.arange(cfg.ntime) * np.timedelta64(cfg.time_step_days, "D")
    floor = bathymetry(lat, lon, rng)
    ocean = floor > 0
    valid = (depth[:, None, None] < floor[None]) & ocean[None]  # (D, H, W)
    eta = displacement(lat, lon, cfg.ntime, cfg, rng)
    heat = 0.3 * smooth_noise((cfg.ntime, cfg.nlat, cfg.nlon), 0.5 / deg, rng)  # surface flux anomaly
    y = np.empty((cfg.ntime, depth.size, cfg.nlat, cfg.nlon), dtype=np.float32)
    eo = np.empty((cfg.ntime, len(cfg.eo_channels), cfg.nlat, cfg.nlon), dtype=np.float32)
    for t in tqdm(range(cfg.ntime), desc="synthesizing", unit="time step", disable=not progress):
        doy = float((times[t] - times[t].astype("datetime64[Y]")).astype(int))
        bg = background_field(clim, lat, lon, doy)
        field_ = temperature(bg, clim.depth, depth, eta[t], mixed_layer_depth(lat, doy)[:, None])
        field_ += heat[t][None] * np.exp(-depth / 50.0)[:, None, None]
        y[t] = np.where(valid, field_, np.nan)
        for c, name in enumerate(cfg.eo_channels):
            eo[t, c] = np.where(ocean, EO_BUILDERS[name](field_[0], eta[t], ocean, deg, rng, cfg), np.nan)
    y_valid = np.broadcast_to(valid, y.shape)
    profiles = sample_profiles(y, y_valid, depth, times.astype("datetime64[ns]"), lat, lon,
                               FloatSpec(obs_fraction=cfg.obs_fraction, sensor_noise_c=cfg.sensor_noise_c),
                               cfg.seed)
    x, x_valid = bin_profiles(profiles, y.shape)
    ds = _as_dataset(cfg, y, np.ascontiguousarray(y_valid), x, x_valid, eo, ~ocean, depth, lat, lon, times)
    return ds, profiles


def _as_dataset(cfg, y, y_valid, x, x_valid, eo, land, depth, lat, lon, times) -> xr.Dataset:
    eo_valid = np.broadcast_to(~land, eo.shape)
    ds = xr.Dataset(
        {
            S.Y: (S.DIMS_3D, y, {"units": "degC", "long_name": "sea water potential temperature (target)",
                                 "standard_name": "sea_water_potential_temperature"}),
            S.Y_MASK: (S.DIMS_3D, y_valid, {"long_name": "target valid (ocean above the sea floor)"}),
            S.X: (S.DIMS_3D, x, {"units": "degC", "long_name": "Argo temperature binned on the grid"}),
            S.X_MASK: (S.DIMS_3D, x_valid, {"long_name": "observation valid (a profile measured it)"}),
            S.EO: (S.DIMS_EO, eo, {"long_name": "surface fields (L4-like)",
                                   "channel_units": ",".join(EO_UNITS[c] for c in cfg.eo_channels)}),
            S.EO_MASK: (S.DIMS_EO, np.ascontiguousarray(eo_valid), {"long_name": "surface field valid"}),
            S.LAND: (S.DIMS_2D, land, {"long_name": "land mask", "flag_meanings": "ocean land",
                                       "flag_values": [0, 1]}),
        },
        coords={
            "time": times.astype("datetime64[ns]"),
            "depth": ("depth", depth, {"units": "m", "positive": "down", "long_name": "depth"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
            "eo_channel": ("eo_channel", np.array(cfg.eo_channels, dtype=str)),
        },
    )
    return ds


def make_synthetic_store(cfg: SynthConfig, out: str | Path, *, overwrite: bool = False,
                         progress: bool = True) -> Path:
    """Synthesize an ocean and write it as a store (refuses an existing `out` unless overwrite)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: output already exists; pass overwrite (--overwrite) to replace it")
    ds, profiles = synthesize(cfg, progress=progress)
    split = SplitSpec(val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                      time_block=cfg.time_block, block_size=cfg.space_block, seed=cfg.seed,
                      decorrelation_days=cfg.decorrelation_days, leakage=cfg.leakage)
    provenance = {"generator": "depthdif.data.synthetic", "seed": cfg.seed,
                  "climatology": Path(cfg.climatology).name if cfg.climatology else "levitus94 (packaged)"}
    return write_store(ds, out, profiles=profiles, patch_size=cfg.patch_size, stride=cfg.stride,
                       max_land_fraction=cfg.max_land_fraction, split=split, chunks={"lat": cfg.chunk} if cfg.chunk else None,
                       provenance=provenance, config=cfg, overwrite=overwrite, progress=progress)
