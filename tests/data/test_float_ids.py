"""FloatIndex: per-window float id rasters from the profile table; stable ids; fallbacks."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from depthdif.data.float_ids import FloatIndex, cell_ids, platform_ids


def table(rows: list[tuple[str, int, int, int]]) -> pd.DataFrame:
    platform, t, iy, ix = zip(*rows)
    return pd.DataFrame({"platform": platform, "time_index": t, "iy": iy, "ix": ix,
                         "profile_id": np.arange(len(rows))})


def test_platform_ids_are_stable_hashes_and_non_negative():
    ids = platform_ids(["6901234", "6901234", "3900001"])
    expected = int.from_bytes(hashlib.blake2b(b"6901234", digest_size=8).digest(), "little") & (2**63 - 1)
    assert ids[0] == ids[1] == expected and ids[2] != ids[0] and (ids >= 0).all()


def test_window_lists_every_float_of_each_cell():
    profiles = table([("A", 0, 1, 1), ("B", 0, 1, 1), ("A", 0, 2, 3), ("A", 1, 1, 1), ("C", 0, 9, 9),
                      ("B", 0, 1, 1)])  # B twice in one cell counts once; (9, 9) is outside the window
    index = FloatIndex.from_profiles(profiles, (10, 10), where="test")
    a, b = platform_ids(["A", "B"])
    assert index.k == 2 and index.fallback is None
    observed = np.zeros((4, 4), dtype=bool)
    observed[[0, 1], [0, 2]] = True
    window = index.window(0, 1, 1, 4, observed)
    assert window.shape == (2, 4, 4)
    assert sorted(window[:, 0, 0].tolist()) == sorted([a, b]) and window[:, 1, 2].tolist() == [a, -1]
    assert (window[:, 2:, :] == -1).all() and (window[1] >= 0).sum() == 1
    assert index.window(1, 1, 1, 4, np.zeros((4, 4), bool))[0, 0, 0] == a  # another step, same float


def test_an_observed_cell_without_a_profile_row_gets_its_own_pseudo_float():
    index = FloatIndex.from_profiles(table([("A", 0, 0, 0), ("A", 1, 0, 0)]), (8, 8), where="test")
    observed = np.zeros((4, 4), dtype=bool)
    observed[3, 2] = True
    window = index.window(0, 4, 4, 4, observed)
    assert window[0, 3, 2] == cell_ids([0], [7], [6], (8, 8))[0] >= 0
    assert cell_ids([0], [7], [6], (8, 8))[0] != cell_ids([1], [7], [6], (8, 8))[0]


def test_missing_platforms_fall_back_with_a_warning():
    blank = table([("", 0, 0, 0), ("  ", 0, 1, 1)])
    with pytest.warns(UserWarning, match="no usable `platform`"):
        index = FloatIndex.from_profiles(blank, (4, 4), where="store.zarr")
    assert "per-profile" in index.fallback
    partial = table([("A", 0, 0, 0), ("A", 1, 0, 0), ("", 0, 1, 1)])
    with pytest.warns(UserWarning, match="1 profiles have no platform"):
        index = FloatIndex.from_profiles(partial, (4, 4), where="store.zarr")
    window = index.window(0, 0, 0, 2, np.ones((2, 2), bool))
    assert window[0, 0, 0] == platform_ids(["A"])[0] and window[0, 1, 1] >= 0 and window[0, 1, 1] != window[0, 0, 0]
