import pytest
import torch

from depthdif.diffusion.ambient import ambient_fractions, ambient_inputs, further_mask, standard_inputs


def sparse_mask(b=4, d=5, h=8, w=8, columns=0.3, seed=0) -> torch.Tensor:
    """Profiles: observed columns with a random maximum depth (like Argo floats)."""
    g = torch.Generator().manual_seed(seed)
    col = (torch.rand(b, 1, h, w, generator=g) < columns).float()
    reach = torch.randint(1, d + 1, (b, 1, h, w), generator=g)
    levels = torch.arange(d).view(1, d, 1, 1)
    return col * (levels < reach).float()


@pytest.mark.parametrize("shared", [True, False])
def test_further_mask_is_below_original(shared):
    A = sparse_mask()
    At = further_mask(A, 0.5, 0, shared, torch.Generator().manual_seed(1))
    assert torch.all(At <= A)
    assert set(At.unique().tolist()) <= {0.0, 1.0}
    assert 0 < At.sum() < A.sum()


def test_zero_delta_leaves_mask_unchanged():
    A = sparse_mask()
    assert torch.equal(further_mask(A, 0.0, 3, True, torch.Generator().manual_seed(0)), A)
    assert torch.equal(further_mask(A, 0.0, 3, False, torch.Generator().manual_seed(0)), A)


def test_shared_mask_keeps_or_drops_whole_profiles():
    A = sparse_mask()
    At = further_mask(A, 0.5, 0, True, torch.Generator().manual_seed(2))
    column_kept = At.amax(1, keepdim=True)
    # every observed entry of a kept column survives; nothing survives in a dropped column
    assert torch.equal(At, A * column_kept)


def test_min_kept_counts_columns_when_shared_and_stays_shared():
    A = sparse_mask(columns=0.5)
    At = further_mask(A, 0.95, 6, True, torch.Generator().manual_seed(3))
    kept_cols = At.amax(1).flatten(1).sum(1)
    observed_cols = A.amax(1).flatten(1).sum(1)
    assert torch.all(kept_cols >= torch.clamp(observed_cols, max=6))
    assert torch.equal(At, A * At.amax(1, keepdim=True))  # the refill kept the mask shared


def test_min_kept_counts_entries_when_not_shared():
    A = sparse_mask(columns=0.5)
    At = further_mask(A, 0.95, 10, False, torch.Generator().manual_seed(4))
    assert torch.all(At.flatten(1).sum(1) >= torch.clamp(A.flatten(1).sum(1), max=10))
    assert torch.all(At <= A)


def test_sample_with_fewer_observations_than_min_kept_keeps_all():
    A = torch.zeros(1, 3, 4, 4)
    A[0, :2, 1, 1] = 1
    A[0, :1, 2, 3] = 1
    assert torch.equal(further_mask(A, 0.9, 5, True, torch.Generator().manual_seed(0)), A)
    assert torch.equal(further_mask(A, 0.9, 50, False, torch.Generator().manual_seed(0)), A)


def test_further_mask_is_deterministic_under_a_seed():
    A = sparse_mask()
    a = further_mask(A, 0.4, 2, True, torch.Generator().manual_seed(7))
    b = further_mask(A, 0.4, 2, True, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_fractions_match_counts():
    A = torch.zeros(1, 1, 2, 5)
    A[..., 0, :4] = 1
    At = A.clone()
    At[..., 0, :1] = 0
    f = ambient_fractions(A, At)
    assert f["ambient_observed_fraction_original"].item() == pytest.approx(0.4)
    assert f["ambient_observed_fraction_further"].item() == pytest.approx(0.3)
    assert f["ambient_further_drop_fraction"].item() == pytest.approx(0.25)
    assert ambient_fractions(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))["ambient_further_drop_fraction"] == 0


def test_objective_inputs_follow_the_seed():
    x, A, y, Y = torch.full((1, 1, 1, 3), 2.0), torch.tensor([[[[1.0, 1.0, 0.0]]]]), torch.ones(1, 1, 1, 3), \
        torch.tensor([[[[1.0, 0.0, 1.0]]]])
    At = torch.tensor([[[[1.0, 0.0, 0.0]]]])
    amb = ambient_inputs(x * A, A, Y, At, mask_noisy_branch=True)
    assert amb.target.tolist() == (x * A).tolist()  # target: the original sparse x
    assert amb.loss_mask.tolist() == [[[[1.0, 0.0, 0.0]]]]  # S = A ⊙ Y
    assert amb.cond_x.tolist() == [[[[2.0, 0.0, 0.0]]]] and amb.cond_mask is At and amb.noisy_mask is At
    assert ambient_inputs(x, A, Y, At, mask_noisy_branch=False).noisy_mask is None
    std = standard_inputs(x, A, y, Y)
    assert std.target is y and std.loss_mask is Y and std.cond_mask is A and std.noisy_mask is None


def test_argo_only_samples_take_the_observations_as_support():
    """S = A ⊙ Y per sample; a sample without any dense target (Argo-only store) uses S = A."""
    A = torch.zeros(2, 3, 4, 4)
    A[:, :2, 1, 1] = 1
    A[:, :, 2, 3] = 1
    Y = torch.zeros_like(A)
    Y[0, :2] = 1  # sample 0 has a target down to level 1; sample 1 has none
    inputs = ambient_inputs(torch.randn_like(A), A, Y, A, mask_noisy_branch=True)
    assert torch.equal(inputs.loss_mask[0], A[0] * Y[0])
    assert torch.equal(inputs.loss_mask[1], A[1])


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-entry"])
@pytest.mark.parametrize("delta", [0.1, 0.25, 0.6])
def test_the_drop_rate_matches_delta_statistically(shared, delta):
    """Without the min_kept floor the share of observed units dropped is δ within 4 binomial sigmas."""
    g = torch.Generator().manual_seed(11)
    A = (torch.rand(64, 6, 24, 24, generator=g) < 0.3).float()
    if shared:
        A = A[:, :1].expand(-1, 6, -1, -1).contiguous()
    At = further_mask(A, delta, 0, shared, torch.Generator().manual_seed(12))
    units = A[:, 0] if shared else A  # columns when shared (one draw per column), entries otherwise
    dropped = units - (At[:, 0] if shared else At)
    n = float(units.sum())
    rate = float(dropped.sum()) / n
    assert abs(rate - delta) < 4 * (delta * (1 - delta) / n) ** 0.5
