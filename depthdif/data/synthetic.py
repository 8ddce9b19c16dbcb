"""A realistic synthetic ocean: the embedded default data set (no download, deterministic by seed).

What makes it useful for ranking models (issues 3 and 16):
- the background T(z) is REAL: the Levitus monthly climatology at the basin's positions,
  interpolated bilinearly in latitude and longitude, linearly in season and depth; its land and
  sub-floor cells take water from wet neighbours at the same depth (climatology.fill_dry_cells);
- the default basin is open ocean south of Africa (55-35 S, 20-40 E: Agulhas Return Current,
  subtropical and subantarctic fronts), where the real Argo floats we check realism against
  drifted; the coast faces the nearest real land and real land stays land (seafloor.py);
- the ocean departs from climatology as the real one does there (ocean_motion.py): eddies
  displace the thermocline, T(z) = T_bg(z - eta G(z)), G zero at the surface, largest in the
  thermocline, fading below ~1000 m; fronts, meanders and eddies move water masses, reading the
  background at a shifted latitude (a sharp front out of the smeared 4-degree one, and anomalies
  at every depth where isotherms slope); a seasonal mixed layer with a sharp base; surface
  weather confined to the mixed layer. Per-depth anomaly std, horizontal decorrelation length,
  thermocline gradient and SST-subsurface correlation match real Argo within stated tolerances
  (BENCHMARKS.md "realism"). The field is not Gaussian and optimal interpolation is not optimal;
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
from depthdif.data.ocean_motion import equatorward, mixed_layer_depth, motion, surface_weather
from depthdif.data.profiles import bin_profiles
from depthdif.data.seafloor import sea_floor
from depthdif.data.store import write_store

SURFACE_LID_M = 100.0  # the thermocline displacement grows from 0 at the surface over this depth
ADT_M_PER_DEG = 100.0   # a water-mass shift of 1 degree lifts the sea surface like 100 m of thermocline


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
    # Open ocean south of Africa (Agulhas Return Current, subtropical and subantarctic fronts),
    # where the real Argo floats of ../shared/data/argo drifted (see README "synthetic ocean").
    lat_range: tuple[float, float] = (-55.0, -35.0)
    lon_range: tuple[float, float] = (20.0, 40.0)
    start: str = "2020-01-01"
    time_step_days: int = 7
    eo_channels: list[str] = field(default_factory=lambda: ["sst"])
    max_land_fraction: float = 0.5
    chunk: int | None = None  # Zarr chunk edge; None: chosen for the windows (data/chunking.py)
    # How the ocean departs from climatology (depthdif/data/ocean_motion.py). Tuned against real
    # Argo south of Africa (BENCHMARKS.md "realism", `python -m depthdif.benchmarks.realism`).
    eddy_amplitude_m: float = 400.0   # thermocline displacement of a typical eddy at 45 deg
    eddy_radius_km: tuple[float, float] = (30.0, 90.0)
    eddy_spacing_km: float = 300.0    # one eddy per spacing^2
    eddy_speed_km_day: tuple[float, float] = (1.5, 5.0)  # westward drift
    eddy_shift_deg: float = 0.5       # water an eddy carries from its origin (degrees latitude) ...
    eddy_shift_depth_m: float = 300.0  # ... in its upper layer (e-folding depth)
    front_amplitude_m: float = 70.0   # thermocline step across the front
    front_shift_deg: float = 0.4      # water-mass jump across the front (degrees latitude, each side)
    front_width_km: float = 45.0
    front_zone_km: float = 200.0      # how far from the front the water departs from climatology
    front_meander_km: float = 90.0
    front_wavelength_km: tuple[float, float] = (300.0, 600.0)
    meander_shift_deg: float = 1.2    # large meanders of the water masses (degrees latitude, std)
    meander_scale_km: float = 330.0   # their correlation e-folding length ...
    meander_days: float = 90.0        # ... and time
    meander_turn_depth_m: float = 400.0  # meanders decorrelate with depth, halfway at this depth
    turbulence_m: float = 15.0        # small-scale thermocline noise
    turbulence_scale_km: float = 50.0
    displacement_decay_m: float = 1000.0  # e-folding depth of the thermocline displacement
    mixed_layer_summer_m: float = 30.0
    mixed_layer_winter_m: float = 90.0
    seasonal_thermocline_m: float = 25.0  # below the mixed layer the profile catches up over this
    surface_anomaly_c: float = 0.6    # air-sea flux anomalies (std), confined to the mixed layer
    surface_scale_km: float = 100.0
    surface_days: float = 20.0
    surface_depth_m: float = 80.0     # e-folding depth of the flux anomalies
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
        positive = ["eddy_spacing_km", "front_width_km", "front_zone_km", "meander_scale_km", "meander_days",
                    "meander_turn_depth_m", "turbulence_scale_km", "displacement_decay_m", "eddy_shift_depth_m",
                    "seasonal_thermocline_m", "surface_scale_km", "surface_days", "surface_depth_m"]
        bad = [name for name in positive if not getattr(self, name) > 0]
        if bad:
            raise ValueError(f"{', '.join(bad)}: must be > 0")
        for name in ("eddy_radius_km", "eddy_speed_km_day", "front_wavelength_km"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name}: need 0 < low <= high, got {getattr(self, name)}")
        if not 0 <= self.mixed_layer_summer_m <= self.mixed_layer_winter_m:
            raise ValueError("mixed_layer_summer_m must be in [0, mixed_layer_winter_m]")


def depth_levels(n_levels: int) -> np.ndarray:
    """n_levels GLORYS levels spanning the column: indices round(linspace(0, 49, n_levels))."""
    idx = np.unique(np.rint(np.linspace(0, len(S.GLORYS_DEPTHS_M) - 1, n_levels)).astype(int))
    return S.GLORYS_DEPTHS_M[idx]


def displacement_profile(depth: np.ndarray, decay_m: float) -> np.ndarray:
    """G(z): how much of the surface-defined displacement eta reaches depth z. Zero at the surface
    (the sea surface is not lifted by 100 m; eddies' SST signature is their trapped water), largest
    in the thermocline, fading below ~decay_m."""
    z = np.asarray(depth, float)
    return (1 - np.exp(-z / SURFACE_LID_M)) * np.exp(-z / decay_m)


def mixed_layer_map(u: np.ndarray, mld: np.ndarray, thermocline_m: float) -> np.ndarray:
    """Depth in the climatology for depth u below a mixed layer of depth mld: 0 (surface water)
    inside it, catching up with u over `thermocline_m` below it, so the smeared seasonal
    thermocline of the monthly climatology sharpens at the mixed-layer base (slope 1 + mld /
    thermocline_m there)."""
    below = np.maximum(u - mld, 0.0)
    return np.maximum(u - mld * np.exp(-below / thermocline_m), 0.0)


def temperature(bg: np.ndarray, nodes: np.ndarray, depth: np.ndarray, eta: np.ndarray,
                mld: np.ndarray, decay_m: float, thermocline_m: float) -> np.ndarray:
    """T(z) = T_bg(mixed_layer_map(z - eta G(z))) per pixel -> (D, H, W).

    bg (K, H, W) on `nodes` (already read at each pixel's shifted latitude); eta (H, W) eddy/front
    displacement; mld (H, 1) mixed-layer depth. A warm eddy (eta > 0) thickens the surface layer
    (mode water in its core), a cold one domes the thermocline up under a thin mixed layer.
    """
    g = displacement_profile(depth, decay_m).astype(np.float32)[:, None, None]
    u = depth.astype(np.float32)[:, None, None] - eta.astype(np.float32)[None] * g
    z = mixed_layer_map(u, np.asarray(mld, np.float32)[None], np.float32(thermocline_m))
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
    floor = sea_floor(lat, lon, clim, rng)
    ocean = floor > 0
    valid = (depth[:, None, None] < floor[None]) & ocean[None]  # (D, H, W)
    days = (np.arange(cfg.ntime) * cfg.time_step_days).astype(float)
    move = motion(lat, lon, days, cfg, rng)
    weather = surface_weather((cfg.ntime, cfg.nlat, cfg.nlon), deg, cfg.time_step_days, cfg, rng)
    to_equator = equatorward(lat)[:, None]
    y = np.empty((cfg.ntime, depth.size, cfg.nlat, cfg.nlon), dtype=np.float32)
    eo = np.empty((cfg.ntime, len(cfg.eo_channels), cfg.nlat, cfg.nlon), dtype=np.float32)
    for t in tqdm(range(cfg.ntime), desc="synthesizing", unit="time step", disable=not progress):
        doy = float((times[t] - times[t].astype("datetime64[Y]")).astype(int))
        shift = move.shift(t, clim.depth)
        bg = background_field(clim, lat, lon, doy, lat_shift=to_equator * shift)
        mld = mixed_layer_depth(lat, doy, cfg.mixed_layer_summer_m, cfg.mixed_layer_winter_m)[:, None]
        field_ = temperature(bg, clim.depth, depth, move.eta[t], mld, cfg.displacement_decay_m,
                             cfg.seasonal_thermocline_m)
        field_ += weather[t][None] * np.exp(-depth / cfg.surface_depth_m)[:, None, None]
        y[t] = np.where(valid, field_, np.nan)
        height = move.eta[t] + ADT_M_PER_DEG * shift[0]
        for c, name in enumerate(cfg.eo_channels):
            eo[t, c] = np.where(ocean, EO_BUILDERS[name](field_[0], height, ocean, deg, rng, cfg), np.nan)
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
