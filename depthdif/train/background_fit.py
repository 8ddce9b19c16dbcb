"""Fitting a diffusion system's background on the train split: what `DiffusionSystem.fit_background` runs.

The baseline parameters come from the baselines themselves (models/background.py); here the
residual scale s is measured in the system's model space, the way training will see residuals:
each training window's background is built from its inputs with the same share of profiles
hidden as in training (`model.background_profile_drop`, or δ in ambient mode), and s is the RMS
per diffused channel of M(f) − M(b) where the target is valid but the background had no
observation (f = y, or the observations on an Argo-only store). The RMS, not the std: the
diffusion prior is centred on the background, so its bias counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from depthdif.baselines.base import fit_items, fit_target
from depthdif.config.schema import ExperimentConfig
from depthdif.diffusion.ambient import further_mask, target_depth_support

BATCH = 16  # windows per forward pass while measuring
MIN_SCALE = 1e-3  # normalized units: a (nearly) perfect level must not blow residuals up


def train_split(cfg: ExperimentConfig):
    """The train split of `data.store` with the run's EO channels."""
    from depthdif.data.dataset import PatchDataset

    return PatchDataset(cfg.data.store, "train", eo_channels=list(cfg.data.eo_channels))


def hidden_share(cfg: ExperimentConfig) -> float:
    """Share of profiles the background does not see during training."""
    amb = cfg.model.ambient_occlusion
    return amb.further_drop_prob if amb.enabled else cfg.model.background_profile_drop


def _batches(dataset: Sequence[dict], cfg: ExperimentConfig, device: torch.device):
    items = list(fit_items(dataset, cfg.evaluation.baselines.fit_max_samples, cfg.evaluation.baselines.fit_seed))
    for start in range(0, len(items), BATCH):
        chunk = items[start:start + BATCH]
        batch = {k: torch.stack([item[k] for item in chunk]).to(device) for k in
                 ("x", "x_valid_mask", "y_valid_mask", "eo", "eo_valid_mask")}
        targets = [fit_target(item) for item in chunk]
        batch["target"] = torch.stack([t for t, _ in targets]).to(device)
        batch["target_mask"] = torch.stack([m for _, m in targets]).to(device)
        yield batch


@torch.no_grad()
def fit_residual_scale(system, dataset: Sequence[dict]) -> Tensor:
    """(model_channels,) RMS of the background's model-space error away from its inputs."""
    cfg = system.cfg
    device = system.background.residual_scale.device
    generator = torch.Generator().manual_seed(cfg.evaluation.baselines.fit_seed)
    total = torch.zeros(system.model_channels, dtype=torch.float64, device=device)
    count = torch.zeros_like(total)
    for batch in _batches(dataset, cfg, device):
        x, A = batch["x"], batch["x_valid_mask"]
        kept = further_mask(A, hidden_share(cfg), 1, True, generator)
        background = system.background(kept * x, kept, batch["eo"], batch["eo_valid_mask"])
        valid = batch["target_mask"]
        support = target_depth_support(batch["y_valid_mask"])
        filled = valid * batch["target"] + (1 - valid) * background
        residual = system.to_model_space(filled, support) - system.to_model_space(background, support)
        where = system.model_space_mask(valid * (1 - kept))
        total += (residual.double() ** 2 * where).sum(dim=(0, 2, 3))
        count += where.double().sum(dim=(0, 2, 3))
    scale = torch.where(count > 0, (total / count.clamp(min=1)).sqrt(), torch.ones_like(total))
    return scale.clamp(min=MIN_SCALE).to(system.background.residual_scale.dtype)


def observed_levels(dataset: Sequence[dict], cfg: ExperimentConfig) -> Tensor:
    """(D,) bool: levels observed by at least one profile of the fit subset of the train split."""
    baselines = cfg.evaluation.baselines
    count = None
    for item in fit_items(dataset, baselines.fit_max_samples, baselines.fit_seed):
        level_count = item["x_valid_mask"].sum(dim=(-2, -1))
        count = level_count if count is None else count + level_count
    return count > 0
