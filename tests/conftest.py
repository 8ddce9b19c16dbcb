"""Session fixtures: one tiny real synthetic Zarr store and one local Ray runtime per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Ray settings for tests: no auth token prompts, no usage stats, fail fast on hangs.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")
os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "120")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

# Tiny nets on a 2-core box run ~10x faster on one intra-op thread than on two.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"real sample data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """A real synthetic store: 8 depth levels, 48x48 grid, 4 times, 16x16 patches."""
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    path = tmp_path_factory.mktemp("store") / "tiny.zarr"
    # obs_fraction 0.02: ~40 floats, so every split (val is one 2-patch block) holds profiles
    cfg = SynthConfig(nlat=48, nlon=48, ntime=4, n_levels=8, patch_size=16, stride=16, obs_fraction=0.02, seed=0)
    make_synthetic_store(cfg, path, progress=False)
    return path


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray runtime for the whole test session (starting Ray costs ~5 s)."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=4, include_dashboard=True, log_to_driver=False,
                 object_store_memory=256 * 1024**2)
    yield ray
    ray.shutdown()
