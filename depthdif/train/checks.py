"""Everything that can fail before training starts, checked once, in the process that launches it.

The trainer kind, the store (and whether it has the dense target the kind needs), the system
itself (level counts, a latent run's autoencoder against the store, ...) and that every rank gets
training and validation windows: a rank without validation batches would leave the others
waiting in the metric reduction. The system is built once, seeded as training seeds it, and
handed back: the in-process backend trains that very system, so nothing (not a latent run's AE
checkpoint) is loaded twice. Shard sizes come from the patch index, without building loaders.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning.pytorch as pl

from depthdif.config.schema import ExperimentConfig
from depthdif.train.callbacks import seed_all
from depthdif.train.datamodule import shard_sizes, split_ids, val_patch_ids
from depthdif.train.systems import SYSTEMS, build_system, store_meta


@dataclass
class CheckedRun:
    """A run that passed every check: the system it builds and the config that system resolved to
    (a latent system records its AE's own `ae` block): that, not the request, is what the run
    dir's config.yaml holds."""

    kind: str
    cfg: ExperimentConfig
    system: pl.LightningModule


def check_inputs(kind: str, cfg: ExperimentConfig, world_size: int = 1) -> CheckedRun:
    """Raise ValueError/FileNotFoundError naming the key or path, before any worker starts."""
    from depthdif.data.store import OceanStore

    if kind not in SYSTEMS:
        raise ValueError(f"unknown trainer kind {kind!r}; allowed: {sorted(SYSTEMS)}")
    store = OceanStore.open(cfg.data.store, check_chunks=False)
    check_target_available(kind, cfg, store.has_target)
    check_shards(cfg, store.index, world_size)
    seed_all(cfg.training.seed)  # the initial weights a training process would draw
    system = build_system(kind, cfg, store_meta(cfg, store))
    return CheckedRun(kind, system.cfg, system)


def check_target_available(kind: str, cfg: ExperimentConfig, has_target: bool) -> None:
    """An Argo-only store has no dense target y: only the ambient objective (seed 000) can learn
    from it. Without this check a standard run would score an empty loss support and learn nothing."""
    if has_target:
        return
    if kind == "ae":
        raise ValueError(f"{cfg.data.store}: an Argo-only store (no target y) cannot train the autoencoder, "
                         "which reconstructs dense y; train it on a store with GLORYS")
    if not cfg.model.ambient_occlusion.enabled:
        raise ValueError(f"{cfg.data.store}: an Argo-only store (no target y) trains only with the ambient "
                         "objective: set model.ambient_occlusion.enabled=true")


def check_shards(cfg: ExperimentConfig, index, world_size: int) -> None:
    """Every rank gets at least one training and one validation window."""
    d = cfg.data
    n_val = len(val_patch_ids(index, d.val_subset, d.withheld_seed, str(d.store)))
    train_sizes, val_sizes = shard_sizes(len(split_ids(index, "train")), world_size), shard_sizes(n_val, world_size)
    for rank, (n_train, n_val_rank) in enumerate(zip(train_sizes, val_sizes)):
        if n_train == 0:
            raise ValueError(f"{d.store}: rank {rank} of {world_size} workers gets no training window; "
                             "use fewer workers or a larger store")
        if n_val_rank == 0:
            raise ValueError(f"data.val_subset={d.val_subset}: rank {rank} of {world_size} workers gets no "
                             f"validation patch from {d.store}; use at least {world_size}")
