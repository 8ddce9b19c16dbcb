"""Search-space files (`search_spaces/*.yaml`) → validated parameters → Optuna suggestions.

Each top-level key is a dotted ExperimentConfig key (the same names as YAML and `--set`):

    model.ambient_occlusion.further_drop_prob: {type: float, low: 0.05, high: 0.6}
    training.lr: {type: logfloat, low: 1.0e-4, high: 3.0e-3}
    model.ambient_occlusion.min_kept_observed_pixels:
      {type: int, low: 1, high: 8, condition: {model.ambient_occlusion.enabled: true}}

A parameter with a `condition` is only sampled when every condition key equals its value (taken
from the parameters sampled so far, else from the base config), so conditions may only refer to
parameters listed earlier. Bounds and choices are checked against the config schema (its types
and `bounded` ranges) before anything starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from depthdif.config import ConfigError, ExperimentConfig, from_dict, replace_dotted
from depthdif.config.loader import field_type, flatten, read_yaml, to_dict

ParamType = Literal["float", "int", "logfloat", "categorical"]
NUMERIC_FIELD = {"float": float, "logfloat": float, "int": int}


@dataclass
class ParamSpec:
    """One parameter as written in the file (validated further by `_check_param`)."""

    type: ParamType
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: list[Any] | None = None
    condition: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    """A validated parameter: its dotted config key plus its distribution."""

    key: str
    spec: ParamSpec

    def active(self, values: dict[str, Any]) -> bool:
        """Whether the condition holds given sampled-or-base values of the condition keys."""
        return all(values.get(k) == v for k, v in self.spec.condition.items())


@dataclass(frozen=True)
class SearchSpace:
    """Ordered parameters (conditions refer to earlier ones) and where they came from."""

    params: tuple[Param, ...]
    source: str

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        """The inline YAML form (written into study.yaml)."""
        out = {}
        for p in self.params:
            item = {k: v for k, v in to_dict(p.spec).items() if v not in (None, {}, [])}
            out[p.key] = item
        return out

    def condition_keys(self) -> list[str]:
        return sorted({k for p in self.params for k in p.spec.condition})


def load_search_space(source: str | os.PathLike | dict[str, Any], base: ExperimentConfig) -> SearchSpace:
    """Parse and validate a search space (file path or inline mapping) against `base`."""
    if isinstance(source, dict):
        raw, name = source, "<inline search space>"
    else:
        raw, name = read_yaml(source), str(source)
    if not raw:
        raise ConfigError(name, "", "the search space has no parameters")
    params: list[Param] = []
    all_keys = [str(k) for k in raw]
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise ConfigError(name, key, f"expected a mapping like {{type: float, low: …, high: …}}, got {value!r}")
        value = _check_fields(value, name, key)
        try:
            spec = from_dict(ParamSpec, value, name)
        except ConfigError as exc:
            raise ConfigError(name, f"{key}.{exc.key}", str(exc).split(": ", 2)[-1]) from None
        param = Param(str(key), spec)
        _check_param(param, base, name, later=all_keys[len(params):])
        params.append(param)
    return SearchSpace(tuple(params), name)


def _check_fields(value: dict, source: str, key: str) -> dict:
    """Unknown fields fail; `1e-4` (a string to YAML 1.1, which wants `1.0e-4`) becomes a number."""
    allowed = {f.name for f in dataclasses.fields(ParamSpec)}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(source, f"{key}.{unknown[0]}", f"unknown field; allowed: {sorted(allowed)}")
    if "type" not in value:
        raise ConfigError(source, f"{key}.type", "missing; allowed: float, int, logfloat, categorical")
    value = dict(value)
    for name in ("low", "high", "step"):
        if isinstance(value.get(name), str):
            try:
                value[name] = float(value[name])
            except ValueError:
                raise ConfigError(source, f"{key}.{name}", f"expected a number, got {value[name]!r}") from None
    return value


def config_field_type(key: str, source: str, where: str | None = None) -> Any:
    """The declared type of a dotted ExperimentConfig leaf; ConfigError at `where` (default: key)."""
    try:
        tp = field_type(ExperimentConfig, key, source)
    except ConfigError as exc:
        raise ConfigError(source, where or key, str(exc).split(": ", 2)[-1]) from None
    if dataclasses.is_dataclass(tp):
        raise ConfigError(source, where or key, "is a config section, not a value")
    return tp


def _check_param(param: Param, base: ExperimentConfig, source: str, later: list[str]) -> None:
    """Key exists, type fits, bounds/choices valid for the schema, conditions refer backwards."""
    key, spec = param.key, param.spec
    declared = config_field_type(key, source)
    if spec.type == "categorical":
        _check_categorical(param, base, source)
    else:
        _check_numeric(param, declared, base, source)
    for cond_key, cond_value in spec.condition.items():
        config_field_type(cond_key, source, where=f"{key}.condition.{cond_key}")
        if cond_key in later:  # `later` starts with this parameter itself
            raise ConfigError(source, f"{key}.condition.{cond_key}",
                              "conditions may only refer to parameters listed earlier (or base config keys)")
        _check_value(base, cond_key, cond_value, source, f"{key}.condition.{cond_key}")


def _check_categorical(param: Param, base: ExperimentConfig, source: str) -> None:
    spec = param.spec
    if spec.low is not None or spec.high is not None or spec.step is not None:
        raise ConfigError(source, param.key, "categorical takes `choices` only (no low/high/step)")
    if not spec.choices:
        raise ConfigError(source, f"{param.key}.choices", "must be a non-empty list")
    if len({repr(c) for c in spec.choices}) != len(spec.choices):
        raise ConfigError(source, f"{param.key}.choices", f"duplicate choices in {spec.choices}")
    for choice in spec.choices:
        if not isinstance(choice, (bool, int, float, str, type(None))):
            raise ConfigError(source, f"{param.key}.choices",
                              f"{choice!r}: choices must be scalars (Optuna stores bool/int/float/str/None)")
        _check_value(base, param.key, choice, source, f"{param.key}.choices")


def _check_numeric(param: Param, field_type: Any, base: ExperimentConfig, source: str) -> None:
    spec, key = param.spec, param.key
    expected = NUMERIC_FIELD[spec.type]
    if field_type is not expected:
        raise ConfigError(source, key, f"type {spec.type} does not fit the config field's type "
                                       f"{getattr(field_type, '__name__', field_type)}")
    if spec.choices is not None:
        raise ConfigError(source, f"{key}.choices", f"only categorical takes choices (type is {spec.type})")
    if spec.low is None or spec.high is None:
        raise ConfigError(source, key, f"type {spec.type} needs both low and high")
    if not (math.isfinite(spec.low) and math.isfinite(spec.high)):
        raise ConfigError(source, key, "low and high must be finite")
    if spec.type == "int":
        for name in ("low", "high", "step"):
            value = getattr(spec, name)
            if value is not None and float(value) != int(value):
                raise ConfigError(source, f"{key}.{name}", f"{value!r} must be an integer for type int")
    empty = spec.high < spec.low if spec.type == "int" else spec.high <= spec.low
    if empty:
        raise ConfigError(source, key, f"empty range: low={spec.low} high={spec.high}")
    if spec.type == "logfloat":
        if spec.low <= 0:
            raise ConfigError(source, f"{key}.low", f"{spec.low} must be > 0 for logfloat")
        if spec.step is not None:
            raise ConfigError(source, f"{key}.step", "logfloat takes no step")
    if spec.step is not None and spec.step <= 0:
        raise ConfigError(source, f"{key}.step", f"{spec.step} must be > 0")
    cast = int if spec.type == "int" else float
    for name in ("low", "high"):
        _check_value(base, key, cast(getattr(spec, name)), source, f"{key}.{name}")


def _check_value(base: ExperimentConfig, key: str, value: Any, source: str, where: str) -> None:
    """Reuse the schema's own checks (type, Literal values, `bounded` range) for one value."""
    try:
        replace_dotted(base, {key: value}, source)
    except ConfigError as exc:
        reason = str(exc).split(": ", 2)[-1]
        raise ConfigError(source, where, f"{value!r} is not a valid value for {key}: {reason}") from None


# --- Optuna ---------------------------------------------------------------------------------
def suggest_value(trial: Any, param: Param) -> Any:
    """Ask an Optuna trial for one parameter (the dotted key is the Optuna parameter name)."""
    spec = param.spec
    if spec.type == "categorical":
        return trial.suggest_categorical(param.key, list(spec.choices))
    if spec.type == "int":
        return trial.suggest_int(param.key, int(spec.low), int(spec.high), step=int(spec.step or 1))
    if spec.type == "logfloat":
        return trial.suggest_float(param.key, float(spec.low), float(spec.high), log=True)
    return trial.suggest_float(param.key, float(spec.low), float(spec.high), step=spec.step)


def distribution(param: Param) -> Any:
    """The Optuna distribution of a parameter (used to pre-fill warm-start trials)."""
    import optuna.distributions as od

    spec = param.spec
    if spec.type == "categorical":
        return od.CategoricalDistribution(list(spec.choices))
    if spec.type == "int":
        return od.IntDistribution(int(spec.low), int(spec.high), step=int(spec.step or 1))
    if spec.type == "logfloat":
        return od.FloatDistribution(float(spec.low), float(spec.high), log=True)
    return od.FloatDistribution(float(spec.low), float(spec.high), step=spec.step)


def base_values(space: SearchSpace, base: ExperimentConfig) -> dict[str, Any]:
    """Base-config values of every condition key (for conditions on fixed config values)."""
    flat = flatten(to_dict(base))
    return {k: flat[k] for k in space.condition_keys()}


class DefineByRun:
    """Picklable define-by-run space for OptunaSearch: samples active parameters in order.

    A class, not a closure: Ray pickles the searcher (with this space) into the experiment
    folder, and `Tuner.restore` must be able to read it back.
    """

    def __init__(self, space: SearchSpace, base: dict[str, Any]):
        self.params = space.params
        self.base = dict(base)

    def __call__(self, trial: Any) -> None:
        values = dict(self.base)
        for param in self.params:
            if param.active(values):
                values[param.key] = suggest_value(trial, param)
        return None
