"""The optimizer step's implementation: fused AdamW and foreach gradient clipping.

PyTorch picks its multi-tensor kernels by default only for CUDA parameters: on a CPU (and in
Lightning's clipping, which calls `clip_grad_norm_` without `foreach`) every parameter tensor
is updated by its own small kernels, and on the small denoisers of our studies that per-tensor
overhead is a sixth of a training step. `training.fused_step` (default true) asks for the fused
AdamW kernel (CPU and CUDA) and the foreach norm and clip; false keeps PyTorch's per-tensor
defaults, the reference the benchmark and tests compare against (same numbers to rounding).

Fused AdamW unscales fp16 gradients inside its step, so Lightning cannot clip them first: under
`precision: 16-mixed` the step falls back to foreach AdamW (bf16 and fp32 have no scaler).
"""

from __future__ import annotations

from collections.abc import Iterable

import lightning.pytorch as pl
import torch

FUSED_DEVICES = ("cpu", "cuda", "mps", "xpu")


def adamw(params: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float, fused_step: bool,
          precision: str = "32-true") -> torch.optim.AdamW:
    """AdamW with the fastest implementation this setup allows (see the module docstring)."""
    params = list(params)
    if not fused_step:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    fused = precision != "16-mixed" and all(p.device.type in FUSED_DEVICES and p.dtype.is_floating_point
                                            for p in params)
    implementation = {"fused": True} if fused else {"foreach": True}
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **implementation)


def clip_gradients(optimizer: torch.optim.Optimizer, value: float | None, algorithm: str, *, foreach: bool) -> None:
    """Clip the gradients of the optimizer's parameters by norm or value (no-op for None / 0)."""
    if not value:
        return
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if algorithm == "norm":
        torch.nn.utils.clip_grad_norm_(params, value, foreach=foreach)
    elif algorithm == "value":
        torch.nn.utils.clip_grad_value_(params, value, foreach=foreach)
    else:
        raise ValueError(f"gradient_clip_algorithm {algorithm!r}: allowed values are ['norm', 'value']")


def clip_step(module: pl.LightningModule, optimizer: torch.optim.Optimizer, value: float | None,
              algorithm: str | None, *, fused_step: bool) -> None:
    """A system's `configure_gradient_clipping`: foreach clipping, or Lightning's per-tensor one."""
    if fused_step:
        clip_gradients(optimizer, value, algorithm or "norm", foreach=True)
    else:
        module.clip_gradients(optimizer, gradient_clip_val=value, gradient_clip_algorithm=algorithm or "norm")
