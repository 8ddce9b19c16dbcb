import pytest
import torch

from depthdif.config.schema import SamplingConfig
from depthdif.diffusion.sampling import SAMPLERS, sample_ensemble
from depthdif.diffusion.schedule import make_schedule

from ._gaussian import exact_x0_denoiser


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_ensemble_shape_determinism_and_member_independence(sampler):
    s = make_schedule("cosine", 30)
    cfg = SamplingConfig(sampler=sampler, steps=5, eta=0.3)
    den = exact_x0_denoiser(s)
    a = sample_ensemble(den, (2, 3, 4, 4), s, "x0", cfg, k=3, seed=11)
    b = sample_ensemble(den, (2, 3, 4, 4), s, "x0", cfg, k=3, seed=11)
    one = sample_ensemble(den, (2, 3, 4, 4), s, "x0", cfg, k=1, seed=11)
    assert a.shape == (3, 2, 3, 4, 4)
    assert torch.equal(a, b)
    assert torch.equal(one[0], a[0])  # member k does not depend on K
    assert not torch.equal(a[0], a[1])


def test_unknown_sampler_lists_allowed():
    s = make_schedule("cosine", 5)
    cfg = SamplingConfig()
    cfg.sampler = "euler"
    with pytest.raises(ValueError, match="ddim"):
        sample_ensemble(exact_x0_denoiser(s), (1, 1), s, "x0", cfg, k=1, seed=0)
