"""How a new store is chunked: large enough that a decode serves many windows, aligned to them.

A training reader decodes whole chunks (chunk_cache.py) and, with chunk-aware shuffling
(chunk_sampler.py), every chunk once per epoch. Its cost per window is then the decode of the
window's share of a chunk plus a fixed ~0.5 ms per zarr call (7 variables per chunk block): on
50 levels and 32x32 windows, 64x64 chunks cost 1.4 ms of decoding per window, 128x128 chunks
0.7 ms and 256x256 chunks 0.3 ms, against ~1-4 ms of per-window work that reading from RAM
costs too. Larger chunks also mean fewer blocks in a reader's buffer (less mixing per batch) and
more bytes per random single-window read (evaluation, predict). The default balances the two:

- the edge is a multiple of the window stride and of the patch size, so with stride == patch no
  window straddles a chunk edge (a straddling window reads up to 4 chunks); with stride < patch
  windows overlap and some always straddle;
- the largest such edge whose float32 depth chunk (levels x edge x edge x 4 bytes) stays within
  TARGET_CHUNK_BYTES (4 MiB: 128x128 at 50 levels, 256x256 at 16), but at least one window, and
  no larger than needed to cover the grid.
Stores written before keep their chunking (64x64 then); `--chunk` / `chunks={"lat": n}` overrides.
"""

from __future__ import annotations

import math

TARGET_CHUNK_BYTES = 4 * 2**20


def default_chunk_edge(patch_size: int, stride: int, n_levels: int, grid: tuple[int, int]) -> int:
    """The square spatial chunk edge for a new store (see the module docstring)."""
    if patch_size < 1 or stride < 1 or n_levels < 1:
        raise ValueError(f"default_chunk_edge: need patch_size, stride, n_levels >= 1; got {patch_size}, "
                         f"{stride}, {n_levels}")
    unit = math.lcm(patch_size, stride)
    fits = math.isqrt(TARGET_CHUNK_BYTES // (4 * n_levels))
    units = max(1, fits // unit)
    covering = -(-max(grid) // unit)  # units that cover the grid's longer side
    return unit * min(units, max(covering, 1))
