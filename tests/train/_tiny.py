"""Tiny, fast experiment configs for the training tests (seconds per epoch on 2 CPU cores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig

TINY = {
    "data": {"batch_size": 2, "val_subset": 2},
    "model": {"unet": {"base_channels": 8, "channel_mults": [1, 2], "attention_levels": [],
                       "time_embed_dim": 16, "groups": 4, "attention_heads": 1}},
    "diffusion": {"timesteps": 20},
    "sampling": {"steps": 2},
    "ema": {"warmup_steps": 2},
    "training": {"max_epochs": 2, "limit_val_batches": 1, "lr": 1e-3, "lr_schedule": "constant"},
    "ae": {"encoder_hidden": [8], "decoder_hidden": [8], "latent_channels": 4,
           "training": {"batch_size": 2, "max_epochs": 2}},
    "ray": {"cpus_per_worker": 0.5},
}


def tiny_config(store: Path, **overrides: Any) -> ExperimentConfig:
    """The TINY config on `store`; overrides by dotted key, e.g. `**{"training.max_epochs": 1}`."""
    cfg = from_dict(ExperimentConfig, TINY, "tests/train/_tiny.py")
    return replace_dotted(cfg, {"data.store": str(store), **overrides})
