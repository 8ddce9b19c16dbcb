"""The realism benchmark's inputs: real Argo read like ingest does, and its synthetic twin."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.benchmarks import realism_sources as sources


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # levels no profile of the 12 reached
def test_real_float_and_its_twin_share_places_times_and_levels(shared_data):
    name, files = next(iter(sources.ARGO_FILES.items()))
    real = sources.real_argo(name, files)
    assert len(real.lat) > 80 and real.depth.max() <= 2000
    assert np.isfinite(real.temp[:, real.depth > 1500]).mean() > 0.8     # full-depth profiles
    assert (np.nanmax(real.temp, axis=1) < 10).all()                     # 57-51 S: cold water
    first = real.subset(np.arange(12))
    twin = sources.twin(first, size=32, seed=0)
    np.testing.assert_array_equal(twin.lat, first.lat)
    np.testing.assert_array_equal(twin.time, first.time)
    on_sea = np.isfinite(twin.temp).any(1)
    assert on_sea.mean() > 0.7
    np.testing.assert_array_equal(np.isfinite(twin.temp[on_sea]), np.isfinite(first.temp[on_sea]))
    # the twin is an ocean of the same region: means within a few degrees, not a copy
    diff = np.nanmean(twin.temp[on_sea] - first.temp[on_sea], axis=0)
    assert np.nanmax(np.abs(diff)) < 3.0 and not np.allclose(twin.temp[on_sea], first.temp[on_sea], equal_nan=True)
