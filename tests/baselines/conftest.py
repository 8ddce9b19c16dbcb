"""Hand-made items on the batch contract: smooth Gaussian random fields with sparse profiles."""

from __future__ import annotations

import pytest
import torch

from depthdif.baselines.base import pixel_coordinates


def smooth_items(n: int, seed: int, size: int = 16, levels: int = 2, length_px: float = 3.0,
                 profiles: int = 20, noise: float = 0.02) -> list[dict]:
    """Items whose y is a Gaussian random field with correlation length `length_px` per level.

    x holds `profiles` full-depth columns of y plus sensor noise; eo is level 0 plus noise.
    """
    gen = torch.Generator().manual_seed(seed)
    coords = pixel_coordinates(size, size)
    cov = torch.exp(-torch.cdist(coords, coords) ** 2 / (2 * length_px**2))
    chol = torch.linalg.cholesky(cov + 1e-6 * torch.eye(size * size, dtype=cov.dtype))
    items = []
    for i in range(n):
        y = (chol @ torch.randn(size * size, levels, generator=gen, dtype=cov.dtype)).T.reshape(levels, size, size).float()
        mask = torch.zeros(levels, size, size)
        cells = torch.randperm(size * size, generator=gen)[:profiles]
        mask.reshape(levels, -1)[:, cells] = 1
        x = (y + noise * torch.randn(y.shape, generator=gen)) * mask
        eo = (y[:1] + 0.1 * torch.randn(1, size, size, generator=gen))
        items.append({"x": x, "x_valid_mask": mask, "y": y, "y_valid_mask": torch.ones_like(y),
                      "eo": eo, "eo_valid_mask": torch.ones_like(eo), "land_mask": torch.zeros(1, size, size),
                      "depth": torch.tensor([5.0, 50.0][:levels] + [100.0] * max(levels - 2, 0)),
                      "patch_id": torch.tensor(i, dtype=torch.int64)})
    return items


def stack(items: list[dict]) -> dict:
    return {k: torch.stack([item[k] for item in items]) for k in items[0]}


@pytest.fixture(scope="module")
def smooth_fields():
    """(train items, test batch) of smooth fields with a 3-pixel correlation length."""
    return smooth_items(24, seed=0), stack(smooth_items(6, seed=1))
