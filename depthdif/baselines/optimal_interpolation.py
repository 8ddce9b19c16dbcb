"""Optimal interpolation (objective analysis / Gaussian-process regression) per depth level.

Per level, with background b (by default the per-depth training climatology) and observations
v at pixels o:

    analysis = b + C_go (C_oo + ν I)⁻¹ (v − b_o),   C(r) = exp(−r² / 2L²)   (Gandin 1963; Bretherton et al. 1976)

computed for a whole batch at once by `oi_analysis` (torch, any device): the baseline and the
diffusion model's background (depthdif/models/background.py) share that one implementation.

L is the correlation length scale in pixels and ν the noise-to-signal variance ratio; the signal
variance cancels from the analysis. Both are fitted PER DEPTH LEVEL on the training split by
maximizing the Gaussian marginal likelihood of the background residuals at the observed pixels
of training patches (the same kind of data the method sees at test time, so ν absorbs sensor
noise and representativeness error) over a small grid, with the signal variance profiled out:

    σ̂² = rᵀ(C + νI)⁻¹r / n,   log p(r) = −½ (n log σ̂² + log|C + νI| + n (1 + log 2π)),

summed over training patches (each patch is an independent draw). Levels without training
patches holding ≥ 2 observations take the parameters of the nearest fitted level.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from depthdif.baselines.base import Predictor, as_batch, fit_items, pixel_coordinates, shared_patterns
from depthdif.baselines.climatology import Climatology


def gaussian_correlation(squared_distance: Tensor, length_scale: Tensor | float) -> Tensor:
    """exp(−r² / 2L²); broadcasts a batch of length scales against the distances."""
    return torch.exp(-squared_distance / (2.0 * torch.as_tensor(length_scale, dtype=squared_distance.dtype) ** 2))


def log_likelihood_grid(squared_distance: Tensor, residuals: Tensor, length_scales: Tensor,
                        noise_ratios: Tensor) -> Tensor:
    """Profiled Gaussian log-likelihood of residuals (n, g) for every (L, ν): returns (nL, nν, g)."""
    n = squared_distance.shape[0]
    corr = gaussian_correlation(squared_distance, length_scales.reshape(-1, 1, 1, 1))  # (nL, 1, n, n)
    eye = torch.eye(n, dtype=squared_distance.dtype)
    chol = torch.linalg.cholesky(corr + noise_ratios.reshape(1, -1, 1, 1) * eye)  # (nL, nν, n, n)
    alpha = torch.cholesky_solve(residuals.expand(*chol.shape[:2], n, residuals.shape[1]), chol)
    quadratic = (residuals * alpha).sum(dim=-2).clamp(min=1e-300)  # (nL, nν, g)
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1, keepdim=True)
    return -0.5 * (n * torch.log(quadratic / n) + log_det + n * (1.0 + torch.log(torch.tensor(2 * torch.pi))))


def nearest_filled(values: Tensor, filled: Tensor, default: float) -> Tensor:
    """Copy each level's value from the nearest level where `filled`; `default` if none is."""
    have = torch.nonzero(filled).flatten()
    if have.numel() == 0:
        return torch.full_like(values, default)
    levels = torch.arange(values.numel())
    nearest = have[(levels.unsqueeze(1) - have.unsqueeze(0)).abs().argmin(dim=1)]
    return values[nearest]


# Entries (chunk x D x n x n) of the float64 OI systems solved at once; larger batches are chunked.
MAX_SYSTEM_ENTRIES = 2**24


def padded_observed_columns(mask: Tensor) -> tuple[Tensor, Tensor]:
    """(B, D, P) mask → (idx (B, n), valid (B, n)): each sample's observed columns (any level) first,
    in pixel order, padded to the batch maximum n; `valid` marks real (not padding) entries."""
    columns = mask.amax(dim=1) > 0
    counts = columns.sum(dim=1)
    n = int(counts.max()) if counts.numel() else 0
    order = torch.argsort((~columns).to(torch.int8), dim=1, stable=True)[:, :n]
    return order, torch.arange(n, device=mask.device) < counts.unsqueeze(1)


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """(B, m, 2), (B, n, 2) → (B, m, n) squared distances, exact for integer pixel coordinates."""
    return ((a.unsqueeze(2) - b.unsqueeze(1)) ** 2).sum(dim=-1)


def oi_weights(sq_oo: Tensor, observed: Tensor, residual: Tensor, length_scale: Tensor,
               noise_ratio: Tensor) -> Tensor:
    """α = (C_oo + ν I)⁻¹ r for every sample and level: (B, D, n).

    The n padded columns of a sample are shared by its levels; for level d only those observed at
    d (`observed` (B, D, n) = 1) take part: the others become identity rows with zero residual,
    so their α is 0 and the rest is exactly the OI system of that level's own observations."""
    corr = gaussian_correlation(sq_oo.unsqueeze(1), length_scale.reshape(1, -1, 1, 1))  # (B, D, n, n)
    pair = observed.unsqueeze(-1) * observed.unsqueeze(-2)
    diagonal = observed * noise_ratio.reshape(1, -1, 1) + (1 - observed)
    system = corr * pair + torch.diag_embed(diagonal)
    chol = torch.linalg.cholesky(system)
    return torch.cholesky_solve((residual * observed).unsqueeze(-1), chol).squeeze(-1)


def oi_analysis(background: Tensor, x: Tensor, mask: Tensor, length_scale: Tensor, noise_ratio: Tensor) -> Tensor:
    """Batched OI: background + C_go (C_oo + ν I)⁻¹ (x − background)_o, per sample and depth level.

    background, x, mask: (B, D, H, W) normalized fields and the per-level observation mask;
    length_scale (pixels) and noise_ratio: (D,). Every level of every sample is analysed with its
    own observations in one masked, padded solve (see `oi_weights`), on the device of `x`, in
    float64; the result has x's dtype. A level without observations keeps the background."""
    b = x.shape[0]
    per_sample = max(x.shape[1] * int(padded_observed_columns(mask.flatten(2))[0].shape[1]) ** 2, 1)
    chunk = max(1, MAX_SYSTEM_ENTRIES // per_sample)
    if b > chunk:
        return torch.cat([oi_analysis(background[i:i + chunk], x[i:i + chunk], mask[i:i + chunk],
                                      length_scale, noise_ratio) for i in range(0, b, chunk)])
    d, h, w = x.shape[1:]
    flat_mask = mask.reshape(b, d, h * w)
    idx, valid = padded_observed_columns(flat_mask)
    field = background.reshape(b, d, h * w).double()
    if idx.shape[1] == 0:
        return background.to(x.dtype).clone()
    take = idx.unsqueeze(1).expand(b, d, idx.shape[1])
    observed = flat_mask.gather(2, take).double() * valid.unsqueeze(1)
    residual = x.reshape(b, d, h * w).double().gather(2, take) - field.gather(2, take)
    coords = pixel_coordinates(h, w, device=x.device).expand(b, h * w, 2)
    obs_coords = coords.gather(1, idx.unsqueeze(-1).expand(b, idx.shape[1], 2))
    length = length_scale.to(device=x.device, dtype=torch.float64)
    alpha = oi_weights(squared_distances(obs_coords, obs_coords), observed, residual, length,
                       noise_ratio.to(device=x.device, dtype=torch.float64))
    sq_go = squared_distances(coords, obs_coords)  # (B, H·W, n)
    for value in torch.unique(length):  # one correlation table per distinct length scale
        levels = torch.nonzero(length == value).flatten()
        field[:, levels] += torch.einsum("bpn,bdn->bdp", gaussian_correlation(sq_go, value), alpha[:, levels])
    return field.reshape(b, d, h, w).to(x.dtype)


class OptimalInterpolation:
    """OI of the residual from a background predictor, per depth level, fitted on the train split."""

    name = "oi"

    def __init__(self, length_scales_px: Sequence[float] = (1, 2, 3, 4, 6, 8, 12, 16),
                 noise_ratios: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0),
                 background: Predictor | None = None, fit_max_samples: int = 64, seed: int = 0) -> None:
        if not length_scales_px or not noise_ratios or min(length_scales_px) <= 0 or min(noise_ratios) <= 0:
            raise ValueError(f"oi: length scales {list(length_scales_px)} and noise ratios "
                             f"{list(noise_ratios)} must be non-empty and > 0")
        self.length_grid = torch.tensor(sorted(length_scales_px), dtype=torch.float64)
        self.noise_grid = torch.tensor(sorted(noise_ratios), dtype=torch.float64)
        self.background = background if background is not None else Climatology(fit_max_samples, seed)
        self.fit_max_samples, self.seed = fit_max_samples, seed
        self.length_scale: Tensor | None = None  # (D,) pixels, fitted
        self.noise_ratio: Tensor | None = None  # (D,), fitted

    def fit(self, dataset: Sequence[dict]) -> "OptimalInterpolation":
        self.background.fit(dataset)
        score, n_patches = None, None
        for item in fit_items(dataset, self.fit_max_samples, self.seed):
            batch = as_batch(item)
            residual = self._residual(batch)[0]  # (D, H·W)
            mask = batch["x_valid_mask"][0].reshape(residual.shape)
            if score is None:
                score = torch.zeros(residual.shape[0], len(self.length_grid), len(self.noise_grid), dtype=torch.float64)
                n_patches = torch.zeros(residual.shape[0])
            coords = pixel_coordinates(*batch["x"].shape[-2:])
            for observed, levels in shared_patterns(mask):
                if observed.numel() < 2:
                    continue  # one point says nothing about correlation
                sq = torch.cdist(coords[observed], coords[observed]) ** 2
                loglik = log_likelihood_grid(sq, residual[levels][:, observed].T, self.length_grid, self.noise_grid)
                score[levels] += loglik.permute(2, 0, 1)
                n_patches[levels] += 1
        flat_best = score.reshape(score.shape[0], -1).argmax(dim=1)
        best_l, best_nu = self.length_grid[flat_best // len(self.noise_grid)], self.noise_grid[flat_best % len(self.noise_grid)]
        fitted = n_patches > 0
        self.length_scale = nearest_filled(best_l, fitted, float(self.length_grid.median()))
        self.noise_ratio = nearest_filled(best_nu, fitted, float(self.noise_grid.median()))
        return self

    def _residual(self, batch: dict) -> Tensor:
        """(B, D, H·W) observations minus background (meaningful where x_valid_mask)."""
        x = batch["x"]
        background = self.background.predict(batch)
        return (x.double() - background.double()).reshape(*x.shape[:2], -1)

    def predict(self, batch: dict) -> Tensor:
        if self.length_scale is None:
            raise RuntimeError(f"{self.name}.predict called before fit")
        x = batch["x"]
        if x.shape[1] != self.length_scale.numel():
            raise ValueError(f"{self.name}: batch has {x.shape[1]} levels, fitted on {self.length_scale.numel()}")
        background = self.background.predict(batch)
        return oi_analysis(background, x, batch["x_valid_mask"], self.length_scale, self.noise_ratio)
