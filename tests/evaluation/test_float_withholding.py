"""Whole-float withholding on a real store: every profile of a withheld float leaves every input window."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from depthdif.benchmarks.withholding import monthly_store, same_float_leaks
from depthdif.data.dataset import PatchDataset
from depthdif.data.float_ids import platform_ids
from depthdif.data.store import OceanStore
from depthdif.data.synthetic import SynthConfig
from depthdif.evaluation.store_evaluation import collate
from depthdif.evaluation.withheld import withheld_floats, withhold_profiles

FRACTION, SEED = 0.3, 1234


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    """Floats profile 3 times per store step (a monthly store), so column withholding can leak."""
    cfg = SynthConfig(nlat=48, nlon=48, ntime=3, n_levels=6, patch_size=16, stride=16, obs_fraction=0.03,
                      val_fraction=0.3, test_fraction=0.3, seed=2)
    return monthly_store(cfg, tmp_path_factory.mktemp("monthly") / "m.zarr")


@pytest.mark.parametrize("split", ["val", "test"])
def test_no_profile_of_a_withheld_float_remains_in_any_input_window(monthly, split):
    store = OceanStore.open(monthly)
    profiles = store.profiles
    withheld_platforms = set(profiles["platform"][withheld_floats(platform_ids(profiles["platform"]), FRACTION, SEED)])
    dataset = PatchDataset(monthly, split)
    rows = store.index.set_index("patch_id").loc[dataset.patch_ids]
    batch = collate([dataset[i] for i in range(len(dataset))])
    held_in, _ = withhold_profiles(batch, FRACTION, SEED, "float")
    kept_columns = held_in["x_valid_mask"].gt(0).any(dim=1)
    checked = 0
    for i, row in enumerate(rows.itertuples()):
        mine = profiles[(profiles["time_index"] == row.time_index) & profiles["platform"].isin(withheld_platforms)
                        & profiles["iy"].between(row.y0, row.y0 + row.size - 1)
                        & profiles["ix"].between(row.x0, row.x0 + row.size - 1)]
        for iy, ix in zip(mine["iy"], mine["ix"]):
            assert not kept_columns[i, iy - row.y0, ix - row.x0], (row.Index, iy, ix)
            checked += 1
    assert checked > 5 and 0 < len(withheld_platforms) < profiles["platform"].nunique()
    # the same windows under column withholding do leak: a withheld column's float stays in the input
    column_in, column_withheld = withhold_profiles(batch, FRACTION, SEED, "column")
    float_in, float_withheld = withhold_profiles(batch, FRACTION, SEED, "float")
    assert same_float_leaks(batch, column_in, column_withheld)[1] > 0
    total, leaked = same_float_leaks(batch, float_in, float_withheld)
    assert total > 0 and leaked == 0


def test_a_store_without_float_ids_warns_and_withholds_single_profiles(monthly, tmp_path):
    source = OceanStore.open(monthly)
    from depthdif.data.store import write_store

    bare = write_store(source.ds.load(), tmp_path / "bare.zarr", patch_size=16, stride=16, progress=False)
    with pytest.warns(UserWarning, match="no profiles.parquet"):
        dataset = PatchDataset(bare, "train")
    batch = collate([dataset[i] for i in range(len(dataset))])
    observed = batch["x_valid_mask"].gt(0).any(dim=1)
    ids = batch["float_ids"]
    assert ids.shape[1] == 1 and torch.equal(ids[:, 0] >= 0, observed)  # one pseudo float per column
    _, withheld = withhold_profiles(batch, 0.5, SEED)
    share = withheld.gt(0).any(dim=1).sum() / observed.sum()
    assert 0.3 < float(share) < 0.7
    assert "per-profile" in dataset.float_index.fallback


def test_unique_platforms_warn_that_floats_are_single_profiles(monthly, tmp_path):
    source = OceanStore.open(monthly)
    from depthdif.data.store import write_store

    profiles = source.profiles.assign(platform=lambda p: [f"P{i}" for i in range(len(p))])
    store = write_store(source.ds.load(), tmp_path / "unique.zarr", profiles=profiles, patch_size=16, stride=16,
                        progress=False)
    with pytest.warns(UserWarning, match="single profile"):
        PatchDataset(store, "val")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PatchDataset(monthly, "val")  # a store with real float ids is silent
