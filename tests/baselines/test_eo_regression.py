"""EO regression recovers a known per-depth linear relation; climatology is the level mean."""

from __future__ import annotations

import torch

from depthdif.baselines.climatology import Climatology
from depthdif.baselines.eo_regression import EORegression

INTERCEPT, SLOPE = torch.tensor([0.3, -0.2, 0.0]), torch.tensor([0.9, 0.4, -0.7])


def linear_items(n: int, seed: int) -> list[dict]:
    gen = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        eo = torch.randn(1, 8, 8, generator=gen)
        eo_valid = (torch.rand(1, 8, 8, generator=gen) > 0.1).float()
        y = INTERCEPT.reshape(3, 1, 1) + SLOPE.reshape(3, 1, 1) * eo + 0.01 * torch.randn(3, 8, 8, generator=gen)
        y_valid = (torch.rand(3, 8, 8, generator=gen) > 0.3).float()
        items.append({"x": torch.zeros(3, 8, 8), "x_valid_mask": torch.zeros(3, 8, 8), "y": y * y_valid,
                      "y_valid_mask": y_valid, "eo": eo * eo_valid, "eo_valid_mask": eo_valid})
    return items


def test_recovers_a_known_linear_relation():
    model = EORegression().fit(linear_items(10, seed=0))
    torch.testing.assert_close(model.coefficients[:, 0].float(), INTERCEPT, atol=5e-3, rtol=0)
    torch.testing.assert_close(model.coefficients[:, 1].float(), SLOPE, atol=5e-3, rtol=0)
    test = linear_items(1, seed=1)[0]
    pred = model.predict({k: v.unsqueeze(0) for k, v in test.items()})[0]
    valid = (test["y_valid_mask"] * test["eo_valid_mask"]) > 0
    assert (pred - test["y"])[valid].abs().max() < 0.05
    # where EO is missing the prediction falls back to the intercept
    gap = test["eo_valid_mask"][0] == 0
    assert torch.allclose(pred[:, gap], model.coefficients[:, :1].float().expand(3, int(gap.sum())))


def test_climatology_is_the_training_level_mean():
    items = linear_items(4, seed=2)
    expected = torch.stack([it["y"] for it in items]).sum(dim=(0, 2, 3)) / \
        torch.stack([it["y_valid_mask"] for it in items]).sum(dim=(0, 2, 3))
    model = Climatology().fit(items)
    torch.testing.assert_close(model.level_mean.float(), expected)
    pred = model.predict({"x": torch.zeros(2, 3, 8, 8)})
    assert pred.shape == (2, 3, 8, 8) and torch.allclose(pred[1, 2], expected[2])
