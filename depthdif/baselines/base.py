"""The Predictor protocol every baseline (and the diffusion model's wrapper) follows.

One narrow interface, as Optuna's `BaseSampler`: `fit(dataset)` on the training split, then
`predict(batch) -> (B, D, H, W)` in normalized units on the batch contract. Evaluation calls
nothing else, so a baseline and the diffusion model are scored by the same code on the same
patches and withheld profiles.

Also here: the small helpers the baselines share (training subset, fit target, pixel grid,
grouping of depth levels that share one observation pattern).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor


@runtime_checkable
class Predictor(Protocol):
    """A reconstruction method: fit on the train split, predict normalized (B, D, H, W) fields."""

    name: str

    def fit(self, dataset: Sequence[dict]) -> "Predictor":
        """Learn from the training split (items without the batch dim); return self."""
        ...

    def predict(self, batch: dict) -> Tensor:
        """Normalized reconstruction (B, D, H, W) from x, x_valid_mask, eo, … of `batch`."""
        ...


def fit_items(dataset: Sequence[dict], max_samples: int, seed: int) -> Iterator[dict]:
    """Items of a seeded subset of at most `max_samples` patches, in index order (reproducible)."""
    n = len(dataset)
    if n == 0:
        raise ValueError("baseline fit: the training dataset is empty")
    indices = np.arange(n) if n <= max_samples else np.sort(
        np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
    for i in indices.tolist():
        yield dataset[i]


def as_batch(item: dict) -> dict:
    """One dataset item → a batch of one (adds the leading B dim to every tensor)."""
    return {k: (v.unsqueeze(0) if isinstance(v, Tensor) else torch.as_tensor([v])) for k, v in item.items()}


def fit_target(item: dict) -> tuple[Tensor, Tensor]:
    """(values, mask) a baseline learns statistics from: `y` where the store has a target, else `x`.

    Argo-only stores have an all-zero `y_valid_mask`; there the sparse observations are all we have.
    """
    if "y_valid_mask" in item and item["y_valid_mask"].sum() > 0:
        return item["y"], item["y_valid_mask"]
    return item["x"], item["x_valid_mask"]


def pixel_coordinates(height: int, width: int, device=None, dtype=torch.float64) -> Tensor:
    """(H·W, 2) (row, col) coordinates in pixels, row-major like `tensor.reshape(..., H*W)`."""
    rows, cols = torch.meshgrid(torch.arange(height, device=device, dtype=dtype),
                                torch.arange(width, device=device, dtype=dtype), indexing="ij")
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1)


def shared_patterns(mask: Tensor) -> list[tuple[Tensor, Tensor]]:
    """Group depth levels of one sample that share one observation pattern.

    mask: (D, H·W) 0/1. Returns [(observed pixel indices (n,), depth levels (g,)), …] for patterns
    with at least one observation. Argo profiles span many levels, so most levels of a patch share
    one pattern and the interpolation weights are computed once per pattern, not once per level.
    """
    patterns, inverse = torch.unique(mask.gt(0), dim=0, return_inverse=True)
    groups = []
    for p, pattern in enumerate(patterns):
        observed = torch.nonzero(pattern).flatten()
        if observed.numel():
            groups.append((observed, torch.nonzero(inverse == p).flatten()))
    return groups
