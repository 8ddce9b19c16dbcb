"""Run naming, paths, and config/data errors that must fail before anything starts or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from depthdif.cli import main
from depthdif.config.loader import replace_dotted
from depthdif.train import run
from depthdif.train.runner import absolute_paths, absolute_run_dir, default_run_name

from ._tiny import tiny_config


def test_run_name_is_deterministic_per_kind_and_config(tiny_store):
    cfg = tiny_config(tiny_store)
    assert default_run_name("pixel", cfg) == default_run_name("pixel", tiny_config(tiny_store))
    assert default_run_name("pixel", cfg) != default_run_name("ae", cfg)
    assert default_run_name("pixel", cfg) != default_run_name("pixel", replace_dotted(cfg, {"training.lr": 0.5}))
    assert default_run_name("pixel", cfg) == default_run_name("pixel", replace_dotted(cfg, {"ray.num_workers": 4}))


def test_paths_are_made_absolute_in_one_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_run_dir("runs/a") == tmp_path / "runs" / "a"
    assert absolute_run_dir("~/x") == Path.home() / "x"
    with pytest.raises(ValueError, match="ray.storage_path"):
        absolute_run_dir("s3://bucket/runs/a")
    cfg = replace_dotted(tiny_config("data/a.zarr"), {"latent.ae_checkpoint": "~/ae.ckpt"})
    resolved = absolute_paths(cfg)
    assert resolved.data.store == str(tmp_path / "data" / "a.zarr")
    assert resolved.latent.ae_checkpoint == str(Path.home() / "ae.ckpt")
    assert absolute_paths(resolved) is resolved  # nothing left to resolve: the same object


@pytest.mark.parametrize("kind,overrides,match", [
    ("pixel", {"data.store": "/nonexistent/store.zarr"}, "nonexistent"),
    ("ae", {"ae.in_channels": 3}, "in_channels"),
    ("diffusion", {}, "allowed"),
])
def test_bad_inputs_fail_before_any_worker_starts(tiny_store, tmp_path, kind, overrides, match):
    cfg = tiny_config(tiny_store, **{"ray.num_workers": 2, **overrides})
    with pytest.raises(Exception, match=match):
        run(kind, cfg, tmp_path / "bad", backend="ray")
    assert not (tmp_path / "bad").exists()  # nothing was launched, not even the run dir


def test_cli_reports_config_errors_with_the_key(tiny_store, tmp_path, capsys):
    code = main(["train", "pixel", "--storage", str(tmp_path), "--set", f"data.store={tiny_store}",
                 "--set", "training.lr=-1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "training.lr" in err and "outside the allowed range" in err
    assert not any(tmp_path.iterdir())


def test_a_worker_without_validation_patches_is_refused_up_front(tiny_store, tmp_path):
    cfg = tiny_config(tiny_store, **{"data.val_subset": 1, "ray.num_workers": 2})
    with pytest.raises(ValueError, match="data.val_subset=1: rank 1 of 2"):
        run("ae", cfg, tmp_path / "bad", backend="ray")
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
        run(kind, cfg, tmp_path / "argo", progress=False)
    assert not (tmp_path / "argo").exists()  # refused before anything was written


def test_argo_only_store_trains_with_the_ambient_objective(argo_only_store, tmp_path):
    cfg = tiny_config(argo_only_store, **{"model.ambient_occlusion.enabled": True, "training.max_epochs": 1,
                                          "training.limit_train_batches": 2})
    result = run("pixel", cfg, tmp_path / "argo", progress=False)
    assert result.status == "completed", result.error
    assert result.metrics["train/loss"] > 0  # no dense Y: S = A, the observations themselves
