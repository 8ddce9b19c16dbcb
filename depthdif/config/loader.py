"""Strict YAML → typed dataclass loading, dotted overrides and dumping.

Every config error names the file, the dotted key and what is allowed, so a typo in a
200-trial study fails in the first second instead of after an hour of compute.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
import warnings
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml
from depthdif.atomic import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is unknown, mistyped or out of range."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key = source, key
        super().__init__(f"{source}: {key or '<root>'}: {message}")


def bounded(default: Any, lo: float | None = None, hi: float | None = None, *,
            lo_open: bool = False, hi_open: bool = False, **kwargs: Any) -> Any:
    """A dataclass field with a numeric range checked at load time."""
    meta = {"range": (lo, hi, lo_open, hi_open)}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta, **kwargs)
    return dataclasses.field(default=default, metadata=meta, **kwargs)


def range_text(lo, hi, lo_open, hi_open) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def _in_range(value: float, spec) -> bool:
    lo, hi, lo_open, hi_open = spec
    if lo is not None and (value < lo or (lo_open and value == lo)):
        return False
    if hi is not None and (value > hi or (hi_open and value == hi)):
        return False
    return True


def _convert(value: Any, tp: Any, source: str, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, source, key)
            except ConfigError as exc:
                errors.append(str(exc).rsplit(": ", 1)[-1])
        raise ConfigError(source, key, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(source, key, f"must be one of {list(allowed)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a mapping, got {value!r}")
        return _build(tp, value, source, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(source, key, f"expected a list, got {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_convert(v, item_tp, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a mapping, got {value!r}")
        _, val_tp = get_args(tp) or (Any, Any)
        return {str(k): _convert(v, val_tp, source, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, key, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(source, key, f"expected a string, got {value!r}")
        return value
    raise ConfigError(source, key, f"unsupported config type {tp!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _build(cls: type[T], data: dict, source: str, prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    data = _drop_retired(cls, data, source, prefix)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(source, key, f"unknown key; {did_you_mean(unknown[0], fields)}allowed keys here: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        converted = _convert(value, hints[name], source, key)
        spec = fields[name].metadata.get("range")
        if spec is not None and converted is not None:
            values = converted if isinstance(converted, (list, tuple)) else [converted]
            for v in values:
                if not _in_range(v, spec):
                    raise ConfigError(source, key, f"{v!r} is outside the allowed range {range_text(*spec)}")
        kwargs[name] = converted
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(source, prefix, str(exc)) from None
    check = getattr(obj, "check", None)
    if check is not None:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(source, prefix, str(exc)) from None
    return obj


def _drop_retired(cls: type, data: dict, source: str, prefix: str) -> dict:
    """Keys a class lists in `RETIRED_KEYS` (older configs, checkpoints and exports carry them) are
    dropped with a warning that says why; a retired key whose meaning moved elsewhere is refused in
    `MOVED_KEYS` instead, naming the new place."""
    for name, where in getattr(cls, "MOVED_KEYS", {}).items():
        if name in data:
            raise ConfigError(source, f"{prefix}.{name}" if prefix else name, f"moved: {where}")
    retired = getattr(cls, "RETIRED_KEYS", {})
    found = [name for name in data if name in retired]
    for name in found:
        key = f"{prefix}.{name}" if prefix else name
        warnings.warn(f"{source}: {key} is retired and ignored: {retired[name]}", FutureWarning, stacklevel=4)
    return {k: v for k, v in data.items() if k not in found}


def did_you_mean(word: str, allowed) -> str:
    """`did you mean 'lr'? ` for a close allowed name, else ''."""
    close = difflib.get_close_matches(word, list(allowed), n=2, cutoff=0.6)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""


def from_dict(cls: type[T], data: dict | None, source: str = "<dict>") -> T:
    """Build a dataclass tree from plain data, validating every key."""
    return _build(cls, dict(data or {}), source)


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b.c=value` → ("a.b.c", yaml-parsed value)."""
    if "=" not in text:
        raise ConfigError("--set", text, "expected KEY=VALUE with a dotted key")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError("--set", text, "empty key")
    return key, yaml.safe_load(raw) if raw.strip() else ""


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any], cls: type | None = None) -> dict:
    """Apply dotted overrides to a nested dict (copying the dicts it touches)."""
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    out = _deep_copy(data)
    for key, value in items:
        if cls is not None:
            field_type(cls, key)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def field_type(cls: type, dotted: str, source: str = "--set") -> Any:
    """The declared type at a dotted key of a dataclass tree (`X | None` unwrapped to X).

    The one walk of the schema: `--set`, study overrides and search spaces all use it. Keys below
    a free-form mapping field (`dict[str, Any]`) are not the schema's to check: Any comes back.
    Raises ConfigError naming the first part that does not exist."""
    tp: Any = cls
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if tp is Any or get_origin(tp) is dict or any(get_origin(a) is dict for a in get_args(tp)):
            return Any
        if not dataclasses.is_dataclass(tp):
            raise ConfigError(source, ".".join(parts[:i]), f"is a value, not a section (it has no key {part!r})")
        names = sorted(f.name for f in dataclasses.fields(tp))
        if part not in names:
            raise ConfigError(source, ".".join(parts[: i + 1]),
                              f"unknown key; {did_you_mean(part, names)}allowed keys here: {names}")
        tp = _strip_optional(typing.get_type_hints(tp)[part])
    return tp


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"training": {"lr": 1}}` and `{"training.lr": 1}` both → `{"training.lr": 1}`.

    Nested overrides are applied leaf by leaf: replacing a nested dict whole would reset its
    sibling fields to their defaults. An empty mapping is a value, kept as it is."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(str(path), "", "file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "top level must be a mapping")
    return data


def load(cls: type[T], path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> T:
    """Load a YAML file into `cls`, apply `--set` overrides, validate everything."""
    data = read_yaml(path) if path else {}
    if overrides:
        data = apply_overrides(data, overrides, cls)
    source = str(path) if path else "<defaults>"
    if overrides:
        source += " (with --set overrides)"
    return from_dict(cls, data, source)


def to_dict(obj: Any) -> Any:
    """Dataclass tree → plain YAML-safe data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Write the resolved config next to an output (store, run, study, export)."""
    return atomic_write_text(path, dump_yaml(obj))


def replace_dotted(obj: T, values: dict[str, Any], source: str = "<params>") -> T:
    """A new validated config with dotted keys replaced (used by study trials)."""
    data = apply_overrides(to_dict(obj), values, type(obj))
    return from_dict(type(obj), data, source)
