"""Profile holdout for scoring: withhold whole Argo floats (default) or single grid columns.

Upstream scores the points the model was given (UPSTREAM.md §5, defect "val metrics score input
points"). We withhold observations from the input and score the reconstruction there, the figure
that transfers to real, independent profiles (DEPTHDIF.md "Evaluation"). Two modes
(`data.withheld_mode`):

- `float` (default, as Argo mapping studies do): a float (platform) is withheld with probability
  `fraction`, decided by a hash of (seed, float id) only; a withheld float loses EVERY profile in
  every window of the scored split, at every time step. Binned cells are per-cell means
  (data/profiles.py), so a cell shared by a withheld and a kept float is removed from the input
  as a whole (no value of the withheld float may leak through the mean) and is NOT scored: its
  value mixes in the kept float, whose other profiles stay in the input and would flatter the
  score. Scored cells are those whose floats are all withheld. A window whose floats are all
  withheld gets an empty input. Stores without float ids fall back to one
  pseudo float per observed column (see data/float_ids.py): per-profile withholding.
- `column`: round(fraction · n) of each window's observed columns, chosen by (seed, patch_id),
  at least one kept. Other profiles of the same float in the window stay in the input, which makes
  scores optimistic; kept for comparison with older results.

Either way the choice depends only on the seed and the float / patch, never on the batch, epoch,
rank or method, so every method and every validation epoch scores exactly the same profiles.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from depthdif.data.float_ids import splitmix64

WithheldMode = Literal["float", "column"]
WITHHELD_MODES: tuple[str, ...] = ("float", "column")


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
    """Column mode: (H, W) bool observed columns of one sample → (H, W) bool columns to withhold."""
    flat = observed.reshape(-1).cpu()
    candidates = torch.nonzero(flat).flatten().numpy()  # row-major order: stable across runs
    k = withheld_count(len(candidates), fraction)
    chosen = np.zeros(flat.numel(), dtype=bool)
    if k:
        order = _column_generator(seed, patch_id).permutation(len(candidates))
        chosen[candidates[order[:k]]] = True
    return torch.from_numpy(chosen).reshape(observed.shape).to(observed.device)


def float_uniform(ids: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per float id, a pure function of (seed, id)."""
    seed_mix = splitmix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    mixed = splitmix64(np.asarray(ids, dtype=np.int64).astype(np.uint64) ^ seed_mix)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(2**53)


def withheld_floats(ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Bool per float id (>= 0): is this float withheld? Negative ids (no float) never are."""
    ids = np.asarray(ids, dtype=np.int64)
    return (ids >= 0) & (float_uniform(ids, seed) < fraction)


def withheld_float_columns(float_ids: Tensor, observed: Tensor, fraction: float,
                           seed: int) -> tuple[Tensor, Tensor]:
    """Float mode: (B, K, H, W) float ids + (B, H, W) observed → (dropped, scored) (B, H, W) bool.

    dropped: columns with any withheld float (removed from the input); scored: columns whose
    floats are all withheld (a cell shared with a kept float is dropped but not scored).
    """
    unique, inverse = torch.unique(float_ids.cpu(), return_inverse=True)
    chosen = torch.from_numpy(withheld_floats(unique.numpy(), fraction, seed))[inverse]
    kept = (float_ids.cpu() >= 0) & ~chosen
    dropped = chosen.any(dim=1).to(observed.device) & observed
    return dropped, dropped & ~kept.any(dim=1).to(observed.device)


def withheld_float_ids(float_ids: Tensor, columns: Tensor, fraction: float, seed: int) -> set[int]:
    """The withheld float ids present in `columns` (B, H, W) of a batch's (B, K, H, W) float_ids."""
    present = float_ids.cpu()[columns.cpu().unsqueeze(1).expand_as(float_ids)]
    unique = torch.unique(present).numpy()
    return {int(i) for i in unique[withheld_floats(unique, fraction, seed)]}


def withheld_description(mode: str, fraction: float, seed: int, n_columns: int, n_floats: int,
                         n_patches: int) -> str:
    """What was withheld from the input and scored, in one sentence (summaries, plot titles)."""
    if mode == "float":
        return (f"whole floats withheld: each Argo float with probability {fraction:.0%} (seed {seed}), all its "
                f"profiles removed from every input window; {n_floats} floats, {n_columns} grid columns scored "
                f"over {n_patches} patches (a cell shared with a kept float is removed from the input, not scored)")
    return (f"grid columns withheld: {fraction:.0%} of each patch's observed columns (seed {seed}, at least one "
            f"kept); {n_columns} columns scored over {n_patches} patches (other profiles of the same float "
            "may remain in the input)")


def withhold_profiles(batch: dict, fraction: float, seed: int,
                      mode: WithheldMode = "float") -> tuple[dict, Tensor]:
    """Remove withheld profiles (whole columns) from `x` / `x_valid_mask` (see the module doc).

    Args:
        batch: a collated batch (leading B dim) following the batch contract; needs `x`,
            `x_valid_mask`, and `float_ids` (mode float) or `patch_id` (mode column).
        fraction: float mode: probability that a float is withheld; column mode: share of each
            sample's observed columns. In [0, 1).
        seed: the holdout seed (config `data.withheld_seed`).
        mode: `data.withheld_mode`, "float" or "column".

    Returns:
        (input_batch, withheld_mask): a shallow copy of `batch` whose `x` and `x_valid_mask` have
        the withheld columns zeroed (other entries are the same tensors), and a float (B, D, H, W)
        mask of the scored entries (1 where a withheld profile had a valid observation; in float
        mode, cells shared with a kept float are removed from the input but not scored).
        `withheld_mask * input_batch["x_valid_mask"]` is all zero by construction.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"withhold_profiles: fraction must be in [0, 1), got {fraction}")
    if mode not in WITHHELD_MODES:
        raise ValueError(f"withhold_profiles: mode {mode!r}; allowed values: {list(WITHHELD_MODES)}")
    key = "float_ids" if mode == "float" else "patch_id"
    for needed in ("x", "x_valid_mask", key):
        if needed not in batch:
            hint = " (built by depthdif.data.dataset.PatchDataset)" if needed == "float_ids" else ""
            raise ValueError(f"withhold_profiles: batch has no {needed!r}{hint} (keys: {sorted(batch)})")
    mask = batch["x_valid_mask"]
    if mask.dim() != 4:
        raise ValueError(f"withhold_profiles: x_valid_mask must be (B, D, H, W), got {tuple(mask.shape)}")
    observed = observed_columns(mask)
    if mode == "float":
        dropped, scored = _float_mode_columns(batch, observed, fraction, seed)
    else:
        dropped = scored = _column_mode_columns(batch, observed, fraction, seed)
    keep = (~dropped).unsqueeze(1).to(mask.dtype)  # (B, 1, H, W), broadcast over depth
    out = dict(batch)
    out["x_valid_mask"] = mask * keep
    out["x"] = batch["x"] * keep
    return out, mask * scored.unsqueeze(1).to(mask.dtype)


def withhold_for_scoring(batch: dict, data_cfg) -> tuple[dict, Tensor]:
    """`withhold_profiles` with the settings of a `DataConfig` (withheld_fraction, _seed, _mode):
    the one call validation, `depthdif eval` and the benchmarks share."""
    return withhold_profiles(batch, data_cfg.withheld_fraction, data_cfg.withheld_seed, data_cfg.withheld_mode)


def _float_mode_columns(batch: dict, observed: Tensor, fraction: float, seed: int) -> Tensor:
    float_ids = batch["float_ids"]
    if float_ids.dim() != 4 or float_ids.shape[0] != observed.shape[0] or float_ids.shape[2:] != observed.shape[1:]:
        raise ValueError(f"withhold_profiles: float_ids must be (B, K, H, W) matching x, got "
                         f"{tuple(float_ids.shape)} for x_valid_mask columns {tuple(observed.shape)}")
    return withheld_float_columns(float_ids, observed, fraction, seed)


def _column_mode_columns(batch: dict, observed: Tensor, fraction: float, seed: int) -> Tensor:
    patch_ids = torch.as_tensor(batch["patch_id"]).reshape(-1).tolist()
    if len(patch_ids) != observed.shape[0]:
        raise ValueError(f"withhold_profiles: {len(patch_ids)} patch_id values for batch size {observed.shape[0]}")
    return torch.stack([withheld_columns_for(observed[i], fraction, seed, pid) for i, pid in enumerate(patch_ids)])
