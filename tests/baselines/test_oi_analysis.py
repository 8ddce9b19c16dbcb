"""Batched OI (`oi_analysis`) equals the textbook per-level analysis on each level's own observations."""

from __future__ import annotations

import torch

from depthdif.baselines import optimal_interpolation as oi_module
from depthdif.baselines.base import pixel_coordinates
from depthdif.baselines.optimal_interpolation import gaussian_correlation, oi_analysis


def reference(background, x, mask, length, nu):
    """One explicit solve per sample and level on exactly that level's observed pixels."""
    b, d, h, w = x.shape
    coords = pixel_coordinates(h, w)
    out = background.double().clone().reshape(b, d, h * w)
    for i in range(b):
        for k in range(d):
            obs = torch.nonzero(mask[i, k].reshape(-1)).flatten()
            if obs.numel() == 0:
                continue
            c_go = gaussian_correlation(torch.cdist(coords, coords[obs]) ** 2, float(length[k]))
            c_oo = c_go[obs] + float(nu[k]) * torch.eye(obs.numel(), dtype=torch.float64)
            r = x[i, k].reshape(-1)[obs].double() - out[i, k, obs]
            out[i, k] += c_go @ torch.linalg.solve(c_oo, r)
    return out.reshape(b, d, h, w)


def random_case(seed: int):
    gen = torch.Generator().manual_seed(seed)
    b, d, h, w = 3, 4, 9, 7
    x = torch.randn(b, d, h, w, generator=gen)
    background = 0.3 * torch.randn(b, d, h, w, generator=gen)
    columns = torch.rand(b, 1, h, w, generator=gen) < 0.2
    # levels with their own subsets: profiles of different depth reach, a level seen nowhere
    reach = torch.randint(0, d + 1, (b, 1, h, w), generator=gen)
    mask = (columns & (torch.arange(d).reshape(1, d, 1, 1) < reach)).float()
    mask[:, 0, 2, 3] = 1.0  # a level-0-only observation
    mask[1] = 0.0  # a sample without any observation
    length = torch.tensor([1.5, 3.0, 3.0, 6.0], dtype=torch.float64)
    nu = torch.tensor([0.01, 0.1, 0.3, 0.05], dtype=torch.float64)
    return background, x * mask, mask, length, nu


def test_batched_analysis_equals_per_level_solves():
    for seed in range(3):
        background, x, mask, length, nu = random_case(seed)
        got = oi_analysis(background, x, mask, length, nu)
        torch.testing.assert_close(got.double(), reference(background, x, mask, length, nu), atol=1e-5, rtol=1e-5)
        assert got.dtype == x.dtype
        torch.testing.assert_close(got[1], background[1])  # nothing observed: the background


def test_chunked_batches_give_the_same_analysis(monkeypatch):
    background, x, mask, length, nu = random_case(7)
    whole = oi_analysis(background, x, mask, length, nu)
    monkeypatch.setattr(oi_module, "MAX_SYSTEM_ENTRIES", 1)  # one sample per solve
    torch.testing.assert_close(oi_analysis(background, x, mask, length, nu), whole)


def test_an_unobserved_entry_cannot_influence_the_analysis():
    background, x, mask, length, nu = random_case(3)
    poked = x.clone()
    poked[mask == 0] = 1e3  # garbage where nothing is observed
    torch.testing.assert_close(oi_analysis(background, poked, mask, length, nu),
                               oi_analysis(background, x, mask, length, nu))
