"""Chunk-aware shuffling: every decoded chunk serves all its windows before it is evicted.

A shuffled loader that draws windows uniformly from a store far larger than the chunk cache
decodes a chunk for almost every window and throws it away before its other windows come up
(the cache hit rate falls to cache/store). `ChunkShuffle` plans each epoch instead at the level
of *blocks*, the windows whose origin lies in one chunk (time step, chunk row, chunk column):

1. the rank's blocks are shuffled (seeded by (seed, epoch)) and laid out block by block;
2. that sequence is cut into one contiguous part per DataLoader worker, sized so that batch j
   is exactly the j-th batch of worker j % W (the DataLoader hands map-style batches to its
   workers round-robin), so a block is read by one worker (at most W - 1 blocks are split);
3. each worker's part goes through a bounded *buffer* of `buffer_blocks` open blocks: the next
   window is drawn uniformly from every window left in the buffer; when a block's last window
   is drawn its chunks are released (`WindowRead.last_of_block`) and the next block opens.

So each chunk is decoded once per epoch per reader, the decoded working set is the buffer (sized
to the per-process chunk cache, `buffer_blocks_for`), and every window is drawn exactly once
per epoch. Randomness: a batch mixes up to `buffer_blocks` blocks; with a buffer holding every
block the order is a uniform permutation. Ray Train ranks each plan over their own shard.

Windows that straddle a chunk edge (stride < patch, or a chunk that is not a multiple of the
stride) also read neighbouring chunks, which stay under the cache's LRU bound; new stores are
chunked so that this does not happen for stride == patch (depthdif/data/chunking.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from torch.utils.data import Sampler


class WindowRead(NamedTuple):
    """One window to read; `last_of_block`: this reader needs none of its block's chunks again
    this epoch (the dataset drops them from its cache right after the read)."""

    index: int
    last_of_block: bool


def window_blocks(time_index: np.ndarray, y0: np.ndarray, x0: np.ndarray, chunk: tuple[int, int]) -> np.ndarray:
    """A block id per window: windows whose origin lies in the same chunk share it."""
    ch, cw = chunk
    keys = np.stack([np.asarray(time_index), np.asarray(y0) // ch, np.asarray(x0) // cw], axis=1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def straddles(y0: np.ndarray, x0: np.ndarray, size: np.ndarray, chunk: tuple[int, int]) -> bool:
    """True when some window reaches into a neighbouring chunk."""
    ch, cw = chunk
    return bool(np.any(np.asarray(y0) % ch + size > ch) or np.any(np.asarray(x0) % cw + size > cw))


def buffer_blocks_for(cache_bytes: int, block_bytes: int, straddling: bool) -> int:
    """Open blocks that fit in a reader's chunk cache (half of it when windows straddle chunks:
    the other half holds the neighbouring chunks those windows read). At least 1."""
    usable = cache_bytes // 2 if straddling else cache_bytes
    return max(1, int(usable // max(block_bytes, 1)))


def worker_quotas(n: int, batch_size: int, num_workers: int) -> list[int]:
    """Windows per DataLoader worker when batch j goes to worker j % W (the last batch may be short)."""
    n_batches = -(-n // batch_size)
    quotas = [0] * num_workers
    for j in range(n_batches):
        quotas[j % num_workers] += min(batch_size, n - j * batch_size)
    return quotas


def buffered_order(windows: np.ndarray, blocks: np.ndarray, buffer_blocks: int,
                   rng: np.random.Generator) -> Iterator[WindowRead]:
    """Draw `windows` (laid out block by block) through a buffer of `buffer_blocks` open blocks."""
    n = len(windows)
    if n == 0:
        return
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    ends = np.r_[starts[1:], n]
    group = np.repeat(np.arange(len(starts)), ends - starts).tolist()
    remaining = (ends - starts).tolist()
    buffer: list[int] = []
    opened = min(buffer_blocks, len(starts))
    for g in range(opened):
        buffer.extend(range(starts[g], ends[g]))
    windows_list = windows.tolist()
    draws = rng.random(n).tolist()
    for u in draws:
        slot = int(u * len(buffer))
        position = buffer[slot]
        buffer[slot] = buffer[-1]
        buffer.pop()
        g = group[position]
        remaining[g] -= 1
        done = remaining[g] == 0
        if done and opened < len(starts):
            buffer.extend(range(starts[opened], ends[opened]))
            opened += 1
        yield WindowRead(windows_list[position], done)


class ChunkShuffle(Sampler[WindowRead]):
    """Chunk-aware epoch order over a dataset's windows (see the module docstring).

    `blocks[i]` is window i's block (`window_blocks`); the DataLoader must use `batch_size` and
    `num_workers` as given here, and a dataset whose `__getitems__` accepts `WindowRead`s."""

    def __init__(self, blocks: np.ndarray, *, batch_size: int, num_workers: int, buffer_blocks: int, seed: int):
        if batch_size < 1 or num_workers < 0 or buffer_blocks < 1:
            raise ValueError(f"ChunkShuffle: need batch_size >= 1, num_workers >= 0, buffer_blocks >= 1; got "
                             f"{batch_size}, {num_workers}, {buffer_blocks}")
        self.blocks = np.asarray(blocks, dtype=np.int64)
        self.batch_size, self.readers = batch_size, max(num_workers, 1)
        self.buffer_blocks, self.seed, self.epoch = buffer_blocks, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self) -> Iterator[WindowRead]:
        rng = np.random.default_rng([self.seed % 2**64, self.epoch % 2**64])  # SeedSequence wants >= 0
        block_order = rng.permutation(self.blocks.max() + 1 if len(self.blocks) else 0)
        rank_of_block = np.empty_like(block_order)
        rank_of_block[block_order] = np.arange(len(block_order))
        laid_out = np.argsort(rank_of_block[self.blocks], kind="stable")  # block by block, shuffled
        streams, start = [], 0
        for quota in worker_quotas(len(laid_out), self.batch_size, self.readers):
            part = laid_out[start:start + quota]
            streams.append(buffered_order(part, self.blocks[part], self.buffer_blocks, rng.spawn(1)[0]))
            start += quota
        for j in range(-(-len(laid_out) // self.batch_size)):
            stream = streams[j % self.readers]
            for _ in range(min(self.batch_size, len(laid_out) - j * self.batch_size)):
                yield next(stream)


@dataclass(frozen=True)
class ChunkLayout:
    """How a store is chunked, as a reader sees it: spatial chunk edges (lat, lon) of the
    time-dependent variables, the decoded bytes of one block (one chunk of each of them) and of
    the static variables (the land mask: read once, kept in the cache for good)."""

    edges: tuple[int, int]
    block_bytes: int
    static_bytes: int

    def buffer_blocks(self, cache_bytes: int, straddling: bool) -> int:
        """Open blocks that fit in a reader's chunk cache next to the static variables."""
        return buffer_blocks_for(max(cache_bytes - self.static_bytes, 0), self.block_bytes, straddling)


def chunk_layout(data_vars: Mapping[str, Any]) -> ChunkLayout:
    """The ChunkLayout of a store's xarray variables (`OceanStore.ds.data_vars`; chunking in `.encoding`)."""
    edges, block, static = None, 0, 0
    for var in data_vars.values():
        if "time" not in var.dims:
            static += int(np.prod(var.shape)) * var.dtype.itemsize
            continue
        chunks = tuple(var.encoding.get("chunks") or var.shape)
        edges = edges or (int(chunks[-2]), int(chunks[-1]))
        block += int(np.prod(chunks[1:])) * var.dtype.itemsize
    if edges is None:
        raise ValueError("chunk_layout: the store has no time-dependent variable")
    return ChunkLayout(edges, block, static)
