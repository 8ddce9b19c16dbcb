"""Window reads from Zarr with one decode per chunk and a per-process LRU cache of decoded chunks.

A zarr-python call costs ~0.5 ms of fixed overhead (async machinery) plus the decode, and a
window touches 7 variables: reading each window straight from zarr runs ~20x slower than
slicing RAM. Patches are windows over chunks that several windows share (a 64x64 chunk holds
four 32x32 windows), so we read a whole chunk once, keep it decoded, and slice windows from it.
The cache lives in the process that reads (each DataLoader / Ray worker has its own) and is
bounded in bytes; the least recently used chunks go first. A chunk-aware sampler
(chunk_sampler.py) also tells the reader when a chunk will not be needed again this epoch, and
`release_containing` drops it at once, so LRU eviction never has to guess.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

DEFAULT_CACHE_BYTES = 512 * 1024**2


class ChunkCache:
    """LRU of decoded chunks keyed by (variable, time_index, chunk row, chunk column)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = self.misses = 0
        self._chunks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._edges: dict[str, tuple[int, int]] = {}  # spatial chunk edges per variable, as read

    def get(self, key: tuple) -> np.ndarray | None:
        chunk = self._chunks.get(key)
        if chunk is None:
            self.misses += 1
            return None
        self.hits += 1
        self._chunks.move_to_end(key)
        return chunk

    def release_containing(self, time_index: int, y: int, x: int) -> None:
        """Drop every time-dependent variable's chunk that holds pixel (y, x) at `time_index`."""
        for name, (ch, cw) in self._edges.items():
            chunk = self._chunks.pop((name, time_index, y // ch, x // cw), None)
            if chunk is not None:
                self.nbytes -= chunk.nbytes

    def remember_edges(self, name: str, edges: tuple[int, int]) -> None:
        self._edges.setdefault(name, edges)

    def put(self, key: tuple, chunk: np.ndarray) -> None:
        if self.max_bytes <= 0 or chunk.nbytes > self.max_bytes:
            return
        self._chunks[key] = chunk
        self.nbytes += chunk.nbytes
        while self.nbytes > self.max_bytes:
            _, old = self._chunks.popitem(last=False)
            self.nbytes -= old.nbytes


def read_chunked_window(arr: Any, name: str, cache: ChunkCache, time_index: int | None,
                        y0: int, x0: int, size: int) -> np.ndarray:
    """Window [.., y0:y0+size, x0:x0+size] of a zarr array whose last two dims are (lat, lon).

    time_index None: a 2-D (lat, lon) array. Otherwise the array is (time, C, lat, lon) and the
    result is (C, size, size). Each chunk the window overlaps is read whole, once, via the cache.
    """
    ch, cw = arr.chunks[-2], arr.chunks[-1]
    h, w = arr.shape[-2], arr.shape[-1]
    if time_index is not None:
        cache.remember_edges(name, (ch, cw))
    lead = () if time_index is None else (arr.shape[1],)
    out = np.empty(lead + (size, size), dtype=arr.dtype)
    for cy in range(y0 // ch, (y0 + size - 1) // ch + 1):
        for cx in range(x0 // cw, (x0 + size - 1) // cw + 1):
            key = (name, time_index, cy, cx)
            chunk = cache.get(key)
            if chunk is None:
                ys, xs = slice(cy * ch, min((cy + 1) * ch, h)), slice(cx * cw, min((cx + 1) * cw, w))
                chunk = np.asarray(arr[ys, xs] if time_index is None else arr[time_index, :, ys, xs])
                cache.put(key, chunk)
            # overlap of the window and this chunk, in window and in chunk coordinates
            wy0, wy1 = max(y0, cy * ch), min(y0 + size, (cy + 1) * ch, h)
            wx0, wx1 = max(x0, cx * cw), min(x0 + size, (cx + 1) * cw, w)
            out[..., wy0 - y0:wy1 - y0, wx0 - x0:wx1 - x0] = \
                chunk[..., wy0 - cy * ch:wy1 - cy * ch, wx0 - cx * cw:wx1 - cx * cw]
    return out
