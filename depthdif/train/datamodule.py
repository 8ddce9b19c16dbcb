"""Train and validation loaders for one rank: this rank's shard of the store's splits.

Shuffling is seeded by (training.seed, rank, epoch) through `SeededShuffle.set_epoch`, which
Lightning calls at every epoch start, so an epoch's order does not depend on the global RNG
state and a resumed run replays it. Validation is the fixed first `data.val_subset` patches of
the val split (index order), sharded too, so every epoch and every trial scores the same patches.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset


class SeededShuffle(Sampler[int]):
    """A permutation of range(n) drawn from (seed, epoch); Lightning advances the epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


def batch_size_for(cfg: ExperimentConfig, kind: str) -> int:
    """The autoencoder trains with its own batch size; diffusion systems use `data.batch_size`."""
    return cfg.ae.training.batch_size if kind == "ae" else cfg.data.batch_size


def val_dataset(cfg: ExperimentConfig, rank: int = 0, world_size: int = 1) -> PatchDataset:
    """This rank's shard of the first `data.val_subset` val patches."""
    channels = list(cfg.data.eo_channels)
    full = PatchDataset(cfg.data.store, "val", eo_channels=channels)
    if len(full) == 0:
        raise ValueError(f"{cfg.data.store}: the val split is empty")
    subset = PatchDataset(cfg.data.store, "val", eo_channels=channels,
                          patch_ids=full.patch_ids[: cfg.data.val_subset].tolist())
    return subset.shard(rank, world_size)


def make_loaders(cfg: ExperimentConfig, rank: int = 0, world_size: int = 1,
                 kind: str = "pixel") -> tuple[DataLoader, DataLoader]:
    """(train_loader, val_loader) over this rank's shards of `cfg.data.store`."""
    train = PatchDataset(cfg.data.store, "train", eo_channels=list(cfg.data.eo_channels)).shard(rank, world_size)
    if len(train) == 0:
        raise ValueError(f"{cfg.data.store}: rank {rank}/{world_size} has an empty train shard")
    val = val_dataset(cfg, rank, world_size)
    workers = cfg.data.num_workers
    common = dict(batch_size=batch_size_for(cfg, kind), num_workers=workers, persistent_workers=workers > 0)
    train_loader = DataLoader(train, sampler=SeededShuffle(len(train), cfg.training.seed * 1009 + rank),
                              drop_last=False, **common)
    val_loader = DataLoader(val, shuffle=False, **common)
    return train_loader, val_loader
