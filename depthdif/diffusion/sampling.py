"""The sampler dispatch table and K-member ensembles.

`SAMPLERS[name](denoise, shape, schedule, parameterization, generator, cfg)` runs one chain.
Ensemble member k uses its own generator seeded from (seed, k), so member k is the same
whatever K is, and a run is reproducible from its seed alone.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from depthdif.config.schema import SamplingConfig

from .ddim import ddim_sample
from .ddpm import ddpm_sample
from .schedule import NoiseSchedule

Denoise = Callable[[Tensor, Tensor], Tensor]
Sampler = Callable[..., Tensor]


def _ddpm(denoise: Denoise, shape: tuple[int, ...], schedule: NoiseSchedule, parameterization: str,
          generator: torch.Generator, cfg: SamplingConfig, **kwargs) -> Tensor:
    return ddpm_sample(denoise, shape, schedule, parameterization, generator,
                       posterior_variance=cfg.posterior_variance, clip=cfg.clip, **kwargs)


def _ddim(denoise: Denoise, shape: tuple[int, ...], schedule: NoiseSchedule, parameterization: str,
          generator: torch.Generator, cfg: SamplingConfig, **kwargs) -> Tensor:
    return ddim_sample(denoise, shape, schedule, parameterization, generator,
                       steps=cfg.steps, eta=cfg.eta, clip=cfg.clip, **kwargs)


SAMPLERS: dict[str, Sampler] = {"ddpm": _ddpm, "ddim": _ddim}


def member_generator(seed: int, member: int) -> torch.Generator:
    """A CPU generator for ensemble member `member` of a run seeded with `seed`."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(member))


def sample_ensemble(denoise: Denoise, shape: tuple[int, ...], schedule: NoiseSchedule, parameterization: str,
                    cfg: SamplingConfig, k: int, seed: int, *, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32, progress: bool = False) -> Tensor:
    """K independent chains → (K, *shape). `denoise` is called with batches of `shape[0]`."""
    if cfg.sampler not in SAMPLERS:
        raise ValueError(f"sampling.sampler: unknown sampler {cfg.sampler!r}; allowed: {sorted(SAMPLERS)}")
    if k < 1:
        raise ValueError(f"sampling.ensemble_size: need at least 1 member, got {k}")
    sampler = SAMPLERS[cfg.sampler]
    members = [sampler(denoise, shape, schedule, parameterization, member_generator(seed, i), cfg,
                       device=device, dtype=dtype, progress=progress) for i in range(k)]
    return torch.stack(members)
