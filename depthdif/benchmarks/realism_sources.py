"""The profile sets the realism benchmark compares: real Argo floats and their synthetic twins.

Real: each Argo float in ../shared/data/argo (ERDDAP NetCDF) and the multi-profile GDAC file in
../shared/data/argo_gdac, read by the same code as `depthdif data ingest` (QC 1/2, adjusted values,
TEOS-10 potential temperature, interpolation to the GLORYS levels inside the measured range).

Twin: the synthetic ocean sampled where and when each real profile was taken. Profiles of one
float in one calendar month share one synthetic basin of the default store's size (20 x 20 deg)
centred on them, stepped every 7 days like the default store from the month's first profile, so
pairs keep their real separations in space and time; other floats and months get independent
basins (another seed), as their real counterparts are hundreds of km or weeks apart. Each
synthetic column keeps only the levels its real profile measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depthdif.benchmarks.realism_metrics import ProfileSet
from depthdif.data import schema as S

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
ARGO_FILES = {  # set name -> files (one float each)
    "Southern Ocean 57-51S": [SHARED / "argo" / "argo_erddap_14d54da780fdc3c2.nc"],
    "Agulhas Return 49-39S": [SHARED / "argo" / "argo_erddap_e10c98822ed9f752.nc"],
    "tropical Indian 14-9S": [SHARED / "argo_gdac" / "5900865_prof.nc"],
}
MAX_DEPTH_M = 2000.0
TWIN_SPAN_DEG = 20.0
TWIN_STEP_DAYS = 7


def real_levels() -> np.ndarray:
    return S.GLORYS_DEPTHS_M[S.GLORYS_DEPTHS_M <= MAX_DEPTH_M]


def real_argo(name: str, files: list[Path]) -> ProfileSet:
    """One set of real profiles on the GLORYS levels down to 2000 m."""
    from depthdif.data.ingest.argo import read_argo
    from depthdif.data.ingest.vertical import drop_duplicate_profiles, profiles_on_levels

    levels = real_levels()
    table = drop_duplicate_profiles(profiles_on_levels(read_argo(files), levels))
    table = table.sort_values("time").reset_index(drop=True)
    group = table["platform"].astype("category").cat.codes.to_numpy(np.int64)
    return ProfileSet(name, table["lat"].to_numpy(float), table["lon"].to_numpy(float),
                      table["time"].to_numpy("datetime64[ns]"), group, levels,
                      np.stack(table["temp"].to_numpy()).astype(np.float64))


MODEL_FILE = SHARED / "model_fields" / "atlantic_profiles_iris.nc"
MODEL_NAME = "equatorial Atlantic reanalysis 10-2S"


def model_columns(path: Path = MODEL_FILE) -> ProfileSet:
    """The reanalysis' 48 columns (1.7 x 5 deg grid, Dec 1984; kelvin) as one set of profiles.
    The other model file (a 4-km Norwegian shelf, <= 319 m on terrain-following levels) does not
    fit a 20-degree open-ocean basin and is not used."""
    import xarray as xr

    with xr.open_dataset(path) as ds:
        theta = ds["theta"].transpose("depth", "lat", "lon").values.astype(float)
        depth, lat, lon = ds["depth"].values.astype(float), ds["lat"].values, ds["lon"].values
        when = np.datetime64(str(ds["time"].values)[:10], "ns") if "time" in ds.coords else np.datetime64("1984-12-15", "ns")
    celsius = theta - 273.15 if np.nanmedian(theta) > 100 else theta
    la, lo = np.meshgrid(lat, (lon + 180) % 360 - 180, indexing="ij")
    columns = celsius.reshape(len(depth), -1).T
    levels = real_levels()
    temp = np.stack([np.interp(levels, depth, c, left=np.nan, right=np.nan) for c in columns])
    n = temp.shape[0]
    return ProfileSet(MODEL_NAME, la.ravel(), lo.ravel(), np.full(n, when), np.zeros(n, np.int64), levels, temp)


def real_sets() -> list[ProfileSet]:
    """The real sets whose files are present (a checkout without ../shared gets none)."""
    sets = [real_argo(name, files) for name, files in ARGO_FILES.items() if all(f.is_file() for f in files)]
    return sets + ([model_columns()] if MODEL_FILE.is_file() else [])


def pool(sets: list[ProfileSet], name: str) -> ProfileSet:
    """Several sets as one, their groups kept apart."""
    parts, offset = [], 0
    for one in sets:
        parts.append(ProfileSet(name, one.lat, one.lon, one.time, one.group + offset, one.depth, one.temp))
        offset += int(one.group.max()) + 1
    cat = lambda attr: np.concatenate([getattr(p, attr) for p in parts])  # noqa: E731
    return ProfileSet(name, cat("lat"), cat("lon"), cat("time"), cat("group"), parts[0].depth, cat("temp"))


def twins(real: ProfileSet, overrides: dict | None = None, size: int = 128, seeds: int = 2) -> ProfileSet:
    """`seeds` independent twins stacked as one set (groups = float x seed): less sampling noise
    on the synthetic side than the single real realization has."""
    parts = [twin(real, overrides, size, seed) for seed in range(seeds)]
    ngroup = int(real.group.max()) + 1
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    group = np.concatenate([p.group + k * ngroup for k, p in enumerate(parts)])
    return ProfileSet(parts[0].name, cat("lat"), cat("lon"), cat("time"), group, real.depth, cat("temp"))


def twin(real: ProfileSet, overrides: dict | None = None, size: int = 128, seed: int = 0) -> ProfileSet:
    """Synthetic columns at the real profiles' positions and times (see the module docstring)."""
    temp = np.full_like(real.temp, np.nan)
    month = np.asarray(real.time, dtype="datetime64[M]")
    keys = sorted(set(zip(real.group.tolist(), month.tolist())))
    for k, (group, when) in enumerate(keys):
        rows = np.flatnonzero((real.group == group) & (month == np.datetime64(when, "M")))
        temp[rows] = _twin_columns(real, rows, overrides or {}, size, seed * 100_003 + k)
    return ProfileSet(f"{real.name} (synthetic twin)", real.lat, real.lon, real.time, real.group,
                      real.depth, np.where(np.isfinite(real.temp), temp, np.nan))


def _twin_columns(real: ProfileSet, rows: np.ndarray, overrides: dict, size: int, seed: int) -> np.ndarray:
    from depthdif.data.profiles import grid_cells, time_steps
    from depthdif.data.synthetic import SynthConfig, synthesize

    # The profiles sit at a random place in their basin (not always at its centre, where the front is).
    rng = np.random.default_rng(seed)
    extent = max(np.ptp(real.lat[rows]), np.ptp(real.lon[rows]))
    span = max(TWIN_SPAN_DEG, extent + 4.0)   # a set spread wider than the default basin (model grid)
    jitter = float(np.clip((span / 2 - extent / 2 - 2.0) / span, 0.0, 0.35))  # keep 2 deg off the edges
    lat0 = float(np.clip(real.lat[rows].mean() + rng.uniform(-jitter, jitter) * span, -78 + span / 2, 78 - span / 2))
    lon0 = float(real.lon[rows].mean() + rng.uniform(-jitter, jitter) * span)
    days = np.asarray(real.time[rows], dtype="datetime64[D]")
    ntime = int((days.max() - days.min()).astype(int) // TWIN_STEP_DAYS) + 2
    half = span / 2
    cfg = SynthConfig(nlat=size, nlon=size, ntime=ntime, n_levels=len(S.GLORYS_DEPTHS_M), patch_size=16,
                      stride=16, obs_fraction=0.001, seed=seed, lat_range=(lat0 - half, lat0 + half),
                      lon_range=(lon0 - half, lon0 + half), start=str(days.min()),
                      time_step_days=TWIN_STEP_DAYS, **overrides)
    ds, _ = synthesize(cfg, progress=False)
    iy, ix = grid_cells(real.lat[rows], real.lon[rows], ds["lat"].values, ds["lon"].values)
    it = time_steps(real.time[rows], ds["time"].values, max_gap_days=TWIN_STEP_DAYS)
    y = ds[S.Y].values
    depth = ds["depth"].values
    out = np.full((rows.size, real.depth.size), np.nan)
    for n, (t, r, c) in enumerate(zip(it, iy, ix)):
        if min(t, r, c) >= 0:
            out[n] = np.interp(real.depth, depth, y[t, :, r, c], left=np.nan, right=np.nan)
    return out
