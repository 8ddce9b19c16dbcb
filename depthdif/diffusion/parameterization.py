"""What the denoiser predicts (x0, epsilon or v) and the only place that converts between them.

v = √ᾱ ε − √(1−ᾱ) x0 (Salimans & Ho 2022): x0 = √ᾱ x_t − √(1−ᾱ) v. An x0 network may ignore x_t
altogether (its ensemble then collapses onto one field); with v the clean estimate is built from
x_t at low noise, so the network has to model what x_t adds.

Samplers and losses go through these functions, so a parameterization switch can never leave
one caller converting differently from another.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from .schedule import NoiseSchedule, broadcast

Parameterization = Literal["x0", "epsilon", "v"]
PARAMETERIZATIONS: tuple[str, ...] = ("x0", "epsilon", "v")


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


def x0_from_v(v: Tensor, x_t: Tensor, t: Tensor, schedule: NoiseSchedule) -> Tensor:
    """x0 = √ᾱ x_t − √(1−ᾱ) v."""
    abar = broadcast(schedule.alpha_bars, t, x_t)
    return abar.sqrt() * x_t - (1 - abar).sqrt() * v


def v_target(x0: Tensor, noise: Tensor, t: Tensor, schedule: NoiseSchedule) -> Tensor:
    """v = √ᾱ ε − √(1−ᾱ) x0 for x_t = √ᾱ x0 + √(1−ᾱ) ε."""
    abar = broadcast(schedule.alpha_bars, t, x0)
    return abar.sqrt() * noise - (1 - abar).sqrt() * x0


def split_prediction(output: Tensor, x_t: Tensor, t: Tensor, schedule: NoiseSchedule,
                     parameterization: str, clip: float | None = None) -> tuple[Tensor, Tensor]:
    """Model output → (x0_hat, eps_hat). With `clip`, x0_hat is clamped and eps_hat recomputed."""
    if parameterization == "x0":
        x0_hat = output
    elif parameterization == "epsilon":
        x0_hat = x0_from_eps(output, x_t, t, schedule)
    elif parameterization == "v":
        x0_hat = x0_from_v(output, x_t, t, schedule)
    else:
        check_parameterization(parameterization)
        raise AssertionError  # unreachable
    if clip is not None:
        x0_hat = x0_hat.clamp(-clip, clip)
    elif parameterization == "epsilon":
        return x0_hat, output
    return x0_hat, eps_from_x0(x0_hat, x_t, t, schedule)


def training_target(parameterization: str, x0: Tensor, noise: Tensor, t: Tensor | None = None,
                    schedule: NoiseSchedule | None = None) -> Tensor:
    """What the network is regressed onto: the clean sample, the added noise, or v (needs t, schedule)."""
    check_parameterization(parameterization)
    if parameterization == "v":
        if t is None or schedule is None:
            raise ValueError("training_target: the v parameterization needs the timesteps and the schedule")
        return v_target(x0, noise, t, schedule)
    return x0 if parameterization == "x0" else noise
