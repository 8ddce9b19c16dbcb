"""Run and resume a study: Ray Tune drives the trials, Optuna (multi-objective) proposes them.

Layout of a study directory `<storage>/<name>/` (created 0700: Tune's pickles are read on resume):

    driver.lock       held (flock) by the one driver running the study; its pid, host, start time
    study.yaml        the resolved spec (objectives, search space, base ExperimentConfig)
    results.parquet   one row per trial, rewritten atomically as trials start and finish
    optuna.journal    the Optuna study (optuna.load_study / optuna-dashboard can open it)
    tune/             Ray Tune's experiment folder (what `Tuner.restore` resumes)
    runs/<trial_id>/  each trial's training run (config, metrics.jsonl, checkpoints)

Resume after a SIGKILL of the driver: `Tuner.restore(tune/, trainable, resume_errored=True)`
keeps finished trials, re-runs the ones that were running (their training resumes from the run
dir's latest checkpoint because the run is named after the trial id), and restores the searcher
(with its Optuna history) from Tune's snapshot; Optuna trials the snapshot never heard of are
closed as FAIL so the journal holds no zombie RUNNING trial.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import ray
from optuna.storages import JournalStorage
from ray import tune
from ray.tune.search import ConcurrencyLimiter

from depthdif.config import to_dict
from depthdif.data.location import StoreLocation
from depthdif.data.schema import COMPLETE_MARKER
from depthdif.data.store_origin import StoreOrigin, refuse_foreign_store, store_origin
from depthdif.ownership import STUDY_MARKERS, refuse_foreign
from depthdif.train.ray_runtime import ensure_ray

from .dashboard import JOURNAL_FILE, create_named_study, dashboard_hint, journal_storage
from .driver_lock import hold_driver_lock
from .existing import TUNE_DIR, budget_met, refuse_other_study, study_exists
from .progress import FailureGuard, StudyRecorder
from .results import close_orphans, objective_key, read_results
from .search_space import DefineByRun, base_values
from .searcher import StudySearcher, make_sampler
from .spec import StudySpec, max_epochs, read_study_dir, save_study_spec, study_dir_of, synth_config
from .trial import TrialSetup, make_trainable
from .warm_start import prefill, warm_start_trials



class StudyFailed(RuntimeError):
    """Every trial failed (the first error is in the message): the study stopped early."""


@dataclass(frozen=True)
class StudyOutcome:
    study_dir: Path
    results: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        return self.results["state"].value_counts().to_dict() if len(self.results) else {}


def run_study(spec: StudySpec, *, address: str | None = None, warm_start: str | os.PathLike | None = None,
              progress: bool = True, resume_if_exists: bool = False, report: bool = False) -> StudyOutcome:
    """Start a new study in `<spec.storage>/<spec.name>` and run it to its budget (one driver only).

    `resume_if_exists`: when that study was started before (same spec), resume it instead, or
    only report when its budget is met; a different study under the name is refused.
    `report`: write STUDY_DIR/report.html at the end (the CLI does; it fits the baselines)."""
    study_dir = study_dir_of(spec)
    if resume_if_exists and study_exists(study_dir):
        refuse_other_study(spec, study_dir)
        print(f"{study_dir}: the study exists; resuming it", file=sys.stderr)
        return resume_study(study_dir, address=address, progress=progress, report=report)
    space = spec.space()
    warm = warm_start_trials(warm_start, space, spec.objectives) if warm_start else []
    make_study_dir(study_dir)
    with hold_driver_lock(study_dir, "study run", take_over_stale=False):
        if (study_dir / TUNE_DIR).exists() or (study_dir / JOURNAL_FILE).exists():
            raise FileExistsError(f"{study_dir}: a study already exists there; continue it with "
                                  f"`depthdif study resume {study_dir}` (or run again with --resume-if-exists), "
                                  "or pick another --name")
        ensure_store(spec)
        save_study_spec(spec, study_dir)
        storage = optuna_storage(study_dir)
        study = create_named_study(storage, spec.name, spec.directions, spec.metrics)
        if warm:
            added = prefill(study, warm)
            print(f"warm start: {added} trial(s) from {warm_start}", file=sys.stderr)
        started = start_ray(address)
        try:
            searcher = build_searcher(spec, storage)
            tuner = build_tuner(spec, study_dir, searcher, progress)
            return _fit(tuner, spec, study_dir, report)
        finally:
            if started:
                ray.shutdown()


def resume_study(study_dir: str | os.PathLike, *, address: str | None = None, progress: bool = True,
                 report: bool = False) -> StudyOutcome:
    """Continue a study whose driver died: finished trials kept, running ones re-run or resumed.
    A study whose budget is met starts nothing (no Ray): its report is refreshed."""
    study_dir = Path(study_dir).resolve()
    spec = read_study_dir(study_dir)
    with hold_driver_lock(study_dir, "study resume", take_over_stale=True) as dead:
        if dead is not None:
            print(f"taking over from a driver that died: {dead.describe()}", file=sys.stderr)
        if budget_met(study_dir, spec.trials):
            print(f"{study_dir}: all {spec.trials} trials finished; nothing to run", file=sys.stderr)
            return _finish(spec, study_dir, read_results(study_dir), report)
        tune_path = study_dir / TUNE_DIR
        if not tune.Tuner.can_restore(str(tune_path)):
            raise FileNotFoundError(f"{tune_path}: no Ray Tune experiment state to resume (the driver died "
                                    "before the first snapshot); start the study again with `study run`")
        ensure_store(spec)
        started = start_ray(address)
        try:
            setup = TrialSetup.from_spec(spec, study_dir)
            tuner = tune.Tuner.restore(str(tune_path), trainable=make_trainable(setup),
                                       resume_unfinished=True, resume_errored=True)
            return _fit(tuner, spec, study_dir, report)
        finally:
            if started:
                ray.shutdown()


def make_study_dir(study_dir: Path) -> None:
    """Create the study dir owner-only (0700): Ray Tune unpickles files from it on resume, so
    whoever can write there could run code as the driver. A foreign folder is refused."""
    refuse_foreign(study_dir, STUDY_MARKERS, "study directory")
    study_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        study_dir.mkdir(mode=0o700)
    except FileExistsError:
        return  # ours (checked above) or just made by a second driver: the lock decides who runs
    os.chmod(study_dir, 0o700)  # exactly 0700 whatever the umask


def print_hints(study_dir: Path) -> None:
    """Where to look while (and after) a study runs: dashboard, TensorBoard, the report."""
    print(dashboard_hint(study_dir), file=sys.stderr)
    print(f"TensorBoard: tensorboard --logdir {study_dir}  (trials log there with logging.backend: tensorboard)",
          file=sys.stderr, flush=True)


def _fit(tuner: tune.Tuner, spec: StudySpec, study_dir: Path, report: bool) -> StudyOutcome:
    print_hints(study_dir)
    grid = tuner.fit()
    trials = [r.metrics.get("trial_id") if r.metrics else None for r in grid]
    if grid.num_terminated + grid.num_errors == len(grid):  # nothing left to resume
        orphans = close_orphans(study_dir, [t for t in trials if t])
        if orphans:
            print(f"{len(orphans)} trial(s) orphaned by the driver restart: {orphans}", file=sys.stderr)
    results = read_results(study_dir)
    _fail_stopped_in_optuna(spec, study_dir, results)
    finished = results[results["state"].isin(["COMPLETE", "PRUNED", "FAILED"])]
    if len(finished) and (finished["state"] == "FAILED").all():
        first = finished.sort_values("trial_number").iloc[0]
        stopped = " (the study stopped early)" if len(finished) < spec.trials else ""
        raise StudyFailed(f"{study_dir}: all {len(finished)} finished trials failed{stopped}; first error "
                          f"(trial #{first['trial_number']} {first['trial_id']}): {first['error']}")
    return _finish(spec, study_dir, results, report)


def _finish(spec: StudySpec, study_dir: Path, results: pd.DataFrame, report: bool) -> StudyOutcome:
    """The end of a driver's work: the report (a failure to draw it never fails the study), hints."""
    if report:
        from .report import write_report

        try:
            print(f"wrote {write_report(study_dir)}", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - the trials are safe; say why the page is missing
            print(f"report not written: {type(exc).__name__}: {exc} (retry: depthdif study report {study_dir})",
                  file=sys.stderr)
    print_hints(study_dir)
    return StudyOutcome(study_dir, results)


def _fail_stopped_in_optuna(spec: StudySpec, study_dir: Path, results: pd.DataFrame) -> None:
    """Trials the study stopped (fail-fast) never reached the searcher: FAIL them in the journal
    with the reason, so Optuna holds no RUNNING trial once the driver is gone."""
    stopped = results[results["state"] == "STOPPED"]
    if stopped.empty:
        return
    storage = optuna_storage(study_dir)
    study_id = storage.get_study_id_from_name(spec.name)
    for number, reason in zip(stopped["trial_number"].astype(int), stopped["error"]):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(number))
        if storage.get_trial(trial_id).state == optuna.trial.TrialState.RUNNING:
            storage.set_trial_user_attr(trial_id, "error", str(reason)[:2000])
            storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)


# --- pieces ------------------------------------------------------------------------------------
def ensure_store(spec: StudySpec) -> Path | str:
    """The trials' store, synthesized first when missing and the spec says `data.synthetic`.

    Never deletes what depthdif did not write: an existing folder is rebuilt only when it is a
    store of ours made with the same synthetic parameters (an interrupted copy, say); a complete
    store made with other parameters, or anything else, is refused with the reason.
    A URI store (s3://...) must already exist: stores are synthesized locally only."""
    location = StoreLocation(spec.data.store)
    store = location.source
    if not location.is_local:
        if location.exists(COMPLETE_MARKER):
            return store
        raise FileNotFoundError(f"data store {store} not found (or incomplete); stores are written locally "
                                "only: make one with `depthdif data synth` and copy it to that URI")
    origin = store_origin(store)
    if spec.data.synthetic is None:
        if origin.complete:
            return store
        raise FileNotFoundError(f"data store {store} not found (or incomplete); make it with "
                                "`depthdif data synth` or give `data.synthetic: {...}` in the study file")
    synth = synth_config(spec.data.synthetic, f"study {spec.name}")
    if origin.exists:
        refuse_foreign_store(store)
        _refuse_other_synthesis(origin, synth)
        if origin.complete:
            return store
    from depthdif.data.synthetic import make_synthetic_store

    print(f"synthesizing the study's data store at {store}", file=sys.stderr)
    make_synthetic_store(synth, store, overwrite=origin.exists, progress=True)
    return store


def _refuse_other_synthesis(origin: StoreOrigin, synth: Any) -> None:
    """A store of ours is reused (or rebuilt) only if made from the study's `data.synthetic`."""
    if origin.generator is None and not any(origin.path.iterdir()):
        return  # an empty folder
    wanted, recorded = to_dict(synth), origin.generator or {}
    defaults = to_dict(type(synth)())
    differ = sorted(k for k, v in wanted.items() if recorded.get(k, defaults.get(k)) != v)
    if origin.generator is None or differ:
        detail = ", ".join(f"{k}: store {recorded.get(k)!r} vs study {wanted[k]!r}" for k in differ[:6])
        raise FileExistsError(f"data store {origin.path} was not synthesized with this study's data.synthetic "
                              f"parameters ({detail or 'no synthetic parameters recorded'}); refusing to use or "
                              "replace it: point data.store elsewhere, or remove it yourself")


def optuna_storage(study_dir: Path) -> JournalStorage:
    """A journal file any Optuna tool can open (`optuna.load_study(storage=JournalStorage(...))`)."""
    return journal_storage(study_dir)


def start_ray(address: str | None) -> bool:
    """`ensure_ray` for a study driver; True if this call started the runtime.

    Trial logs (Lightning chatter) stay in Ray's log files; the terminal shows the study's own
    line per trial. DEPTHDIF_TRIAL_LOGS=1 streams them when debugging."""
    return ensure_ray(address, log_to_driver=os.environ.get("DEPTHDIF_TRIAL_LOGS", "0") == "1")


def build_searcher(spec: StudySpec, storage: JournalStorage) -> StudySearcher:
    space = spec.space()
    define_by_run = DefineByRun(space, base_values(space, spec.experiment_config()))
    return StudySearcher(objectives=spec.objectives, space=define_by_run, sampler=make_sampler(spec.sampler),
                         storage=storage, study_name=spec.name)


def build_scheduler(spec: StudySpec) -> Any:
    """The early-stopping scheduler on epochs (`fidelity`), or None (FIFO)."""
    objective = spec.stopping_objective()
    if objective is None:
        return None
    es = spec.early_stopping
    metric, mode = objective_key(objective.metric), "min" if objective.direction == "minimize" else "max"
    if es.scheduler == "asha":
        return tune.schedulers.ASHAScheduler(time_attr="fidelity", metric=metric, mode=mode,
                                             max_t=max_epochs(spec.kind, spec.experiment_config()),
                                             grace_period=es.grace, reduction_factor=es.reduction_factor)
    return tune.schedulers.MedianStoppingRule(time_attr="fidelity", metric=metric, mode=mode,
                                              grace_period=es.grace, min_samples_required=2)


def build_tuner(spec: StudySpec, study_dir: Path, searcher: StudySearcher, progress: bool) -> tune.Tuner:
    setup = TrialSetup.from_spec(spec, study_dir)
    guard = FailureGuard(threshold=min(spec.trials, spec.fail_fast_after))
    recorder = StudyRecorder(study_dir, spec.objectives, spec.trials, setup.footprint(), guard, progress,
                             study_name=spec.name)
    return tune.Tuner(
        make_trainable(setup),
        tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, max_concurrent=spec.concurrency),
                                    scheduler=build_scheduler(spec), num_samples=spec.trials,
                                    # in-process trials: the next trial reuses the process (no
                                    # re-import of torch/lightning); Tune falls back to a fresh
                                    # actor when the previous trial's thread does not end in 2 s
                                    reuse_actors=setup.in_process),
        run_config=tune.RunConfig(name=TUNE_DIR, storage_path=str(study_dir), callbacks=[recorder],
                                  stop=guard, verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=spec.max_failures)),
    )

