"""Reconstruction metrics in degC: full field, withheld profiles, per depth, per band, CRPS.

Every state is a per-depth-level *sum* (squared error, absolute error, signed error, count, …)
reduced with `sum`, so the metric is exact under DDP with unequal shards: RMSE is computed from
pooled sums after the reduction, never averaged across ranks.

Definitions (all de-normalized to degC with the per-depth std; the mean cancels in differences):
- `*_full`: prediction vs `y` where `y_valid_mask`; `*_withheld`: prediction vs the original `x`
  on the withheld mask from `withhold_profiles`. Overall keys pool the entries of levels with
  depth ≤ `max_depth_m` (Argo reach); per-level keys `rmse_depth/<k>` and
  `rmse_withheld_depth/<k>` exist for every level k; band keys pool the levels with
  lo ≤ depth < hi (the last band includes hi), e.g. `rmse_full_band/0-100m`.
- bias = mean(prediction − truth): positive means too warm.
- Ensembles (K, B, D, H, W): deterministic scores use the ensemble mean; with K > 1 also
  `spread_*` = sqrt(mean unbiased member variance) and `crps_*` (empirical-ensemble CRPS, see
  crps.py), for `_full` and `_withheld`, and the spread-skill ratio spread / RMSE of the ensemble
  mean: `spread_skill_ratio` on the withheld profiles (the figure real data can check) and
  `spread_skill_ratio_full`. A calibrated K-member ensemble has an expected ratio of
  sqrt(K / (K + 1)) (the mean of K members still carries 1/K of the member variance), ~1 for
  large K; well below 1 is over-confident, above 1 under-confident.
- A key whose support is empty (no valid target entries) is NaN, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torchmetrics
from torch import Tensor

from depthdif.evaluation.crps import crps_ensemble

# Per-level sums kept for each of the two targets ("full" vs y, "withheld" vs held-out x).
_SUMS = ("sq", "abs", "err", "n")
_ENSEMBLE_SUMS = ("crps", "var", "n_ens")
TARGETS = ("full", "withheld")


def _as_float64(values: Sequence[float] | np.ndarray | Tensor, name: str) -> Tensor:
    if isinstance(values, Tensor):
        tensor = values.detach().cpu().double()
    else:
        tensor = torch.as_tensor(np.asarray(values, dtype=np.float64))
    if tensor.dim() != 1:
        raise ValueError(f"ReconstructionMetrics: {name} must be 1-D (one value per level), got {tuple(tensor.shape)}")
    return tensor


def _ratio(total: Tensor, count: Tensor) -> Tensor:
    """total / count, NaN where count is 0 (empty support is reported, not hidden)."""
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


def _per_level(t: Tensor) -> Tensor:
    """(B, D, H, W) → (D,) sums."""
    return t.sum(dim=(0, 2, 3))


def band_label(lo: float, hi: float) -> str:
    """`0-100m` style label used in band keys and reports."""
    return f"{lo:g}-{hi:g}m"


class ReconstructionMetrics(torchmetrics.Metric):
    """RMSE/MAE/bias (full field and withheld profiles), per depth and band, spread and CRPS."""

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, depth, depth_mean, depth_std, max_depth_m: float = 2000.0,
                 bands_m: Sequence[float] = (0, 100, 500, 2000), **kwargs) -> None:
        super().__init__(**kwargs)
        depth_t = _as_float64(depth, "depth")
        std_t, mean_t = _as_float64(depth_std, "depth_std"), _as_float64(depth_mean, "depth_mean")
        if not (len(depth_t) == len(std_t) == len(mean_t)):
            raise ValueError(f"ReconstructionMetrics: depth ({len(depth_t)}), depth_mean ({len(mean_t)}) "
                             f"and depth_std ({len(std_t)}) must have the same length")
        if len(bands_m) < 2 or any(hi <= lo for lo, hi in zip(bands_m[:-1], bands_m[1:])):
            raise ValueError(f"ReconstructionMetrics: bands_m must be ≥ 2 increasing edges, got {list(bands_m)}")
        self.n_levels = len(depth_t)
        self.max_depth_m = float(max_depth_m)
        self.bands_m = [float(b) for b in bands_m]
        self.register_buffer("depth", depth_t, persistent=False)
        self.register_buffer("depth_mean", mean_t, persistent=False)
        self.register_buffer("depth_std", std_t, persistent=False)
        for target in TARGETS:
            for name in _SUMS + _ENSEMBLE_SUMS:
                self.add_state(f"{target}_{name}", default=torch.zeros(self.n_levels, dtype=torch.float64),
                               dist_reduce_fx="sum")
        self.add_state("ensemble_updates", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    # --- accumulation ----------------------------------------------------------------------
    def update(self, pred: Tensor, batch: dict, withheld_mask: Tensor) -> None:
        """Add one batch.

        Args:
            pred: normalized prediction (B, D, H, W), or an ensemble (K, B, D, H, W).
            batch: the ORIGINAL batch (before `withhold_profiles`): `x` must still hold the
                withheld observations; needs `x`, `y`, `y_valid_mask`, `x_valid_mask`.
            withheld_mask: (B, D, H, W) from `withhold_profiles` (zeros if nothing is withheld).
        """
        members = pred.unsqueeze(0) if pred.dim() == 4 else pred
        if members.dim() != 5 or members.shape[2] != self.n_levels:
            raise ValueError(f"ReconstructionMetrics.update: pred must be (B, {self.n_levels}, H, W) or "
                             f"(K, B, {self.n_levels}, H, W), got {tuple(pred.shape)}")
        withheld_mask = withheld_mask.to(members.dtype)
        if withheld_mask.sum() > 0 and (withheld_mask * batch["x_valid_mask"]).sum() == 0:
            raise ValueError("ReconstructionMetrics.update: withheld entries are not valid in "
                             "batch['x_valid_mask']; pass the original batch, not the withheld input")
        members = members.double()
        targets = {"full": (batch["y"], batch["y_valid_mask"]), "withheld": (batch["x"], withheld_mask)}
        for name, (truth, mask) in targets.items():
            self._accumulate(name, members, truth.to(members), mask.to(members))
        if members.shape[0] > 1:
            self.ensemble_updates += 1

    def _accumulate(self, name: str, members: Tensor, truth: Tensor, mask: Tensor) -> None:
        scale = self.depth_std.to(members).reshape(1, -1, 1, 1)  # normalized → degC per level
        error = (members.mean(dim=0) - truth) * scale * mask
        getattr(self, f"{name}_sq").add_(_per_level(error**2))
        getattr(self, f"{name}_abs").add_(_per_level(error.abs()))
        getattr(self, f"{name}_err").add_(_per_level(error))
        getattr(self, f"{name}_n").add_(_per_level(mask))
        if members.shape[0] > 1:
            crps = crps_ensemble(members, truth) * scale * mask
            variance = members.var(dim=0, correction=1) * scale**2 * mask
            getattr(self, f"{name}_crps").add_(_per_level(crps))
            getattr(self, f"{name}_var").add_(_per_level(variance))
            getattr(self, f"{name}_n_ens").add_(_per_level(mask))

    # --- results -----------------------------------------------------------------------------
    def by_depth(self) -> dict[str, Tensor]:
        """Per-level (D,) float64 tensors: `{rmse,mae,bias,count}_{full,withheld}` (+ spread, crps)."""
        table: dict[str, Tensor] = {}
        for name in TARGETS:
            n = getattr(self, f"{name}_n")
            table[f"rmse_{name}"] = _ratio(getattr(self, f"{name}_sq"), n).sqrt()
            table[f"mae_{name}"] = _ratio(getattr(self, f"{name}_abs"), n)
            table[f"bias_{name}"] = _ratio(getattr(self, f"{name}_err"), n)
            table[f"count_{name}"] = n.clone()
            if self.ensemble_updates > 0:
                n_ens = getattr(self, f"{name}_n_ens")
                table[f"spread_{name}"] = _ratio(getattr(self, f"{name}_var"), n_ens).sqrt()
                table[f"crps_{name}"] = _ratio(getattr(self, f"{name}_crps"), n_ens)
        return table

    def _pooled(self, name: str, levels: Tensor) -> dict[str, Tensor]:
        """Scores pooled over the entries of the selected levels (not a mean of per-level scores)."""
        def total(suffix: str) -> Tensor:
            return getattr(self, f"{name}_{suffix}")[levels].sum()

        n = total("n")
        out = {f"rmse_{name}": _ratio(total("sq"), n).sqrt(),
               f"mae_{name}": _ratio(total("abs"), n),
               f"bias_{name}": _ratio(total("err"), n)}
        if self.ensemble_updates > 0:
            n_ens = total("n_ens")
            out[f"spread_{name}"] = _ratio(total("var"), n_ens).sqrt()
            out[f"crps_{name}"] = _ratio(total("crps"), n_ens)
        return out

    def band_levels(self) -> dict[str, Tensor]:
        """Band label → bool (D,) selection of levels with lo ≤ depth < hi (last band: ≤ hi)."""
        edges = self.bands_m
        bands = {}
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            upper = self.depth <= hi if i == len(edges) - 2 else self.depth < hi
            bands[band_label(lo, hi)] = (self.depth >= lo) & upper
        return bands

    def compute(self) -> dict[str, Tensor]:
        """Scalar float32 tensors keyed as documented at the top of this module (no prefix)."""
        within = self.depth <= self.max_depth_m
        result: dict[str, Tensor] = {}
        for name in TARGETS:
            result.update(self._pooled(name, within))
        if self.ensemble_updates > 0:
            for name, key in (("withheld", "spread_skill_ratio"), ("full", "spread_skill_ratio_full")):
                rmse = result[f"rmse_{name}"]
                result[key] = torch.where(rmse > 0, result[f"spread_{name}"] / rmse, torch.full_like(rmse, float("nan")))
        table = self.by_depth()
        for k in range(self.n_levels):
            result[f"rmse_depth/{k}"] = table["rmse_full"][k]
            result[f"rmse_withheld_depth/{k}"] = table["rmse_withheld"][k]
        for label, levels in self.band_levels().items():
            for name in TARGETS:
                result[f"rmse_{name}_band/{label}"] = self._pooled(name, levels)[f"rmse_{name}"]
        return {key: value.float() for key, value in result.items()}
