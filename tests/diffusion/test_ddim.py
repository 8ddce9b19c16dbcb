import pytest
import torch

from depthdif.diffusion.ddim import ddim_sample, ddim_timesteps
from depthdif.diffusion.parameterization import eps_from_x0, v_target
from depthdif.diffusion.schedule import make_schedule

from ._gaussian import POST_MEAN, POST_VAR, exact_x0_denoiser


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_reproduces_the_gaussian_posterior(eta):
    s = make_schedule("cosine", 1000)
    x = ddim_sample(exact_x0_denoiser(s), (20000, 1), s, "x0", torch.Generator().manual_seed(0), steps=1000, eta=eta)
    assert x.mean().item() == pytest.approx(POST_MEAN, abs=0.02)
    assert x.var().item() == pytest.approx(POST_VAR, rel=0.05)


def test_ddim_eta0_epsilon_equals_x0_parameterization():
    s = make_schedule("cosine", 100)
    den = exact_x0_denoiser(s)
    a = ddim_sample(den, (128, 1), s, "x0", torch.Generator().manual_seed(0), steps=10)
    b = ddim_sample(lambda x, t: eps_from_x0(den(x, t), x, t, s), (128, 1), s, "epsilon",
                    torch.Generator().manual_seed(0), steps=10)
    assert torch.allclose(a, b, atol=1e-4)


def test_ddim_v_parameterization_equals_x0_parameterization():
    s = make_schedule("cosine", 100)
    den = exact_x0_denoiser(s)

    def as_v(x, t):  # the v that the exact x0 implies: v = √ᾱ ε − √(1−ᾱ) x0
        x0 = den(x, t)
        return v_target(x0, eps_from_x0(x0, x, t, s), t, s)

    a = ddim_sample(den, (128, 1), s, "x0", torch.Generator().manual_seed(0), steps=10)
    b = ddim_sample(as_v, (128, 1), s, "v", torch.Generator().manual_seed(0), steps=10)
    assert torch.allclose(a, b, atol=1e-4)


def test_ddim_passes_training_timesteps_and_is_deterministic():
    s = make_schedule("cosine", 100)
    seen = []

    def den(x, t):
        seen.append(int(t[0]))
        return torch.zeros_like(x)

    a = ddim_sample(den, (2, 3, 4, 4), s, "x0", torch.Generator().manual_seed(5), steps=5, eta=0.5)
    b = ddim_sample(den, (2, 3, 4, 4), s, "x0", torch.Generator().manual_seed(5), steps=5, eta=0.5)
    assert seen[:5] == [99, 74, 50, 25, 0] == ddim_timesteps(100, 5)
    assert a.shape == (2, 3, 4, 4) and torch.equal(a, b)


def test_ddim_does_not_clip_by_default():
    s = make_schedule("cosine", 20)
    x = ddim_sample(lambda x, t: torch.full_like(x, 7.0), (1, 1), s, "x0", torch.Generator().manual_seed(0), steps=4)
    assert x.item() == pytest.approx(7.0, abs=1e-4)
    x = ddim_sample(lambda x, t: torch.full_like(x, 7.0), (1, 1), s, "x0", torch.Generator().manual_seed(0),
                    steps=4, clip=3.0)
    assert x.item() == pytest.approx(3.0, abs=1e-4)
