"""Search spaces: schema validation with the file and key named, conditional Optuna sampling."""

from __future__ import annotations

import pickle

import optuna
import pytest
import yaml

from depthdif.config import ConfigError, ExperimentConfig, replace_dotted
from depthdif.study.search_space import DefineByRun, base_values, distribution, load_search_space

BASE = ExperimentConfig()


def write(tmp_path, space: dict):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def test_valid_space_parses_in_order_and_round_trips(tmp_path):
    raw = {"model.ambient_occlusion.enabled": {"type": "categorical", "choices": [True, False]},
           "model.ambient_occlusion.min_kept_observed_pixels": {
               "type": "int", "low": 1, "high": 8, "step": 1,
               "condition": {"model.ambient_occlusion.enabled": True}},
           "training.lr": {"type": "logfloat", "low": "1e-4", "high": 3.0e-3},  # YAML 1.1 string
           "latent.freeze": {"type": "categorical", "choices": ["full", "partial"]}}
    space = load_search_space(write(tmp_path, raw), BASE)
    assert space.keys == list(raw)
    assert space.params[2].spec.low == pytest.approx(1e-4)
    again = load_search_space(space.to_dict(), BASE)
    assert again.to_dict() == space.to_dict()
    dists = {p.key: distribution(p) for p in space.params}
    assert dists["training.lr"].log and dists["latent.freeze"].choices == ("full", "partial")


@pytest.mark.parametrize("raw, key, words", [
    ({"training.lrr": {"type": "float", "low": 0.1, "high": 0.2}}, "training.lrr", "unknown key"),
    ({"model.unet": {"type": "float", "low": 0.1, "high": 0.2}}, "model.unet", "section"),
    ({"training.lr": {"type": "float", "low": 0.3, "high": 0.3}}, "training.lr", "empty range"),
    ({"training.max_epochs": {"type": "int", "low": 5, "high": 2}}, "training.max_epochs", "empty range"),
    ({"training.lr": {"type": "logfloat", "low": 0.0, "high": 1.0}}, "training.lr.low", "> 0"),
    ({"training.max_epochs": {"type": "float", "low": 1.0, "high": 2.0}}, "training.max_epochs", "does not fit"),
    ({"training.lr": {"type": "int", "low": 1, "high": 2}}, "training.lr", "does not fit"),
    ({"model.ambient_occlusion.further_drop_prob": {"type": "float", "low": 0.1, "high": 1.5}},
     "further_drop_prob.high", "outside the allowed range"),
    ({"latent.freeze": {"type": "categorical", "choices": ["full", "bogus"]}}, "latent.freeze.choices", "bogus"),
    ({"latent.freeze": {"type": "categorical", "choices": []}}, "latent.freeze.choices", "non-empty"),
    ({"training.lr": {"type": "float", "low": 0.1}}, "training.lr", "low and high"),
    ({"training.lr": {"type": "uniform", "low": 0.1, "high": 0.2}}, "training.lr.type", "must be one of"),
    ({"training.lr": {"type": "float", "lo": 0.1, "high": 0.2}}, "training.lr.lo", "unknown field"),
    ({"training.max_epochs": {"type": "int", "low": 1.5, "high": 4}}, "training.max_epochs.low", "integer"),
    ({"model.ambient_occlusion.min_kept_observed_pixels": {
        "type": "int", "low": 1, "high": 3, "condition": {"model.ambient_occlusion.enabld": True}}},
     "condition.model.ambient_occlusion.enabld", "unknown key"),
    ({"model.ambient_occlusion.min_kept_observed_pixels": {
        "type": "int", "low": 1, "high": 3, "condition": {"model.ambient_occlusion.enabled": True}},
      "model.ambient_occlusion.enabled": {"type": "categorical", "choices": [True, False]}},
     "condition.model.ambient_occlusion.enabled", "listed earlier"),
    ({}, "", "no parameters"),
])
def test_invalid_spaces_fail_naming_file_and_key(tmp_path, raw, key, words):
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_search_space(path, BASE)
    message = str(err.value)
    assert str(path) in message and key in message and words in message


def _sample(space, base_cfg, seed: int, n: int = 12):
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed))
    sampler = DefineByRun(space, base_values(space, base_cfg))
    params = []
    for _ in range(n):
        trial = study.ask()
        sampler(trial)
        params.append(dict(trial.params))
        study.tell(trial, [0.0, 0.0])
    return params


def test_condition_on_a_sampled_parameter():
    raw = {"model.ambient_occlusion.enabled": {"type": "categorical", "choices": [True, False]},
           "model.ambient_occlusion.min_kept_observed_pixels": {
               "type": "int", "low": 2, "high": 5, "condition": {"model.ambient_occlusion.enabled": True}}}
    params = _sample(load_search_space(raw, BASE), BASE, seed=3)
    key = "model.ambient_occlusion.min_kept_observed_pixels"
    assert any(p["model.ambient_occlusion.enabled"] for p in params)
    assert any(not p["model.ambient_occlusion.enabled"] for p in params)
    for p in params:
        assert (key in p) == p["model.ambient_occlusion.enabled"]
        if key in p:
            assert 2 <= p[key] <= 5
            replace_dotted(BASE, p)  # every sample is a valid config


def test_condition_on_a_base_config_value():
    raw = {"model.ambient_occlusion.min_kept_observed_pixels": {
        "type": "int", "low": 1, "high": 4, "condition": {"model.ambient_occlusion.enabled": True}},
           "training.lr": {"type": "logfloat", "low": 1e-4, "high": 1e-2}}
    space = load_search_space(raw, BASE)
    off = _sample(space, BASE, seed=0, n=4)  # ambient is disabled in the defaults
    assert all(set(p) == {"training.lr"} for p in off)
    on_cfg = replace_dotted(BASE, {"model.ambient_occlusion.enabled": True})
    on = _sample(space, on_cfg, seed=0, n=4)
    assert all(set(p) == set(raw) for p in on)


def test_define_by_run_space_pickles():
    raw = {"training.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "step": 1e-4}}
    space = load_search_space(raw, BASE)
    restored = pickle.loads(pickle.dumps(DefineByRun(space, {})))
    params = _sample(load_search_space(raw, BASE), BASE, seed=1, n=3)
    assert restored.params == space.params
    assert all(abs(p["training.lr"] / 1e-4 - round(p["training.lr"] / 1e-4)) < 1e-6 for p in params)
