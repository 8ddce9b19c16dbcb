"""IDW: observations kept exactly, weights behave as inverse distances."""

from __future__ import annotations

import torch

from depthdif.baselines.idw import InverseDistanceWeighting

from .conftest import stack


def one_level(values: dict[tuple[int, int], float], size: int = 5) -> dict:
    x, mask = torch.zeros(1, 1, size, size), torch.zeros(1, 1, size, size)
    for (r, c), v in values.items():
        x[0, 0, r, c], mask[0, 0, r, c] = v, 1
    return {"x": x, "x_valid_mask": mask}


def test_observations_are_preserved_exactly(smooth_fields):
    _, batch = smooth_fields
    pred = InverseDistanceWeighting(power=2.0, max_neighbours=4).fit([]).predict(batch)
    observed = batch["x_valid_mask"] > 0
    assert pred.shape == batch["x"].shape
    assert torch.equal(pred[observed], batch["x"][observed])
    assert torch.isfinite(pred).all()


def test_weights_are_inverse_distances_and_neighbours_are_capped():
    batch = one_level({(0, 0): 1.0, (0, 4): 3.0, (4, 4): 100.0})
    pred = InverseDistanceWeighting(power=1.0, max_neighbours=2).predict(batch)[0, 0]
    # (0, 2): nearest two are (0,0) and (0,4), both at distance 2 → plain average
    assert torch.isclose(pred[0, 2], torch.tensor(2.0))
    # (0, 1): distances 1 and 3 → (1·1 + 3·1/3) / (1 + 1/3)
    assert torch.isclose(pred[0, 1], torch.tensor((1.0 + 1.0) / (4 / 3)))
    nearest = InverseDistanceWeighting(power=2.0, max_neighbours=1).predict(batch)[0, 0]
    assert nearest[3, 4] == 100.0 and nearest[1, 0] == 1.0


def test_constant_field_stays_constant_and_empty_levels_are_zero():
    batch = one_level({(1, 1): 4.5, (3, 2): 4.5, (0, 4): 4.5})
    assert torch.allclose(InverseDistanceWeighting().predict(batch), torch.tensor(4.5))
    empty = stack([{"x": torch.zeros(2, 4, 4), "x_valid_mask": torch.zeros(2, 4, 4)}])
    assert torch.equal(InverseDistanceWeighting().predict(empty), torch.zeros(1, 2, 4, 4))
