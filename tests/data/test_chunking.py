"""New stores are chunked for their windows: aligned to patch and stride, a few MiB per chunk."""

from __future__ import annotations

import pytest

from depthdif.data.chunking import TARGET_CHUNK_BYTES, default_chunk_edge
from depthdif.data.store import OceanStore


@pytest.mark.parametrize("patch, stride, levels, grid, edge", [
    (32, 32, 50, (2000, 2000), 128),  # 128^2 x 50 x 4 B = 3.1 MiB; 160 would exceed 4 MiB
    (16, 16, 16, (2000, 2000), 256),
    (16, 8, 50, (2000, 2000), 144),  # a multiple of lcm(16, 8)
    (24, 16, 50, (2000, 2000), 144),  # 3 x lcm(24, 16)
    (32, 32, 50, (48, 40), 64),  # no larger than needed to cover the grid
    (64, 64, 2000, (500, 500), 64),  # at least one window, even when that exceeds the target
])
def test_default_edge(patch, stride, levels, grid, edge):
    got = default_chunk_edge(patch, stride, levels, grid)
    assert got == edge and got % patch == 0 and got % stride == 0
    assert got == patch or got * got * levels * 4 <= TARGET_CHUNK_BYTES


def test_a_new_store_gets_the_default_edge(tiny_store):
    store = OceanStore.open(tiny_store, check_chunks=False)  # 48x48 grid, 8 levels, 16x16 windows
    assert store.ds["x"].encoding["chunks"] == (1, 8, 48, 48)
