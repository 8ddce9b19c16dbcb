"""Direct chunk decoding returns exactly what zarr reads, and falls back to zarr when it cannot."""

from __future__ import annotations

import numpy as np
import zarr

from depthdif.data.chunk_decode import DirectChunks
from depthdif.data.store import OceanStore


def test_every_chunk_matches_zarr_edges_included(tmp_path):
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    path = tmp_path / "edges.zarr"  # 40x56 grid on 32x32 chunks: partial chunks on both edges
    make_synthetic_store(SynthConfig(nlat=40, nlon=56, ntime=2, n_levels=4, patch_size=16, stride=16, chunk=32,
                                     seed=0), path, progress=False)
    group = OceanStore.open(path)._group()
    for name in ("y", "x_valid_mask", "eo", "land_mask"):
        array = group[name]
        direct = DirectChunks.of(array)
        assert direct is not None, name
        grid = [-(-n // c) for n, c in zip(array.shape, array.chunks)]
        for coords in np.ndindex(*grid):
            expected = array[tuple(slice(i * c, (i + 1) * c) for i, c in zip(coords, array.chunks))]
            got = direct.read(coords)
            assert got.dtype == expected.dtype and np.array_equal(got, expected, equal_nan=True), (name, coords)


def test_layouts_it_does_not_know_are_left_to_zarr(tmp_path):
    sharded = zarr.create_array(tmp_path / "sharded.zarr", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="f4")
    assert DirectChunks.of(sharded) is None
    memory = zarr.create_array(zarr.storage.MemoryStore(), shape=(4,), chunks=(2,), dtype="f4")
    assert DirectChunks.of(memory) is None
    plain = zarr.create_array(tmp_path / "plain.zarr", shape=(4,), chunks=(2,), dtype="f4", fill_value=7)
    plain[:2] = 1.0
    direct = DirectChunks.of(plain)
    assert np.array_equal(direct.read((0,)), [1.0, 1.0])
    assert direct.read((1,)) is None  # never written: zarr's fill value, read through zarr
