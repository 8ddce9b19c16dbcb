"""PCA (EOF) codec of depth columns: the linear floor every learned code is measured against.

Issue 17: a learned depth-band code is worth its cost only if it beats the simplest linear code at
the same width. This module is that code, usable directly as `ae.kind: pca` and as the starting
point of the learned autoencoder (`DepthBandAutoencoder.init_from_pca`).

Columns: with `spatial_downsample` s, a "column" is an s x s block of depth columns, i.e. the
D·s² values `pixel_unshuffle` stacks at one latent pixel; s = 1 is a plain depth profile.

Fit (`fit_gaussian`): almost no column is complete (the sea floor cuts the deep levels: on the
50-level synthetic store no column reaches the last level), so "fit on complete columns" would fit
on nothing. Instead the mean and covariance are the Gaussian maximum-likelihood estimates with
missing entries, by EM (Little & Rubin, *Statistical Analysis with Missing Data*, ch. 11): each
E-step fills a column's missing levels with their conditional mean given its valid levels and adds
their conditional covariance. Columns are grouped by mask pattern (prefixes of the depth axis for
a gridded target), so each pattern costs one solve per iteration. The EOFs are the eigenvectors of
that covariance; every width is a truncation of the same fit.

Encode (`PCACodec.encode(field, mask)`): invalid entries are first filled with the gappy-EOF
estimate (Everson & Sirovich 1995): c = argmin |M (r - B c)|² + σ² cᵀ Λ⁻¹ c, the MAP code of the
probabilistic PCA model (Tipping & Bishop 1999) with prior variances Λ (the kept eigenvalues) and
noise σ² (the mean discarded eigenvalue), solved per column (L x L). The filled column is then
projected: z = Λ^(-1/2) Bᵀ (y_filled - μ), whitened so diffusion sees unit-variance latents. A
complete column is never changed by the fill, so at full width decode(encode(y)) = y.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SUPPORTED_DOWNSAMPLE = (1, 2, 4)
RIDGE_FLOOR = 1e-6  # σ² never drops below this fraction of the mean kept variance (solvable at full width)


def to_columns(field: Tensor, s: int) -> Tensor:
    """(B, D, H, W) → (B, D·s², H/s, W/s): each latent pixel's s x s block as one vector."""
    return field if s == 1 else F.pixel_unshuffle(field, s)


def from_columns(columns: Tensor, s: int) -> Tensor:
    return columns if s == 1 else F.pixel_shuffle(columns, s)


def column_rows(field: Tensor, mask: Tensor, s: int = 1) -> tuple[Tensor, Tensor]:
    """Rows (N, D·s²) of values and validity (bool) of every column of a batch."""
    values, valid = to_columns(field, s), to_columns(mask.to(field.dtype), s) > 0
    n_features = values.shape[1]
    return (values.permute(0, 2, 3, 1).reshape(-1, n_features),
            valid.permute(0, 2, 3, 1).reshape(-1, n_features))


@dataclass
class GaussianFit:
    """Mean and covariance of columns (float64), from `fit_gaussian`."""

    mean: Tensor
    covariance: Tensor
    rows: int
    iterations: int


def fit_gaussian(values: Tensor, valid: Tensor, *, max_iterations: int = 50, tol: float = 1e-6,
                 max_patterns: int = 512) -> GaussianFit:
    """ML mean and covariance of rows with missing entries, by EM (module docstring).

    Rows with no valid entry are dropped. When there are more than `max_patterns` distinct mask
    patterns, only the rows of the most frequent ones are used (a bounded cost per iteration).
    """
    values, valid = values.double(), valid.bool()
    keep = valid.any(dim=1)
    values, valid = values[keep], valid[keep]
    if values.shape[0] < 2:
        raise ValueError(f"PCA fit: need at least 2 columns with a valid level, got {values.shape[0]}")
    patterns, inverse, counts = torch.unique(valid, dim=0, return_inverse=True, return_counts=True)
    if len(patterns) > max_patterns:
        frequent = torch.argsort(counts, descending=True)[:max_patterns]
        rows = torch.isin(inverse, frequent)
        values, valid, inverse = values[rows], valid[rows], inverse[rows]
    groups = [(patterns[p], values[inverse == p]) for p in inverse.unique().tolist()]
    n_rows = values.shape[0]
    counts = valid.sum(dim=0).clamp_min(1)
    mean = (values * valid).sum(dim=0) / counts
    variance = (((values - mean) * valid) ** 2).sum(dim=0) / counts
    covariance = torch.diag(variance.clamp_min(1e-12))
    for iteration in range(1, max_iterations + 1):
        total, outer = torch.zeros_like(mean), torch.zeros_like(covariance)
        for observed, rows in groups:
            filled, conditional = _conditional_fill(rows, observed, mean, covariance)
            total += filled.sum(dim=0)
            outer += filled.T @ filled
            if conditional is not None:
                missing = ~observed
                outer[missing.nonzero(), missing.nonzero().T] += rows.shape[0] * conditional
        new_mean = total / n_rows
        new_covariance = outer / n_rows - torch.outer(new_mean, new_mean)
        change = (new_covariance - covariance).abs().max() / new_covariance.abs().max().clamp_min(1e-12)
        mean, covariance = new_mean, (new_covariance + new_covariance.T) / 2
        if change < tol:
            break
    return GaussianFit(mean, covariance, n_rows, iteration)


def _conditional_fill(rows: Tensor, observed: Tensor, mean: Tensor,
                      covariance: Tensor) -> tuple[Tensor, Tensor | None]:
    """E-step for one mask pattern: missing entries → conditional mean; their conditional covariance."""
    missing = ~observed
    if not missing.any():
        return rows, None
    o, u = observed.nonzero().squeeze(1), missing.nonzero().squeeze(1)
    c_oo = covariance[o][:, o] + 1e-9 * torch.eye(len(o), dtype=covariance.dtype)
    gain = torch.linalg.solve(c_oo, covariance[o][:, u])  # (o, u)
    filled = rows.clone()
    filled[:, u] = mean[u] + (rows[:, o] - mean[o]) @ gain
    conditional = covariance[u][:, u] - covariance[u][:, o] @ gain
    return filled, conditional


def distinct_rows(rows: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct rows of a bool matrix and each row's index among them.

    Fast path: rows are keyed by a fixed random projection (a 1-D unique, ~100x faster than
    `torch.unique(dim=0)`); the result is verified exactly and the slow path taken on a collision."""
    weights = torch.rand(rows.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    keys, inverse = torch.unique(rows.double() @ weights.to(rows.device), return_inverse=True)
    first = torch.empty(len(keys), dtype=torch.long, device=rows.device)
    first.scatter_(0, inverse, torch.arange(rows.shape[0], device=rows.device))
    patterns = rows[first]
    if torch.equal(patterns[inverse], rows):
        return patterns, inverse
    return torch.unique(rows, dim=0, return_inverse=True)


def principal_components(covariance: Tensor) -> tuple[Tensor, Tensor]:
    """(variances descending, components as columns) of a symmetric covariance."""
    variances, components = torch.linalg.eigh(covariance)
    return variances.flip(0).clamp_min(0.0), components.flip(1)


class PCACodec(nn.Module):
    """`encode(field, mask) -> z` (B, L, H/s, W/s), whitened EOF scores; `decode(z) -> field`.

    Built unfitted (a truncation to the first L features, unit variances) so that a checkpoint or
    export can be loaded into it; `load_fit` (or `from_fit`) sets the EOFs. Nothing here trains.
    """

    def __init__(self, in_channels: int, latent_channels: int, *, spatial_downsample: int = 1):
        super().__init__()
        if spatial_downsample not in SUPPORTED_DOWNSAMPLE:
            raise ValueError(f"spatial_downsample must be one of {list(SUPPORTED_DOWNSAMPLE)}, "
                             f"got {spatial_downsample}")
        n_features = in_channels * spatial_downsample**2
        if not 1 <= latent_channels <= n_features:
            raise ValueError(f"PCA codec: latent_channels={latent_channels} must be in [1, {n_features}] "
                             f"({in_channels} levels x {spatial_downsample}² pixels per latent pixel)")
        self.in_channels, self.latent_channels = in_channels, latent_channels
        self.spatial_downsample = spatial_downsample
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("components", torch.eye(n_features, latent_channels))
        self.register_buffer("variances", torch.ones(latent_channels))
        self.register_buffer("noise_variance", torch.tensor(1.0))

    @classmethod
    def from_fit(cls, fit: GaussianFit, in_channels: int, latent_channels: int,
                 spatial_downsample: int = 1) -> "PCACodec":
        codec = cls(in_channels, latent_channels, spatial_downsample=spatial_downsample)
        codec.load_fit(fit)
        return codec

    @torch.no_grad()
    def load_fit(self, fit: GaussianFit) -> None:
        if fit.mean.numel() != self.mean.numel():
            raise ValueError(f"PCA fit has {fit.mean.numel()} features, the codec {self.mean.numel()}")
        variances, components = principal_components(fit.covariance)
        kept, dropped = variances[: self.latent_channels], variances[self.latent_channels:]
        floor = RIDGE_FLOOR * float(kept.mean().clamp_min(1e-12))
        self.mean.copy_(fit.mean)
        self.components.copy_(components[:, : self.latent_channels])
        self.variances.copy_(kept.clamp_min(floor))
        self.noise_variance.fill_(max(float(dropped.mean()) if dropped.numel() else 0.0, floor))

    # --- nothing trains; the latent system's freeze modes ask for these ------------------------
    @property
    def encoder_parts(self) -> tuple[nn.Module, ...]:
        return ()

    @property
    def decoder_parts(self) -> tuple[nn.Module, ...]:
        return ()

    def check_input(self, field: Tensor) -> None:
        """Fail early, naming both numbers, when the level count or grid does not fit."""
        if field.ndim != 4 or field.shape[1] != self.in_channels:
            raise ValueError(f"codec expects (B, {self.in_channels}, H, W) depth fields, "
                             f"got shape {tuple(field.shape)}")
        s = self.spatial_downsample
        if field.shape[-2] % s or field.shape[-1] % s:
            raise ValueError(f"patch size {tuple(field.shape[-2:])} is not divisible by "
                             f"spatial_downsample={s}")

    # --- the codec ---------------------------------------------------------------------------
    def gap_fill(self, field: Tensor, mask: Tensor | None) -> Tensor:
        """`field` with its invalid entries replaced by the gappy-EOF estimate (valid ones untouched)."""
        self.check_input(field)
        if mask is None:
            return field
        s = self.spatial_downsample
        values, valid = to_columns(field, s), to_columns(mask.to(field.dtype), s)
        filled = torch.where(valid > 0, values, self._gappy_estimate(values, valid))
        return from_columns(filled, s)

    def _gappy_estimate(self, values: Tensor, valid: Tensor) -> Tensor:
        """μ + B c per column, c the MAP code from the valid entries (0 where nothing is valid).

        Columns share few mask patterns (prefixes of the depth axis), so the L x L system is
        formed and inverted once per pattern, then applied to every column of that pattern."""
        b, n_features, h, w = values.shape
        rows = values.permute(0, 2, 3, 1).reshape(-1, n_features)
        observed = valid.permute(0, 2, 3, 1).reshape(-1, n_features) > 0
        mean, basis = self.mean.to(values.dtype), self.components.to(values.dtype)
        patterns, inverse = distinct_rows(observed)
        ridge = torch.diag(self.noise_variance / self.variances).to(values.dtype)
        gram = torch.einsum("pf,fl,fk->plk", patterns.to(values.dtype), basis, basis) + ridge
        rhs = ((rows - mean) * observed) @ basis  # Bᵀ M r per column
        code = torch.einsum("nlk,nk->nl", torch.linalg.inv(gram)[inverse], rhs)
        estimate = mean + code @ basis.T
        return estimate.reshape(b, h, w, n_features).permute(0, 3, 1, 2)

    def scores(self, filled: Tensor) -> Tensor:
        """Whitened EOF scores (B, L, h, w) of complete (already filled) fields."""
        columns = to_columns(filled, self.spatial_downsample)
        projected = torch.einsum("bfhw,fl->blhw", columns - self.mean.reshape(1, -1, 1, 1), self.components)
        return projected / self.variances.sqrt().reshape(1, -1, 1, 1)

    def encode(self, field: Tensor, mask: Tensor | None = None) -> Tensor:
        """Normalized depth field (B, D, H, W) → whitened latent (B, L, H/s, W/s)."""
        return self.scores(self.gap_fill(field, mask))

    def decode(self, z: Tensor) -> Tensor:
        """Whitened latent (B, L, h, w) → normalized depth field (B, D, h·s, w·s), all levels."""
        if z.ndim != 4 or z.shape[1] != self.latent_channels:
            raise ValueError(f"decoder expects (B, {self.latent_channels}, h, w) latents, "
                             f"got shape {tuple(z.shape)}")
        codes = z * self.variances.sqrt().reshape(1, -1, 1, 1)
        columns = torch.einsum("blhw,fl->bfhw", codes, self.components) + self.mean.reshape(1, -1, 1, 1)
        return from_columns(columns, self.spatial_downsample)

    def forward(self, field: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(field, mask))
