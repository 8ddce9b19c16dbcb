"""How the synthetic ocean departs from its climatology: eddies, a front, meanders, surface weather.

Two fields carry all the mesoscale variability (tuned against real Argo, BENCHMARKS.md "realism"):
- `eta` (m, positive = deeper = warm): the thermocline displacement of eddies and the front;
  it fades with depth (exp(-z / displacement_decay_m)) and scales with the Coriolis parameter
  (quasi-geostrophy: eta ~ f psi_z / N^2), so tropical eddies lift the thermocline less;
- `shift` (degrees of latitude, positive = water from the equatorward side = warm): which
  latitude's climatology a pixel holds, at every depth. A front is a jump in `shift`, so the
  4-degree climatology's smeared gradient becomes a sharp meandering front with homogeneous
  zones on either side; meanders and eddies move water masses too. Where the climatology has
  no horizontal gradient (deep tropics) a shift changes nothing, where isotherms slope (the
  Antarctic Circumpolar Current) it changes the whole column, as in the real ocean.

Everything moves in physical time (days), so a store with 7-day steps and one with 30-day steps
hold the same ocean at the days they share the same statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

KM_PER_DEG = 111.2
REFERENCE_LAT = 45.0   # eddy amplitudes are given at this latitude
MIN_CORIOLIS_SCALE = 0.2
CORIOLIS_EXPONENT = 0.5   # amplitude ~ |f|^0.5: calibrated on the tropical Indian float (|f|^1 halves its thermocline std)


@dataclass
class Motion:
    """The fields of one basin; `shift(t, depth)` assembles the water-mass shift per depth."""

    eta: np.ndarray            # (T, H, W) metres, thermocline displacement at the surface
    front: np.ndarray          # (T, H, W) degrees latitude toward the equator, at every depth
    meanders: np.ndarray       # (2, T, H, W) two independent meander fields, degrees
    eddies: np.ndarray         # (T, H, W) degrees, eddies' trapped water (upper layer)
    meander_turn_m: float      # depth where the meander field has turned halfway to the second one
    eddy_depth_m: float        # e-folding depth of the eddies' trapped water

    def shift(self, t: int, depth: np.ndarray) -> np.ndarray:
        """(len(depth), H, W): front + meanders that decorrelate with depth (the deep field
        turns from M1 to M2: angle pi/2 z / (z + turn), the real SST-to-2000 m correlation is
        ~0.3) + eddies fading below their upper layer."""
        z = np.asarray(depth, float)[:, None, None]
        angle = 0.5 * np.pi * z / (z + self.meander_turn_m)
        meander = np.cos(angle) * self.meanders[0, t][None] + np.sin(angle) * self.meanders[1, t][None]
        return self.front[t][None] + meander + np.exp(-z / self.eddy_depth_m) * self.eddies[t][None]


def smooth_noise(shape: tuple[int, ...], sigma_px: float | tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """A smooth random field with unit std (Gaussian-filtered white noise, periodic)."""
    sigma = np.maximum(np.broadcast_to(np.asarray(sigma_px, float), (len(shape),)), 0.5)
    field_ = gaussian_filter(rng.standard_normal(shape), sigma=tuple(sigma), mode="wrap")
    return field_ / (field_.std() + 1e-12)


def noise_sigma_px(scale_km: float, deg: float, time_scale_days: float, step_days: float) -> tuple:
    """Gaussian-filter sigmas (time, y, x) whose correlation e-folds at scale_km / time_scale_days
    (the correlation of filtered white noise is exp(-r^2 / 4 sigma^2), e-folding at 2 sigma)."""
    space = scale_km / 2 / (KM_PER_DEG * deg)
    return (time_scale_days / 2 / step_days, space, space)


def coriolis_scale(lat: np.ndarray) -> np.ndarray:
    """|f(lat)| / |f(45 deg)|, floored so the tropics keep some variability."""
    ratio = np.abs(np.sin(np.radians(lat))) / np.sin(np.radians(REFERENCE_LAT))
    return np.maximum(ratio ** CORIOLIS_EXPONENT, MIN_CORIOLIS_SCALE)


def equatorward(lat: np.ndarray) -> np.ndarray:
    """+1 where increasing latitude points to the equator (southern hemisphere), else -1."""
    return np.where(np.asarray(lat) < 0, 1.0, -1.0)


def eddy_field(lat: np.ndarray, lon: np.ndarray, days: np.ndarray, cfg, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W) sum of Gaussian eddies of amplitude ~1 (sign: +1 warm core), drifting westward
    and pulsing; they re-enter the basin from the east."""
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    coslat = np.cos(np.radians(lat2))
    span_lon = (lon[-1] - lon[0]) * len(lon) / max(len(lon) - 1, 1)
    area_km2 = (lat[-1] - lat[0] + 1e-9) * span_lon * KM_PER_DEG**2 * float(np.cos(np.radians(lat.mean())))
    n = max(2, int(round(area_km2 / cfg.eddy_spacing_km**2)))
    centre = np.stack([rng.uniform(lat[0], lat[-1], n), rng.uniform(lon[0], lon[0] + span_lon, n)], 1)
    radius_km = rng.uniform(*cfg.eddy_radius_km, n)
    amp = rng.uniform(0.4, 1.3, n) * rng.choice([-1.0, 1.0], n)
    speed = rng.uniform(*cfg.eddy_speed_km_day, n)                    # westward
    north = rng.normal(0.0, 0.3, n)                                    # km/day
    period, phase = rng.uniform(60.0, 180.0, n), rng.uniform(0, 2 * np.pi, n)
    out = np.zeros((len(days), len(lat), len(lon)))
    for t, day in enumerate(days):
        c_lat = centre[:, 0] + north * day / KM_PER_DEG
        c_lon = centre[:, 1] - speed * day / (KM_PER_DEG * np.cos(np.radians(c_lat)))
        for k in range(n):
            dlon = (lon2 - c_lon[k] + span_lon / 2) % span_lon - span_lon / 2   # periodic in the basin
            r2 = ((lat2 - c_lat[k]) ** 2 + (dlon * coslat) ** 2) * KM_PER_DEG**2
            pulse = 0.75 + 0.25 * np.sin(2 * np.pi * day / period[k] + phase[k])
            out[t] += amp[k] * pulse * np.exp(-r2 / (2 * radius_km[k] ** 2))
    return out


def front_field(lat: np.ndarray, lon: np.ndarray, days: np.ndarray, cfg, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W) in [-1, 1]: +1 on the front's equatorward side, a tanh across a line that
    meanders (wavelength and phase speed in km and days) through the middle of the basin, fading
    beyond front_zone_km: the climatology averaged the meanders into a ramp that wide, so the
    real water departs from it as a sawtooth there, and not elsewhere."""
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    front_lat = lat[0] + rng.uniform(0.35, 0.65) * (lat[-1] - lat[0])
    wavelength_deg = rng.uniform(*cfg.front_wavelength_km) / (KM_PER_DEG * np.cos(np.radians(front_lat)))
    phase = rng.uniform(0, 2 * np.pi)
    amplitude_deg, width_deg = cfg.front_meander_km / KM_PER_DEG, cfg.front_width_km / KM_PER_DEG
    zone_deg = cfg.front_zone_km / KM_PER_DEG
    out = np.empty((len(days), len(lat), len(lon)))
    for t, day in enumerate(days):
        meander = amplitude_deg * np.sin(2 * np.pi * lon2 / wavelength_deg + phase + 0.043 * day)
        across = (lat2 - front_lat - meander) * equatorward(front_lat)
        out[t] = np.tanh(across / width_deg) * np.exp(-0.5 * (across / zone_deg) ** 2)
    return out


def motion(lat: np.ndarray, lon: np.ndarray, days: np.ndarray, cfg, rng: np.random.Generator) -> Motion:
    """The displacement and shift fields (see the module docstring) for every time step."""
    deg = float(np.mean(np.diff(lat))) if lat.size > 1 else 0.1
    step = float(np.median(np.diff(days))) if len(days) > 1 else 7.0
    eddies = eddy_field(lat, lon, days, cfg, rng)
    front = front_field(lat, lon, days, cfg, rng)
    shape = (len(days), len(lat), len(lon))
    sigma = noise_sigma_px(cfg.meander_scale_km, deg, cfg.meander_days, step)
    meanders = np.stack([smooth_noise(shape, sigma, rng) for _ in range(2)])
    turbulence = smooth_noise(shape, noise_sigma_px(cfg.turbulence_scale_km, deg, 10.0, step), rng)
    scale = coriolis_scale(lat)[None, :, None]
    eta = scale * (cfg.eddy_amplitude_m * eddies + cfg.front_amplitude_m * front + cfg.turbulence_m * turbulence)
    return Motion(eta=eta, front=cfg.front_shift_deg * front, meanders=cfg.meander_shift_deg * meanders,
                  eddies=cfg.eddy_shift_deg * eddies, meander_turn_m=cfg.meander_turn_depth_m,
                  eddy_depth_m=cfg.eddy_shift_depth_m)


def surface_weather(shape: tuple[int, int, int], deg: float, step_days: float, cfg,
                    rng: np.random.Generator) -> np.ndarray:
    """(T, H, W) degC: air-sea flux anomalies confined to the mixed layer (they decouple SST from
    the water below, as the real SST-subsurface correlation says they must)."""
    sigma = noise_sigma_px(cfg.surface_scale_km, deg, cfg.surface_days, step_days)
    return cfg.surface_anomaly_c * smooth_noise(shape, sigma, rng)


def mixed_layer_depth(lat: np.ndarray, day_of_year: float, summer_m: float, winter_m: float) -> np.ndarray:
    """(H,) metres: summer_m in late summer, up to winter_m (at 45 deg and poleward, less toward
    the equator) at the end of winter. The monthly climatology already holds the seasonal mixed
    layer smeared over its 0/25/85 m nodes; this sharpens its base (synthetic.mixed_layer_map)."""
    southern = lat < 0
    phase = np.where(southern, day_of_year - 15.0, day_of_year - 197.0)  # winter peaks mid-Jul / mid-Jan
    winter = 0.5 * (1 - np.cos(2 * np.pi * phase / 365.25))
    return summer_m + (winter_m - summer_m) * winter * np.minimum(np.abs(lat) / 45.0, 1.0)
