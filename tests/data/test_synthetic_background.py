"""No invented water: below 500 m the synthetic ocean stays inside the climatology's wet range.

Issue 16: the old fill carried a 4-degree shelf column's 17 degC water down to the abyss under
southern Africa. The check: at every level below 500 m, the ocean without its motion (eddies,
fronts, meanders off) lies inside the [min, max] of the climatology's wet cells at the bracketing
nodes in the region, and the full ocean inside that range widened by its own motion signal (the
largest |y - y_calm| at that level), which must itself stay small at depth.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from depthdif.data import schema as S
from depthdif.data.climatology import load_climatology
from depthdif.data.synthetic import SynthConfig, synthesize

CALM = dict(eddy_amplitude_m=0.0, front_amplitude_m=0.0, turbulence_m=0.0, eddy_shift_deg=0.0,
            front_shift_deg=0.0, meander_shift_deg=0.0)
QUICKSTART = Path(__file__).resolve().parents[2] / "studies" / "quickstart.yaml"
OLD_DEFAULT_REGION = dict(lat_range=(-45.0, -25.0), lon_range=(15.0, 35.0))  # overlaps southern Africa


def quickstart_config() -> SynthConfig:
    """The store `depthdif study run studies/quickstart.yaml` synthesizes (its data block)."""
    block = yaml.safe_load(QUICKSTART.read_text())["data"]["synthetic"]
    return SynthConfig(**block)


def small(**kw) -> SynthConfig:
    base = dict(nlat=40, nlon=40, ntime=2, n_levels=50, patch_size=16, stride=16, time_step_days=90)
    return SynthConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def clim():
    return load_climatology()


def wet_range_at(clim, cfg: SynthConfig, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D,) range of the wet climatology at the two nodes bracketing each level."""
    lo, hi = clim.wet_range(cfg.lat_range, cfg.lon_range, margin_cells=0)
    j = np.clip(np.searchsorted(clim.depth, depth), 1, clim.depth.size - 1)
    return np.minimum(lo[j - 1], lo[j]), np.maximum(hi[j - 1], hi[j])


@pytest.mark.parametrize("cfg", [small(), small(**OLD_DEFAULT_REGION), quickstart_config()],
                         ids=["default-region", "old-default-over-africa", "quickstart"])
def test_deep_water_stays_in_the_wet_range(cfg, clim):
    ds = synthesize(cfg, clim, progress=False)[0]
    calm = synthesize(dataclasses.replace(cfg, **CALM), clim, progress=False)[0]
    depth = ds["depth"].values
    lo, hi = wet_range_at(clim, cfg, depth)
    y, y0 = ds[S.Y].values, calm[S.Y].values
    deep = np.flatnonzero(depth > 500)
    assert deep.size >= 2
    for k in deep:
        if not np.isfinite(y0[:, k]).any():
            continue  # a level below every floor of a small basin
        assert np.nanmin(y0[:, k]) >= lo[k] - 1e-3 and np.nanmax(y0[:, k]) <= hi[k] + 1e-3, depth[k]
        signal = np.nanmax(np.abs(y[:, k] - y0[:, k]))
        assert signal < (6.0 if depth[k] < 1000 else 2.5), (depth[k], signal)
        assert lo[k] - signal <= np.nanmin(y[:, k]) and np.nanmax(y[:, k]) <= hi[k] + signal


def test_no_warm_block_under_southern_africa(clim):
    """The issue's column: 34 S 22 E read 17.3 degC at 1942 m; near there it is now ~2.6 degC."""
    cfg = dataclasses.replace(quickstart_config(), **OLD_DEFAULT_REGION)
    ds = synthesize(cfg, clim, progress=False)[0]
    y = ds[S.Y].sel(depth=1941.89, method="nearest").values
    near = (np.abs(ds["lat"].values + 34)[:, None] <= 3) & (np.abs(ds["lon"].values - 22)[None] <= 3)
    assert np.nanmax(y[:, near]) < 4.0 and np.nanmax(y) < 4.0
    assert ds[S.LAND].values[near].any()  # the real coast of Africa is land


def test_default_basin_is_open_ocean_with_its_coast_facing_africa():
    cfg = small(ntime=1)
    ds = synthesize(cfg, progress=False)[0]
    land = ds[S.LAND].values
    assert land[-4:].mean() > 0.5 > land[:4].mean()   # north rows (Africa's side) are land
    assert land.mean() < 0.3
