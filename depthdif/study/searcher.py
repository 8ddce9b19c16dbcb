"""Optuna behind Ray Tune, told the truth about every trial (the honest multi-objective part).

Ray 2.60's OptunaSearch tells a trial stopped by ASHA as COMPLETE with its truncated metrics,
which silently corrupts a multi-objective Pareto front (RAY_NOTES.md §0.3), and it leaves a trial
RUNNING in the Optuna study when a NaN is reported. `StudySearcher` classifies each finished
trial once (`classify_outcome`) and tells Optuna:

- COMPLETE: reached its full fidelity (all epochs) with every objective finite;
- PRUNED:   stopped early by the scheduler; its fidelity (epochs done) is kept as a user attr,
            so Optuna's `best_trials` and our Pareto front never see it;
- FAIL:     crashed, NaN/inf loss, or an objective missing/non-finite; the error is kept.

The results table uses the same classification, so Optuna's journal and results.parquet agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from ray.tune.search.optuna import OptunaSearch

from .dashboard import CHECKPOINT_ATTR, RUN_DIR_ATTR
from .results import objective_key
from .spec import Objective, SamplerSpec

FIDELITY = "fidelity"  # epochs done when the result was reported
MAX_FIDELITY = "max_fidelity"  # epochs the trial was asked to run
FAILED = "trial_failed"  # 1 in a result the trial reports after its training failed
ERROR = "error"
TRIAL_NUMBER = "_trial_number"  # added to each config: the Optuna trial number
State = Literal["COMPLETE", "FAILED", "PRUNED", "RUNNING"]
OPTUNA_STATE = {"COMPLETE": optuna.trial.TrialState.COMPLETE, "FAILED": optuna.trial.TrialState.FAIL,
                "PRUNED": optuna.trial.TrialState.PRUNED}


@dataclass(frozen=True)
class Outcome:
    """How a finished trial is recorded, in Optuna and in results.parquet alike."""

    state: State
    values: list[float] | None
    fidelity: int
    error: str


def classify_outcome(result: dict[str, Any] | None, errored: bool, objectives: list[Objective],
                     error_text: str = "") -> Outcome:
    """COMPLETE / PRUNED / FAILED from a trial's last result (see the module docstring)."""
    result = result or {}
    fidelity = int(result.get(FIDELITY, 0) or 0)
    if errored or result.get(FAILED):
        return Outcome("FAILED", None, fidelity, str(result.get(ERROR) or error_text or "trial errored"))
    values, problems = [], []
    for objective in objectives:
        value = result.get(objective_key(objective.metric))
        if value is None:
            problems.append(f"objective {objective.metric!r} was never reported "
                            f"(reported: {sorted(k for k in result if '/' in k)[:12]})")
        elif not math.isfinite(float(value)):
            problems.append(f"objective {objective.metric!r} is {value}")
        else:
            values.append(float(value))
    max_fidelity = int(result.get(MAX_FIDELITY, 0) or 0)
    if problems and not result:
        return Outcome("FAILED", None, fidelity, error_text or "trial reported nothing")
    if problems:
        return Outcome("FAILED", None, fidelity, "; ".join(problems))
    if max_fidelity and fidelity < max_fidelity:
        return Outcome("PRUNED", values, fidelity, "")
    return Outcome("COMPLETE", values, fidelity, "")


def make_sampler(spec: SamplerSpec) -> optuna.samplers.BaseSampler:
    """The seeded Optuna sampler named in the study file."""
    return SAMPLERS[spec.name](spec)


def _tpe(spec: SamplerSpec) -> optuna.samplers.BaseSampler:
    kwargs = {} if spec.n_startup_trials is None else {"n_startup_trials": spec.n_startup_trials}
    # constant_liar: concurrent trials do not all get the same proposal
    return optuna.samplers.TPESampler(seed=spec.seed, multivariate=True, constant_liar=True, **kwargs)


def _nsga2(spec: SamplerSpec) -> optuna.samplers.BaseSampler:
    kwargs = {} if spec.population_size is None else {"population_size": spec.population_size}
    return optuna.samplers.NSGAIISampler(seed=spec.seed, **kwargs)


def _random(spec: SamplerSpec) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=spec.seed)


SAMPLERS = {"tpe": _tpe, "nsga2": _nsga2, "random": _random}


class StudySearcher(OptunaSearch):
    """OptunaSearch that numbers each config and tells PRUNED/FAIL honestly."""

    def __init__(self, *, objectives: list[Objective], **kwargs: Any):
        self.objectives = list(objectives)
        super().__init__(metric=[objective_key(o.metric) for o in self.objectives],
                         mode=["min" if o.direction == "minimize" else "max" for o in self.objectives],
                         **kwargs)

    def suggest(self, trial_id: str) -> dict | None:
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            config[TRIAL_NUMBER] = self._ot_trials[trial_id].number
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        ot_trial = self._ot_trials[trial_id]
        if self._already_told(ot_trial.number):
            # The driver died after telling Optuna but before Tune's snapshot saw the trial end;
            # the restored run finished it again. Optuna keeps its first (identical) answer.
            self._completed_trials.add(trial_id)
            return
        outcome = classify_outcome(result, error, self.objectives)
        ot_trial.set_user_attr("ray_trial_id", trial_id)
        ot_trial.set_user_attr(FIDELITY, outcome.fidelity)
        for key in (RUN_DIR_ATTR, CHECKPOINT_ATTR):  # the dashboard links a trial to its files
            if (result or {}).get(key):
                ot_trial.set_user_attr(key, str(result[key]))
        if outcome.error:
            ot_trial.set_user_attr(ERROR, outcome.error[:2000])
        if outcome.state == "PRUNED":  # kept for inspection, never as the trial's values
            ot_trial.set_user_attr("truncated_values", outcome.values)
        values = outcome.values if outcome.state == "COMPLETE" else None
        self._ot_study.tell(ot_trial, values, state=OPTUNA_STATE[outcome.state])
        self._completed_trials.add(trial_id)

    def _already_told(self, number: int) -> bool:
        frozen = [t for t in self._ot_study.get_trials(deepcopy=False) if t.number == number]
        return bool(frozen) and frozen[0].state.is_finished()

    def restore(self, checkpoint_path: str) -> None:
        """Restore Tune's snapshot, then close Optuna trials the snapshot never heard of.

        The driver may die after asking Optuna for a trial but before Tune snapshotted it: that
        trial would stay RUNNING in the journal forever. Tune will never run it, so it is FAIL.
        """
        super().restore(checkpoint_path)
        known = {t.number for t in self._ot_trials.values()}
        running = self._ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        for frozen in running:
            if frozen.number not in known:
                self._ot_study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
