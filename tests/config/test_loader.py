"""Config loading: unknown keys, wrong types and out-of-range values fail with file + key + range."""

from __future__ import annotations

import pytest
import yaml

from depthdif.config import (ConfigError, ExperimentConfig, dump_yaml, from_dict, load, read_yaml,
                             replace_dotted)


def write(tmp_path, data, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_load_and_round_trip(tmp_path):
    cfg = load(ExperimentConfig)
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_yaml(cfg))
    again = load(ExperimentConfig, path)
    assert again == cfg


def test_unknown_key_names_file_and_dotted_key(tmp_path):
    path = write(tmp_path, {"model": {"ambient_occlusion": {"further_drop_prbo": 0.3}}})
    with pytest.raises(ConfigError) as err:
        load(ExperimentConfig, path)
    msg = str(err.value)
    assert str(path) in msg
    assert "model.ambient_occlusion.further_drop_prbo" in msg
    assert "further_drop_prob" in msg  # the allowed keys are listed


def test_out_of_range_names_the_range(tmp_path):
    path = write(tmp_path, {"model": {"ambient_occlusion": {"further_drop_prob": 1.0}}})
    with pytest.raises(ConfigError, match=r"further_drop_prob: 1.0 is outside the allowed range \[0.0, 1.0\)"):
        load(ExperimentConfig, path)


@pytest.mark.parametrize("key,value,expect", [
    ("training.max_epochs", "ten", "expected an integer"),
    ("training.max_epochs", 2.5, "expected an integer"),
    ("model.ambient_occlusion.enabled", "yes", "expected true/false"),
    ("diffusion.schedule", "quadratic", "must be one of"),
    ("data.eo_channels", ["sst", "chl"], "must be one of"),
    ("ae.latent_channels", 0, "outside the allowed range"),
])
def test_wrong_types_fail_at_load(tmp_path, key, value, expect):
    with pytest.raises(ConfigError, match=expect) as err:
        load(ExperimentConfig, None, [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"])
    assert key.split(".")[-1] in str(err.value)


def test_dotted_overrides_apply_and_validate():
    cfg = load(ExperimentConfig, None, ["model.ambient_occlusion.further_drop_prob=0.3",
                                        "model.unet.channel_mults=[1, 2]",
                                        "model.unet.attention_levels=[1]"])
    assert cfg.model.ambient_occlusion.further_drop_prob == 0.3
    assert cfg.model.unet.channel_mults == [1, 2]
    with pytest.raises(ConfigError, match=r"attention_levels: \[2\] not < len\(channel_mults\)=2"):
        load(ExperimentConfig, None, ["model.unet.channel_mults=[1, 2]"])
    with pytest.raises(ConfigError, match="model.ambient_occlusion.bogus"):
        load(ExperimentConfig, None, ["model.ambient_occlusion.bogus=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load(ExperimentConfig, None, ["model.unet"])


def test_ambient_epsilon_guard_at_load():
    with pytest.raises(ConfigError, match="parameterization"):
        load(ExperimentConfig, None, ["model.ambient_occlusion.enabled=true", "diffusion.parameterization=epsilon"])
    cfg = load(ExperimentConfig, None, ["model.ambient_occlusion.enabled=true",
                                        "model.ambient_occlusion.require_x0_parameterization=false",
                                        "diffusion.parameterization=epsilon"])
    assert cfg.diffusion.parameterization == "epsilon"


def test_replace_dotted_returns_validated_copy():
    base = from_dict(ExperimentConfig, {})
    new = replace_dotted(base, {"model.ambient_occlusion.further_drop_prob": 0.5, "ae.latent_channels": 4})
    assert new.model.ambient_occlusion.further_drop_prob == 0.5 and new.ae.latent_channels == 4
    assert base.model.ambient_occlusion.further_drop_prob == 0.25  # the base is untouched
    with pytest.raises(ConfigError):
        replace_dotted(base, {"model.ambient_occlusion.further_drop_prob": -0.1})


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_yaml(bad)
    with pytest.raises(ConfigError, match="file not found"):
        read_yaml(tmp_path / "nope.yaml")
    top_list = write(tmp_path, [1, 2], "list.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        read_yaml(top_list)


def test_condition_anomalies_need_a_background():
    with pytest.raises(ConfigError, match="model.background"):
        load(ExperimentConfig, None, ["model.condition.anomalies=window"])
    cfg = load(ExperimentConfig, None, ["model.condition.anomalies=window", "model.background=oi_eo"])
    assert cfg.model.condition.anomalies == "window"
    assert load(ExperimentConfig, None, None).model.condition.anomalies == "none"  # saved runs predate it
