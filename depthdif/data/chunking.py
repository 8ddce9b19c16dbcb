"""How a new store is chunked: aligned to the windows, a few MiB per chunk.

A training reader decodes whole chunks (chunk_cache.py) and, with chunk-aware shuffling
(chunk_sampler.py), every chunk once per epoch, so a chunk's size sets how much a decode
serves, not how often it happens. What it costs, measured here (50 levels, 32x32 windows, CPU
per window against reading the same windows from RAM): from a local disk, where chunks are
decoded straight from their files (chunk_decode.py), the cost is per byte and 64x64 and 128x128
chunks come out alike (0.89x and 0.84x of RAM in `python -m depthdif.benchmarks.loader`;
256x256 probed worse: larger fresh buffers per decode); through zarr's own reads (object stores,
other layouts) every chunk also pays a fixed ~1 ms per variable (chunk_decode.py), and a
request's latency on a bucket, so there larger chunks win.
Smaller chunks mix batches better (more blocks fit the reader's buffer) and make random single
windows (evaluation, predict) cheaper. Hence:

- the edge is a multiple of the window stride and of the patch size, so with stride == patch no
  window straddles a chunk edge (a straddling window reads up to 4 chunks); with stride < patch
  windows overlap and some always straddle;
- the largest such edge whose float32 depth chunk (levels x edge x edge x 4 bytes) stays within
  TARGET_CHUNK_BYTES (4 MiB: 128x128 at 50 levels, 256x256 at 16, the size object stores like),
  but at least one window, and no larger than needed to cover the grid.
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
