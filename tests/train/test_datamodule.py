"""make_loaders on the tiny synthetic store: shards, the validation draw, seeded shuffle, store reading."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from depthdif.config.loader import replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.data.store import OceanStore
from depthdif.train.datamodule import SeededShuffle, make_loaders, val_patch_ids


def cfg_for(store, **overrides) -> ExperimentConfig:
    return replace_dotted(ExperimentConfig(), {"data.store": str(store), **overrides})


def test_train_shards_are_disjoint_and_cover_the_split(tiny_store):
    cfg = cfg_for(tiny_store)
    full = set(make_loaders(cfg)[0].dataset.patch_ids.tolist())
    shards = [set(make_loaders(cfg, rank=r, world_size=2)[0].dataset.patch_ids.tolist()) for r in range(2)]
    assert shards[0].isdisjoint(shards[1]) and shards[0] | shards[1] == full


def test_validation_is_a_fixed_draw_sharded(tiny_store):
    cfg = cfg_for(tiny_store, **{"data.val_subset": 5})
    whole = make_loaders(cfg)[1].dataset.patch_ids.tolist()
    assert len(whole) == 5 and whole == make_loaders(cfg)[1].dataset.patch_ids.tolist()
    index = OceanStore.open(tiny_store, check_chunks=False).index.set_index("patch_id")
    assert whole == sorted(whole) and set(index.loc[whole, "split"]) == {"val"}
    halves = [make_loaders(cfg, rank=r, world_size=2)[1].dataset.patch_ids.tolist() for r in range(2)]
    assert halves[0] + halves[1] == whole
    other_seed = make_loaders(replace_dotted(cfg, {"data.withheld_seed": 7}))[1].dataset.patch_ids.tolist()
    assert other_seed != whole  # 5 of 8 windows: another seed draws another set


def test_validation_draws_across_the_split_among_observed_windows():
    """On a real store the first windows of the split were all empty (NaN scores, a "best" loss of 0)."""
    index = pd.DataFrame({"patch_id": range(100), "split": ["val"] * 90 + ["train"] * 10,
                          "n_profiles": [0] * 40 + [1, 0] * 25 + [3] * 10})  # val: 40, 42, ..., 88 observed
    chosen = val_patch_ids(index, 10, seed=1234)
    assert len(chosen) == 10 and chosen == sorted(chosen) and chosen == val_patch_ids(index, 10, seed=1234)
    assert all(i >= 40 and i % 2 == 0 for i in chosen)
    assert max(chosen) - min(chosen) > 20  # spread across the split, not the first observed ones
    assert val_patch_ids(index, 100, seed=0) == list(range(40, 90, 2))  # fewer observed than asked: all
    with pytest.raises(ValueError, match="no val window holds an observed profile"):
        val_patch_ids(index.assign(n_profiles=0), 10, seed=0)


def test_cache_and_in_memory_settings_reach_the_datasets(tiny_store):
    cfg = cfg_for(tiny_store, **{"data.cache_mb": 3, "data.in_memory": True})
    for loader in make_loaders(cfg):
        assert loader.dataset.cache_bytes == 3 * 2**20 and loader.dataset.in_memory
    default = make_loaders(cfg_for(tiny_store))[0].dataset
    assert default.cache_bytes == 512 * 2**20 and not default.in_memory
    batch = next(iter(make_loaders(cfg)[1]))  # in-memory reads give the same windows
    assert torch.equal(batch["x"], next(iter(make_loaders(cfg_for(tiny_store))[1]))["x"])


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


def test_two_shards_with_two_loader_workers_each_see_every_window_once_per_epoch(tiny_store):
    from depthdif.data.chunk_sampler import ChunkShuffle

    cfg = cfg_for(tiny_store, **{"data.num_workers": 2, "data.batch_size": 2, "data.cache_mb": 1})
    train_ids = sorted(make_loaders(cfg_for(tiny_store))[0].dataset.patch_ids.tolist())
    loaders = [make_loaders(cfg, rank=r, world_size=2)[0] for r in range(2)]
    assert all(isinstance(loader.sampler, ChunkShuffle) and loader.num_workers == 2 for loader in loaders)
    orders = []
    for epoch in range(2):
        seen = []
        for loader in loaders:
            loader.sampler.set_epoch(epoch)  # what Lightning does at every epoch start
            seen += [int(i) for batch in loader for i in batch["patch_id"]]
        assert sorted(seen) == train_ids
        orders.append(seen)
    assert orders[0] != orders[1]


def test_window_shuffle_and_in_memory_reads_use_a_plain_permutation(tiny_store):
    for overrides in ({"data.shuffle": "windows"}, {"data.in_memory": True}, {"data.cache_mb": 0}):
        assert isinstance(make_loaders(cfg_for(tiny_store, **overrides))[0].sampler, SeededShuffle)


def test_loader_workers_default_follows_the_cpus_of_the_training_process(tiny_store):
    from depthdif.train.datamodule import loader_workers

    threads = torch.get_num_threads()
    try:
        for cpus, expected in ((1, 0), (2, 1), (4, 3), (16, 4)):
            torch.set_num_threads(cpus)  # Ray sets it to the CPUs it granted the process
            assert loader_workers(cfg_for(tiny_store)) == expected
        assert loader_workers(cfg_for(tiny_store, **{"data.in_memory": True})) == 0
        assert loader_workers(cfg_for(tiny_store, **{"data.num_workers": 3})) == 3
    finally:
        torch.set_num_threads(threads)
