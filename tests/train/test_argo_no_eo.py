"""An Argo-only store WITHOUT EO (real ERDDAP profiles, no SST: eo_valid_mask 0) trains a tiny
ambient-objective epoch: EO is optional end to end."""

from __future__ import annotations

import numpy as np

from depthdif.data.index import SplitSpec
from depthdif.data.ingest import IngestSpec, ingest
from depthdif.data.store import OceanStore
from depthdif.train import run

from ._tiny import tiny_config


def test_argo_alone_without_eo_trains_with_the_ambient_objective(shared_data, tmp_path):
    argo = sorted(str(p) for p in (shared_data / "argo").glob("*.nc"))
    out = ingest(IngestSpec(argo=argo, grid="-58,-38,0,48,1", patch_size=8, time_step="30D",
                            depths="10,50,100,200,500,1000"), tmp_path / "argo.zarr", progress=False,
                 split=SplitSpec(block_size=16, time_block=100))
    store = OceanStore.open(out)
    assert not store.has_target and not store.ds["eo_valid_mask"].values.any()
    assert store.normalization.eo_mean.tolist() == [0.0] and store.normalization.eo_std.tolist() == [1.0]
    assert np.isfinite(store.normalization.depth_mean).all()
    cfg = tiny_config(out, **{"model.ambient_occlusion.enabled": True, "training.max_epochs": 1,
                              "training.limit_train_batches": 2})
    result = run("pixel", cfg, tmp_path / "argo_no_eo", progress=False)
    assert result.status == "completed", result.error
    assert np.isfinite(result.metrics["train/loss"]) and result.metrics["train/loss"] > 0
