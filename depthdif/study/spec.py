"""The study file (`studies/*.yaml`): typed dataclasses, loading and validation.

A study file names a trainer kind, a base experiment config plus inline overrides, a search
space, the objectives, the budget and the per-trial resources. Everything is validated here,
before Ray starts, so a typo in a 200-trial study fails in the first second: objectives must
be metrics the trainer kind reports (metric_names.py). The resolved spec
(absolute paths, inline search space, resolved base ExperimentConfig) is what `study.yaml` in
the study directory holds, and `load_study_spec` reads that file back unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from depthdif.config import ConfigError, ExperimentConfig, from_dict, replace_dotted, to_dict
from depthdif.config.loader import apply_overrides, bounded, flatten, read_yaml, save
from depthdif.data.location import absolute
from depthdif.train.best_metrics import better

from .metric_names import check_objectives, study_metrics
from .search_space import SearchSpace, load_search_space

TrainerKind = Literal["pixel", "latent", "ae"]
Direction = Literal["minimize", "maximize"]
SAMPLERS = ("tpe", "nsga2", "random")
STUDY_FILE = "study.yaml"


@dataclass
class Objective:
    """One objective: a reported metric name and whether smaller or larger is better."""

    metric: str
    direction: Direction = "minimize"

    def check(self) -> None:
        if not self.metric.strip():
            raise ValueError("metric: must not be empty")


@dataclass
class TrialResources:
    """What one trial holds. `backend: auto` runs 1-worker CPU trials in-process (no TorchTrainer)."""

    workers: int = bounded(1, 1)
    cpus_per_worker: float = bounded(1.0, 0.0, lo_open=True)
    gpus_per_worker: float = bounded(0.0, 0.0)
    backend: Literal["auto", "in_process", "torch_trainer"] = "auto"

    def check(self) -> None:
        if self.backend == "in_process" and (self.workers != 1 or self.gpus_per_worker > 0):
            raise ValueError("backend: in_process needs workers: 1 and gpus_per_worker: 0 "
                             f"(got workers={self.workers}, gpus_per_worker={self.gpus_per_worker})")

    def in_process(self) -> bool:
        """True when the trial trains in its own Tune process (saves ~15 s TorchTrainer startup)."""
        if self.backend == "auto":
            return self.workers == 1 and self.gpus_per_worker == 0
        return self.backend == "in_process"


@dataclass
class SamplerSpec:
    """The Optuna sampler proposing trials; always seeded so a study is reproducible."""

    name: Literal["tpe", "nsga2", "random"] = "tpe"
    seed: int = 0
    n_startup_trials: int | None = bounded(None, 0)  # TPE: random trials before the model
    population_size: int | None = bounded(None, 2)  # NSGA-II generation size


@dataclass
class EarlyStoppingSpec:
    """Tune scheduler that may stop trials after `grace` epochs.

    With several objectives the stopped trials are recorded as PRUNED (with their fidelity) and
    kept off the Pareto front (`multi_objective: prune`), or the study is refused (`refuse`).
    """

    scheduler: Literal["asha", "median"] = "asha"
    grace: int = bounded(1, 1)
    metric: str | None = None  # the objective that drives stopping; default: the first one
    reduction_factor: int = bounded(2, 2)
    multi_objective: Literal["prune", "refuse"] = "prune"


@dataclass
class StudyData:
    """Where the trials' store lives; synthesized before the study when missing."""

    store: str | None = None  # overrides data.store of the base config; relative to the cwd
    synthetic: dict[str, Any] | None = None  # depthdif.data.synthetic.SynthConfig fields


@dataclass
class StudySpec:
    """A whole study. `experiment` is the resolved base config (filled by `load_study_spec`)."""

    kind: TrainerKind
    objectives: list[Objective]
    search_space: str | dict[str, Any]
    base_config: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    experiment: dict[str, Any] | None = None
    name: str = "study"
    trials: int = bounded(8, 1)
    concurrency: int = bounded(1, 1)
    resources: TrialResources = field(default_factory=TrialResources)
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    early_stopping: EarlyStoppingSpec | None = None
    max_failures: int = bounded(0, 0)  # Tune retries of a crashed trial (NaN loss never retried)
    fail_fast_after: int = bounded(3, 1)  # stop when this many trials failed and none succeeded
    storage: str = "studies_out"
    data: StudyData = field(default_factory=StudyData)

    def check(self) -> None:
        if not self.objectives:
            raise ValueError("objectives: at least one objective is required")
        metrics = [o.metric for o in self.objectives]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"objectives: duplicate metrics in {metrics}")
        for objective in self.objectives:  # the trainer's best-so-far must be the study's best too
            declared = {"lower": "minimize", "higher": "maximize"}.get(better(objective.metric) or "")
            if declared and objective.direction != declared:
                raise ValueError(f"objectives: {objective.metric} is better {better(objective.metric)} "
                                 f"(depthdif/train/best_metrics.py): its direction must be {declared}")
        es = self.early_stopping
        if es is not None:
            if es.metric is not None and es.metric not in metrics:
                raise ValueError(f"early_stopping.metric: {es.metric!r} is not an objective; "
                                 f"allowed values: {metrics}")
            if len(metrics) > 1 and es.multi_objective == "refuse":
                raise ValueError("early_stopping: refused with several objectives (stopped trials would "
                                 "reach the searcher with truncated metrics); set "
                                 "early_stopping.multi_objective: prune or remove early_stopping")

    # --- accessors used by the runner and by other engineers' code -------------------------
    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.objectives]

    def experiment_config(self) -> ExperimentConfig:
        """The resolved base config every trial starts from."""
        if self.experiment is None:
            raise ValueError("study spec is not resolved: load it with load_study_spec()")
        return from_dict(ExperimentConfig, self.experiment, f"study {self.name}: experiment")

    def space(self) -> SearchSpace:
        """The validated search space (inline after resolution)."""
        return load_search_space(self.search_space, self.experiment_config())

    def stopping_objective(self) -> Objective | None:
        """The objective the early-stopping scheduler ranks trials by (None: no scheduler)."""
        if self.early_stopping is None:
            return None
        wanted = self.early_stopping.metric or self.objectives[0].metric
        return next(o for o in self.objectives if o.metric == wanted)


def load_study_spec(path: str | os.PathLike, overrides: list[str] | dict[str, Any] | None = None, *,
                    name: str | None = None, storage: str | None = None, check_metrics: bool = True) -> StudySpec:
    """Read, override, resolve and validate a study file (a `studies/*.yaml` or a `study.yaml`).

    Relative `base_config` and `search_space` paths are taken from the study file's folder;
    `storage` and `data.store` from the current directory (Ray needs absolute paths).
    Raises ConfigError naming the file and key on any problem; nothing is started.
    `check_metrics=False` skips the objective-name check (it imports torch; a study dir's
    study.yaml was checked when the study started).
    """
    path = Path(path).resolve()
    raw = read_yaml(path)
    if overrides:
        raw = apply_overrides(raw, overrides, StudySpec)
    if name is not None:
        raw["name"] = name
    if storage is not None:
        raw["storage"] = storage
    source = str(path) + (" (with --set overrides)" if overrides else "")
    spec = from_dict(StudySpec, raw, source)
    _check_name(spec, source)
    if "://" in spec.storage:  # results.parquet, the journal and run dirs need a filesystem path
        raise ConfigError(source, "storage", f"{spec.storage!r}: cloud URIs are not supported yet; use a "
                                             "path on a filesystem every node mounts (NFS, /mnt/cluster_storage)")
    spec.storage = str(Path(spec.storage).expanduser().resolve())
    cfg = _resolve_experiment(spec, path.parent, source)
    spec.experiment = to_dict(cfg)
    spec.search_space = _resolve_search_space(spec.search_space, path.parent, cfg)
    spec.base_config, spec.overrides = None, {}
    if spec.early_stopping is not None:
        _check_fidelity(spec, source)
    if spec.data.synthetic is not None:
        synth_config(spec.data.synthetic, source)
    if check_metrics:
        metrics = study_metrics(spec.kind, cfg, spec.space(), _store_levels(spec, source))
        check_objectives(metrics, spec.objectives, source)
    return spec


def synth_config(values: dict[str, Any], source: str) -> Any:
    """`data.synthetic` as the data layer's SynthConfig (unknown keys fail naming the file)."""
    from depthdif.data.synthetic import SynthConfig

    try:
        return from_dict(SynthConfig, values, source)
    except ConfigError as exc:
        raise ConfigError(source, f"data.synthetic.{exc.key}", str(exc).split(": ", 2)[-1]) from None


def _store_levels(spec: StudySpec, source: str) -> int | None:
    """Depth levels of the trials' store, when known before it is opened (per-level objectives)."""
    if spec.data.synthetic is not None:
        return int(synth_config(spec.data.synthetic, source).n_levels)
    stats = Path(spec.data.store) / "normalization.json" if "://" not in spec.data.store else None
    try:
        return len(json.loads(stats.read_text())["depth_mean"]) if stats else None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not made yet, or unreadable: the level index is then not bounded here


def _check_name(spec: StudySpec, source: str) -> None:
    bad = set(spec.name) & set("/\\ \t\n:")
    if not spec.name or bad or spec.name in (".", ".."):
        raise ConfigError(source, "name", f"{spec.name!r} must be a plain folder name (no '/', spaces or ':')")


def _resolve_experiment(spec: StudySpec, folder: Path, source: str) -> ExperimentConfig:
    """Base experiment = resolved `experiment`, or `base_config` file + `overrides` + data.store."""
    if spec.experiment is not None:
        cfg = from_dict(ExperimentConfig, spec.experiment, f"{source}: experiment")
    elif spec.base_config is not None:
        base_path = Path(spec.base_config)
        base_path = base_path if base_path.is_absolute() else folder / base_path
        data = read_yaml(base_path)
        cfg = from_dict(ExperimentConfig, data, str(base_path))
    else:
        cfg = ExperimentConfig()
    if spec.overrides:
        try:
            cfg = replace_dotted(cfg, flatten(spec.overrides), f"{source}: overrides")
        except ConfigError as exc:
            raise ConfigError(source, f"overrides.{exc.key}", str(exc).rsplit(": ", 1)[-1]) from None
    store = spec.data.store or cfg.data.store
    store = absolute(store)  # a URI (s3://...) stays as it is
    spec.data.store = store
    return replace_dotted(cfg, {"data.store": store}, source)


def _resolve_search_space(value: str | dict[str, Any], folder: Path, cfg: ExperimentConfig) -> dict[str, Any]:
    """Load and validate the search space; return it inline (study.yaml is self-contained)."""
    if isinstance(value, str):
        space_path = Path(value)
        space_path = space_path if space_path.is_absolute() else folder / space_path
        space = load_search_space(space_path, cfg)
    else:
        space = load_search_space(value, cfg)
    return space.to_dict()


def _check_fidelity(spec: StudySpec, source: str) -> None:
    """Early stopping needs more epochs than its grace period, or nothing can be stopped."""
    cfg = spec.experiment_config()
    epochs = max_epochs(spec.kind, cfg)
    if spec.early_stopping.grace >= epochs:
        raise ConfigError(source, "early_stopping.grace",
                          f"{spec.early_stopping.grace} must be < the trial's max epochs ({epochs})")


def max_epochs(kind: str, cfg: ExperimentConfig) -> int:
    """The full fidelity of a trial: the epoch budget of its trainer kind."""
    return cfg.ae.training.max_epochs if kind == "ae" else cfg.training.max_epochs


def study_dir_of(spec: StudySpec) -> Path:
    return Path(spec.storage) / spec.name


def save_study_spec(spec: StudySpec, study_dir: str | os.PathLike) -> Path:
    """Write the resolved spec as `<study_dir>/study.yaml` (atomic)."""
    return save(spec, Path(study_dir) / STUDY_FILE)


def read_study_dir(study_dir: str | os.PathLike) -> StudySpec:
    """The resolved spec of an existing study directory."""
    path = Path(study_dir) / STUDY_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a study directory (no {STUDY_FILE})")
    return load_study_spec(path, check_metrics=False)
