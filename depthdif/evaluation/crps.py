"""Continuous ranked probability score of a K-member ensemble, entry by entry.

CRPS(F, y) = E|X − y| − ½ E|X − X'| (Gneiting & Raftery 2007, eq. 21). For the empirical
distribution of K members both expectations are plain means, and E|X − X'| over all K² ordered
pairs has a closed form on the sorted members (O(K log K), no K² tensor):

    Σ_i Σ_j |x_i − x_j| = 2 Σ_i (2i − K − 1) x_(i),  i = 1..K, x_(1) ≤ … ≤ x_(K).

`fair=True` divides the pair sum by K(K − 1) instead of K² (Ferro 2014), the unbiased estimate of
the CRPS of the distribution the members are drawn from; the default scores the ensemble as given.
For K = 1 both reduce to the absolute error.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mean_abs_pair_difference(members: Tensor, fair: bool = False) -> Tensor:
    """Mean of |x_i − x_j| over pairs of members (dim 0), via the sorted-rank identity."""
    k = members.shape[0]
    if k < 2:
        return torch.zeros_like(members[0])
    ranked, _ = torch.sort(members, dim=0)
    rank = torch.arange(1, k + 1, device=members.device, dtype=members.dtype)
    weight = (2 * rank - k - 1).reshape((k,) + (1,) * (members.dim() - 1))
    pair_sum = 2 * (weight * ranked).sum(dim=0)
    return pair_sum / (k * (k - 1) if fair else k * k)


def crps_ensemble(members: Tensor, observation: Tensor, fair: bool = False) -> Tensor:
    """CRPS per entry of an ensemble `members` (K, ...) against `observation` (...)."""
    skill = (members - observation.unsqueeze(0)).abs().mean(dim=0)
    return skill - 0.5 * mean_abs_pair_difference(members, fair=fair)
