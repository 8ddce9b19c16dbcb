"""Patch index: window grid, land filter, split by cell, and the leakage rule checked directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from depthdif.data.index import (INDEX_COLUMNS, SplitSpec, build_patch_index, check_no_leakage,
                                 coverage_mask, window_sums)


def _grid(h=64, w=64, ntime=6, land_cols=8, seed=0):
    land = np.zeros((h, w), dtype=bool)
    land[:, :land_cols] = True
    rng = np.random.default_rng(seed)
    observed = (rng.random((ntime, h, w)) < 0.02) & ~land
    return land, observed


def _overlapping_pairs_ok(index: pd.DataFrame) -> None:
    """Brute force: any two windows sharing a pixel at the same time step share the split."""
    for _, group in index.groupby("time_index"):
        rows = group[["y0", "x0", "size", "split"]].to_numpy()
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                (ya, xa, sa, spa), (yb, xb, sb, spb) = rows[i], rows[j]
                overlap = ya < yb + sb and yb < ya + sa and xa < xb + sb and xb < xa + sa
                if overlap:
                    assert spa == spb, (rows[i], rows[j])


def test_columns_order_and_ids():
    land, observed = _grid()
    index = build_patch_index(land, observed, patch_size=16, stride=16)
    assert tuple(index.columns[:len(INDEX_COLUMNS)]) == INDEX_COLUMNS
    assert index["patch_id"].tolist() == list(range(len(index)))
    keys = list(zip(index["time_index"], index["y0"], index["x0"]))
    assert keys == sorted(keys)


def test_land_fraction_and_profile_counts_are_exact():
    land, observed = _grid()
    index = build_patch_index(land, observed, patch_size=16, stride=16, max_land_fraction=1.0)
    for row in index.itertuples():
        win = np.s_[row.y0:row.y0 + row.size, row.x0:row.x0 + row.size]
        assert row.land_fraction == pytest.approx(land[win].mean())
        assert row.n_profiles == observed[row.time_index][win].sum()


def test_max_land_fraction_drops_dry_windows():
    land, observed = _grid(land_cols=16)
    kept = build_patch_index(land, observed, patch_size=16, stride=16, max_land_fraction=0.5)
    assert (kept["land_fraction"] <= 0.5).all()
    assert (kept["x0"] > 0).all()  # the first column of windows is all land


@pytest.mark.parametrize("stride", [8, 16])
def test_no_val_or_test_window_overlaps_train_at_the_same_time(stride):
    land, observed = _grid(ntime=8)
    index = build_patch_index(land, observed, patch_size=16, stride=stride,
                              split=SplitSpec(block_size=32, time_block=2, seed=3))
    assert set(index["split"]) == {"train", "val", "test"}
    check_no_leakage(index, land.shape)
    _overlapping_pairs_ok(index)


def test_straddling_windows_are_dropped():
    land, observed = _grid(ntime=4)
    spec = SplitSpec(block_size=32, time_block=4, seed=1)
    dense = build_patch_index(land, observed, patch_size=16, stride=8, max_land_fraction=1.0, split=spec)
    all_windows = 4 * len(range(0, 49, 8)) ** 2
    assert len(dense) < all_windows  # windows across blocks of different splits are gone
    offsets = range(0, 49, 8)
    inside_one_block = sum(1 for y in offsets for x in offsets if y // 32 == (y + 15) // 32
                           and x // 32 == (x + 15) // 32)
    assert len(dense) >= 4 * inside_one_block  # ... but a window inside one block is always kept
    check_no_leakage(dense, land.shape)


def test_leakage_checker_catches_overlap():
    index = pd.DataFrame({"time_index": [0, 0], "y0": [0, 8], "x0": [0, 8], "size": [16, 16],
                          "split": ["train", "val"]})
    with pytest.raises(AssertionError, match="val overlaps train"):
        check_no_leakage(index, (32, 32))


def test_deterministic_by_seed_and_seed_matters():
    land, observed = _grid(ntime=8)
    a = build_patch_index(land, observed, patch_size=16, split=SplitSpec(seed=5, time_block=2))
    b = build_patch_index(land, observed, patch_size=16, split=SplitSpec(seed=5, time_block=2))
    pd.testing.assert_frame_equal(a, b)
    splits = {tuple(build_patch_index(land, observed, patch_size=16,
                                      split=SplitSpec(seed=s, time_block=2))["split"]) for s in range(5)}
    assert len(splits) > 1


def test_split_sizes_follow_fractions():
    land, observed = _grid(h=128, w=128, ntime=12, land_cols=0)
    index = build_patch_index(land, observed, patch_size=16, split=SplitSpec(block_size=32, time_block=2))
    share = index["split"].value_counts(normalize=True)
    assert share["train"] == pytest.approx(0.7, abs=0.08)
    assert share["val"] == pytest.approx(0.15, abs=0.08)


def test_coverage_mask_and_window_sums():
    index = pd.DataFrame({"time_index": [0, 0, 1], "y0": [0, 4, 0], "x0": [0, 4, 0], "size": [4, 4, 4],
                          "split": ["train", "train", "train"]})
    cover = coverage_mask(index, 0, (8, 8))
    assert cover.sum() == 32
    field = np.arange(64, dtype=float).reshape(8, 8)
    sums = window_sums(field, np.array([0, 4]), np.array([0, 4]), 4)
    assert sums.tolist() == [field[:4, :4].sum(), field[4:, 4:].sum()]


def test_bad_arguments_name_the_problem():
    land, observed = _grid()
    with pytest.raises(ValueError, match="larger than the grid"):
        build_patch_index(land, observed, patch_size=128)
    with pytest.raises(ValueError, match="block_size"):
        build_patch_index(land, observed, patch_size=16, split=SplitSpec(block_size=8))
    with pytest.raises(ValueError, match="val_fraction"):
        build_patch_index(land, observed, patch_size=16, split=SplitSpec(val_fraction=0.6, test_fraction=0.5))
