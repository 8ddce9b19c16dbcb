import pytest
import torch

from depthdif.diffusion.schedule import SCHEDULES, make_schedule


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_alpha_bar_decreases_from_one_to_near_zero(kind):
    s = make_schedule(kind, 1000, 1e-4, 0.02)
    abar = s.alpha_bars
    assert abar.shape == (1000,)
    assert torch.all(abar[1:] < abar[:-1])
    assert 0.99 < float(abar[0]) < 1.0
    assert float(abar[-1]) < 1e-3


def test_q_sample_matches_closed_form():
    s = make_schedule("linear", 10, 0.1, 0.2)
    x0, noise, t = torch.ones(2, 3), torch.full((2, 3), 2.0), torch.tensor([0, 9])
    abar = torch.cumprod(1 - torch.linspace(0.1, 0.2, 10, dtype=torch.float64), 0)
    expected = torch.stack([abar[0].sqrt() + 2 * (1 - abar[0]).sqrt(), abar[9].sqrt() + 2 * (1 - abar[9]).sqrt()])
    assert torch.allclose(s.q_sample(x0, t, noise)[:, 0], expected.float())


def test_unknown_schedule_names_the_allowed_ones():
    with pytest.raises(ValueError, match="cosine"):
        make_schedule("quadratic", 10)
