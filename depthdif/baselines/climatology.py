"""Climatology: the per-depth mean of the training split, everywhere.

The floor every method must beat, and the background of optimal interpolation. In normalized
units it is close to 0 by construction (the store's statistics are train-split means), but it is
computed here from the fit target so that it stays honest if the statistics ever differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from depthdif.baselines.base import fit_items, fit_target


class Climatology:
    """Per-depth training mean (normalized units); ignores the observations of the batch."""

    name = "climatology"

    def __init__(self, fit_max_samples: int = 64, seed: int = 0) -> None:
        self.fit_max_samples, self.seed = fit_max_samples, seed
        self.level_mean: Tensor | None = None  # (D,)

    def fit(self, dataset: Sequence[dict]) -> "Climatology":
        total = count = None
        for item in fit_items(dataset, self.fit_max_samples, self.seed):
            values, mask = fit_target(item)
            level_sum = (values.double() * mask).sum(dim=(-2, -1))
            level_count = mask.double().sum(dim=(-2, -1))
            total = level_sum if total is None else total + level_sum
            count = level_count if count is None else count + level_count
        # Levels never observed in training fall back to 0, the normalization mean.
        self.level_mean = torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))
        return self

    def predict(self, batch: dict) -> Tensor:
        if self.level_mean is None:
            raise RuntimeError("Climatology.predict called before fit")
        x = batch["x"]
        if x.shape[1] != self.level_mean.numel():
            raise ValueError(f"climatology: batch has {x.shape[1]} levels, fitted on {self.level_mean.numel()}")
        mean = self.level_mean.to(device=x.device, dtype=x.dtype).reshape(1, -1, 1, 1)
        return mean.expand_as(x).clone()
