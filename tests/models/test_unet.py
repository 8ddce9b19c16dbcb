import pytest
import torch

from depthdif.config.schema import UNetConfig
from depthdif.models.unet import UNet



def tiny_cfg(**kw) -> UNetConfig:
    base = dict(base_channels=8, channel_mults=[1, 2, 2], num_res_blocks=1, attention_levels=[2],
                attention_heads=2, time_embed_dim=16, groups=4, zero_init_output=False)
    base.update(kw)
    return UNetConfig(**base)


@pytest.mark.parametrize("size", [(16, 16), (13, 10)])
def test_output_shape_matches_noisy_branch(size):
    net = UNet(4, 9, 4, tiny_cfg())
    out = net(torch.randn(2, 4, *size), torch.tensor([0, 999]), torch.randn(2, 9, *size))
    assert out.shape == (2, 4, *size)


@pytest.mark.parametrize("blocks", [1, 2])
def test_every_skip_carries_gradient_to_the_decoder(blocks):
    """Cut the bottleneck path; each encoder skip must still reach the output on its own."""
    torch.manual_seed(0)
    net = UNet(3, 2, 3, tiny_cfg(num_res_blocks=blocks))
    x = torch.randn(2, 5, 16, 16)
    emb = net.time(torch.tensor([3, 40]))
    h, skips = net.encode(x, emb)
    expected = 1 + blocks * 3 + 2  # input conv + res blocks per level + downsamples
    assert len(skips) == expected
    skips = [s.detach().requires_grad_(True) for s in skips]
    net.decode(torch.zeros_like(h), skips, emb).square().sum().backward()
    for i, s in enumerate(skips):
        assert s.grad is not None and s.grad.abs().sum() > 0, f"skip {i} ({tuple(s.shape)}) is unused"


def test_decode_refuses_leftover_skips():
    net = UNet(1, 1, 1, tiny_cfg())
    x = torch.randn(1, 2, 8, 8)
    emb = net.time(torch.tensor([1]))
    h, skips = net.encode(x, emb)
    with pytest.raises(RuntimeError, match="not used"):
        net.decode(h, [skips[0]] + skips, emb)


def test_time_and_condition_change_the_output():
    torch.manual_seed(0)
    net = UNet(2, 3, 2, tiny_cfg())
    x, c = torch.randn(1, 2, 8, 8), torch.randn(1, 3, 8, 8)
    a = net(x, torch.tensor([1]), c)
    assert not torch.allclose(a, net(x, torch.tensor([500]), c))
    assert not torch.allclose(a, net(x, torch.tensor([1]), c + 1))


def test_channel_mismatch_names_the_counts():
    net = UNet(2, 3, 2, tiny_cfg())
    with pytest.raises(ValueError, match="2 noisy \\+ 3 condition"):
        net(torch.randn(1, 2, 8, 8), torch.tensor([1]), torch.randn(1, 4, 8, 8))


def test_zero_initialised_output_predicts_exactly_zero():
    net = UNet(3, 2, 3, tiny_cfg(zero_init_output=True))
    out = net(torch.randn(2, 3, 16, 16), torch.tensor([0, 500]), torch.randn(2, 2, 16, 16))
    assert torch.equal(out, torch.zeros_like(out))
