"""Chunk-aware shuffling: exactly once per epoch, one reader per block, bounded buffer, one decode per chunk."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from depthdif.data.chunk_sampler import (ChunkShuffle, WindowRead, buffer_blocks_for, chunk_layout, straddles,
                                         window_blocks, worker_quotas)
from depthdif.data.dataset import PatchDataset
from depthdif.data.store import OceanStore


def reader_streams(reads: list[WindowRead], batch_size: int, workers: int) -> list[list[WindowRead]]:
    """Split a sampler's order into what each DataLoader worker reads (batch j -> worker j % W)."""
    streams: list[list[WindowRead]] = [[] for _ in range(workers)]
    for j, start in enumerate(range(0, len(reads), batch_size)):
        streams[j % workers].extend(reads[start:start + batch_size])
    return streams


def blocks_of(n_blocks: int, sizes: list[int]) -> np.ndarray:
    return np.repeat(np.arange(n_blocks), sizes)


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_each_window_once_per_epoch_and_blocks_stay_with_one_reader(workers):
    rng = np.random.default_rng(0)
    blocks = rng.permutation(blocks_of(30, rng.integers(1, 9, 30).tolist()))  # windows of a block scattered
    sampler = ChunkShuffle(blocks, batch_size=4, num_workers=workers, buffer_blocks=3, seed=5)
    orders = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        reads = list(sampler)
        assert sorted(r.index for r in reads) == list(range(len(blocks)))
        orders.append([r.index for r in reads])
        readers_of_block = {b: set() for b in range(30)}
        for w, stream in enumerate(reader_streams(reads, 4, max(workers, 1))):
            for r in stream:
                readers_of_block[blocks[r.index]].add(w)
            assert_buffer_discipline(stream, blocks, buffer_blocks=3)
        split = sum(len(ws) > 1 for ws in readers_of_block.values())
        assert split <= max(workers, 1) - 1  # only the blocks at the cut between two readers
    assert orders[0] != orders[1]
    sampler.set_epoch(0)
    assert [r.index for r in sampler] == orders[0]  # seeded by (seed, epoch): a resumed epoch replays


def assert_buffer_discipline(stream: list[WindowRead], blocks: np.ndarray, buffer_blocks: int) -> None:
    """A block's windows end with exactly one release; never more than `buffer_blocks` blocks open."""
    left = Counter(int(blocks[r.index]) for r in stream)
    open_blocks: set[int] = set()
    for r in stream:
        b = int(blocks[r.index])
        open_blocks.add(b)
        assert len(open_blocks) <= buffer_blocks
        left[b] -= 1
        assert r.last_of_block == (left[b] == 0)
        if r.last_of_block:
            open_blocks.remove(b)


def test_a_buffer_of_one_block_reads_blocks_whole_and_a_big_one_mixes_them():
    blocks = blocks_of(10, [6] * 10)
    one = [int(blocks[r.index]) for r in ChunkShuffle(blocks, batch_size=6, num_workers=0, buffer_blocks=1, seed=0)]
    assert all(len(set(one[i:i + 6])) == 1 for i in range(0, 60, 6))
    big = [int(blocks[r.index]) for r in ChunkShuffle(blocks, batch_size=6, num_workers=0, buffer_blocks=10, seed=0)]
    assert np.mean([len(set(big[i:i + 6])) for i in range(0, 60, 6)]) > 3


def test_worker_quotas_follow_the_round_robin_of_batches():
    assert worker_quotas(10, 3, 2) == [6, 4]  # batches of 3,3,3,1 -> workers 0,1,0,1
    assert worker_quotas(7, 4, 3) == [4, 3, 0]
    assert sum(worker_quotas(101, 8, 4)) == 101


def test_block_ids_straddling_and_buffer_size():
    t, y0, x0 = np.array([0, 0, 0, 1]), np.array([0, 16, 32, 0]), np.array([0, 16, 0, 0])
    assert window_blocks(t, y0, x0, (32, 32)).tolist() == [0, 0, 1, 2]
    assert not straddles(y0, x0, np.full(4, 16), (32, 32))
    assert straddles(np.array([8]), np.array([0]), np.array([16]), (16, 16))
    assert buffer_blocks_for(100, 10, straddling=False) == 10
    assert buffer_blocks_for(100, 10, straddling=True) == 5
    assert buffer_blocks_for(5, 10, straddling=False) == 1


@pytest.fixture(scope="module")
def blocky_store(tmp_path_factory) -> Path:
    """64x64 grid, 8 times, 16x16 windows on 32x32 chunks: 4 windows per block."""
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    path = tmp_path_factory.mktemp("blocky") / "blocky.zarr"
    make_synthetic_store(SynthConfig(nlat=64, nlon=64, ntime=8, n_levels=8, patch_size=16, stride=16, chunk=32,
                                     seed=0), path, progress=False)
    return path


def test_a_store_far_larger_than_the_cache_is_decoded_once_per_epoch(blocky_store):
    store = OceanStore.open(blocky_store, check_chunks=False)
    layout = chunk_layout(store.ds.data_vars)
    assert layout.edges == (32, 32) and layout.static_bytes == 64 * 64  # the bool land mask
    n_vars = sum("time" in v.dims for v in store.ds.data_vars.values())
    cache_bytes = 2 * layout.block_bytes + layout.static_bytes
    dataset = PatchDataset(blocky_store, "train", cache_bytes=cache_bytes)
    w = dataset.windows()
    blocks = window_blocks(w["time_index"], w["y0"], w["x0"], layout.edges)
    assert blocks.max() + 1 >= 10 * 2  # the train split is >= 10x the cache
    buffer = layout.buffer_blocks(cache_bytes, straddles(w["y0"], w["x0"], w["size"], layout.edges))
    assert buffer == 2
    sampler = ChunkShuffle(blocks, batch_size=4, num_workers=0, buffer_blocks=buffer, seed=0)
    loader = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=4)
    cache = dataset._opened().cache
    for epoch in range(2):
        sampler.set_epoch(epoch)
        before = cache.misses
        seen = [int(i) for batch in loader for i in batch["patch_id"]]
        assert sorted(seen) == sorted(dataset.patch_ids.tolist())
        land_chunks = 4 if epoch == 0 else 0  # the static land mask: decoded once, kept
        assert cache.misses - before == (blocks.max() + 1) * n_vars + land_chunks
        assert cache.nbytes <= cache.max_bytes
    shuffled = PatchDataset(blocky_store, "train", cache_bytes=cache_bytes)
    list(torch.utils.data.DataLoader(shuffled, batch_size=4, shuffle=True))
    per_epoch = (blocks.max() + 1) * n_vars + 4
    assert shuffled._opened().cache.misses > 2 * per_epoch  # a window shuffle decodes most chunks again
