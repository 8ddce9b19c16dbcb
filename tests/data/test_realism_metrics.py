"""The realism statistics recover known answers (depthdif/benchmarks/realism_metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.benchmarks.realism_metrics import (
    ProfileSet, anomalies, decorrelation_length, max_gradient, pair_correlations, same_month_pairs,
    sst_correlation,
)
from depthdif.data.climatology import background_points, load_climatology


def exponential_pairs(length_km: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """rho_ij and distances of pairs (< 400 km, as a float's month) from 4 independent 1-D Gaussian
    fields with correlation exp(-r / length_km)."""
    rng = np.random.default_rng(seed)
    rhos, dists = [], []
    for _ in range(4):
        x = np.sort(rng.uniform(0, 20_000, 300))
        cov = np.exp(-np.abs(x[:, None] - x[None]) / length_km)
        a = np.linalg.cholesky(cov + 1e-9 * np.eye(x.size)) @ rng.standard_normal(x.size)
        i, j = np.triu_indices(x.size, 1)
        near = np.abs(x[i] - x[j]) < 400
        rho, ok = pair_correlations(a, i[near], j[near])
        rhos.append(rho[ok])
        dists.append(np.abs(x[i] - x[j])[near][ok])
    return np.concatenate(rhos), np.concatenate(dists)


def test_decorrelation_length_of_an_exponential_field():
    """The fit recovers a known length (within sampling noise) and orders short vs long scales."""
    assert 90 < decorrelation_length(*exponential_pairs(150.0, 0)) < 220
    assert decorrelation_length(*exponential_pairs(60.0, 1)) < decorrelation_length(*exponential_pairs(300.0, 1))


def test_pairs_stay_within_one_float_and_month():
    time = np.array(["2020-01-03", "2020-01-20", "2020-02-01", "2020-01-10"], dtype="datetime64[ns]")
    ps = ProfileSet("t", np.zeros(4), np.array([0.0, 1.0, 2.0, 3.0]), time, np.array([0, 0, 0, 1]),
                    np.array([10.0]), np.zeros((4, 1)))
    i, j, r = same_month_pairs(ps)
    assert list(zip(i, j)) == [(0, 1)] and r[0] == pytest.approx(111.2, rel=0.01)


def test_steepest_gradient_and_its_depth():
    depth = np.array([10.0, 50.0, 100.0, 150.0, 300.0, 1500.0])
    temp = np.array([[20.0, 20.0, 15.0, 13.0, 10.0, 3.0]])
    grad, where = max_gradient(temp, depth)
    assert grad[0] == pytest.approx(10.0) and where[0] == pytest.approx(75.0)


def test_sst_correlation_sees_a_shared_signal_and_not_noise():
    rng = np.random.default_rng(1)
    depth = np.array([5.0, 50.0, 300.0, 1500.0])
    shared = rng.standard_normal(300)
    anom = np.stack([shared, shared, shared + 0.1 * rng.standard_normal(300), rng.standard_normal(300)], 1)
    group = np.zeros(300, np.int64)
    assert sst_correlation(anom, depth, group, (100.0, 500.0)) > 0.95
    assert abs(sst_correlation(anom, depth, group, (1000.0, 2000.0))) < 0.2


def test_the_climatology_itself_has_no_anomaly():
    clim = load_climatology()
    depth = np.array([10.0, 100.0, 1000.0])
    lat, lon = np.array([-45.0, -40.0]), np.array([25.0, 30.0])
    time = np.array(["2021-03-01", "2021-08-15"], dtype="datetime64[ns]")
    doy = np.array([59.0, 226.0])
    nodes = background_points(clim, lat, lon, doy)
    temp = np.stack([np.interp(depth, clim.depth, row) for row in nodes])
    ps = ProfileSet("clim", lat, lon, time, np.zeros(2, np.int64), depth, temp)
    np.testing.assert_allclose(anomalies(ps, clim), 0.0, atol=1e-9)
