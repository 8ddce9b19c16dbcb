"""Run naming, storage paths, and config/data errors that must fail before any worker starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from depthdif.cli import main
from depthdif.config.loader import replace_dotted
from depthdif.train.runner import absolute_storage, default_run_name, run_training

from ._tiny import tiny_config


def test_run_name_is_deterministic_per_kind_and_config(tiny_store):
    cfg = tiny_config(tiny_store)
    assert default_run_name("pixel", cfg) == default_run_name("pixel", tiny_config(tiny_store))
    assert default_run_name("pixel", cfg) != default_run_name("ae", cfg)
    assert default_run_name("pixel", cfg) != default_run_name("pixel", replace_dotted(cfg, {"training.lr": 0.5}))
    assert default_run_name("pixel", cfg) == default_run_name("pixel", replace_dotted(cfg, {"ray.num_workers": 4}))


def test_storage_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_storage("runs") == tmp_path / "runs"
    assert absolute_storage("~/x") == Path.home() / "x"
    with pytest.raises(ValueError, match="ray.storage_path"):
        absolute_storage("s3://bucket/runs")


@pytest.mark.parametrize("kind,overrides,match", [
    ("pixel", {"data.store": "/nonexistent/store.zarr"}, "nonexistent"),
    ("ae", {"ae.in_channels": 3}, "in_channels"),
    ("diffusion", {}, "allowed"),
])
def test_bad_inputs_fail_before_any_worker_starts(tiny_store, tmp_path, kind, overrides, match):
    cfg = tiny_config(tiny_store, **overrides)
    with pytest.raises(Exception, match=match):
        run_training(kind, cfg, name="bad", storage_path=tmp_path, num_workers=2)
    assert not (tmp_path / "bad").exists()  # nothing was launched, not even the run dir


def test_cli_reports_config_errors_with_the_key(tiny_store, tmp_path, capsys):
    code = main(["train", "pixel", "--storage", str(tmp_path), "--set", f"data.store={tiny_store}",
                 "--set", "training.lr=-1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "training.lr" in err and "outside the allowed range" in err
    assert not any(tmp_path.iterdir())


def test_a_worker_without_validation_patches_is_refused_up_front(tiny_store, tmp_path):
    cfg = tiny_config(tiny_store, **{"data.val_subset": 1})
    with pytest.raises(ValueError, match="data.val_subset=1: rank 1 of 2"):
        run_training("ae", cfg, name="bad", storage_path=tmp_path, num_workers=2)
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def argo_only_store(tiny_store, tmp_path_factory):
    """The tiny store without its dense target: what ingest makes from Argo + OSTIA alone."""
    import xarray as xr

    from depthdif.data.store import OceanStore, write_store

    source = OceanStore.open(tiny_store)
    ds = xr.open_zarr(tiny_store, chunks=None).load().drop_vars(["y", "y_valid_mask"])
    out = tmp_path_factory.mktemp("argo_only") / "argo.zarr"
    return write_store(ds, out, profiles=source.profiles, patch_size=16, stride=16, progress=False)


@pytest.mark.parametrize("kind,overrides,match", [
    ("pixel", {}, "trains only with the ambient objective"),
    ("ae", {}, "cannot train the autoencoder"),
])
def test_argo_only_store_needs_the_ambient_objective(argo_only_store, tmp_path, kind, overrides, match):
    cfg = tiny_config(argo_only_store, **overrides)
    with pytest.raises(ValueError, match=match):
        run_training(kind, cfg, name="argo", storage_path=tmp_path, num_workers=0, progress=False)
    assert not (tmp_path / "argo").exists()  # refused before anything was written


def test_argo_only_store_trains_with_the_ambient_objective(argo_only_store, tmp_path):
    cfg = tiny_config(argo_only_store, **{"model.ambient_occlusion.enabled": True, "training.max_epochs": 1,
                                          "training.limit_train_batches": 2})
    result = run_training("pixel", cfg, name="argo", storage_path=tmp_path, num_workers=0, progress=False)
    assert result.status == "completed", result.error
    assert result.metrics["train/loss"] > 0  # no dense Y: S = A, the observations themselves
