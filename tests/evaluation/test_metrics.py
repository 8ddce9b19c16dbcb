"""ReconstructionMetrics equals hand computations in degC and reduces exactly across ranks."""

from __future__ import annotations

import math

import torch

from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.evaluation.withheld import withhold_profiles

DEPTH = [10.0, 300.0, 3000.0]
MEAN = [20.0, 8.0, 2.0]
STD = [2.0, 1.0, 0.5]


def tiny_batch() -> dict:
    """B=1, D=3, 1x3 grid, values in normalized units."""
    y = torch.tensor([[[[0.0, 1.0, -1.0]], [[0.5, 0.5, 0.5]], [[2.0, 2.0, 2.0]]]])
    y_mask = torch.tensor([[[[1.0, 1.0, 0.0]], [[1.0, 1.0, 1.0]], [[1.0, 0.0, 0.0]]]])
    x = torch.tensor([[[[0.0, 1.5, 0.0]], [[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]]])
    x_mask = torch.tensor([[[[0.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]]])
    return {"x": x, "x_valid_mask": x_mask, "y": y, "y_valid_mask": y_mask,
            "patch_id": torch.tensor([0])}


def test_deterministic_scores_equal_a_hand_computation():
    batch = tiny_batch()
    pred = torch.tensor([[[[1.0, 1.0, 9.0]], [[0.0, 1.5, 0.5]], [[0.0, 0.0, 0.0]]]])
    withheld = batch["x_valid_mask"].clone()
    metric = ReconstructionMetrics(DEPTH, MEAN, STD, max_depth_m=2000.0, bands_m=(0, 100, 2000))
    metric.update(pred, batch, withheld)
    out = metric.compute()
    # degC errors (pred − y) · std on valid y: level 0: [+2, 0]; level 1: [−0.5, +1, 0]; level 2 excluded (> 2000 m)
    errors = torch.tensor([2.0, 0.0, -0.5, 1.0, 0.0])
    assert math.isclose(out["rmse_full"], math.sqrt((errors**2).mean()), rel_tol=1e-6)
    assert math.isclose(out["mae_full"], errors.abs().mean(), rel_tol=1e-6)
    assert math.isclose(out["bias_full"], errors.mean(), rel_tol=1e-6)
    assert math.isclose(out["rmse_depth/0"], math.sqrt(2.0), rel_tol=1e-6)
    assert math.isclose(out["rmse_depth/2"], 2.0 * 0.5, rel_tol=1e-6)  # per-level keys exist for every level
    assert math.isclose(out["rmse_full_band/0-100m"], math.sqrt(2.0), rel_tol=1e-6)
    assert math.isclose(out["rmse_full_band/100-2000m"], math.sqrt(1.25 / 3), rel_tol=1e-6)
    # withheld: one entry, level 0, pred 1.0 vs x 1.5 → −0.5 · 2 °C
    assert math.isclose(out["rmse_withheld"], 1.0, rel_tol=1e-6)
    assert math.isclose(out["bias_withheld"], -1.0, rel_tol=1e-6)
    assert math.isclose(out["rmse_withheld_depth/0"], 1.0, rel_tol=1e-6)
    assert math.isnan(out["rmse_withheld_depth/1"])  # empty support is NaN, not an error
    assert "crps_full" not in out  # only with an ensemble


def test_depth_mean_cancels_and_std_scales():
    batch = tiny_batch()
    pred = batch["y"] + 0.25
    scores = []
    for mean, std in ((MEAN, STD), ([0.0] * 3, STD), (MEAN, [4.0, 2.0, 1.0])):
        metric = ReconstructionMetrics(DEPTH, mean, std)
        metric.update(pred, batch, torch.zeros_like(pred))
        scores.append(metric.compute()["rmse_depth/1"])
    assert math.isclose(scores[0], 0.25) and scores[0] == scores[1] and math.isclose(scores[2], 0.5)


def test_two_member_ensemble_spread_and_crps_in_degc():
    batch = tiny_batch()
    members = torch.stack([batch["y"] + 1.0, batch["y"] - 0.5])  # (K=2, B, D, H, W)
    metric = ReconstructionMetrics(DEPTH, MEAN, STD)
    metric.update(members, batch, batch["x_valid_mask"])
    out = metric.compute()
    by_depth = metric.by_depth()
    # level 1 (std 1): members y+1, y−0.5 → CRPS = (1 + 0.5)/2 − 1.5/4 = 0.375; var = 1.125
    assert math.isclose(by_depth["crps_full"][1], 0.375, rel_tol=1e-9)
    assert math.isclose(by_depth["spread_full"][1], math.sqrt(1.125), rel_tol=1e-9)
    assert math.isclose(by_depth["rmse_full"][1], 0.25, rel_tol=1e-9)  # ensemble mean is y + 0.25
    # overall pools levels 0 and 1 (std 2 and 1): CRPS scales with std
    assert math.isclose(out["crps_full"], (0.75 * 2 + 0.375 * 3) / 5, rel_tol=1e-6)
    # withheld: x = 1.5 at level 0 vs members 2.0, 0.5 → (0.5 + 1)/2 − 1.5/4 = 0.375, · 2 °C
    assert math.isclose(out["crps_withheld"], 0.75, rel_tol=1e-6)
    assert math.isclose(out["spread_withheld"], math.sqrt(1.125) * 2, rel_tol=1e-6)
    # spread-skill: spread over the RMSE of the ensemble mean, pooled like the other scores
    assert math.isclose(out["spread_skill_ratio"], out["spread_withheld"] / out["rmse_withheld"], rel_tol=1e-6)
    assert math.isclose(out["spread_skill_ratio_full"], out["spread_full"] / out["rmse_full"], rel_tol=1e-6)


def test_a_calibrated_ensemble_has_a_spread_skill_ratio_near_one():
    """Truth and K members drawn from the same distribution: ratio → sqrt(K / (K + 1))."""
    gen = torch.Generator().manual_seed(0)
    k, shape = 8, (4, 3, 16, 16)
    truth = torch.randn(shape, generator=gen)
    batch = {"x": torch.zeros(shape), "x_valid_mask": torch.zeros(shape), "y": truth, "y_valid_mask": torch.ones(shape)}
    metric = ReconstructionMetrics(DEPTH, MEAN, STD)
    metric.update(torch.randn((k, *shape), generator=gen), batch, torch.zeros(shape))
    ratio = metric.compute()["spread_skill_ratio_full"]
    assert abs(ratio - math.sqrt(k / (k + 1))) < 0.05
    collapsed = ReconstructionMetrics(DEPTH, MEAN, STD)
    collapsed.update(torch.zeros((k, *shape)) + 0.01 * torch.randn((k, *shape), generator=gen), batch,
                     torch.zeros(shape))
    assert collapsed.compute()["spread_skill_ratio_full"] < 0.05


def random_batch(b: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    shape = (b, 3, 4, 4)
    columns = (torch.rand(b, 1, 4, 4, generator=gen) < 0.5).float()
    x_mask = columns.expand(shape).clone()
    return {"x": torch.randn(shape, generator=gen) * x_mask, "x_valid_mask": x_mask,
            "y": torch.randn(shape, generator=gen), "y_valid_mask": (torch.rand(shape, generator=gen) < 0.8).float(),
            "patch_id": torch.arange(seed * 10, seed * 10 + b)}


def test_states_summed_across_unequal_ranks_equal_one_metric_on_all_data():
    batches = [random_batch(3, 1), random_batch(1, 2), random_batch(2, 3)]
    everything, rank0, rank1 = (ReconstructionMetrics(DEPTH, MEAN, STD, max_depth_m=5000.0) for _ in range(3))
    for i, batch in enumerate(batches):
        inputs, withheld = withhold_profiles(batch, 0.5, seed=0, mode="column")
        members = torch.stack([inputs["x"] + 0.1 * k for k in range(3)])
        everything.update(members, batch, withheld)
        (rank0 if i == 0 else rank1).update(members, batch, withheld)  # 3 samples vs 3 in 2 batches
    rank0.merge_state(rank1)  # the same sum reduction DDP applies
    merged, reference = rank0.compute(), everything.compute()
    assert merged.keys() == reference.keys()
    for key, value in reference.items():
        torch.testing.assert_close(merged[key], value, equal_nan=True, msg=key)
    assert not math.isnan(reference["rmse_withheld"]) and not math.isnan(reference["crps_full"])


def test_passing_the_withheld_input_instead_of_the_original_batch_is_an_error():
    batch = random_batch(2, 5)
    inputs, withheld = withhold_profiles(batch, 0.5, seed=0, mode="column")
    metric = ReconstructionMetrics(DEPTH, MEAN, STD)
    try:
        metric.update(inputs["x"], inputs, withheld)
    except ValueError as exc:
        assert "original batch" in str(exc)
    else:
        raise AssertionError("scoring against the withheld input must be refused")
