"""Background module: kinds, the fitted-first guard, and carrying a residual to unobserved top levels."""

from __future__ import annotations

import pytest
import torch

from depthdif.models.background import Background


def test_only_real_background_kinds_are_accepted():
    with pytest.raises(ValueError, match="oi_eo"):
        Background("none", 3, 1, 3)
    with pytest.raises(ValueError, match="kriging"):
        Background("kriging", 3, 1, 3)


def test_eo_regression_background_is_the_linear_map_of_eo():
    bg = Background("eo_regression", 2, 1, 2)
    bg.eo_coefficients.copy_(torch.tensor([[0.5, 2.0], [-1.0, 0.0]], dtype=torch.float64))
    bg.fitted.fill_(True)
    eo = torch.randn(3, 1, 4, 5)
    x = torch.zeros(3, 2, 4, 5)
    out = bg(x, torch.zeros_like(x), eo, torch.ones_like(eo))
    torch.testing.assert_close(out[:, 0], 0.5 + 2.0 * eo[:, 0])
    torch.testing.assert_close(out[:, 1], torch.full_like(out[:, 1], -1.0))


def test_the_shallowest_observed_residual_is_carried_up_in_degc():
    bg = Background("climatology", 4, 1, 4)
    bg.observed_levels.copy_(torch.tensor([False, False, True, True]))
    background = torch.zeros(2, 4, 3, 3)
    field = torch.randn(2, 4, 3, 3)
    std = torch.tensor([4.0, 2.0, 1.0, 0.5], dtype=torch.float64)
    out = bg.carry_to_top(field, background, std)
    torch.testing.assert_close(out[:, 2:], field[:, 2:])
    torch.testing.assert_close(out[:, 0], field[:, 2] / 4.0)  # same °C residual, level 0 std 4
    torch.testing.assert_close(out[:, 1], field[:, 2] / 2.0)
    bg.observed_levels.fill_(True)
    assert torch.equal(bg.carry_to_top(field, background, std), field)
