"""`study run --dry-run`: what a study would start, and where, without starting anything.

Reads the resolved spec and the filesystem only (no Ray, no Optuna study, no training), so it
is safe to run anywhere: on a laptop before submitting to a cluster, in CI, twice.
"""

from __future__ import annotations

from depthdif.data.location import StoreLocation
from depthdif.data.schema import COMPLETE_MARKER
from depthdif.data.store_origin import store_origin

from .existing import budget_met, spec_differences, study_exists
from .spec import StudySpec, max_epochs, study_dir_of
from .units import axis_title


def study_plan(spec: StudySpec, resume_if_exists: bool = False) -> str:
    """Lines describing what `study run` would do with this spec."""
    study_dir = study_dir_of(spec)
    res, cfg = spec.resources, spec.experiment_config()
    backend = "in the trial process (no TorchTrainer)" if res.in_process() else f"a TorchTrainer with {res.workers} worker(s)"
    lines = [f"study {spec.name} ({spec.kind} trainer): {_what_happens(spec, resume_if_exists)}",
             f"  study dir   {study_dir}",
             f"  data store  {spec.data.store} ({_store_state(spec)})",
             f"  budget      {spec.trials} trials, {spec.concurrency} at a time, {max_epochs(spec.kind, cfg)} epochs each",
             f"  each trial  {res.workers} worker(s) x {res.cpus_per_worker:g} CPU, {res.gpus_per_worker:g} GPU; "
             f"trains {backend}",
             f"  sampler     {spec.sampler.name} (seed {spec.sampler.seed})"
             + (f"; early stopping {spec.early_stopping.scheduler} after {spec.early_stopping.grace} epoch(s)"
                if spec.early_stopping else ""),
             "  objectives  " + "; ".join(axis_title(o.metric, o.direction) for o in spec.objectives),
             "  search space:"]
    for param in spec.space().params:
        s = param.spec
        values = s.choices if s.type == "categorical" else f"[{s.low}, {s.high}]"
        condition = f" when {s.condition}" if getattr(s, "condition", None) else ""
        lines.append(f"    {param.key}: {s.type} {values}{condition}")
    lines.append("nothing was started (--dry-run)")
    return "\n".join(lines)


def _what_happens(spec: StudySpec, resume_if_exists: bool) -> str:
    study_dir = study_dir_of(spec)
    if not study_exists(study_dir):
        return "would start a new study"
    if not resume_if_exists:
        return "would be refused: a study exists there (add --resume-if-exists, or use `study resume`)"
    differ = spec_differences(spec, study_dir)
    if differ:
        return f"would be refused: the saved study differs in {', '.join(differ)}"
    if budget_met(study_dir, spec.trials):
        return "already finished: would only rewrite the report"
    return "would resume the existing study"


def _store_state(spec: StudySpec) -> str:
    location = StoreLocation(spec.data.store)
    if not location.is_local:
        return "exists" if location.exists(COMPLETE_MARKER) else "MISSING (stores are written locally only)"
    if store_origin(location.source).complete:
        return "exists"
    return "would be synthesized first" if spec.data.synthetic is not None else "MISSING"
