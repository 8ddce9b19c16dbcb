"""make_loaders on the tiny synthetic store: shards, the fixed validation subset, seeded shuffle."""

from __future__ import annotations

import torch

from depthdif.config.loader import replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.train.datamodule import SeededShuffle, make_loaders


def cfg_for(store, **overrides) -> ExperimentConfig:
    return replace_dotted(ExperimentConfig(), {"data.store": str(store), **overrides})


def test_train_shards_are_disjoint_and_cover_the_split(tiny_store):
    cfg = cfg_for(tiny_store)
    full = set(make_loaders(cfg)[0].dataset.patch_ids.tolist())
    shards = [set(make_loaders(cfg, rank=r, world_size=2)[0].dataset.patch_ids.tolist()) for r in range(2)]
    assert shards[0].isdisjoint(shards[1]) and shards[0] | shards[1] == full


def test_validation_is_the_fixed_first_subset_sharded(tiny_store):
    cfg = cfg_for(tiny_store, **{"data.val_subset": 5})
    whole = make_loaders(cfg)[1].dataset.patch_ids.tolist()
    assert len(whole) == 5 and whole == make_loaders(cfg)[1].dataset.patch_ids.tolist()
    halves = [make_loaders(cfg, rank=r, world_size=2)[1].dataset.patch_ids.tolist() for r in range(2)]
    assert halves[0] + halves[1] == whole


def test_shuffle_is_seeded_per_epoch():
    a, b = SeededShuffle(20, seed=3), SeededShuffle(20, seed=3)
    first = list(a)
    assert first == list(b) and sorted(first) == list(range(20))
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)


def test_batches_follow_the_contract(tiny_store):
    cfg = cfg_for(tiny_store, **{"data.batch_size": 4})
    batch = next(iter(make_loaders(cfg)[0]))
    b, d, h, w = batch["x"].shape
    assert b == 4 and batch["eo"].shape == (4, 1, h, w) and batch["land_mask"].shape == (4, 1, h, w)
    assert batch["x"].dtype == torch.float32 and batch["patch_id"].dtype == torch.int64
