"""The temporal leakage rule between splits: warn (default), drop, refuse; spatial blocking never leaks."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.data.index import SplitSpec, build_patch_index
from depthdif.data.split_leakage import SplitLeakageWarning, apply_leakage_rule, leaking_rows

SHAPE = (64, 64)
LAND = np.zeros(SHAPE, bool)


def daily(n: int) -> np.ndarray:
    return np.datetime64("2020-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")


def test_short_record_time_blocks_leak_and_spatial_blocks_do_not():
    """5 daily steps in blocks of 2: the same place is train on one day and val/test the next."""
    index = build_patch_index(LAND, np.zeros((5, *SHAPE), bool), patch_size=16,
                              split=SplitSpec(block_size=32, time_block=2, seed=1))
    leaks = leaking_rows(index, daily(5), SHAPE, decorrelation_days=15)
    held = (index["split"] != "train").to_numpy()
    assert held.any() and leaks[held].any() and not leaks[~held].any()
    # the rule is about time: a window 20 days from any train window does not leak at 15 days
    far = daily(5) + np.arange(5) * np.timedelta64(20, "D")
    assert not leaking_rows(index, far, SHAPE, decorrelation_days=15).any()
    spatial = build_patch_index(LAND, np.zeros((5, *SHAPE), bool), patch_size=16,
                                split=SplitSpec(block_size=32, time_block=5, seed=1))
    assert (spatial["split"] != "train").any() and not leaking_rows(spatial, daily(5), SHAPE, 15).any()


def test_policies_warn_drop_refuse():
    index = build_patch_index(LAND, np.zeros((5, *SHAPE), bool), patch_size=16,
                              split=SplitSpec(block_size=32, time_block=2, seed=1))
    n_leak = int(leaking_rows(index, daily(5), SHAPE, 15).sum())
    with pytest.warns(SplitLeakageWarning, match=rf"{n_leak} of \d+ val/test windows"):
        same, summary = apply_leakage_rule(index, daily(5), SHAPE, 15, "warn")
    assert len(same) == len(index) and summary["leaking_windows"] == n_leak
    with pytest.raises(ValueError, match="split leakage"):
        apply_leakage_rule(index, daily(5), SHAPE, 15, "refuse")
    try:
        kept, summary = apply_leakage_rule(index, daily(5), SHAPE, 15, "drop")
    except ValueError as exc:  # dropping may empty a split: then it says so
        assert "would leave no" in str(exc)
    else:
        assert len(kept) == len(index) - n_leak and summary["dropped_windows"] == n_leak
        assert kept["patch_id"].tolist() == list(range(len(kept)))
        assert not leaking_rows(kept, daily(5), SHAPE, 15).any()


def test_ingest_and_synth_expose_the_split_flags(tmp_path):
    from depthdif.cli import main
    from depthdif.data.store import OceanStore

    out = tmp_path / "s.zarr"
    args = ["data", "synth", "--out", str(out), "--size", "64", "--times", "4", "--levels", "4", "--patch-size", "16",
            "--space-block", "32", "--time-block", "4", "--leakage", "refuse", "--quiet"]
    assert main(args) == 0  # one time block: pure spatial blocking cannot leak
    split = OceanStore.open(out).index["split"]
    assert (split == "train").any() and (split != "train").any()
    assert main([*args[:-5], "--time-block", "1", "--leakage", "refuse", "--overwrite", "--quiet"]) == 2
