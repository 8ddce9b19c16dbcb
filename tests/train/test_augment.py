"""Dihedral augmentation of training batches: aligned tensors, the whole group, scalars untouched."""

from __future__ import annotations

import torch

from depthdif.train.augment import DIHEDRAL_ORDER, dihedral


def toy_batch(h: int = 4, w: int = 4) -> dict:
    x = torch.arange(2 * 3 * h * w, dtype=torch.float32).reshape(2, 3, h, w)
    return {"x": x, "x_valid_mask": (x % 2 == 0).float(), "float_ids": x[:, 0].long(),
            "depth": torch.tensor([1.0, 5.0, 10.0]), "lat": torch.tensor([-40.0, -41.0])}


def test_every_spatial_tensor_moves_together_and_scalars_stay():
    batch = toy_batch()
    seen = set()
    for seed in range(64):
        out = dihedral(batch, torch.Generator().manual_seed(seed))
        assert torch.equal(out["x_valid_mask"], (out["x"] % 2 == 0).float())  # still aligned with x
        assert torch.equal(out["float_ids"], out["x"][:, 0].long())
        assert torch.equal(out["depth"], batch["depth"]) and torch.equal(out["lat"], batch["lat"])
        assert torch.equal(out["x"].flatten().sort().values, batch["x"].flatten().sort().values)  # permuted only
        seen.add(tuple(out["x"][0, 0].flatten().tolist()))
    assert len(seen) == DIHEDRAL_ORDER  # all 8 symmetries of the square, identity included


def test_non_square_windows_only_flip():
    batch = toy_batch(4, 6)
    shapes = {dihedral(batch, torch.Generator().manual_seed(s))["x"].shape for s in range(32)}
    assert shapes == {batch["x"].shape}
