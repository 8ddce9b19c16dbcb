"""Inverse-distance weighting per depth level, observations preserved exactly.

Each unobserved pixel of a level is Σ w_i v_i / Σ w_i over its `max_neighbours` nearest observed
pixels of that level, w_i = 1 / dist_i^power, distances in pixels (patches are small enough that
the grid is locally uniform). Observed pixels keep their value. A level with no observation in
the patch is filled with 0, the per-depth normalization mean. No EO, nothing to fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from depthdif.baselines.base import pixel_coordinates, shared_patterns


def idw_weights(coords: Tensor, observed: Tensor, power: float, max_neighbours: int) -> Tensor:
    """(H·W, n) row-normalized weights of the n observed pixels for every pixel of the grid."""
    dist = torch.cdist(coords, coords[observed])
    k = min(max_neighbours, observed.numel())
    nearest = dist.topk(k, dim=1, largest=False).indices
    # Distances between distinct pixels are ≥ 1; zero distances are observed pixels, overwritten later.
    weights = torch.zeros_like(dist).scatter_(1, nearest, dist.gather(1, nearest).clamp(min=1.0) ** -power)
    return weights / weights.sum(dim=1, keepdim=True)


class InverseDistanceWeighting:
    """Per-level IDW of the sparse input; `fit` is a no-op."""

    name = "idw"

    def __init__(self, power: float = 2.0, max_neighbours: int = 16) -> None:
        if power <= 0 or max_neighbours < 1:
            raise ValueError(f"idw: power must be > 0 and max_neighbours ≥ 1, got {power}, {max_neighbours}")
        self.power, self.max_neighbours = power, max_neighbours

    def fit(self, dataset: Sequence[dict]) -> "InverseDistanceWeighting":
        return self

    def predict(self, batch: dict) -> Tensor:
        x, mask = batch["x"], batch["x_valid_mask"]
        b, d, h, w = x.shape
        coords = pixel_coordinates(h, w, device=x.device)
        values = x.reshape(b, d, h * w).double()
        out = torch.zeros_like(values)
        for i in range(b):
            plane_mask = mask[i].reshape(d, h * w)
            for observed, levels in shared_patterns(plane_mask):
                weights = idw_weights(coords, observed, self.power, self.max_neighbours)
                obs = values[i][levels][:, observed]  # (g, n)
                filled = obs @ weights.T  # (g, H·W)
                filled[:, observed] = obs  # observations preserved exactly
                out[i, levels] = filled
        return out.reshape(b, d, h, w).to(x.dtype)
