import torch

from depthdif.config.schema import ConditionConfig
from depthdif.models.condition import build_condition, condition_channels


def test_condition_order_and_channel_count():
    x = torch.full((1, 2, 3, 3), 5.0)
    mask = torch.zeros(1, 2, 3, 3)
    mask[:, 0, 1, 1] = 1
    eo, eo_mask, land = torch.full((1, 1, 3, 3), 2.0), torch.ones(1, 1, 3, 3), torch.zeros(1, 1, 3, 3)
    land[..., 0, 0] = 1
    cfg = ConditionConfig(include_eo=True, include_land_mask=True)
    cond = build_condition(x, mask, eo, eo_mask, land, cfg)
    assert cond.shape[1] == condition_channels(2, 1, cfg) == 7
    assert cond[0, 0, 1, 1] == 5 and cond[0, 0].sum() == 5  # x is re-masked by the per-depth mask
    assert torch.equal(cond[:, 2:4], mask)  # per-depth mask, not collapsed
    assert torch.equal(cond[:, 4:5], eo) and torch.equal(cond[:, 6:7], land)
    bare = ConditionConfig(include_eo=False, include_land_mask=False)
    assert build_condition(x, mask, eo, eo_mask, land, bare).shape[1] == condition_channels(2, 1, bare) == 4
