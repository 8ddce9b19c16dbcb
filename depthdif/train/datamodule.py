"""Train and validation loaders for one rank: this rank's shard of the store's splits.

Shuffling is seeded by (training.seed, rank, epoch) through `SeededShuffle.set_epoch`, which
Lightning calls at every epoch start, so an epoch's order does not depend on the global RNG
state and a resumed run replays it. Validation scores `data.val_subset` windows drawn with
`data.withheld_seed` across the whole val split among the windows that hold an observed profile
(the first N windows in index order can all be empty on a real store: NaN scores, and a
"best" validation loss of 0 on nothing). The draw is sharded too, and the same in every epoch
and every trial. `data.cache_mb` and `data.in_memory` set how the datasets read the store.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Sampler

from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset
from depthdif.data.store import OceanStore


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


def split_ids(index: pd.DataFrame, split: str) -> np.ndarray:
    return index.loc[index["split"] == split, "patch_id"].to_numpy()


def val_patch_ids(index: pd.DataFrame, n: int, seed: int, source: str = "the store") -> list[int]:
    """`n` val windows with an observed profile, drawn with `seed` across the split, in index order."""
    val = index[index["split"] == "val"]
    if val.empty:
        raise ValueError(f"{source}: the val split is empty")
    observed = val.loc[val["n_profiles"] > 0, "patch_id"].to_numpy()
    if observed.size == 0:
        raise ValueError(f"{source}: no val window holds an observed profile; validation would score "
                         "nothing (rebuild the store with more profiles, or a larger val fraction)")
    chosen = np.random.default_rng(seed).choice(observed.size, size=min(n, observed.size), replace=False)
    return observed[np.sort(chosen)].tolist()


def shard_sizes(n: int, world_size: int) -> list[int]:
    """Patches per rank of a split of `n` (PatchDataset.shard: contiguous, sizes differ by <= 1)."""
    return [len(block) for block in np.array_split(np.arange(n), world_size)]


def make_loaders(cfg: ExperimentConfig, rank: int = 0, world_size: int = 1,
                 kind: str = "pixel") -> tuple[DataLoader, DataLoader]:
    """(train_loader, val_loader) over this rank's shards of `cfg.data.store`."""
    d = cfg.data
    reading = dict(eo_channels=list(d.eo_channels), in_memory=d.in_memory, cache_bytes=d.cache_mb * 2**20)
    train = PatchDataset(d.store, "train", **reading).shard(rank, world_size)
    if len(train) == 0:
        raise ValueError(f"{d.store}: rank {rank}/{world_size} has an empty train shard")
    index = OceanStore.open(d.store, check_chunks=False).index
    val_ids = val_patch_ids(index, d.val_subset, d.withheld_seed, str(d.store))
    val = PatchDataset(d.store, "val", patch_ids=val_ids, **reading).shard(rank, world_size)
    common = dict(batch_size=batch_size_for(cfg, kind), num_workers=d.num_workers,
                  persistent_workers=d.num_workers > 0)
    train_loader = DataLoader(train, sampler=SeededShuffle(len(train), cfg.training.seed * 1009 + rank),
                              drop_last=False, **common)
    val_loader = DataLoader(val, shuffle=False, **common)
    return train_loader, val_loader
