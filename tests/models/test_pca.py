"""PCA codec: EM fit with missing levels, exact full-width round trip, gappy least squares."""

from __future__ import annotations

import pytest
import torch

from depthdif.models.pca import PCACodec, column_rows, fit_gaussian


def gaussian_rows(n: int, n_features: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows from a known correlated Gaussian: (rows, true mean, true covariance)."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(n_features, n_features, generator=g, dtype=torch.float64) / n_features**0.5
    mean = torch.linspace(-1, 1, n_features, dtype=torch.float64)
    rows = mean + torch.randn(n, n_features, generator=g, dtype=torch.float64) @ mixing.T
    return rows, mean, mixing @ mixing.T


def prefix_masks(n: int, n_features: int, seed: int = 1) -> torch.Tensor:
    """Valid levels from the top down to a random floor (at least 2): the pattern of a gridded target."""
    floor = torch.randint(2, n_features + 1, (n,), generator=torch.Generator().manual_seed(seed))
    return torch.arange(n_features)[None] < floor[:, None]


def as_fields(rows: torch.Tensor, valid: torch.Tensor, side: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, F) rows → (N / side², F, side, side) fields, the inverse of `column_rows` at s = 1."""
    n, f = rows.shape
    field = rows.float().reshape(n // side**2, side, side, f).permute(0, 3, 1, 2)
    return field, valid.float().reshape(n // side**2, side, side, f).permute(0, 3, 1, 2)


def test_complete_rows_give_the_sample_statistics_in_one_step():
    rows, _, _ = gaussian_rows(500, 6)
    fit = fit_gaussian(rows, torch.ones_like(rows, dtype=torch.bool))
    centred = rows - rows.mean(dim=0)
    assert torch.allclose(fit.mean, rows.mean(dim=0))
    assert torch.allclose(fit.covariance, centred.T @ centred / len(rows), atol=1e-10)
    assert fit.iterations == 2  # the second iteration only confirms convergence


def test_em_recovers_the_covariance_when_the_deep_levels_are_missing():
    """Columns cut by a floor: no row is complete at all 6 levels for most of them; EM still finds Σ."""
    rows, mean, covariance = gaussian_rows(20_000, 6)
    valid = prefix_masks(len(rows), 6)
    fit = fit_gaussian(rows, valid)
    assert (fit.mean - mean).abs().max() < 0.05
    assert (fit.covariance - covariance).abs().max() < 0.05 * covariance.abs().max()


@pytest.mark.parametrize("downsample", [1, 2])
def test_full_width_round_trip_is_exact(downsample):
    rows, _, _ = gaussian_rows(16 * 16 * 4, 5)
    field, _ = as_fields(rows, torch.ones_like(rows, dtype=torch.bool), side=16)
    values, valid = column_rows(field, torch.ones_like(field), downsample)
    fit = fit_gaussian(values, valid)
    width = 5 * downsample**2
    codec = PCACodec.from_fit(fit, 5, width, spatial_downsample=downsample)
    z = codec.encode(field, torch.ones_like(field))
    assert z.shape == (4, width, 16 // downsample, 16 // downsample)
    assert torch.allclose(codec.decode(z), field, atol=1e-5)
    # whitened: unit variance per channel on the fitted columns
    assert torch.allclose(z.std(dim=(0, 2, 3), correction=0), torch.ones(width), atol=1e-3)


def test_partial_columns_are_solved_on_their_valid_levels_only():
    """Rank-2 columns: any column with >= 2 valid levels is recovered exactly at EVERY level."""
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(8, 2, generator=g, dtype=torch.float64)
    rows = torch.randn(4096, 2, generator=g, dtype=torch.float64) @ basis.T
    full = torch.ones_like(rows, dtype=torch.bool)
    codec = PCACodec.from_fit(fit_gaussian(rows, full), 8, 2)
    valid = prefix_masks(len(rows), 8)
    field, mask = as_fields(rows, valid)
    garbage = field + (1 - mask) * 100.0
    filled = codec.gap_fill(garbage, mask)
    assert torch.equal(filled * mask, field * mask)  # valid entries untouched
    assert torch.allclose(filled, field, atol=1e-3)  # missing ones: the least-squares estimate
    assert torch.allclose(codec(garbage, mask), field, atol=1e-3)
    land = torch.zeros_like(mask)
    assert torch.allclose(codec.gap_fill(garbage, land), codec.mean.reshape(1, -1, 1, 1).expand_as(field))


def test_reconstruction_error_falls_with_width():
    rows, _, _ = gaussian_rows(4096, 10)
    valid = prefix_masks(len(rows), 10)
    fit = fit_gaussian(rows, valid)
    field, mask = as_fields(rows, valid)
    errors = []
    for width in range(1, 11):
        codec = PCACodec.from_fit(fit, 10, width)
        errors.append(float(((codec(field, mask) - field) ** 2 * mask).sum() / mask.sum()))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-8


def test_width_beyond_the_features_is_rejected():
    with pytest.raises(ValueError, match=r"latent_channels=9 must be in \[1, 8\]"):
        PCACodec(8, 9)
    assert PCACodec(8, 9, spatial_downsample=2).latent_channels == 9  # 8 levels x 4 pixels
