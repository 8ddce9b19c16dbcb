"""Exponential moving average of the denoiser weights, with a warm-up.

Upstream used a constant 0.9999 from step 0, which leaves early EMA weights mostly at their
random init; here decay_n = min(decay, (1 + n) / (10 + n)) (the ramp of TensorFlow's
ExponentialMovingAverage with num_updates), after `warmup_steps` updates that simply copy the
weights. The EMA copy is a submodule, so its weights travel in every state_dict / checkpoint.

The update is one `torch._foreach_lerp_` over all floating tensors (ema + (1 - d)(model - ema)),
instead of two kernels per tensor behind a fresh state_dict each step; `foreach=False` keeps that
per-tensor reference (equal to rounding; tests/diffusion/test_ema.py compares them).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """Holds `self.model`, an averaged copy of the tracked network, and its update counter."""

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup_steps: int = 0, foreach: bool = True):
        super().__init__()
        self.foreach = foreach
        self._slots: tuple[nn.Module, list, list] | None = None  # (tracked model, tensor_slots of both)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema.decay: {decay} not in [0, 1)")
        self.decay = decay
        self.warmup_steps = warmup_steps
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """The decay the next update will use."""
        n = int(self.num_updates) - self.warmup_steps
        if n < 0:
            return 0.0
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        """ema ← d·ema + (1 − d)·model for float tensors; other buffers are copied. Returns d."""
        decay = self.current_decay()
        if self.foreach:
            self._update_foreach(model, decay)
        else:
            self._update_per_tensor(model, decay)
        self.num_updates += 1
        return decay

    def _update_foreach(self, model: nn.Module, decay: float) -> None:
        if self._slots is None or self._slots[0] is not model:
            self._slots = (model, tensor_slots(self.model), tensor_slots(model))
        _, mine, theirs = self._slots
        averaged, tracked = [], []
        for (own, own_name), (other, other_name) in zip(mine, theirs, strict=True):
            target, value = own[own_name], other[other_name]
            if target.dtype.is_floating_point:
                averaged.append(target)
                tracked.append(value.detach().to(target.dtype))
            else:
                target.copy_(value)
        if averaged:
            torch._foreach_lerp_(averaged, tracked, 1.0 - decay)

    def _update_per_tensor(self, model: nn.Module, decay: float) -> None:
        ema_state = self.model.state_dict()
        for name, value in model.state_dict().items():
            target = ema_state[name]
            if target.dtype.is_floating_point:
                target.mul_(decay).add_(value.detach().to(target.dtype), alpha=1 - decay)
            else:
                target.copy_(value)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_slots"] = None  # rebuilt on the next update (it points into the tracked model)
        return state

    def train(self, mode: bool = True) -> "EMA":
        """The averaged copy always stays in eval mode (no dropout when sampling)."""
        super().train(mode)
        self.model.eval()
        return self


def tensor_slots(module: nn.Module) -> list[tuple[dict, str]]:
    """Where each parameter and buffer lives: (its owner's `_parameters` / `_buffers` dict, name).

    Walking the module tree (`parameters()`, `state_dict()`) each step cost more than the update
    itself on our small denoisers; the tree's shape never changes, so it is walked once. Reading
    through the owner's dict each step still sees tensors that `.to()` replaced (buffers)."""
    slots, seen = [], set()
    for kind in ("_parameters", "_buffers"):
        for owner in module.modules():
            for name, tensor in getattr(owner, kind).items():
                if tensor is not None and id(tensor) not in seen:  # a shared tensor is averaged once
                    seen.add(id(tensor))
                    slots.append((getattr(owner, kind), name))
    return slots
