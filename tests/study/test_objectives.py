"""Objectives are checked against what each trainer kind reports, before Ray starts (issue 12 row 4),
and that declaration stays in sync with real training runs of each kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from depthdif.cli import main
from depthdif.config import ConfigError
from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.study.spec import load_study_spec
from _study_helpers import TINY_EXPERIMENT, write_study


def test_a_misspelt_objective_fails_at_load_with_the_allowed_names(tmp_path, tiny_store, capsys):
    path = write_study(tmp_path, tiny_store, objectives=[{"metric": "val/rmse_typo", "direction": "minimize"}])
    with pytest.raises(ConfigError) as err:
        load_study_spec(path)
    message = str(err.value)
    assert "objectives[0].metric: 'val/rmse_typo' is not a metric the pixel trainer reports" in message
    assert "did you mean 'val/rmse_full'" in message
    assert "'val/rmse_withheld'" in message and "'val/loss'" in message and "'cost/train_seconds'" in message
    assert "'val/rmse_depth/<k>'" in message and "'val/rmse_full_band/0-100m'" in message
    # the CLI stops there: exit 2, one line, and no study directory (Ray never started)
    assert main(["study", "run", str(path)]) == 2
    assert "did you mean 'val/rmse_full'" in capsys.readouterr().err
    assert not (tmp_path / "studies").exists()


def test_per_level_and_searched_names(tmp_path, tiny_store):
    ok = [{"metric": "val/rmse_depth/7"}, {"metric": "val/rmse_withheld_band/100-500m"}]
    load_study_spec(write_study(tmp_path / "a", tiny_store, objectives=ok))
    with pytest.raises(ConfigError, match=r"'val/rmse_depth/8' is not a metric .* \(<k> < 8\)"):
        load_study_spec(write_study(tmp_path / "b", tiny_store, objectives=[{"metric": "val/rmse_depth/8"}]))
    with pytest.raises(ConfigError, match="'val/crps_full' is not a metric"):  # ensembles only
        load_study_spec(write_study(tmp_path / "c", tiny_store, objectives=[{"metric": "val/crps_full"}]))
    space = {"sampling.ensemble_size": {"type": "int", "low": 1, "high": 3}}  # a searched ensemble size
    load_study_spec(write_study(tmp_path / "d", tiny_store, space=space, objectives=[{"metric": "val/crps_full"}]))
    with pytest.raises(ConfigError, match=r"'val/rmse_full' is not a metric the ae trainer reports; "
                                          r"did you mean 'val/ae_rmse'"):
        load_study_spec(write_study(tmp_path / "e", tiny_store, kind="ae", objectives=[{"metric": "val/rmse_full"}]))


def _reported(run_dir: Path) -> set[str]:
    """Every metric name a run wrote to its metrics.jsonl (what reaches a trial's objectives)."""
    names: set[str] = set()
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        names |= {k for k in json.loads(line) if "/" in k and not k.startswith("best/")}
    return names


@pytest.mark.slow
@pytest.mark.parametrize("kind,overrides", [
    ("pixel", {"model.ambient_occlusion.enabled": True}),
    ("latent", {"latent.freeze": "none", "ae.latent_channels": 4}),
    ("ae", {"ae.training.max_epochs": 1, "ae.latent_channels": 4}),
])
def test_declared_names_match_a_real_run(kind, overrides, tiny_store, tmp_path):
    """Both ways: everything a real run reports is declared, and everything declared is reported."""
    from depthdif.study.metric_names import LEVEL, emitted_metrics

    experiment = {**TINY_EXPERIMENT, "data": {**TINY_EXPERIMENT["data"], "store": str(tiny_store)}}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(experiment))
    sets = [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
    argv = ["train", kind, "--config", str(config), "--workers", "0", "--storage", str(tmp_path / "runs"),
            "--name", kind] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 0
    reported = _reported(tmp_path / "runs" / kind)
    cfg = replace_dotted(from_dict(ExperimentConfig, experiment, "test"), overrides)
    declared = emitted_metrics(kind, cfg, n_levels=8)
    assert sorted(n for n in reported if n not in declared) == []
    expanded = {n.replace(LEVEL, str(k)) for n in declared.names for k in range(8)}
    config_derived = {"model/unet_base_channels", "model/latent_channels"} - reported
    assert sorted(expanded - reported - config_derived) == []
