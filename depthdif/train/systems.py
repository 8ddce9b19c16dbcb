"""Which LightningModule a training kind builds, and how a checkpoint is read back.

`SYSTEMS` is the dispatch table (STYLE.md habit 14): the autoencoder and latent systems add
their own lines. Checkpoint hyper-parameters are plain types (`kind`, `config`, `normalization`,
`depth`), so `torch.load(..., weights_only=True)` reads them without unpickling code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from depthdif.config.schema import ExperimentConfig
from depthdif.data.normalization import Normalization
from depthdif.train.autoencoder import AutoencoderSystem
from depthdif.train.latent import LatentDiffusionSystem
from depthdif.train.pixel import PixelDiffusionSystem

SYSTEMS: dict[str, type[pl.LightningModule]] = {
    "pixel": PixelDiffusionSystem,
    "ae": AutoencoderSystem,
    "latent": LatentDiffusionSystem,
}
# A fresh system for training. The classes build the architecture a checkpoint loads into; the
# codec systems start from a fit or a trained AE (issue 17), read here and never again (issue 13).
BUILDERS: dict[str, Any] = {**SYSTEMS, "ae": AutoencoderSystem.for_training,
                            "latent": LatentDiffusionSystem.for_training}


@dataclass
class StoreMeta:
    """What a system needs to know about its store: statistics and the depth axis."""

    normalization: Normalization
    depth: np.ndarray


def store_meta(cfg: ExperimentConfig, store: Any = None) -> StoreMeta:
    """The normalization and depth axis of `cfg.data.store` (or of `store`, already opened),
    restricted to the config's EO channels."""
    from depthdif.data.store import OceanStore

    store = store if store is not None else OceanStore.open(cfg.data.store, check_chunks=False)
    return StoreMeta(store.normalization.select_eo(list(cfg.data.eo_channels)), np.asarray(store.depth))


def _meta_parts(meta: Any) -> tuple[Normalization, np.ndarray]:
    if isinstance(meta, dict):
        return meta["normalization"], np.asarray(meta["depth"])
    return meta.normalization, np.asarray(meta.depth)


def build_system(kind: str, cfg: ExperimentConfig, meta: StoreMeta | Any, *, resuming: bool = False) -> pl.LightningModule:
    """A fresh system of `kind`; `meta` has `normalization` and `depth` (a StoreMeta, OceanStore or dict).
    `resuming`: only the architecture, for a checkpoint to fill (no codec is fitted or read)."""
    if kind not in SYSTEMS:
        raise ValueError(f"unknown system kind {kind!r}; allowed: {sorted(SYSTEMS)}")
    normalization, depth = _meta_parts(meta)
    return (SYSTEMS if resuming else BUILDERS)[kind](cfg, normalization, depth)


def load_system(checkpoint_path: str | Path) -> pl.LightningModule:
    """Rebuild a trained system (eval mode) from a Lightning checkpoint, with weights_only=True."""
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    hp = ckpt.get("hyper_parameters") or {}
    kind = hp.get("kind")
    if kind not in SYSTEMS:
        raise ValueError(f"{path}: checkpoint kind {kind!r} is not one of {sorted(SYSTEMS)}")
    config = hp.get("config", hp.get("cfg"))
    if config is None or "normalization" not in hp or "depth" not in hp:
        raise ValueError(f"{path}: hyper_parameters need config, normalization and depth (got {sorted(hp)})")
    system = SYSTEMS[kind](config, hp["normalization"], hp["depth"])
    system.load_state_dict(ckpt["state_dict"])
    return system.eval()
