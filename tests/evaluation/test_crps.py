"""crps_ensemble against brute force, the integral definition and the 2-member closed form."""

from __future__ import annotations

import torch

from depthdif.evaluation.crps import crps_ensemble, mean_abs_pair_difference


def test_pair_difference_matches_brute_force():
    members = torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    brute = (members.unsqueeze(0) - members.unsqueeze(1)).abs().mean(dim=(0, 1))
    torch.testing.assert_close(mean_abs_pair_difference(members), brute)
    torch.testing.assert_close(mean_abs_pair_difference(members, fair=True), brute * 25 / 20)


def test_two_member_closed_form_and_single_member_is_abs_error():
    x1, x2, y = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5]), torch.tensor([2.5, 4.0])
    expected = ((x1 - y).abs() + (x2 - y).abs()) / 2 - (x1 - x2).abs() / 4
    torch.testing.assert_close(crps_ensemble(torch.stack([x1, x2]), y), expected)
    torch.testing.assert_close(crps_ensemble(x1.unsqueeze(0), y), (x1 - y).abs())


def test_matches_the_integral_of_the_squared_cdf_difference():
    members, y = torch.tensor([0.2, 1.0, 1.7]), torch.tensor(0.9)
    grid = torch.linspace(-3.0, 5.0, 160001, dtype=torch.float64)
    cdf = (members.double().unsqueeze(1) <= grid).double().mean(dim=0)
    step = (y.double() <= grid).double()
    integral = torch.trapezoid((cdf - step) ** 2, grid)
    assert abs(float(crps_ensemble(members, y)) - float(integral)) < 1e-3
