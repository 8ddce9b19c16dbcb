"""Objectives a trial's config fixes (model size), reported beside the trainer's metrics.

Kept apart from trial.py (which imports Ray) so the study file's checks stay Ray-free.
"""

from __future__ import annotations

from typing import Callable

from depthdif.config import ExperimentConfig


def _latent_channels(kind: str, cfg: ExperimentConfig) -> float | None:
    # A latent run with an AE checkpoint takes the checkpoint's own `ae` config: only the trainer
    # knows its width then, so nothing is derived here (the trainer's metric is used if logged).
    if kind == "ae" or (kind == "latent" and cfg.latent.ae_checkpoint is None):
        return float(cfg.ae.latent_channels)
    return None


# Objectives derivable from the trial's config (model size); a metric the trainer logs wins.
CONFIG_METRICS: dict[str, Callable[[str, ExperimentConfig], float | None]] = {
    "model/latent_channels": _latent_channels,
    "model/unet_base_channels": lambda kind, cfg: float(cfg.model.unet.base_channels),
}
