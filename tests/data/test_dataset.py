"""PatchDataset: the batch contract, values, sharding, lazy per-process opening, Argo-only stores."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from depthdif.data import schema as S
from depthdif.data.dataset import PatchDataset
from depthdif.data.index import SplitSpec
from depthdif.data.store import OceanStore, write_store


def test_batch_contract_shapes_dtypes_and_zeros_where_invalid(tiny_store):
    ds = PatchDataset(tiny_store, "train")
    item = ds[0]
    d, e = ds.n_levels, ds.n_eo
    expected = {"x": (d, 16, 16), "y": (d, 16, 16), "eo": (e, 16, 16), "eo_valid_mask": (e, 16, 16),
                "x_valid_mask": (d, 16, 16), "y_valid_mask": (d, 16, 16), "land_mask": (1, 16, 16),
                "depth": (d,), "patch_id": (), "lat": (), "lon": (), "time": ()}
    assert set(item) == set(S.BATCH_FIELDS) | set(S.BATCH_META)
    for key, shape in expected.items():
        assert tuple(item[key].shape) == shape, key
    for key in S.BATCH_FIELDS + ("depth", "lat", "lon"):
        assert item[key].dtype == torch.float32, key
    assert item["patch_id"].dtype == torch.int64 and item["time"].dtype == torch.int64
    for field, mask in (("x", "x_valid_mask"), ("y", "y_valid_mask"), ("eo", "eo_valid_mask")):
        assert set(item[mask].unique().tolist()) <= {0.0, 1.0}
        assert (item[field][item[mask] == 0] == 0).all(), field
        assert torch.isfinite(item[field]).all()


def test_values_denormalize_to_the_store(tiny_store):
    ds = PatchDataset(tiny_store, "val")
    store = OceanStore.open(tiny_store)
    for i in range(min(len(ds), 4)):
        item = ds[i]
        row = store.index.set_index("patch_id").loc[int(item["patch_id"])]
        raw = store.read_window(int(row.time_index), int(row.y0), int(row.x0), int(row["size"]))
        y = ds.normalization.denormalize_depth(item["y"]).numpy()
        valid = raw[S.Y_MASK]
        np.testing.assert_allclose(y[valid], raw[S.Y][valid], atol=1e-4)
        np.testing.assert_array_equal(item["y_valid_mask"].numpy().astype(bool), valid)
        np.testing.assert_array_equal(item["land_mask"][0].numpy().astype(bool), raw[S.LAND])
        assert item["time"] == store.ds["time"].values[int(row.time_index)].astype("datetime64[D]").astype(int)


def test_normalized_train_targets_are_standardized(tiny_store):
    ds = PatchDataset(tiny_store, "train")
    ys = torch.stack([ds[i]["y"] for i in range(len(ds))])
    masks = torch.stack([ds[i]["y_valid_mask"] for i in range(len(ds))])
    level0 = ys[:, 0][masks[:, 0] > 0]
    assert level0.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert level0.std().item() == pytest.approx(1.0, abs=1e-2)


@pytest.mark.parametrize("world_size", [1, 2, 3, 5, 7])
def test_shards_are_disjoint_contiguous_and_cover_the_split(tiny_store, world_size):
    ds = PatchDataset(tiny_store, "train")
    shards = [ds.shard(r, world_size) for r in range(world_size)]
    ids = [s.patch_ids.tolist() for s in shards]
    assert sorted(sum(ids, [])) == sorted(ds.patch_ids.tolist())
    assert sum(ids, []) == ds.patch_ids.tolist()  # contiguous blocks in index order
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    if len(shards[-1]):
        assert shards[-1][len(shards[-1]) - 1]["patch_id"] == ds.patch_ids[-1]


def test_shard_rejects_bad_rank(tiny_store):
    with pytest.raises(ValueError, match="rank"):
        PatchDataset(tiny_store, "train").shard(3, 3)


def test_splits_are_disjoint(tiny_store):
    ids = {s: set(PatchDataset(tiny_store, s).patch_ids.tolist()) for s in S.SPLITS}
    assert all(ids.values())
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])


def test_patch_ids_subset_and_errors(tiny_store):
    full = PatchDataset(tiny_store, "val")
    pick = full.patch_ids[[1, 0]].tolist()
    sub = PatchDataset(tiny_store, "val", patch_ids=pick)
    assert sub.patch_ids.tolist() == pick and int(sub[0]["patch_id"]) == pick[0]
    train_id = int(PatchDataset(tiny_store, "train").patch_ids[0])
    with pytest.raises(ValueError, match="not in split 'val'"):
        PatchDataset(tiny_store, "val", patch_ids=[train_id])
    with pytest.raises(ValueError, match="split 'dev'"):
        PatchDataset(tiny_store, "dev")
    with pytest.raises(ValueError, match="available: \\['sst'\\]"):
        PatchDataset(tiny_store, "train", eo_channels=["adt"])


def test_pickles_without_open_handles_and_reopens(tiny_store):
    ds = PatchDataset(tiny_store, "train")
    first = ds[0]
    assert ds._store is not None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._store is None
    torch.testing.assert_close(clone[0]["y"], first["y"])


def test_dataloader_workers_read_the_same_items(tiny_store):
    ds = PatchDataset(tiny_store, "train")
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    batches = list(loader)
    assert batches[0]["x"].shape == (4, ds.n_levels, 16, 16)
    got = torch.cat([b["patch_id"] for b in batches])
    assert got.tolist() == ds.patch_ids.tolist()
    torch.testing.assert_close(batches[0]["y"][1], ds[1]["y"])


def test_in_memory_dataset_equals_zarr_dataset(tiny_store):
    zarr_ds, mem_ds = PatchDataset(tiny_store, "test"), PatchDataset(tiny_store, "test", in_memory=True)
    for i in range(len(zarr_ds)):
        a, b = zarr_ds[i], mem_ds[i]
        for key in a:
            torch.testing.assert_close(a[key], b[key])


def test_argo_only_store_has_zero_target(tmp_path, small_dataset):
    path = write_store(small_dataset(target=False), tmp_path / "argo.zarr", patch_size=8, progress=False,
                       split=SplitSpec(block_size=16, time_block=1))
    item = PatchDataset(path, "train")[0]
    assert item["y"].abs().sum() == 0 and item["y_valid_mask"].sum() == 0
    assert item["x_valid_mask"].shape == item["y_valid_mask"].shape
