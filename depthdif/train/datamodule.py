"""Train and validation loaders for one rank: this rank's shard of the store's splits.

Shuffling is seeded by (training.seed, rank, epoch) through `SeededShuffle.set_epoch`, which
Lightning calls at every epoch start, so an epoch's order does not depend on the global RNG
state and a resumed run replays it. Validation scores `data.val_subset` windows drawn with
`data.withheld_seed` across the whole val split among the windows that hold an observed profile
(the first N windows in index order can all be empty on a real store: NaN scores, and a
"best" validation loss of 0 on nothing). The draw is sharded too, and the same in every epoch
and every trial. `data.cache_mb` and `data.in_memory` set how the datasets read the store.

Training order (`data.shuffle`): "chunks" (default) plans each epoch per chunk block with a buffer
of decoded chunks sized to `data.cache_mb` (depthdif/data/chunk_sampler.py), so a store far
larger than the cache is still decoded once per epoch; "windows" is a uniform permutation (also
used for in-memory reads and `cache_mb: 0`, where chunk order saves nothing). Both are seeded
by (seed, rank, epoch) and cover the shard exactly once per epoch.

Loader workers (`data.num_workers`, None = auto): one per CPU the training process holds beyond
the one that trains, at most 4; Ray sets a process's intra-op threads to the CPUs it granted
(a Ray Train worker: `ray.cpus_per_worker`; an in-process study trial: the trial's CPUs), so
the rule reads `torch.get_num_threads()` and follows the backend: a 1-CPU worker or trial reads
in its own process, a plain run on a workstation overlaps decoding with the step.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Sampler

from depthdif.config.schema import ExperimentConfig
from depthdif.data.chunk_sampler import ChunkShuffle, chunk_layout, straddles, window_blocks
from depthdif.data.dataset import PatchDataset
from depthdif.data.store import OceanStore

MAX_AUTO_WORKERS = 4


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


def loader_workers(cfg: ExperimentConfig) -> int:
    """`data.num_workers`, or the auto rule of the module docstring."""
    d = cfg.data
    if d.num_workers is not None:
        return d.num_workers
    if d.in_memory:
        return 0
    return max(0, min(MAX_AUTO_WORKERS, torch.get_num_threads() - 1))


def train_order(cfg: ExperimentConfig, train: PatchDataset, store: OceanStore, batch_size: int,
                workers: int, rank: int) -> Sampler:
    """The training loader's sampler: chunk-aware, or a uniform permutation (module docstring)."""
    d, seed = cfg.data, cfg.training.seed * 1009 + rank
    if d.shuffle == "windows" or d.in_memory or d.cache_mb == 0:
        return SeededShuffle(len(train), seed)
    layout, w = chunk_layout(store.ds.data_vars), train.windows()
    cache_bytes = d.cache_mb * 2**20
    if cache_bytes < layout.block_bytes + layout.static_bytes:
        warnings.warn(f"data.cache_mb={d.cache_mb}: one chunk block of {d.store} decodes to "
                      f"{(layout.block_bytes + layout.static_bytes) / 2**20:.1f} MiB, more than the cache; every "
                      "window will decode its chunks again (raise data.cache_mb or rechunk the store smaller)",
                      stacklevel=2)
    buffer = layout.buffer_blocks(cache_bytes, straddles(w["y0"], w["x0"], w["size"], layout.edges))
    return ChunkShuffle(window_blocks(w["time_index"], w["y0"], w["x0"], layout.edges), batch_size=batch_size,
                        num_workers=workers, buffer_blocks=buffer, seed=seed)


def make_loaders(cfg: ExperimentConfig, rank: int = 0, world_size: int = 1,
                 kind: str = "pixel") -> tuple[DataLoader, DataLoader]:
    """(train_loader, val_loader) over this rank's shards of `cfg.data.store`."""
    d = cfg.data
    reading = dict(eo_channels=list(d.eo_channels), in_memory=d.in_memory, cache_bytes=d.cache_mb * 2**20)
    train = PatchDataset(d.store, "train", **reading).shard(rank, world_size)
    if len(train) == 0:
        raise ValueError(f"{d.store}: rank {rank}/{world_size} has an empty train shard")
    store = OceanStore.open(d.store, check_chunks=False)
    val_ids = val_patch_ids(store.index, d.val_subset, d.withheld_seed, str(d.store))
    val = PatchDataset(d.store, "val", patch_ids=val_ids, **reading).shard(rank, world_size)
    workers, batch_size = loader_workers(cfg), batch_size_for(cfg, kind)
    common = dict(batch_size=batch_size, num_workers=workers, persistent_workers=workers > 0)
    sampler = train_order(cfg, train, store, batch_size, workers, rank)
    train_loader = DataLoader(train, sampler=sampler, drop_last=False, **common)
    val_loader = DataLoader(val, shuffle=False, **common)
    return train_loader, val_loader
