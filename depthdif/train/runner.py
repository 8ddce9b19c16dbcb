"""`run`: the one way to train. The CLI, study trials, benchmarks and tests all call it.

    result = run("pixel", cfg, "runs/pixel-demo")                      # in this process
    result = run("pixel", cfg, "runs/pixel-demo", backend="ray")       # ray.num_workers workers

1. Paths are made absolute here, once: workers run in other directories and on other nodes, and
   Ray refuses a relative storage path (RAY_NOTES.md §1.3).
2. Everything that can fail before training is checked, once, in the launching process: the
   kind, the store (and whether it has the dense target the kind needs), the system itself
   (level counts, a latent run's AE against the store, ...) and that every rank gets training
   and validation windows (a rank without validation batches would leave the others waiting
   in the metric reduction). The system is built once, seeded as training seeds it, and the
   in-process backend trains that very system: nothing, not a latent run's AE, loads twice.
   Shard sizes come from the patch index, without building loaders.
3. The run dir records the config the system resolved to, and the kind (run_dir.py).
4. The backend trains, starting from the run's newest complete checkpoint (so running the same
   run dir again resumes it; `resume=False` starts over):
   - `in_process`: this process, one worker, no Ray. A crash is retried here, from the newest
     checkpoint, up to `training.max_failures` times.
   - `ray`: a Ray Train TorchTrainer with `ray.num_workers` workers (worker.py). A crash is
     retried by Ray's FailureConfig, up to `training.max_failures` times.
   A NaN/inf loss is never retried (status "nonfinite_loss", see faults.py).
`report(metrics, checkpoint_dir_or_None)` sees every epoch, with the published checkpoint folder
on checkpoint epochs. With the ray backend it runs in the Train controller, so it must pickle.
Config and data errors raise before anything is written; training failures come back as
`TrainingResult.status` with `error` set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import lightning.pytorch as pl

from depthdif.config.loader import dump_yaml
from depthdif.config.schema import ExperimentConfig, RayConfig
from depthdif.train.callbacks import seed_all
from depthdif.train.datamodule import shard_sizes, split_ids, val_patch_ids
from depthdif.train.result import TrainingResult, result_from_outcome
from depthdif.train.run_dir import Checkpoint, RunDir
from depthdif.train.systems import SYSTEMS, build_system, store_meta

Backend = Literal["in_process", "ray"]
BACKENDS = ("in_process", "ray")
Report = Callable[[dict[str, Any], Path | None], None]


def run(kind: str, cfg: ExperimentConfig, run_dir: str | Path, *, backend: Backend = "in_process",
        report: Report | None = None, resume: bool = True, progress: bool = True) -> TrainingResult:
    """Train `kind` ("pixel" | "latent" | "ae") into `run_dir` (see the module docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: allowed values are {list(BACKENDS)}")
    cfg, run = absolute_paths(cfg), RunDir(absolute_run_dir(run_dir))
    run.refuse_foreign()
    if backend == "ray" and cfg.ray.num_workers < 1:
        raise ValueError(f"ray.num_workers={cfg.ray.num_workers}: the ray backend needs at least 1 worker "
                         "(0 workers: use the in_process backend)")
    if not resume:
        run.clear()
    cfg = resumed_config(kind, cfg, run)
    checked = check_inputs(kind, cfg, world_size=cfg.ray.num_workers if backend == "ray" else 1,
                           resuming=run.resume_point() is not None)
    run.write_config(checked.cfg, kind)
    if backend == "ray":
        from depthdif.train.worker import fit_on_ray

        return fit_on_ray(kind, checked.cfg, run, report, progress)
    return fit_in_process(checked, checked.cfg, run, report, progress)


def resumed_config(kind: str, cfg: ExperimentConfig, run: RunDir) -> ExperimentConfig:
    """A latent run that resumes keeps the codec it started with: its recorded `ae` block (its AE's
    own), so the system is rebuilt from its checkpoint, never from the AE file."""
    if kind != "latent" or run.resume_point() is None or not run.exists():
        return cfg
    from depthdif.config.loader import load

    return dataclasses.replace(cfg, ae=load(ExperimentConfig, run.config_file).ae)


def fit_in_process(checked: CheckedRun, cfg: ExperimentConfig, run: RunDir, report: Report | None,
                   progress: bool) -> TrainingResult:
    """One process, no Ray; a crash is retried from the newest checkpoint (a fresh system each retry)."""
    from depthdif.train.loop import Placement, train_process

    def publish(metrics: dict[str, Any], staged: Path | None) -> None:
        published = run.publish(staged, cfg.training.checkpoints_to_keep) if staged is not None else None
        if report is not None:
            report(dict(metrics), published.folder if published else None)

    run.drop_ray_snapshot()  # pruning below may delete folders it names (a run moved off Ray)
    system, failures = checked.system, 0
    while True:
        resume_from = run.resume_point()
        try:
            outcome = train_process(checked.kind, cfg, run, Placement(), publish, resume_from,
                                    system=system, progress=progress)
            return result_from_outcome(outcome, run)
        except Exception as exc:  # a crash: retry from the newest checkpoint, like Ray Train
            failures, system = failures + 1, None
            message = f"{type(exc).__name__}: {exc}"
            if failures > cfg.training.max_failures:
                print(f"training failed after {failures - 1} retries: {message}", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                return result_from_outcome(None, run, error=message)
            print(f"training crashed ({message}); retry {failures}/{cfg.training.max_failures} from "
                  f"{describe(run.resume_point())}", file=sys.stderr)


def describe(checkpoint: Checkpoint | None) -> str:
    return str(checkpoint.folder) if checkpoint else "the start"


# --- checks before training (the system is built here, once) --------------------------------
@dataclass
class CheckedRun:
    """A run that passed every check: the system it builds and the config that system resolved to
    (a latent system records its AE's own `ae` block): that, not the request, is what the run
    dir's config.yaml holds."""

    kind: str
    cfg: ExperimentConfig
    system: pl.LightningModule


def check_inputs(kind: str, cfg: ExperimentConfig, world_size: int = 1, resuming: bool = False) -> CheckedRun:
    """Raise ValueError/FileNotFoundError naming the key or path, before anything is written."""
    from depthdif.data.store import OceanStore

    from depthdif.train.loggers import check_backend

    if kind not in SYSTEMS:
        raise ValueError(f"unknown trainer kind {kind!r}; allowed: {sorted(SYSTEMS)}")
    check_backend(cfg)
    store = OceanStore.open(cfg.data.store, check_chunks=False)
    check_target_available(kind, cfg, store.has_target)
    check_shards(cfg, store.index, world_size)
    seed_all(cfg.training.seed)  # the initial weights a training process would draw
    system = build_system(kind, cfg, store_meta(cfg, store), resuming=resuming)
    return CheckedRun(kind, system.cfg, system)


def check_target_available(kind: str, cfg: ExperimentConfig, has_target: bool) -> None:
    """An Argo-only store has no dense target y: only the ambient objective (seed 000) can learn
    from it. Without this check a standard run would score an empty loss support and learn nothing."""
    if has_target:
        return
    if kind == "ae":
        raise ValueError(f"{cfg.data.store}: an Argo-only store (no target y) cannot train the autoencoder, "
                         "which reconstructs dense y; train it on a store with GLORYS")
    if not cfg.model.ambient_occlusion.enabled:
        raise ValueError(f"{cfg.data.store}: an Argo-only store (no target y) trains only with the ambient "
                         "objective: set model.ambient_occlusion.enabled=true")


def check_shards(cfg: ExperimentConfig, index: Any, world_size: int) -> None:
    """Every rank gets at least one training and one validation window."""
    d = cfg.data
    n_val = len(val_patch_ids(index, d.val_subset, d.withheld_seed, str(d.store)))
    train_sizes, val_sizes = shard_sizes(len(split_ids(index, "train")), world_size), shard_sizes(n_val, world_size)
    for rank, (n_train, n_val_rank) in enumerate(zip(train_sizes, val_sizes)):
        if n_train == 0:
            raise ValueError(f"{d.store}: rank {rank} of {world_size} workers gets no training window; "
                             "use fewer workers or a larger store")
        if n_val_rank == 0:
            raise ValueError(f"data.val_subset={d.val_subset}: rank {rank} of {world_size} workers gets no "
                             f"validation patch from {d.store}; use at least {world_size}")


# --- paths and names -----------------------------------------------------------------------------
def absolute_paths(cfg: ExperimentConfig) -> ExperimentConfig:
    """The config with its local paths absolute (`~` expanded); URIs (s3://...) stay as they are."""
    from depthdif.data.location import absolute

    store = absolute(cfg.data.store)
    ae = absolute(cfg.latent.ae_checkpoint) if cfg.latent.ae_checkpoint else None
    if (store, ae) == (cfg.data.store, cfg.latent.ae_checkpoint):
        return cfg
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, store=store),
                               latent=dataclasses.replace(cfg.latent, ae_checkpoint=ae))


def absolute_run_dir(run_dir: str | Path) -> Path:
    """An absolute local/shared-filesystem path (`~` expanded); URIs are refused for now."""
    text = str(run_dir)
    if "://" in text:
        raise ValueError(f"ray.storage_path / run dir {text!r}: cloud URIs are not supported by the trainer "
                         "yet (its run dir holds metrics.jsonl and the config); use a shared filesystem path")
    return Path(text).expanduser().resolve()


def default_run_name(kind: str, cfg: ExperimentConfig) -> str:
    """`<kind>-<hash of the resolved config>`: the same command resumes the same run.

    The `ray` block (workers, address, storage) is left out of the hash: where a run executes
    does not change what it trains, so it may resume with a different number of workers.
    """
    what = dataclasses.replace(cfg, ray=RayConfig())
    digest = hashlib.sha256(dump_yaml(what).encode()).hexdigest()[:10]
    return f"{kind}-{digest}"
