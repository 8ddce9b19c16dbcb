"""Fixtures for the data-core tests: a small hand-made dataset in the store's conventions."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from depthdif.data import schema as S


def build_dataset(ntime: int = 3, n_levels: int = 4, h: int = 32, w: int = 32, *, target: bool = True,
                  seed: int = 0) -> xr.Dataset:
    """Known values: y = 20 - 0.01 depth + small noise; a land strip; a sea floor at 1000 m on the
    right half; a few observed columns copied from y."""
    rng = np.random.default_rng(seed)
    depth = np.array([1.0, 50.0, 500.0, 2000.0][:n_levels] if n_levels <= 4 else np.linspace(1, 3000, n_levels))
    land = np.zeros((h, w), dtype=bool)
    land[:, :4] = True
    floor = np.where(np.arange(w)[None, :] >= w // 2, 1000.0, 4000.0) * np.ones((h, 1))
    valid = (depth[:, None, None] < floor[None]) & ~land[None]
    y = (20 - 0.01 * depth[:, None, None] + rng.normal(0, 0.5, (ntime, n_levels, h, w))).astype(np.float32)
    y_valid = np.broadcast_to(valid, y.shape).copy()
    y = np.where(y_valid, y, np.nan).astype(np.float32)
    x_valid = np.zeros_like(y_valid)
    cols = rng.integers(0, h * w, (ntime, 12))
    for t in range(ntime):
        iy, ix = np.divmod(cols[t], w)
        x_valid[t, :, iy, ix] = y_valid[t, :, iy, ix]
    x = np.where(x_valid, y, np.nan).astype(np.float32)
    eo = np.where(~land, y[:, :1] + 0.1, np.nan).astype(np.float32)
    eo_valid = np.broadcast_to(~land, eo.shape).copy()
    data = {
        S.X: (S.DIMS_3D, x, {"units": "degC"}), S.X_MASK: (S.DIMS_3D, x_valid),
        S.EO: (S.DIMS_EO, eo, {"channel_units": "degC"}), S.EO_MASK: (S.DIMS_EO, eo_valid),
        S.LAND: (S.DIMS_2D, land),
    }
    if target:
        data[S.Y] = (S.DIMS_3D, y, {"units": "degC"})
        data[S.Y_MASK] = (S.DIMS_3D, y_valid)
    times = np.datetime64("2021-03-01", "ns") + np.arange(ntime) * np.timedelta64(7, "D")
    return xr.Dataset(data, coords={
        "time": times, "depth": ("depth", depth, {"units": "m"}),
        "lat": np.linspace(-40, -37, h), "lon": np.linspace(10, 13, w), "eo_channel": ["sst"]})


@pytest.fixture
def small_dataset():
    """Factory: small_dataset(ntime=..., target=False, ...) -> xr.Dataset."""
    return build_dataset
