"""A store read from an fsspec URI (memory://) gives exactly what the local store gives."""

from __future__ import annotations

import pickle

import fsspec
import numpy as np
import pandas as pd
import pytest
import torch

from depthdif.data import schema as S
from depthdif.data.dataset import PatchDataset
from depthdif.data.store import OceanStore, StoreError, write_store

URI = "memory://remote/tiny.zarr"


@pytest.fixture
def memory_fs():
    """fsspec's process-wide in-memory filesystem, emptied after the test."""
    fs = fsspec.filesystem("memory")
    yield fs
    if fs.exists("/remote"):
        fs.rm("/remote", recursive=True)


@pytest.fixture
def remote_store(memory_fs, tiny_store) -> str:
    memory_fs.put(str(tiny_store), "/remote/tiny.zarr", recursive=True)
    return URI


def test_open_uri_matches_local_store(remote_store, tiny_store):
    local, remote = OceanStore.open(tiny_store), OceanStore.open(remote_store)  # chunk check included
    assert remote.path == URI and str(remote.location) == URI and not remote.location.is_local
    pd.testing.assert_frame_equal(remote.index, local.index)
    np.testing.assert_array_equal(remote.normalization.depth_mean, local.normalization.depth_mean)
    np.testing.assert_array_equal(remote.depth, local.depth)
    assert remote.eo_channels == local.eo_channels and remote.has_target == local.has_target
    assert (remote.profiles is None) == (local.profiles is None)
    if local.profiles is not None:
        pd.testing.assert_frame_equal(remote.profiles, local.profiles)
    row = local.index.iloc[0]
    args = (int(row["time_index"]), int(row["y0"]), int(row["x0"]), int(row["size"]))
    lw, rw = local.read_window(*args), remote.read_window(*args)
    assert lw.keys() == rw.keys()
    for name in lw:
        np.testing.assert_array_equal(rw[name], lw[name], err_msg=name)
    remote.verify()
    assert remote.summary().splitlines()[1:] == local.summary().splitlines()[1:]


def test_dataset_from_uri_matches_local_items(remote_store, tiny_store):
    local, remote = PatchDataset(tiny_store, "train"), PatchDataset(remote_store, "train")
    assert remote.store_path == URI and len(remote) == len(local)
    for i in (0, len(local) - 1):
        a, b = local[i], remote[i]
        assert a.keys() == b.keys() and set(S.BATCH_FIELDS) <= set(b)
        for key in a:
            assert torch.equal(a[key], b[key]), key
    clone = pickle.loads(pickle.dumps(remote))  # what DataLoader / Ray workers receive
    assert clone.store_path == URI
    assert torch.equal(clone[0]["x"], local[0]["x"])


def test_uri_store_without_marker_is_refused(remote_store, memory_fs):
    memory_fs.rm(f"/remote/tiny.zarr/{S.COMPLETE_MARKER}")
    with pytest.raises(StoreError, match=rf"{URI}: incomplete store \(no {S.COMPLETE_MARKER} marker"):
        OceanStore.open(URI)


def test_uri_store_with_missing_chunk_is_refused(remote_store, memory_fs):
    chunk = memory_fs.find(f"/remote/tiny.zarr/{S.X}/c")[0]
    memory_fs.rm(chunk)
    with pytest.raises(StoreError, match=rf"{URI}: variable 'x': 1 of \d+ chunk files are missing"):
        OceanStore.open(URI)


def test_missing_uri_names_it(memory_fs):
    with pytest.raises(FileNotFoundError, match="memory://remote/nowhere.zarr: no such store directory"):
        OceanStore.open("memory://remote/nowhere.zarr")
    with pytest.raises(FileNotFoundError, match="memory://remote/nowhere.zarr"):
        PatchDataset("memory://remote/nowhere.zarr", "train")


def test_write_store_to_uri_is_refused(memory_fs, tiny_store):
    ds = OceanStore.open(tiny_store).ds
    with pytest.raises(ValueError, match=r"memory://remote/new.zarr: write_store writes local directories only"):
        write_store(ds, "memory://remote/new.zarr", progress=False)
    assert not memory_fs.exists("/remote/new.zarr")


def test_location_keeps_uris_and_resolves_local_paths(tmp_path, monkeypatch):
    from pathlib import Path

    from depthdif.data.location import StoreLocation, absolute, store_source

    monkeypatch.chdir(tmp_path)
    assert absolute("s3://bucket/ocean.zarr") == "s3://bucket/ocean.zarr"
    assert absolute("ocean.zarr") == str(tmp_path.resolve() / "ocean.zarr")
    assert store_source("gs://b/o.zarr") == "gs://b/o.zarr" and store_source("o.zarr") == Path("o.zarr")
    assert store_source(f"file://{tmp_path}") == tmp_path
    location = StoreLocation(URI)
    assert pickle.loads(pickle.dumps(location)).source == URI
    with pytest.raises(ValueError, match=f"{URI}: a remote store has no local path"):
        location.path
