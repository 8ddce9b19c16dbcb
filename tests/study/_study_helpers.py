"""Tiny study files for the study tests: seconds per trial on 2 CPU cores, real store, real Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TINY_EXPERIMENT = {
    "data": {"batch_size": 4, "val_subset": 4},
    "model": {"unet": {"base_channels": 4, "channel_mults": [1, 2], "attention_levels": [],
                       "time_embed_dim": 16, "groups": 4, "attention_heads": 1},
              "ambient_occlusion": {"enabled": True}},
    "diffusion": {"timesteps": 10},
    "sampling": {"steps": 2},
    "ema": {"warmup_steps": 2},
    "training": {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1, "lr": 1e-3,
                 "lr_schedule": "constant", "checkpoints_to_keep": 1},
}

TINY_SPACE = {
    "model.ambient_occlusion.further_drop_prob": {"type": "float", "low": 0.1, "high": 0.5},
    "model.ambient_occlusion.min_kept_observed_pixels": {
        "type": "int", "low": 1, "high": 3, "condition": {"model.ambient_occlusion.enabled": True}},
    "training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2},
}

OBJECTIVES = [{"metric": "val/loss", "direction": "minimize"},
              {"metric": "cost/train_seconds", "direction": "minimize"}]


def write_study(folder: Path, store: Path, name: str = "tiny", space: dict | None = None,
                experiment: dict | None = None, **fields: Any) -> Path:
    """A study file + base config + search space in `folder`; returns the study file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(yaml.safe_dump(experiment or TINY_EXPERIMENT))
    (folder / "space.yaml").write_text(yaml.safe_dump(space or TINY_SPACE, sort_keys=False))
    study = {"name": name, "kind": "pixel", "base_config": "base.yaml", "search_space": "space.yaml",
             "objectives": OBJECTIVES, "trials": 2, "concurrency": 1,
             "resources": {"workers": 1, "cpus_per_worker": 1.0},
             "sampler": {"name": "random", "seed": 0},
             "storage": str(folder / "studies"), "data": {"store": str(store)}}
    study.update(fields)
    path = folder / "tiny_study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path
