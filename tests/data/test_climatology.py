"""The Levitus background: dry cells get water from the same depth first, point and grid reads agree."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.data.climatology import (
    Climatology, background_field, background_points, fill_dry_cells, floor_at, load_climatology,
)


def shelf_next_to_ocean() -> np.ndarray:
    """(1 month, 3 levels, 5 lat, 9 lon): a warm shelf column (wet only at the top) at (2, 4),
    surrounded by an open ocean that cools with depth, and a dry continent in the west."""
    theta = np.empty((1, 3, 5, 9))
    theta[0, 0], theta[0, 1], theta[0, 2] = 18.0, 8.0, 2.0
    theta[0, 0, 2, 4] = 20.0
    theta[0, 1:, 2, 4] = np.nan          # below the shelf floor
    theta[0, :, :, :2] = np.nan          # land: dry at every depth
    return theta


def test_a_shelf_column_takes_deep_water_from_its_neighbours_not_its_own_surface():
    filled = fill_dry_cells(shelf_next_to_ocean())
    assert filled[0, 0, 2, 4] == 20.0                  # wet cells are untouched
    np.testing.assert_array_equal(filled[0, 1:, 2, 4], [8.0, 2.0])   # same depth, not 20 (issue 16)
    np.testing.assert_array_equal(filled[0, :, 3, 0], [18.0, 8.0, 2.0])  # the continent too
    assert np.isfinite(filled).all()


def test_a_shelf_far_from_deep_water_keeps_its_own_deepest_value():
    theta = np.full((1, 3, 3, 21), np.nan)
    theta[0, 0] = 15.0
    theta[0, :, :, 0] = [[20.0], [8.0], [2.0]]       # deep water only at the far west edge
    theta[0, 0, :, 0] = 20.0
    filled = fill_dry_cells(theta, reach=2.0)
    assert filled[0, 2, 1, 10] == 15.0                 # 10 cells from deep water: fill down
    assert filled[0, 2, 1, 1] == 2.0                   # 1 cell away: the neighbour at that depth


def test_grid_and_point_reads_agree_and_the_shift_reads_another_latitude():
    clim = load_climatology()
    lat, lon = np.linspace(-50, -40, 4), np.linspace(20, 30, 3)
    grid = background_field(clim, lat, lon, 100.0)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    points = background_points(clim, la.ravel(), lo.ravel(), np.full(la.size, 100.0))
    np.testing.assert_allclose(points.T.reshape(grid.shape), grid, atol=1e-9)
    shifted = background_field(clim, lat, lon, 100.0, lat_shift=np.full((clim.depth.size, 4, 3), 2.0))
    np.testing.assert_allclose(shifted, background_field(clim, lat + 2.0, lon, 100.0), atol=1e-9)


def test_floor_and_wet_range_come_from_the_real_file():
    clim = load_climatology()
    assert np.isfinite(clim.filled).all() and clim.floor_m.shape == clim.theta.shape[2:]
    floor = floor_at(clim, np.array([-30.0, -50.0]), np.array([25.0]))  # South Africa, open ocean
    assert floor[0, 0] <= 0 < 3000 < floor[1, 0]
    lo, hi = clim.wet_range((-55, -35), (20, 40))
    assert (lo <= hi).all() and hi[clim.depth.tolist().index(2030.0)] < 4.0


def test_a_file_without_bathymetry_gets_a_floor_from_its_wet_levels():
    theta = shelf_next_to_ocean()
    clim = Climatology(np.array([0.0, 100.0, 1000.0]), np.linspace(-8, 8, 5), np.arange(0, 360, 40.0),
                       theta, "test")
    assert clim.floor_m[2, 4] == pytest.approx(50.0)   # wet at the surface node only
    assert clim.floor_m[2, 0] == 0.0 and clim.floor_m[0, 5] > 1000.0
