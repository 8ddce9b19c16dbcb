"""Random symmetries of the square applied to training batches (`training.augment: dihedral`).

Why: a network that corrects an analysis learns the few water masses of its training area and
carries them into a new area (issue 10: the skill benchmark's residual nets score far better on
withheld floats inside the training area than in the disjoint test area). The errors of an
objective analysis have no preferred orientation at window scale, so flips and quarter turns
multiply the training area's patterns eightfold without inventing data. One transform per batch
applies to every spatial tensor (x, masks, y, EO, land, float ids), keeping them aligned;
validation, calibration and inference never augment.
"""

from __future__ import annotations

import torch
from torch import Tensor

DIHEDRAL_ORDER = 8  # identity, 3 quarter turns, 4 reflections


def dihedral(batch: dict, generator: torch.Generator | None = None) -> dict:
    """The batch under one random element of the dihedral group (identity included), drawn
    from `generator` (default: torch's global stream). Non-square windows skip the transposes."""
    h, w = batch["x"].shape[-2:]
    code = int(torch.randint(0, DIHEDRAL_ORDER, (1,), generator=generator))
    if code == 0:
        return batch
    return {key: _transform(value, code, h, w) for key, value in batch.items()}


def _transform(value, code: int, h: int, w: int):
    if not isinstance(value, Tensor) or value.ndim < 3 or tuple(value.shape[-2:]) != (h, w):
        return value  # per-window scalars and the depth axis
    if code & 4 and h == w:
        value = value.transpose(-2, -1)
    if code & 1:
        value = value.flip(-1)
    if code & 2:
        value = value.flip(-2)
    return value.contiguous()
