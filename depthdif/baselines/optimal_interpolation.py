"""Optimal interpolation (objective analysis / Gaussian-process regression) per depth level.

Per level, with background b (by default the per-depth training climatology) and observations
v at pixels o:

    analysis = b + C_go (C_oo + ν I)⁻¹ (v − b_o),   C(r) = exp(−r² / 2L²)   (Gandin 1963; Bretherton et al. 1976)

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
        x, mask = batch["x"], batch["x_valid_mask"]
        b, d, h, w = x.shape
        if d != self.length_scale.numel():
            raise ValueError(f"{self.name}: batch has {d} levels, fitted on {self.length_scale.numel()}")
        background = self.background.predict(batch).double().reshape(b, d, h * w)
        residual = (x.double().reshape(b, d, h * w) - background)
        coords = pixel_coordinates(h, w, device=x.device)
        out = background.clone()
        for i in range(b):
            for observed, levels in shared_patterns(mask[i].reshape(d, h * w)):
                sq_go = torch.cdist(coords, coords[observed]) ** 2
                params = torch.stack([self.length_scale[levels.cpu()], self.noise_ratio[levels.cpu()]], dim=1)
                pairs, which = torch.unique(params, dim=0, return_inverse=True)
                for p, (length, nu) in enumerate(pairs.tolist()):
                    same = levels[which.to(levels.device) == p]  # levels sharing pattern AND parameters: one solve
                    out[i, same] += self._analysis_increment(sq_go, observed, residual[i][same][:, observed].T,
                                                             length, nu).T
        return out.reshape(b, d, h, w).to(x.dtype)

    @staticmethod
    def _analysis_increment(sq_go: Tensor, observed: Tensor, residual: Tensor, length: float, nu: float) -> Tensor:
        """C_go (C_oo + ν I)⁻¹ r for residuals r (n, g) of g levels: the OI correction (H·W, g)."""
        corr_go = gaussian_correlation(sq_go, length)  # (H·W, n)
        corr_oo = corr_go[observed] + nu * torch.eye(observed.numel(), dtype=sq_go.dtype, device=sq_go.device)
        return corr_go @ torch.linalg.solve(corr_oo, residual)
