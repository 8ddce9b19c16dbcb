import pytest
import torch
from torch import nn

from depthdif.diffusion.ema import EMA


def test_warmup_decay_schedule():
    ema = EMA(nn.Linear(1, 1), decay=0.999, warmup_steps=2)
    decays = []
    for _ in range(5):
        decays.append(ema.current_decay())
        ema.num_updates += 1
    assert decays[:2] == [0.0, 0.0]
    assert decays[2:] == pytest.approx([1 / 10, 2 / 11, 3 / 12])
    ema.num_updates.fill_(10**6)
    assert ema.current_decay() == 0.999


def test_update_averages_weights_and_state_dict_carries_them():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.9, warmup_steps=0)
    with torch.no_grad():
        model.weight.fill_(1.0)
    d = ema.update(model)  # n = 0: d = min(0.9, 1/10)
    assert d == pytest.approx(0.1)
    assert ema.model.weight.item() == pytest.approx(0.9)
    assert not ema.model.weight.requires_grad
    state = ema.state_dict()
    fresh = EMA(nn.Linear(1, 1, bias=False), decay=0.9)
    fresh.load_state_dict(state)
    assert fresh.model.weight.item() == pytest.approx(0.9) and int(fresh.num_updates) == 1


def test_foreach_update_matches_the_per_tensor_reference():
    """Floats (weights and float buffers) averaged, integer buffers copied, equal to rounding."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Linear(6, 3))
    fast, reference = EMA(model, decay=0.95, warmup_steps=2), EMA(model, decay=0.95, warmup_steps=2, foreach=False)
    for _ in range(6):
        model.train()(torch.randn(2, 2, 8, 8))  # moves BatchNorm's running stats and its step counter
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.1)
        assert fast.update(model) == reference.update(model)
    for (name, a), (_, b) in zip(fast.model.state_dict().items(), reference.model.state_dict().items()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7), name
    assert int(fast.model[1].num_batches_tracked) == 6
    assert not torch.allclose(fast.model[0].weight, model[0].weight)  # averaged, not copied
