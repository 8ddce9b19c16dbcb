import pytest
import torch

from depthdif.diffusion.ddpm import ddpm_sample
from depthdif.diffusion.parameterization import eps_from_x0
from depthdif.diffusion.schedule import make_schedule

from ._gaussian import POST_MEAN, POST_VAR, exact_x0_denoiser


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_ddpm_reproduces_the_gaussian_posterior(variance):
    s = make_schedule("cosine", 1000)
    x = ddpm_sample(exact_x0_denoiser(s), (20000, 1), s, "x0", torch.Generator().manual_seed(0),
                    posterior_variance=variance)
    assert x.mean().item() == pytest.approx(POST_MEAN, abs=0.02)
    assert x.var().item() == pytest.approx(POST_VAR, rel=0.05)


def test_ddpm_epsilon_parameterization_agrees_with_x0():
    s = make_schedule("linear", 200, 1e-4, 0.05)
    den = exact_x0_denoiser(s)
    a = ddpm_sample(den, (64, 1), s, "x0", torch.Generator().manual_seed(3))
    b = ddpm_sample(lambda x, t: eps_from_x0(den(x, t), x, t, s), (64, 1), s, "epsilon",
                    torch.Generator().manual_seed(3))
    assert torch.allclose(a, b, atol=1e-3)


def test_ddpm_is_deterministic_under_a_seed_and_keeps_shape():
    s = make_schedule("cosine", 50)
    den = exact_x0_denoiser(s)
    a = ddpm_sample(den, (2, 3, 4, 5), s, "x0", torch.Generator().manual_seed(1))
    b = ddpm_sample(den, (2, 3, 4, 5), s, "x0", torch.Generator().manual_seed(1))
    c = ddpm_sample(den, (2, 3, 4, 5), s, "x0", torch.Generator().manual_seed(2))
    assert a.shape == (2, 3, 4, 5) and torch.equal(a, b) and not torch.equal(a, c)


def test_ddpm_rejects_unknown_variance():
    s = make_schedule("cosine", 5)
    with pytest.raises(ValueError, match="beta_tilde"):
        ddpm_sample(exact_x0_denoiser(s), (1, 1), s, "x0", posterior_variance="learned")
