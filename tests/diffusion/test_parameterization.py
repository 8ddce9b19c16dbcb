import pytest
import torch

from depthdif.diffusion.parameterization import (check_ambient_parameterization, eps_from_x0, split_prediction,
                                                 training_target, v_target, x0_from_eps)
from depthdif.diffusion.schedule import make_schedule


def noised(seed: int):
    """(schedule, x0, eps, t, x_t): a small batch noised at four timesteps, seeded."""
    s = make_schedule("cosine", 100)
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    t = torch.tensor([0, 10, 50, 99])
    return s, x0, eps, t, s.q_sample(x0, t, eps)


def test_x0_eps_round_trip_recovers_the_noise():
    s, x0, eps, t, x_t = noised(0)
    assert torch.allclose(eps_from_x0(x0, x_t, t, s), eps, atol=1e-4)
    assert torch.allclose(x0_from_eps(eps, x_t, t, s)[:3], x0[:3], atol=1e-3)


def test_split_prediction_clip_clamps_x0():
    s = make_schedule("cosine", 100)
    x_t, t = torch.zeros(1, 2), torch.tensor([5])
    x0_hat, _ = split_prediction(torch.tensor([[5.0, -0.5]]), x_t, t, s, "x0", clip=1.0)
    assert x0_hat.tolist() == [[1.0, -0.5]]
    x0_hat, _ = split_prediction(torch.tensor([[5.0, -0.5]]), x_t, t, s, "x0")
    assert x0_hat.tolist() == [[5.0, -0.5]]


def test_training_target_per_parameterization():
    x0, noise = torch.ones(2), torch.zeros(2)
    assert training_target("x0", x0, noise) is x0
    assert training_target("epsilon", x0, noise) is noise


def test_ambient_guard_raises_for_epsilon():
    with pytest.raises(ValueError, match="parameterization"):
        check_ambient_parameterization(True, True, "epsilon")
    check_ambient_parameterization(True, False, "epsilon")
    check_ambient_parameterization(False, True, "epsilon")
    check_ambient_parameterization(True, True, "x0")


def test_v_target_round_trips_to_x0_and_epsilon():
    s, x0, eps, t, x_t = noised(1)
    v = training_target("v", x0, eps, t, s)
    assert torch.equal(v, v_target(x0, eps, t, s))
    x0_hat, eps_hat = split_prediction(v, x_t, t, s, "v")
    assert torch.allclose(x0_hat, x0, atol=1e-5) and torch.allclose(eps_hat[1:], eps[1:], atol=1e-4)
    with pytest.raises(ValueError, match="timesteps"):
        training_target("v", x0, eps)
