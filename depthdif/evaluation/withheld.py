"""Profile-level holdout: remove a fixed, seeded fraction of observed columns from the input.

Upstream scores the points the model was given (UPSTREAM.md §5, defect "val metrics score input
points"). We instead withhold whole Argo profiles (columns of `x`) and score the reconstruction
there, the figure that transfers to real, independent profiles (DEPTHDIF.md "Evaluation").

The choice of withheld columns depends only on `(seed, patch_id)`, never on the batch it sits
in, the epoch, the rank or the method, so every method and every validation epoch scores
exactly the same profiles.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def observed_columns(x_valid_mask: Tensor) -> Tensor:
    """(B, D, H, W) per-depth mask → (B, H, W) bool: columns observed at any depth (profiles)."""
    return x_valid_mask.gt(0).any(dim=1)


def withheld_count(n_observed: int, fraction: float) -> int:
    """How many of `n_observed` profiles to withhold: round(fraction·n), keeping at least one.

    Rounding is half-up so a patch with 3 profiles and fraction 0.2 withholds 1 (0.6 → 1);
    a patch with a single profile keeps it (scoring it would leave the input empty).
    """
    if n_observed < 2 or fraction <= 0:
        return 0
    return min(int(math.floor(fraction * n_observed + 0.5)), n_observed - 1)


def _column_generator(seed: int, patch_id: int) -> np.random.Generator:
    # SeedSequence mixes (seed, patch_id) into independent streams; both must be non-negative.
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, int(patch_id) & 0xFFFFFFFFFFFFFFFF])


def withheld_columns_for(observed: Tensor, fraction: float, seed: int, patch_id: int) -> Tensor:
    """(H, W) bool observed columns of one sample → (H, W) bool columns to withhold."""
    flat = observed.reshape(-1).cpu()
    candidates = torch.nonzero(flat).flatten().numpy()  # row-major order: stable across runs
    k = withheld_count(len(candidates), fraction)
    chosen = np.zeros(flat.numel(), dtype=bool)
    if k:
        order = _column_generator(seed, patch_id).permutation(len(candidates))
        chosen[candidates[order[:k]]] = True
    return torch.from_numpy(chosen).reshape(observed.shape).to(observed.device)


def withhold_profiles(batch: dict, fraction: float, seed: int) -> tuple[dict, Tensor]:
    """Remove a seeded fraction of observed profiles (whole columns) from `x` / `x_valid_mask`.

    Args:
        batch: a collated batch (leading B dim) following the batch contract; needs `x`,
            `x_valid_mask` and `patch_id` (B,).
        fraction: share of each sample's observed columns to withhold, in [0, 1).
        seed: the holdout seed (config `data.withheld_seed`).

    Returns:
        (input_batch, withheld_mask): a shallow copy of `batch` whose `x` and `x_valid_mask` have
        the withheld columns zeroed (other entries are the same tensors), and a float (B, D, H, W)
        mask of the removed entries (1 where a withheld profile had a valid observation).
        `withheld_mask * input_batch["x_valid_mask"]` is all zero by construction.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"withhold_profiles: fraction must be in [0, 1), got {fraction}")
    for key in ("x", "x_valid_mask", "patch_id"):
        if key not in batch:
            raise ValueError(f"withhold_profiles: batch has no {key!r} (keys: {sorted(batch)})")
    mask = batch["x_valid_mask"]
    if mask.dim() != 4:
        raise ValueError(f"withhold_profiles: x_valid_mask must be (B, D, H, W), got {tuple(mask.shape)}")
    patch_ids = torch.as_tensor(batch["patch_id"]).reshape(-1).tolist()
    if len(patch_ids) != mask.shape[0]:
        raise ValueError(f"withhold_profiles: {len(patch_ids)} patch_id values for batch size {mask.shape[0]}")
    observed = observed_columns(mask)
    columns = torch.stack([withheld_columns_for(observed[i], fraction, seed, pid)
                           for i, pid in enumerate(patch_ids)])  # (B, H, W) bool
    keep = (~columns).unsqueeze(1).to(mask.dtype)  # (B, 1, H, W), broadcast over depth
    withheld_mask = mask * (1 - keep)
    out = dict(batch)
    out["x_valid_mask"] = mask * keep
    out["x"] = batch["x"] * keep
    return out, withheld_mask.float()
