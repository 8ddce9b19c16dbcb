"""Per-depth (and per-EO-channel) normalization statistics.

We normalize every depth level by its own mean/std over valid TRAIN pixels (DEPTHDIF.md, Data):
a single global mean/std, as upstream uses, leaves the deep levels (std of tenths of a degree)
invisible to an unweighted MSE. The statistics travel with the store (normalization.json) and with
every checkpoint/export as plain lists, so they load with `torch.load(weights_only=True)` and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Floor on a level's std: a level with (almost) constant temperature must not blow up to inf.
STD_FLOOR = 1e-3
# A level's std is trusted from this many valid training pixels on. Below it (e.g. deep levels of
# an Argo-only store that 2-3 profiles reach: std 0.015 degC made inputs of 45 sigma), the level
# keeps its own mean but takes max(own std, the nearest trusted level's std); see mean_std.
MIN_LEVEL_COUNT = 30


def _along(stat: np.ndarray, a: Any, axis: int) -> Any:
    """Reshape a (C,) statistic so it broadcasts along `axis` of `a` (numpy or torch)."""
    ndim = a.ndim
    ax = axis % ndim
    shape = [1] * ndim
    shape[ax] = -1
    if isinstance(a, np.ndarray):
        return stat.astype(a.dtype if a.dtype.kind == "f" else np.float64).reshape(shape)
    import torch  # only when the caller passes tensors

    return torch.as_tensor(stat, dtype=a.dtype if a.is_floating_point() else torch.float32,
                           device=a.device).reshape(shape)


@dataclass
class Normalization:
    """Per-depth mean/std of temperature (degC) and per-channel mean/std of the EO fields."""

    depth_mean: np.ndarray
    depth_std: np.ndarray
    eo_mean: np.ndarray
    eo_std: np.ndarray
    eo_channels: list[str] = field(default_factory=lambda: ["sst"])
    # How many valid pixels each level's statistic came from (0: filled from the nearest level;
    # < MIN_LEVEL_COUNT: std borrowed from the nearest well-sampled level, see RunningStats.mean_std).
    depth_count: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.depth_mean = np.asarray(self.depth_mean, dtype=np.float64)
        self.depth_std = np.maximum(np.asarray(self.depth_std, dtype=np.float64), STD_FLOOR)
        self.eo_mean = np.asarray(self.eo_mean, dtype=np.float64)
        self.eo_std = np.maximum(np.asarray(self.eo_std, dtype=np.float64), STD_FLOOR)
        self.eo_channels = list(self.eo_channels)
        if self.depth_mean.shape != self.depth_std.shape or self.depth_mean.ndim != 1:
            raise ValueError(f"depth_mean {self.depth_mean.shape} and depth_std {self.depth_std.shape} "
                             "must be 1-D of the same length")
        if not (self.eo_mean.shape == self.eo_std.shape == (len(self.eo_channels),)):
            raise ValueError(f"eo_mean {self.eo_mean.shape}, eo_std {self.eo_std.shape} must match "
                             f"eo_channels {self.eo_channels}")
        if self.depth_count is not None:
            self.depth_count = np.asarray(self.depth_count, dtype=np.int64)

    @property
    def n_levels(self) -> int:
        return int(self.depth_mean.shape[0])

    def normalize_depth(self, a: Any, axis: int = -3) -> Any:
        self._check_len(a, axis, self.n_levels, "depth")
        return (a - _along(self.depth_mean, a, axis)) / _along(self.depth_std, a, axis)

    def denormalize_depth(self, a: Any, axis: int = -3) -> Any:
        """Normalized values → degC (broadcasts over (..., D, H, W) by default)."""
        self._check_len(a, axis, self.n_levels, "depth")
        return a * _along(self.depth_std, a, axis) + _along(self.depth_mean, a, axis)

    def normalize_eo(self, a: Any, axis: int = -3) -> Any:
        self._check_len(a, axis, len(self.eo_channels), "eo_channel")
        return (a - _along(self.eo_mean, a, axis)) / _along(self.eo_std, a, axis)

    def denormalize_eo(self, a: Any, axis: int = -3) -> Any:
        self._check_len(a, axis, len(self.eo_channels), "eo_channel")
        return a * _along(self.eo_std, a, axis) + _along(self.eo_mean, a, axis)

    def select_eo(self, channels: list[str]) -> "Normalization":
        """The same statistics restricted (and reordered) to `channels`."""
        missing = [c for c in channels if c not in self.eo_channels]
        if missing:
            raise ValueError(f"eo_channels {missing} not in the store; available: {self.eo_channels}")
        idx = [self.eo_channels.index(c) for c in channels]
        return Normalization(self.depth_mean, self.depth_std, self.eo_mean[idx], self.eo_std[idx],
                             list(channels), self.depth_count)

    def to_dict(self) -> dict:
        """Plain lists and floats: safe for JSON and for `torch.load(weights_only=True)`."""
        out = {
            "depth_mean": self.depth_mean.tolist(), "depth_std": self.depth_std.tolist(),
            "eo_mean": self.eo_mean.tolist(), "eo_std": self.eo_std.tolist(),
            "eo_channels": list(self.eo_channels),
        }
        if self.depth_count is not None:
            out["depth_count"] = self.depth_count.tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Normalization":
        required = ("depth_mean", "depth_std", "eo_mean", "eo_std", "eo_channels")
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"normalization: missing keys {missing}; expected {list(required)}")
        return cls(d["depth_mean"], d["depth_std"], d["eo_mean"], d["eo_std"], d["eo_channels"],
                   d.get("depth_count"))

    @staticmethod
    def _check_len(a: Any, axis: int, expected: int, what: str) -> None:
        if a.shape[axis] != expected:
            raise ValueError(f"normalization: axis {axis} of shape {tuple(a.shape)} has {a.shape[axis]} "
                             f"{what} entries, statistics have {expected}")


class RunningStats:
    """Per-channel sum / sum of squares / count in float64, fed one masked slab at a time."""

    def __init__(self, n_channels: int):
        self.sum = np.zeros(n_channels)
        self.sumsq = np.zeros(n_channels)
        self.count = np.zeros(n_channels, dtype=np.int64)

    def add(self, values: np.ndarray, valid: np.ndarray) -> None:
        """values, valid: (C, ...) arrays; only entries with valid & finite values count."""
        valid = valid.astype(bool) & np.isfinite(values)
        v = np.where(valid, values, 0.0).astype(np.float64).reshape(values.shape[0], -1)
        self.sum += v.sum(axis=1)
        self.sumsq += (v * v).sum(axis=1)
        self.count += valid.reshape(values.shape[0], -1).sum(axis=1)

    def mean_std(self, min_count: int = MIN_LEVEL_COUNT) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std per channel, robust to channels seen by few pixels.

        - mean: the channel's own mean when it has any pixel (a mean from few pixels is unbiased);
          a channel without data takes the nearest channel's (by index) that has some.
        - std: the channel's own when it has >= min_count pixels ("trusted"); otherwise
          max(own std, std of the nearest trusted channel), so a level seen by a handful of
          pixels never gets a tiny std that turns ordinary values into tens of sigma. When no
          channel reaches min_count, the best-sampled channels are the trusted ones.
        - then the STD_FLOOR.
        """
        n = np.maximum(self.count, 1)
        mean = self.sum / n
        own_std = np.sqrt(np.maximum(self.sumsq / n - mean * mean, 0.0))
        has = np.flatnonzero(self.count > 0)
        if has.size == 0:
            raise ValueError("normalization: no valid training pixels at any level")
        trusted = np.flatnonzero(self.count >= min(min_count, int(self.count.max())))
        std = own_std.copy()
        for c in range(mean.size):
            if self.count[c] == 0:
                mean[c] = mean[has[np.argmin(np.abs(has - c))]]
            if c not in trusted:
                nearest = trusted[np.argmin(np.abs(trusted - c))]
                std[c] = max(own_std[c] if self.count[c] > 0 else 0.0, own_std[nearest])
        return mean, np.maximum(std, STD_FLOOR)
