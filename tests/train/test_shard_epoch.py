"""Each worker reads only its shard, and an epoch sees every sample exactly once across workers.

The store below has 4k+1 training patches: with 2 workers the shards hold 2k+1 and 2k
patches, i.e. k+1 and k batches of 2, so rank 1 must be padded to k+1 steps (DDP needs equal step
counts). Seed 8 of this grid gives 33 (k = 8).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from depthdif.data.store import OceanStore
from depthdif.train.datamodule import make_loaders
from depthdif.train import run
from depthdif.train.loop import EqualSteps, padding_batch
from depthdif.train.run_dir import RunDir
from depthdif.train.systems import build_system, store_meta

from ._tiny import tiny_config


@pytest.fixture(scope="module")
def odd_store(tmp_path_factory) -> Path:
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    path = tmp_path_factory.mktemp("odd") / "odd.zarr"
    make_synthetic_store(SynthConfig(nlat=48, nlon=80, ntime=3, n_levels=8, patch_size=16, stride=16, seed=8),
                         path, progress=False)
    assert len(split_ids(path, "train")) % 4 == 1, "pick another seed: the split must leave 4k+1 train patches"
    return path


def split_ids(store: Path, split: str) -> list[int]:
    index = OceanStore.open(store, check_chunks=False).index
    return sorted(int(i) for i in index.loc[index.split == split, "patch_id"])


def read_ids(folder: Path, split: str, epoch: int, rank: int) -> list[int]:
    path = folder / f"{split}-epoch{epoch}-rank{rank}.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_padding_batch_is_zero_weight_for_the_real_systems(odd_store):
    cfg = tiny_config(odd_store)
    batch = next(iter(make_loaders(cfg, kind="ae")[0]))
    pad = padding_batch(batch)
    assert torch.all(pad["patch_id"] == -1)
    assert all(float(pad[k].sum()) == 0 for k in ("x_valid_mask", "y_valid_mask", "eo_valid_mask"))
    ae = build_system("ae", cfg, store_meta(cfg))
    assert float(ae.loss(batch, ae.reconstruct(batch)).detach()) > 0
    assert float(ae.loss(pad, ae.reconstruct(pad)).detach()) == 0.0
    pixel = build_system("pixel", cfg, store_meta(cfg))
    loss, _ = pixel.compute_loss(pad, pixel.denoiser, torch.Generator().manual_seed(0))
    assert float(loss.detach()) == 0.0 and loss.requires_grad


def test_equal_steps_pads_only_the_short_rank(odd_store):
    cfg = tiny_config(odd_store)
    loaders = [make_loaders(cfg, rank=r, world_size=2)[0] for r in range(2)]
    steps = (len(split_ids(odd_store, "train")) + 3) // 4  # k + 1
    assert [len(loader) for loader in loaders] == [steps, steps - 1]
    padded = EqualSteps(loaders[1], steps)
    batches = list(padded)
    assert len(padded) == len(batches) == steps
    assert torch.all(batches[-1]["patch_id"] == -1)
    seen = [int(i) for b in batches for i in b["patch_id"] if int(i) >= 0]
    assert sorted(seen) == sorted(int(i) for b in loaders[1] for i in b["patch_id"])
    assert padded.sampler is loaders[1].sampler  # Lightning's set_epoch must still reach it


@pytest.mark.slow
def test_two_workers_see_every_sample_once_per_epoch(odd_store, ray_session, tmp_path):
    trace = tmp_path / "trace"
    cfg = tiny_config(odd_store, **{"data.val_subset": 16, "training.limit_val_batches": None, "ray.num_workers": 2,
                                    "debug.record_patch_ids_dir": str(trace)})
    result = run("ae", cfg, tmp_path / "runs" / "shard", backend="ray", progress=False)
    assert result.status == "completed", result.error
    assert result.metrics["epoch"] == 2 and result.metrics["val/ae_rmse"] > 0
    assert RunDir(result.run_dir).latest().epoch == 2
    train = split_ids(odd_store, "train")
    val = sorted(make_loaders(cfg)[1].dataset.patch_ids.tolist())  # the drawn validation windows
    assert len(train) % 4 == 1
    for epoch in range(2):
        for split, expected in (("train", train), ("val", val)):
            per_rank = [read_ids(trace, split, epoch, rank) for rank in range(2)]
            assert all(per_rank), f"{split} epoch {epoch}: a rank saw nothing"
            assert not set(per_rank[0]) & set(per_rank[1]), f"{split} epoch {epoch}: shards overlap"
            counts = Counter(per_rank[0] + per_rank[1])
            assert sorted(counts) == expected and set(counts.values()) == {1}, f"{split} epoch {epoch}"
