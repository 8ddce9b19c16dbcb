"""Calibration: a residual gain and a spread inflation per depth band, fitted on withheld profiles.

A network trained on a small or unlike training area can learn corrections that do not transfer:
its background-residual output is then worse than the background alone (BENCHMARKS.md
"skill_osse"), and a diffusion ensemble is often over-confident. Both are measured where the
model is honestly scored, on the profiles of whole floats withheld from the validation windows,
and corrected with two numbers per depth band (`evaluation.depth_bands_m`):

    gain α ∈ [0, 1]     mean' = b + α (mean − b)        least squares of the withheld errors;
                                                        α = 0 falls back to the background b
    inflation λ         member' = mean' + λ (m − mean)  spread / RMSE of mean' = sqrt(K / (K+1)),
                                                        a calibrated K-member ensemble's ratio

Without a background only λ applies. They are refitted at every validation from that
validation's samples (`CalibrationStats`, all-reduced across ranks) and used from then on, so the
validation metrics of one epoch use the previous epoch's values and a run's first validation is
uncalibrated; the test split never sees them fitted. Buffers: checkpoints and exports carry them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

MIN_POINTS = 30  # withheld values a band needs for its own numbers (else the pooled ones)
MAX_INFLATION = 20.0  # a collapsed ensemble cannot be rescued by scaling: cap, do not explode
MIN_INFLATION = 0.25


class Calibration(nn.Module):
    """`gain` and `inflation` (D,), identity until fitted; `apply` maps raw members to calibrated ones."""

    def __init__(self, n_levels: int):
        super().__init__()
        self.register_buffer("gain", torch.ones(n_levels))
        self.register_buffer("inflation", torch.ones(n_levels))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def apply(self, members: Tensor, background: Tensor | None) -> Tensor:
        """(K, B, D, H, W) raw members, (B, D, H, W) background or None → calibrated members."""
        shape = (1, 1, -1, 1, 1)
        mean = members.mean(dim=0, keepdim=True)
        gain = self.gain.to(members).reshape(shape)
        centre = mean if background is None else background.unsqueeze(0) + gain * (mean - background.unsqueeze(0))
        return centre + self.inflation.to(members).reshape(shape) * (members - mean)

    def fit(self, sums: dict[str, Tensor], band_of_level: Sequence[int], ensemble_size: int,
            with_background: bool) -> None:
        """Solve α and λ per band from `CalibrationStats` sums; bands with too few points take the pooled values."""
        bands = torch.as_tensor(list(band_of_level))
        gain, inflation = torch.ones_like(self.gain), torch.ones_like(self.inflation)
        pooled = _solve({k: v.sum() for k, v in sums.items()}, ensemble_size, with_background)
        if pooled is None:
            return  # nothing withheld anywhere: keep what we had
        for band in sorted(set(bands.tolist())):
            chosen = bands == band
            solved = _solve({k: v[chosen].sum() for k, v in sums.items()}, ensemble_size, with_background)
            gain[chosen], inflation[chosen] = solved if solved is not None else pooled
        self.gain.copy_(gain)
        self.inflation.copy_(inflation)
        self.fitted.fill_(True)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints and exports written before calibration existed load as uncalibrated.
        for name, buffer in self.named_buffers(recurse=False):
            state_dict.setdefault(prefix + name, buffer.detach().clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"fitted={bool(self.fitted)}"


def _solve(s: dict[str, Tensor], ensemble_size: int, with_background: bool) -> tuple[float, float] | None:
    """(α, λ) from pooled sums, or None below MIN_POINTS."""
    n = float(s["n"])
    if n < MIN_POINTS:
        return None
    alpha = 1.0
    if with_background and float(s["bb"]) > 0:
        alpha = float(np.clip(float(s["fb"]) / float(s["bb"]), 0.0, 1.0))
    # Σ (f − b − α(p − b))² = Σ(f−b)² − 2α Σ(f−b)(p−b) + α² Σ(p−b)²
    squared_error = max(float(s["ff"]) - 2 * alpha * float(s["fb"]) + alpha**2 * float(s["bb"]), 0.0)
    inflation = 1.0
    variance = float(s["var"])
    if ensemble_size > 1 and variance > 0:
        target = ensemble_size / (ensemble_size + 1)
        inflation = float(np.clip(np.sqrt(target * squared_error / variance), MIN_INFLATION, MAX_INFLATION))
    return alpha, inflation


class CalibrationStats:
    """Per-level sums over withheld values, in °C: Σ(f−b)(p−b), Σ(p−b)², Σ(f−b)², Σ member variance, n.

    f the withheld truth, p the raw ensemble mean, b the background (p itself without one)."""

    KEYS = ("fb", "bb", "ff", "var", "n")

    def __init__(self, depth_std: Sequence[float]):
        self.depth_std = torch.as_tensor(np.asarray(depth_std, dtype=np.float64))
        self.sums = {k: torch.zeros(len(self.depth_std), dtype=torch.float64) for k in self.KEYS}

    def update(self, members: Tensor, background: Tensor | None, truth: Tensor, withheld: Tensor) -> None:
        """members (K, B, D, H, W) raw, normalized; truth (B, D, H, W) normalized; withheld mask (B, D, H, W)."""
        scale = self.depth_std.to(members.device).reshape(1, -1, 1, 1)
        mask = withheld.to(torch.float64)
        mean = members.mean(dim=0).to(torch.float64)
        base = mean if background is None else background.to(torch.float64)  # no background: f = the error, p = 0
        f, p = (truth.to(torch.float64) - base) * scale, (mean - base) * scale
        variance = (members.to(torch.float64).var(dim=0, correction=1) if members.shape[0] > 1
                    else torch.zeros_like(mean)) * scale**2
        per_level = {"fb": f * p, "bb": p * p, "ff": f * f, "var": variance, "n": torch.ones_like(f)}
        for key, value in per_level.items():
            self.sums[key] += (value * mask).sum(dim=(0, 2, 3)).cpu()

    def reduced(self, reduce) -> dict[str, Tensor]:
        """The sums after `reduce` (e.g. the strategy's all-reduce of a summed tensor)."""
        stacked = torch.stack([self.sums[k] for k in self.KEYS])
        stacked = reduce(stacked)
        return {k: stacked[i].cpu() for i, k in enumerate(self.KEYS)}

    def reset(self) -> None:
        for value in self.sums.values():
            value.zero_()


def band_of_level(depth: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Index of each level's depth band (`evaluation.depth_bands_m`; below the last edge: one more band)."""
    return np.searchsorted(np.asarray(edges[1:], float), np.asarray(depth, float), side="left").tolist()
