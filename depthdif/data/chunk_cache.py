"""Window reads from Zarr with one decode per chunk and a per-process LRU cache of decoded chunks.

A zarr-python call costs ~0.5 ms of fixed overhead (async machinery) plus the decode, and a
window touches 7 variables: reading each window straight from zarr runs ~20x slower than
slicing RAM. Patches are windows over chunks that several windows share (a 128x128 chunk holds
sixteen 32x32 windows), so we read a whole chunk once, keep it decoded, and slice windows from
it. A window needs every variable's chunk at the same place, so a miss decodes that place for
all the time-dependent variables the reader has seen (skipped when the cache could not hold
them): straight from the chunk files where the layout allows (chunk_decode.py, ~2.5x less CPU
than zarr's reads), else as one concurrent zarr request (~20 % less CPU than seven calls).
The cache lives in the process that reads (each DataLoader / Ray worker has its own) and is
bounded in bytes; the least recently used chunks go first. A chunk-aware sampler
(chunk_sampler.py) also tells the reader when a chunk will not be needed again this epoch, and
`release_containing` drops it at once, so LRU eviction never has to guess.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from depthdif.data.chunk_decode import DirectChunks

DEFAULT_CACHE_BYTES = 512 * 1024**2


@dataclass(frozen=True)
class Geometry:
    """A variable's layout, read once per process (zarr's metadata properties are not free)."""

    array: Any
    chunk: tuple[int, int]
    grid: tuple[int, int]
    chunk_bytes: int
    direct: DirectChunks | None

    @classmethod
    def of(cls, array: Any) -> "Geometry":
        chunk, grid = tuple(array.chunks[-2:]), tuple(array.shape[-2:])
        return cls(array, chunk, grid, int(np.prod(array.chunks[1:])) * np.dtype(array.dtype).itemsize,
                   DirectChunks.of(array))

    def read_direct(self, time_index: int | None, cy: int, cx: int) -> np.ndarray | None:
        """The chunk from its file, or None (no direct path: read it through zarr)."""
        if self.direct is None:
            return None
        if time_index is None:
            return self.direct.read((cy, cx))
        chunk = self.direct.read((time_index, 0, cy, cx))
        return None if chunk is None else chunk[0]

    def bounds(self, cy: int, cx: int) -> tuple[slice, slice]:
        (ch, cw), (h, w) = self.chunk, self.grid
        return slice(cy * ch, min((cy + 1) * ch, h)), slice(cx * cw, min((cx + 1) * cw, w))


class ChunkCache:
    """LRU of decoded chunks keyed by (variable, time_index, chunk row, chunk column).

    `hits` counts chunk lookups served from memory, `misses` chunks decoded."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = self.misses = 0
        self._chunks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._geometries: dict[str, Geometry] = {}
        self._timed: dict[str, None] = {}  # time-dependent variables seen (ordered), for joint reads

    def get(self, key: tuple) -> np.ndarray | None:
        chunk = self._chunks.get(key)
        if chunk is not None:
            self.hits += 1
            self._chunks.move_to_end(key)
        return chunk

    def put(self, key: tuple, chunk: np.ndarray) -> None:
        if self.max_bytes <= 0 or chunk.nbytes > self.max_bytes:
            return
        old = self._chunks.pop(key, None)
        self.nbytes += chunk.nbytes - (0 if old is None else old.nbytes)
        self._chunks[key] = chunk
        while self.nbytes > self.max_bytes:
            _, old = self._chunks.popitem(last=False)
            self.nbytes -= old.nbytes

    def release_containing(self, time_index: int, y: int, x: int) -> None:
        """Drop every time-dependent variable's chunk that holds pixel (y, x) at `time_index`."""
        for name in self._timed:
            ch, cw = self._geometries[name].chunk
            chunk = self._chunks.pop((name, time_index, y // ch, x // cw), None)
            if chunk is not None:
                self.nbytes -= chunk.nbytes

    def geometry(self, name: str, array: Any, timed: bool) -> Geometry:
        known = self._geometries.get(name)
        if known is None or known.array is not array:
            known = self._geometries[name] = Geometry.of(array)
        if timed:
            self._timed.setdefault(name, None)
        return known

    def chunk(self, name: str, geometry: Geometry, time_index: int | None, cy: int, cx: int) -> np.ndarray:
        """The decoded chunk, from memory or decoded now (with its siblings: module docstring)."""
        found = self.get((name, time_index, cy, cx))
        if found is not None:
            return found
        names = [name]
        if time_index is not None and sum(self._geometries[n].chunk_bytes for n in self._timed) <= self.max_bytes:
            names = [n for n in self._timed if n == name or (n, time_index, cy, cx) not in self._chunks]
        decoded = self._decode(name, names, time_index, cy, cx)
        self.misses += len(decoded)
        for n, chunk in decoded.items():
            self.put((n, time_index, cy, cx), chunk)
        return decoded[name]

    def _decode(self, name: str, names: list[str], time_index: int | None, cy: int, cx: int) -> dict[str, np.ndarray]:
        """Chunks at one place: `name` (whose errors propagate) and siblings (skipped on error:
        each raises, naming itself, when a window asks for it)."""
        decoded: dict[str, np.ndarray] = {}
        for n in names:
            try:
                chunk = self._geometries[n].read_direct(time_index, cy, cx)
            except Exception:  # noqa: BLE001 - a corrupt sibling: left for its own read
                if n == name:
                    raise
                continue
            if chunk is not None:
                decoded[n] = chunk
        rest = [n for n in names if n not in decoded]
        if name not in rest:
            return decoded
        geometries = [self._geometries[n] for n in rest]
        try:
            chunks = read_together([(g.array, selection(g, time_index, cy, cx)) for g in geometries])
        except Exception:  # noqa: BLE001 - reread alone, so an error names the variable asked for
            if rest == [name]:
                raise
            rest, chunks = [name], [np.asarray(self._geometries[name].array[selection(self._geometries[name],
                                                                                         time_index, cy, cx)])]
        decoded.update(zip(rest, chunks))
        return decoded


def selection(geometry: Geometry, time_index: int | None, cy: int, cx: int) -> tuple:
    ys, xs = geometry.bounds(cy, cx)
    return (ys, xs) if time_index is None else (time_index, slice(None), ys, xs)


def read_together(requests: list[tuple[Any, tuple]]) -> list[np.ndarray]:
    """`array[selection]` for each request, as one concurrent zarr read when there are several."""
    if len(requests) == 1 or not all(hasattr(a, "async_array") for a, _ in requests):
        return [np.asarray(a[s]) for a, s in requests]
    from zarr.core.sync import sync  # zarr's own event loop thread (what every sync zarr call uses)

    async def gather() -> list:
        return await asyncio.gather(*(a.async_array.getitem(s) for a, s in requests))

    return [np.asarray(chunk) for chunk in sync(gather())]


def read_chunked_window(arr: Any, name: str, cache: ChunkCache, time_index: int | None,
                        y0: int, x0: int, size: int) -> np.ndarray:
    """Window [.., y0:y0+size, x0:x0+size] of a zarr array whose last two dims are (lat, lon).

    time_index None: a 2-D (lat, lon) array. Otherwise the array is (time, C, lat, lon) and the
    result is (C, size, size). Each chunk the window overlaps is read whole, once, via the cache.
    """
    geometry = cache.geometry(name, arr, timed=time_index is not None)
    (ch, cw), (h, w) = geometry.chunk, geometry.grid
    cy0, cx0, cy1, cx1 = y0 // ch, x0 // cw, (y0 + size - 1) // ch, (x0 + size - 1) // cw
    if cy0 == cy1 and cx0 == cx1:  # the usual case: inside one chunk
        chunk = cache.chunk(name, geometry, time_index, cy0, cx0)
        return chunk[..., y0 - cy0 * ch:y0 - cy0 * ch + size, x0 - cx0 * cw:x0 - cx0 * cw + size].copy()
    lead = () if time_index is None else (arr.shape[1],)
    out = np.empty(lead + (size, size), dtype=arr.dtype)
    for cy in range(cy0, cy1 + 1):
        for cx in range(cx0, cx1 + 1):
            chunk = cache.chunk(name, geometry, time_index, cy, cx)
            # overlap of the window and this chunk, in window and in chunk coordinates
            wy0, wy1 = max(y0, cy * ch), min(y0 + size, (cy + 1) * ch, h)
            wx0, wx1 = max(x0, cx * cw), min(x0 + size, (cx + 1) * cw, w)
            out[..., wy0 - y0:wy1 - y0, wx0 - x0:wx1 - x0] = \
                chunk[..., wy0 - cy * ch:wy1 - cy * ch, wx0 - cx * cw:wx1 - cx * cw]
    return out
