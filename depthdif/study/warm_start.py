"""Warm start: seed a new study's Optuna history with an old study's finished trials.

Done through Optuna's storage (`study.add_trial`) before the searcher opens the study, because
Ray's `evaluated_rewards` path fails for multi-objective studies in Optuna 5 (RAY_NOTES.md §2).
Only COMPLETE trials with every objective finite are copied (a PRUNED trial's truncated metrics
must not teach the sampler); both studies must search the same keys and share the objectives.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import optuna
import pandas as pd

from depthdif.config import ConfigError

from .results import PARAM_PREFIX, objective_key, read_results
from .search_space import SearchSpace, distribution
from .spec import Objective, read_study_dir

WARM_START_ATTR = "warm_start_from"


def warm_start_trials(old_study_dir: str | os.PathLike, space: SearchSpace,
                      objectives: list[Objective]) -> list[optuna.trial.FrozenTrial]:
    """Frozen COMPLETE trials of the old study, ready for `study.add_trial`."""
    old_dir = Path(old_study_dir).resolve()
    old_spec = read_study_dir(old_dir)
    source = f"--warm-start {old_dir}"
    old_keys = set(old_spec.space().keys)
    if old_keys != set(space.keys):
        raise ConfigError(source, "search_space",
                          f"the old study searches different keys: only old {sorted(old_keys - set(space.keys))}, "
                          f"only new {sorted(set(space.keys) - old_keys)}")
    missing = [o.metric for o in objectives if o.metric not in old_spec.metrics]
    if missing:
        raise ConfigError(source, "objectives", f"{missing} are not objectives of the old study "
                                                f"(it has {old_spec.metrics})")
    table = read_results(old_dir)
    trials = [t for t in (_frozen(row, space, objectives, old_dir) for _, row in table.iterrows()) if t]
    skipped = int((table["state"] == "COMPLETE").sum()) - len(trials) if len(table) else 0
    if skipped:
        print(f"warm start: skipped {skipped} old trial(s) outside the new search space", file=sys.stderr)
    return trials


def _frozen(row: pd.Series, space: SearchSpace, objectives: list[Objective],
            old_dir: Path) -> optuna.trial.FrozenTrial | None:
    if row["state"] != "COMPLETE":
        return None
    values = [float(row.get(objective_key(o.metric), math.nan)) for o in objectives]
    if not all(math.isfinite(v) for v in values):
        return None
    params, distributions = {}, {}
    for param in space.params:
        value = row.get(f"{PARAM_PREFIX}{param.key}")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue  # a conditional parameter that was inactive in that trial
        dist = distribution(param)
        value = value.item() if hasattr(value, "item") else value
        if not _contains(dist, value):
            return None
        params[param.key], distributions[param.key] = value, dist
    return optuna.trial.create_trial(
        params=params, distributions=distributions, values=values,
        user_attrs={WARM_START_ATTR: str(old_dir), "source_trial_id": str(row["trial_id"])},
        state=optuna.trial.TrialState.COMPLETE)


def _contains(dist: optuna.distributions.BaseDistribution, value: object) -> bool:
    """Whether an old value is a valid point of the new distribution (bounds may have moved)."""
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return any(type(value) is type(c) and value == c for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return dist.low <= value <= dist.high


def prefill(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> int:
    """Add the warm-start trials to the study's storage; returns how many were added."""
    if trials:
        study.add_trials(trials)
    return len(trials)
