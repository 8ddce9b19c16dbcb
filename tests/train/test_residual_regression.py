"""The skill benchmark's deterministic reference (issue 10's feasibility net) on the tiny real store:
it starts exactly at its background, learns by regression, and its members carry no spread."""

from __future__ import annotations

import torch

from depthdif.benchmarks.residual_regression import ResidualRegression
from depthdif.train.datamodule import make_loaders
from depthdif.train.systems import store_meta

from ._tiny import tiny_config


def regression(store, **overrides) -> ResidualRegression:
    cfg = tiny_config(store, **{"model.background": "oi_eo", "data.batch_size": 4, **overrides})
    meta = store_meta(cfg)
    torch.manual_seed(0)
    system = ResidualRegression(cfg, meta.normalization, meta.depth)
    system.fit_background()
    return system


def test_untrained_it_returns_the_background_and_every_member_is_the_same(tiny_store):
    system = regression(tiny_store).eval()
    batch = next(iter(make_loaders(system.cfg)[0]))
    members, background = system.sample_raw(batch, k=3)
    assert members.shape == (3, *background.shape)
    assert torch.equal(members[0], background) and torch.equal(members[2], background)


def test_regression_steps_lower_its_loss_on_a_batch(tiny_store):
    """Plain MSE on the scaled residual: a few AdamW steps on one batch must reduce it, and the
    prediction (hence the members) then departs from the background."""
    system = regression(tiny_store, **{"model.background_profile_drop": 0.0})
    batch = next(iter(make_loaders(system.cfg)[0]))
    optimizer = torch.optim.AdamW(system.denoiser.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss, _ = system.compute_loss(batch, system.denoiser, torch.Generator().manual_seed(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
    system.ema = None  # score the trained weights themselves
    members, background = system.eval().sample_raw(batch, k=2)
    assert torch.equal(members[0], members[1]) and not torch.equal(members[0], background)
