"""What the denoiser predicts (x0 or epsilon) and the only place that converts between them.

Samplers and losses go through these functions, so a parameterization switch can never leave
one caller converting differently from another.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from .schedule import NoiseSchedule, broadcast

Parameterization = Literal["x0", "epsilon"]
PARAMETERIZATIONS: tuple[str, ...] = ("x0", "epsilon")


def check_parameterization(parameterization: str) -> None:
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"diffusion.parameterization: unknown {parameterization!r}; "
                         f"allowed: {list(PARAMETERIZATIONS)}")


def check_ambient_parameterization(ambient_enabled: bool, require_x0: bool, parameterization: str) -> None:
    """Seed 000 §6.1: the ambient objective targets clean x, so it needs an x0 network."""
    check_parameterization(parameterization)
    if ambient_enabled and require_x0 and parameterization != "x0":
        raise ValueError("model.ambient_occlusion.enabled with require_x0_parameterization=true needs "
                         f"diffusion.parameterization='x0' (got {parameterization!r})")


def x0_from_eps(eps: Tensor, x_t: Tensor, t: Tensor, schedule: NoiseSchedule) -> Tensor:
    """Invert q_sample: x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)."""
    abar = broadcast(schedule.alpha_bars, t, x_t)
    return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()


def eps_from_x0(x0: Tensor, x_t: Tensor, t: Tensor, schedule: NoiseSchedule) -> Tensor:
    """Invert q_sample: eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar)."""
    abar = broadcast(schedule.alpha_bars, t, x_t)
    return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()


def split_prediction(output: Tensor, x_t: Tensor, t: Tensor, schedule: NoiseSchedule,
                     parameterization: str, clip: float | None = None) -> tuple[Tensor, Tensor]:
    """Model output → (x0_hat, eps_hat). With `clip`, x0_hat is clamped and eps_hat recomputed."""
    if parameterization == "x0":
        x0_hat = output
    elif parameterization == "epsilon":
        x0_hat = x0_from_eps(output, x_t, t, schedule)
    else:
        check_parameterization(parameterization)
        raise AssertionError  # unreachable
    if clip is not None:
        x0_hat = x0_hat.clamp(-clip, clip)
    elif parameterization == "epsilon":
        return x0_hat, output
    return x0_hat, eps_from_x0(x0_hat, x_t, t, schedule)


def training_target(parameterization: str, x0: Tensor, noise: Tensor) -> Tensor:
    """What the network is regressed onto: the clean sample or the noise that was added."""
    check_parameterization(parameterization)
    return x0 if parameterization == "x0" else noise
