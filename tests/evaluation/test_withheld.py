"""withhold_profiles: deterministic, whole columns, disjoint from the kept input."""

from __future__ import annotations

import torch

from depthdif.evaluation.withheld import observed_columns, withheld_count, withhold_profiles


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
    kept, withheld = withhold_profiles(batch, 0.3, seed=7)
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
    _, withheld = withhold_profiles(batch, 0.3, seed=1)
    assert withheld.gt(0).any(dim=1).sum(dim=(1, 2)).tolist() == [3, 3, 3, 3]
    assert [withheld_count(n, 0.2) for n in (0, 1, 2, 3, 5, 10)] == [0, 0, 0, 1, 1, 2]
    assert withheld_count(2, 0.99) == 1  # at least one profile stays in the input
    single = sparse_batch(b=1, profiles=1)
    kept, withheld = withhold_profiles(single, 0.9, seed=0)
    assert withheld.sum() == 0 and torch.equal(kept["x_valid_mask"], single["x_valid_mask"])


def test_withheld_is_deterministic_per_patch_not_per_batch():
    batch = sparse_batch(b=4)
    _, first = withhold_profiles(batch, 0.4, seed=3)
    _, again = withhold_profiles(batch, 0.4, seed=3)
    assert torch.equal(first, again)
    # the same patch in a different batch position / batch composition gets the same columns
    sub = {k: v[[2, 0]] for k, v in batch.items()}
    _, reordered = withhold_profiles(sub, 0.4, seed=3)
    assert torch.equal(reordered[0], first[2]) and torch.equal(reordered[1], first[0])
    # another seed picks other columns for at least one patch
    _, other = withhold_profiles(batch, 0.4, seed=4)
    assert not torch.equal(first, other)


def test_zero_fraction_withholds_nothing_and_bad_fraction_names_itself():
    batch = sparse_batch()
    kept, withheld = withhold_profiles(batch, 0.0, seed=0)
    assert withheld.sum() == 0 and torch.equal(kept["x"], batch["x"])
    try:
        withhold_profiles(batch, 1.0, seed=0)
    except ValueError as exc:
        assert "fraction" in str(exc)
    else:
        raise AssertionError("fraction 1.0 must be rejected")
    assert observed_columns(batch["x_valid_mask"]).sum() == 40
