"""Which validation metrics keep a best-so-far (`best/<key>`), each with the direction that wins.

Declared here, per metric, instead of guessed from a name: a spread or a bias has no "better"
direction, a skill score is better high, a spread-skill ratio is better near 1. A key ending in
`/*` covers a family (per depth level, per depth band). A metric not listed keeps no best value;
a study objective on it is then scored by its last value. Non-finite values never become best.
"""

from __future__ import annotations

import math
from typing import Any, Literal

Better = Literal["lower", "higher"]

BETTER: dict[str, Better] = {
    "val/loss": "lower",
    # ReconstructionMetrics (evaluation/metrics.py), degC, diffusion systems
    "val/rmse_full": "lower", "val/rmse_withheld": "lower",
    "val/mae_full": "lower", "val/mae_withheld": "lower",
    "val/crps_full": "lower", "val/crps_withheld": "lower",
    "val/rmse_depth/*": "lower", "val/rmse_withheld_depth/*": "lower",
    "val/rmse_full_band/*": "lower", "val/rmse_withheld_band/*": "lower",
    # autoencoder, and the reconstruction term of an unfrozen latent AE
    "val/ae_rmse": "lower", "val/ae_rmse_depth/*": "lower", "val/ae_rmse_band/*": "lower",
    "val/ae_recon_loss": "lower",
}


def better(key: str) -> Better | None:
    """The declared direction of `key` (exact name first, then its `family/*`), or None."""
    if key in BETTER:
        return BETTER[key]
    family = key.rsplit("/", 1)[0] + "/*" if "/" in key else None
    return BETTER.get(family) if family else None


class BestSoFar:
    """Best value of every declared metric seen so far; saved in checkpoints so resumes keep it."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def update(self, metrics: dict[str, float]) -> dict[str, float]:
        """Fold in one epoch's metrics; returns the best values as `best/<key>`."""
        for key, value in metrics.items():
            direction = better(key)
            if direction is None or not math.isfinite(value):
                continue
            old = self.values.get(key)
            if old is None or (value < old if direction == "lower" else value > old):
                self.values[key] = value
        return {f"best/{k}": v for k, v in self.values.items()}

    def state_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.values = {k: float(v) for k, v in state.items()}
