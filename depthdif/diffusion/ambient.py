"""The ambient occlusion objective of seed 000: Ã = B ⊙ A for training, S = A ⊙ Y for the loss.

Pure tensor functions, testable without Lightning. Inference never calls `further_mask` with
a fresh draw per step: sampling conditions on the full (x, A) (or on one fixed Ã, see
`sampling.ambient_mode`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def further_mask(A: Tensor, delta: float, min_kept: int, shared_spatial: bool,
                 generator: torch.Generator | None = None) -> Tensor:
    """Ã = B ⊙ A with B ~ Bernoulli(1 - δ) on observed entries (seed 000 §2), so Ã ≤ A.

    A: (B, D, H, W) 0/1 observation mask. With `shared_spatial` one (B, 1, H, W) keep draw is
    broadcast over depth, so whole profiles are dropped. `min_kept` is a per-sample floor on what
    stays observed: observed COLUMNS when shared (refilled column-wise, so Ã stays shared), entries
    otherwise; a sample with fewer than `min_kept` observed keeps all of them. Upstream counted
    entries even when shared, which refilled single levels and broke the shared mask.
    Random numbers are drawn on the CPU from `generator`, so results do not depend on the device.
    """
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"model.ambient_occlusion.further_drop_prob: {delta} not in [0, 1)")
    if A.dim() != 4:
        raise ValueError(f"further_mask: A must be (B, D, H, W), got shape {tuple(A.shape)}")
    if delta == 0.0:
        return A.clone()
    support = (A.amax(dim=1, keepdim=True) if shared_spatial else A) > 0
    flat_support = support.flatten(1).cpu()
    keep = torch.rand(flat_support.shape, generator=generator) >= delta
    keep = _refill(keep & flat_support, flat_support, min_kept, generator)
    keep = keep.reshape(support.shape).to(device=A.device, dtype=A.dtype)
    return A * keep


def _refill(kept: Tensor, support: Tensor, min_kept: int, generator: torch.Generator | None) -> Tensor:
    """Switch random dropped-but-observed units back on until each row keeps min(min_kept, |support|)."""
    need = torch.clamp(support.sum(1), max=min_kept)
    deficit = need - kept.sum(1)
    if min_kept <= 0 or not bool((deficit > 0).any()):
        return kept
    candidates = support & ~kept
    scores = torch.rand(kept.shape, generator=generator)
    scores = torch.where(candidates, scores, torch.full_like(scores, -1.0))
    order = scores.argsort(dim=1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return kept | (candidates & (rank < deficit.clamp(min=0).unsqueeze(1)))


def ambient_fractions(A: Tensor, A_further: Tensor) -> dict[str, Tensor]:
    """The seed's logged fractions (names without the train/ or val/ prefix)."""
    original = A.float().mean()
    further = A_further.float().mean()
    drop = torch.where(original > 0, (original - further) / original.clamp_min(1e-12), torch.zeros_like(original))
    return {
        "ambient_further_drop_fraction": drop,
        "ambient_observed_fraction_original": original,
        "ambient_observed_fraction_further": further,
    }


@dataclass
class ObjectiveInputs:
    """What one training/validation step diffuses, conditions on and scores.

    target: the clean sample x0 (y in standard mode, sparse x in ambient mode);
    target_mask: where the target is defined (Y, or A in ambient mode);
    loss_mask: where the loss is taken (Y, or S = A ⊙ Y in ambient mode; land never gates it);
    cond_x / cond_mask: the sparse input and its mask given to the condition (x, A or x̃, Ã);
    noisy_mask: multiplies the noisy branch (Ã in ambient mode when configured), else None.
    """

    target: Tensor
    target_mask: Tensor
    loss_mask: Tensor
    cond_x: Tensor
    cond_mask: Tensor
    noisy_mask: Tensor | None = None


def standard_inputs(x: Tensor, A: Tensor, y: Tensor, Y: Tensor) -> ObjectiveInputs:
    """Non-ambient mode (seed 000 §5): target y on Y, condition on the full (x, A)."""
    return ObjectiveInputs(target=y, target_mask=Y, loss_mask=Y, cond_x=x, cond_mask=A)


def target_depth_support(Y: Tensor) -> Tensor:
    """Y for S = A ⊙ Y; a sample with no dense target at all (an Argo-only store: y_valid_mask is
    all 0) takes Y = 1, so S = A and the ambient objective learns from the observations alone, as
    seed 000 intends. Any sample with a target keeps its own Y (a patch with ocean has some)."""
    has_target = Y.flatten(1).amax(dim=1) > 0
    return torch.where(has_target.view(-1, *([1] * (Y.dim() - 1))), Y, torch.ones_like(Y))


def ambient_inputs(x: Tensor, A: Tensor, Y: Tensor, A_further: Tensor, mask_noisy_branch: bool) -> ObjectiveInputs:
    """Ambient mode (seed 000 §4): condition on (x̃ = Ã ⊙ x, Ã), target the original x on S = A ⊙ Y."""
    return ObjectiveInputs(
        target=x,
        target_mask=A,
        loss_mask=A * target_depth_support(Y),  # S = A ⊙ Y (seed 000 §4.2)
        cond_x=A_further * x,  # x̃ = Ã ⊙ x (§4.1)
        cond_mask=A_further,
        noisy_mask=A_further if mask_noisy_branch else None,  # x̃_t = Ã ⊙ x_t (§4.1, optional)
    )
