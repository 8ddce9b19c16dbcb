"""withhold_profiles: deterministic, whole columns (column mode) or whole floats (float mode), disjoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthdif.evaluation.withheld import (observed_columns, withheld_count, withheld_float_ids, withheld_floats,
                                          withhold_profiles)


def sparse_batch(b: int = 4, d: int = 5, h: int = 8, w: int = 8, profiles: int = 10, seed: int = 0) -> dict:
    """Random profiles (columns) of random length from the surface, like Argo floats."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, d, h, w)
    for i in range(b):
        cells = torch.randperm(h * w, generator=gen)[:profiles]
        for cell in cells.tolist():
            depth_reached = int(torch.randint(1, d + 1, (1,), generator=gen))
            mask[i, :depth_reached, cell // w, cell % w] = 1
    x = torch.randn(b, d, h, w, generator=gen) * mask
    return {"x": x, "x_valid_mask": mask, "y": torch.randn(b, d, h, w, generator=gen),
            "patch_id": torch.arange(100, 100 + b, dtype=torch.int64)}


def test_withheld_columns_are_whole_disjoint_and_cover_the_original():
    batch = sparse_batch()
    kept, withheld = withhold_profiles(batch, 0.3, seed=7, mode="column")
    # disjoint: no entry is both kept and withheld; together they are the original mask
    assert (kept["x_valid_mask"] * withheld).sum() == 0
    assert torch.equal(kept["x_valid_mask"] + withheld, batch["x_valid_mask"])
    # whole columns: a withheld column has no kept entry at any depth, and keeps all its entries
    withheld_cols = withheld.gt(0).any(dim=1)
    assert not (kept["x_valid_mask"].gt(0).any(dim=1) & withheld_cols).any()
    assert torch.equal(withheld * withheld_cols.unsqueeze(1), batch["x_valid_mask"] * withheld_cols.unsqueeze(1))
    # x zeroed where withheld, untouched where kept; other keys are the same tensors
    assert (kept["x"] * withheld).abs().sum() == 0
    assert torch.equal(kept["x"], batch["x"] * kept["x_valid_mask"])
    assert kept["y"] is batch["y"] and batch["x_valid_mask"].sum() > kept["x_valid_mask"].sum()


def test_withheld_fraction_is_rounded_and_keeps_one_profile():
    batch = sparse_batch(profiles=10)
    _, withheld = withhold_profiles(batch, 0.3, seed=1, mode="column")
    assert withheld.gt(0).any(dim=1).sum(dim=(1, 2)).tolist() == [3, 3, 3, 3]
    assert [withheld_count(n, 0.2) for n in (0, 1, 2, 3, 5, 10)] == [0, 0, 0, 1, 1, 2]
    assert withheld_count(2, 0.99) == 1  # at least one profile stays in the input
    single = sparse_batch(b=1, profiles=1)
    kept, withheld = withhold_profiles(single, 0.9, seed=0, mode="column")
    assert withheld.sum() == 0 and torch.equal(kept["x_valid_mask"], single["x_valid_mask"])


def test_withheld_is_deterministic_per_patch_not_per_batch():
    batch = sparse_batch(b=4)
    _, first = withhold_profiles(batch, 0.4, seed=3, mode="column")
    _, again = withhold_profiles(batch, 0.4, seed=3, mode="column")
    assert torch.equal(first, again)
    # the same patch in a different batch position / batch composition gets the same columns
    sub = {k: v[[2, 0]] for k, v in batch.items()}
    _, reordered = withhold_profiles(sub, 0.4, seed=3, mode="column")
    assert torch.equal(reordered[0], first[2]) and torch.equal(reordered[1], first[0])
    # another seed picks other columns for at least one patch
    _, other = withhold_profiles(batch, 0.4, seed=4, mode="column")
    assert not torch.equal(first, other)


def test_zero_fraction_withholds_nothing_and_bad_fraction_names_itself():
    batch = sparse_batch()
    kept, withheld = withhold_profiles(batch, 0.0, seed=0, mode="column")
    assert withheld.sum() == 0 and torch.equal(kept["x"], batch["x"])
    try:
        withhold_profiles(batch, 1.0, seed=0)
    except ValueError as exc:
        assert "fraction" in str(exc)
    else:
        raise AssertionError("fraction 1.0 must be rejected")
    assert observed_columns(batch["x_valid_mask"]).sum() == 40


# --- float mode -----------------------------------------------------------------------------------

def float_batch(b: int = 3, d: int = 4, h: int = 8, w: int = 8, floats: int = 6, seed: int = 0) -> dict:
    """Each observed column was made by one of `floats` floats; one cell per sample is shared by two."""
    gen = torch.Generator().manual_seed(seed)
    batch = sparse_batch(b, d, h, w, profiles=12, seed=seed)
    observed = observed_columns(batch["x_valid_mask"])
    owner = torch.randint(0, floats, (b, h, w), generator=gen) + 1000
    ids = torch.full((b, 2, h, w), -1, dtype=torch.int64)
    ids[:, 0] = torch.where(observed, owner, torch.full_like(owner, -1))
    for i in range(b):  # a second float in the first observed cell of each sample
        cy, cx = torch.nonzero(observed[i])[0].tolist()
        ids[i, 1, cy, cx] = 1000 + (int(owner[i, cy, cx]) - 1000 + 1) % floats
    batch["float_ids"] = ids
    return batch


def test_float_mode_withholds_every_column_of_a_withheld_float_and_nothing_else():
    batch = float_batch()
    kept, withheld = withhold_profiles(batch, 0.4, seed=11)
    ids = batch["float_ids"]
    chosen = {i for i in range(1000, 1006) if withheld_floats(np.array([i]), 0.4, 11)[0]}
    assert 0 < len(chosen) < 6  # the seed withholds some floats, not all: the test can fail both ways
    is_chosen = sum((ids == f) for f in chosen).bool()  # (B, K, H, W)
    has_kept = ((ids >= 0) & ~is_chosen).any(dim=1)
    touched = is_chosen.any(dim=1)
    observed = observed_columns(batch["x_valid_mask"])
    # every column of a withheld float leaves the input, whole, also one it shares with a kept float
    assert not (observed_columns(kept["x_valid_mask"]) & touched).any()
    assert torch.equal(observed_columns(kept["x_valid_mask"]), observed & ~touched)
    # scored: the columns of withheld floats only; a cell shared with a kept float is not scored
    assert torch.equal(observed_columns(withheld), touched & observed & ~has_kept)
    shared = touched & has_kept & observed
    assert shared.any()  # the fixture has shared cells, so this branch is exercised
    assert torch.equal(withheld, batch["x_valid_mask"] * observed_columns(withheld).unsqueeze(1))
    assert withheld_float_ids(ids, observed_columns(withheld), 0.4, 11) <= chosen


def test_float_choice_depends_only_on_seed_and_float():
    batch = float_batch(seed=1)
    _, first = withhold_profiles(batch, 0.5, seed=5)
    sub = {k: v[[2, 0]] for k, v in batch.items()}  # another batch composition and order
    _, reordered = withhold_profiles(sub, 0.5, seed=5)
    assert torch.equal(reordered[0], first[2]) and torch.equal(reordered[1], first[0])
    ids = np.arange(2000, dtype=np.int64)
    share = withheld_floats(ids, 0.2, seed=5).mean()
    assert 0.17 < share < 0.23  # a Bernoulli(0.2) choice per float (2000 floats: ±3.5 sd)
    assert not np.array_equal(withheld_floats(ids, 0.2, 5), withheld_floats(ids, 0.2, 6))
    assert not withheld_floats(np.array([-1]), 0.99, 5)[0]  # -1 = no float, never withheld


def test_float_mode_needs_float_ids_and_names_the_mode():
    batch = sparse_batch()
    with pytest.raises(ValueError, match="float_ids"):
        withhold_profiles(batch, 0.2, seed=0)
    with pytest.raises(ValueError, match="allowed values"):
        withhold_profiles(batch, 0.2, seed=0, mode="profile")
