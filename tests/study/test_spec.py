"""Study files: the shipped ones validate; overrides, resolution and errors before Ray starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from depthdif.config import ConfigError
from depthdif.study.spec import load_study_spec, read_study_dir, save_study_spec
from _study_helpers import write_study

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "studies").glob("*.yaml"))


def test_shipped_study_files_validate():
    names = {p.stem for p in SHIPPED}
    assert {"quickstart", "ambient_pixel", "autoencoder", "latent"} <= names
    for path in SHIPPED:
        spec = load_study_spec(path)
        assert spec.experiment is not None and len(spec.objectives) >= 2, path
        assert Path(spec.storage).is_absolute() and Path(spec.data.store).is_absolute()
        assert spec.space().keys, path


def test_quickstart_is_cpu_sized_with_a_synthetic_store():
    spec = load_study_spec(REPO / "studies" / "quickstart.yaml")
    assert spec.resources.gpus_per_worker == 0 and spec.resources.in_process()
    assert spec.data.synthetic is not None and spec.concurrency <= 2 and spec.early_stopping is None
    cfg = spec.experiment_config()
    assert cfg.model.ambient_occlusion.enabled and cfg.training.limit_train_batches is not None


def test_overrides_set_leaves_and_keep_siblings(tmp_path, tiny_store):
    path = write_study(tmp_path, tiny_store, overrides={"training.lr": 5e-4})
    spec = load_study_spec(path, ["trials=5", "overrides.training.max_epochs=3"], name="renamed")
    cfg = spec.experiment_config()
    assert spec.trials == 5 and spec.name == "renamed"
    assert cfg.training.max_epochs == 3
    assert cfg.training.lr == 5e-4  # inline override kept
    assert cfg.training.limit_train_batches == 2  # sibling from the base file kept
    assert cfg.data.store == str(tiny_store)


def test_a_uri_store_is_kept_as_given(tmp_path):
    """Cloud stores (fsspec URIs) must reach the workers unchanged, not as a local absolute path."""
    from depthdif.train.runner import absolute_paths

    spec = load_study_spec(write_study(tmp_path, "s3://bucket/ocean.zarr"))
    assert spec.data.store == "s3://bucket/ocean.zarr"
    cfg = spec.experiment_config()
    assert cfg.data.store == "s3://bucket/ocean.zarr"
    assert absolute_paths(cfg).data.store == "s3://bucket/ocean.zarr"


def test_resolved_spec_round_trips_through_study_yaml(tmp_path, tiny_store):
    spec = load_study_spec(write_study(tmp_path, tiny_store))
    save_study_spec(spec, tmp_path / "dir")
    again = read_study_dir(tmp_path / "dir")
    assert again == spec
    assert isinstance(again.search_space, dict) and again.base_config is None


@pytest.mark.parametrize("fields, key", [
    ({"trails": 3}, "trails"),
    ({"objectives": []}, "objectives"),
    ({"objectives": [{"metric": "val/loss"}, {"metric": "val/loss"}]}, "duplicate"),
    ({"objectives": [{"metric": "val/rmse_withheld", "direction": "maximize"}]}, "must be minimize"),
    ({"kind": "gan"}, "kind"),
    ({"trials": 0}, "trials"),
    ({"sampler": {"name": "cmaes"}}, "sampler.name"),
    ({"early_stopping": {"multi_objective": "refuse"}}, "early_stopping"),
    ({"early_stopping": {"grace": 1}}, "early_stopping.grace"),  # grace >= max_epochs (1)
    ({"early_stopping": {"metric": "val/nope", "grace": 1}}, "early_stopping.metric"),
    ({"name": "a/b"}, "name"),
    ({"storage": "s3://bucket/studies"}, "storage"),
    ({"overrides": {"training.lrr": 1.0}}, "training.lrr"),
    ({"resources": {"workers": 2, "backend": "in_process"}}, "in_process"),
    ({"data": {"synthetic": {"nlat": 8, "bogus": 1}}}, "data.synthetic.bogus"),
])
def test_invalid_study_files_name_the_key(tmp_path, tiny_store, fields, key):
    path = write_study(tmp_path, tiny_store, **fields)
    with pytest.raises(ConfigError) as err:
        load_study_spec(path)
    assert str(path) in str(err.value) or "study" in str(err.value)
    assert key in str(err.value)


def test_invalid_study_fails_in_the_cli_before_ray_starts(tmp_path, tiny_store):
    path = write_study(tmp_path, tiny_store, space={"training.lr": {"type": "logfloat", "low": 0.0, "high": 1.0}})
    code = ("import sys; from depthdif.cli import main; rc = main(['study', 'run', sys.argv[1]]); "
            "print('RAY_IMPORTED' if 'ray' in sys.modules else 'NO_RAY'); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "space.yaml" in proc.stderr and "training.lr.low" in proc.stderr
    assert "NO_RAY" in proc.stdout
    assert not (tmp_path / "studies").exists()


def test_study_file_is_plain_yaml_on_disk(tmp_path, tiny_store):
    spec = load_study_spec(write_study(tmp_path, tiny_store))
    saved = save_study_spec(spec, tmp_path / "d")
    data = yaml.safe_load(saved.read_text())
    assert data["objectives"] == [{"metric": "val/loss", "direction": "minimize"},
                                  {"metric": "cost/train_seconds", "direction": "minimize"}]
    assert data["experiment"]["data"]["store"] == str(tiny_store)
    assert data["kind"] == "pixel"
