"""One training loop, used by the Ray Train worker and by the in-process path alike.

The pieces (`prepare`, `build_callbacks`, `build_trainer`, `fit`) are what `worker.py` strings
together under Ray; `fit_in_process` strings the same pieces together with no Ray at all (one
process, checkpoints moved into the run dir by `RunDirCheckpoints`), for cheap Tune trials and
for `--workers 0`. This file must not import ray (see STYLE.md's import fences).

Equal steps per rank: DDP all-reduces gradients every step, so every rank must run the same
number of steps or the longer rank waits forever. Shards differ by at most one sample, hence by at
most one batch. `EqualSteps` pads a short rank with one *padding batch*: a copy of its last batch
with every validity mask zeroed and patch_id -1. Losses are masked (S = A ⊙ Y, or y_valid_mask
for the AE), so the padding batch contributes a zero loss and zero gradient; the DDP average of
that one step is then (sum of the other ranks' gradients) / world_size. Every real sample is
still seen exactly once per epoch (tests/train/test_shard_epoch.py). Caveat: an AE with
`ae.loss.masked_only: false` does learn from the padding copy (its loss is not masked).
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import lightning.pytorch as pl
import torch
import torch.distributed as dist

from depthdif.config.loader import save
from depthdif.config.schema import ExperimentConfig
from depthdif.train.callbacks import (CHECKPOINT_FILE, METRICS_FILE, EpochReporter, EpochSeeder,
                                      PatchIdRecorder, Publish, epoch_seed, seed_all)
from depthdif.train.faults import NONFINITE_STATUS, FaultInjector, NonFiniteLossError, NonFiniteLossStop

COMPLETED, FAILED = "completed", "failed"
CONFIG_FILE = "config.yaml"
MASK_KEYS = ("x_valid_mask", "y_valid_mask", "eo_valid_mask")


@dataclass
class TrainingResult:
    """What a training run ended with (the study records one per trial)."""

    status: str  # "completed" | "nonfinite_loss" | "failed"
    metrics: dict[str, float]  # the last reported epoch
    best: dict[str, float]  # best-so-far of each validation error metric
    checkpoint_dir: Path | None  # folder holding checkpoint.ckpt of the latest checkpoint
    run_dir: Path
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    def raise_for_status(self) -> "TrainingResult":
        """Raise `NonFiniteLossError` / `RuntimeError` unless the run completed."""
        if self.status == NONFINITE_STATUS:
            raise NonFiniteLossError(f"{self.run_dir}: {self.error}")
        if self.status != COMPLETED:
            raise RuntimeError(f"{self.run_dir}: training {self.status}: {self.error}")
        return self


@dataclass
class Placement:
    """Where this process sits in the run: its rank and the Lightning distribution settings."""

    rank: int = 0
    world_size: int = 1
    strategy: Any = "auto"
    plugins: list = field(default_factory=list)
    accelerator: str = "cpu"
    devices: Any = 1


@dataclass
class Prepared:
    system: pl.LightningModule
    train_loader: Iterable
    val_loader: Iterable | None
    max_epochs: int


# --- pieces ------------------------------------------------------------------------------------
def check_run_inputs(kind: str, cfg: ExperimentConfig, world_size: int = 1) -> ExperimentConfig:
    """Everything that can be checked before a worker starts: kind, store, levels, the system,
    and that every rank gets training and validation patches (a rank without validation
    batches would leave the others waiting in the metric reduction).

    Returns the config the system resolved to (a latent system swaps in its AE's `ae` block and
    sets its model_type): that, not the request, is what the run dir's config.yaml records."""
    from depthdif.train.datamodule import make_loaders
    from depthdif.train.systems import SYSTEMS

    if kind not in SYSTEMS:
        raise ValueError(f"unknown trainer kind {kind!r}; allowed: {sorted(SYSTEMS)}")
    check_target_available(kind, cfg)
    resolved = build_system_for(kind, cfg).cfg
    for rank in range(world_size):
        _, val_loader = make_loaders(cfg, rank=rank, world_size=world_size, kind=kind)
        if len(val_loader) == 0:
            raise ValueError(f"data.val_subset={cfg.data.val_subset}: rank {rank} of {world_size} workers "
                             f"gets no validation patch from {cfg.data.store}; use at least {world_size}")
    return resolved


def check_target_available(kind: str, cfg: ExperimentConfig) -> None:
    """An Argo-only store has no dense target y: only the ambient objective (seed 000) can learn
    from it. Without this check a standard run would score an empty loss support and learn nothing."""
    from depthdif.data.store import OceanStore

    if OceanStore.open(cfg.data.store, check_chunks=False).has_target:
        return
    if kind == "ae":
        raise ValueError(f"{cfg.data.store}: an Argo-only store (no target y) cannot train the autoencoder, "
                         "which reconstructs dense y; train it on a store with GLORYS")
    if not cfg.model.ambient_occlusion.enabled:
        raise ValueError(f"{cfg.data.store}: an Argo-only store (no target y) trains only with the ambient "
                         "objective: set model.ambient_occlusion.enabled=true")


def build_system_for(kind: str, cfg: ExperimentConfig) -> pl.LightningModule:
    """The LightningModule of `kind` for the store named in `cfg` (opens the store's metadata)."""
    from depthdif.train.systems import build_system, store_meta

    return build_system(kind, cfg, store_meta(cfg))


def prepare(kind: str, cfg: ExperimentConfig, placement: Placement) -> Prepared:
    """System (same init on every rank) + this rank's train/val shards, padded to equal steps."""
    from depthdif.train.datamodule import make_loaders

    seed_all(cfg.training.seed)
    system = build_system_for(kind, cfg)
    train_loader, val_loader = make_loaders(cfg, rank=placement.rank, world_size=placement.world_size,
                                            kind=kind)
    n_batches = len(train_loader)
    if n_batches == 0:
        raise ValueError(f"rank {placement.rank}/{placement.world_size}: empty training shard of "
                         f"{cfg.data.store}; use fewer workers or a larger store")
    steps = max_across_ranks(n_batches)
    if steps != n_batches:
        train_loader = EqualSteps(train_loader, steps)
    max_epochs = int(getattr(system, "max_epochs", cfg.training.max_epochs))
    return Prepared(system, train_loader, val_loader, max_epochs)


@dataclass
class LoopCallbacks:
    reporter: EpochReporter
    nonfinite: NonFiniteLossStop
    all: list[pl.Callback]


def build_callbacks(cfg: ExperimentConfig, run_dir: Path, placement: Placement, publish: Publish,
                    max_epochs: int, progress: bool = True) -> LoopCallbacks:
    """Fault hooks first (a crash or NaN happens before anything reports), then the NaN stop,
    the epoch reporter, and the reseeding that must follow the report of an epoch."""
    nonfinite = NonFiniteLossStop()
    reporter = EpochReporter(publish, every_n_epochs=cfg.training.checkpoint_every_n_epochs,
                             max_epochs=max_epochs, rank=placement.rank, run_dir=run_dir,
                             nonfinite=nonfinite, progress=progress)
    callbacks: list[pl.Callback] = [FaultInjector(cfg.training.fault_injection, run_dir, placement.rank),
                                    nonfinite, reporter, EpochSeeder(cfg.training.seed, placement.rank)]
    trace_dir = cfg.training.fault_injection.record_patch_ids_dir
    if trace_dir:
        callbacks.insert(0, PatchIdRecorder(Path(trace_dir), placement.rank))
    return LoopCallbacks(reporter, nonfinite, callbacks)


def build_trainer(cfg: ExperimentConfig, run_dir: Path, placement: Placement, max_epochs: int,
                  callbacks: list[pl.Callback]) -> pl.Trainer:
    """A Lightning Trainer configured from `training.*`; checkpoints are ours, not Lightning's."""
    from lightning.pytorch.loggers import CSVLogger

    t = cfg.training
    return pl.Trainer(
        max_epochs=max_epochs, accelerator=placement.accelerator, devices=placement.devices,
        strategy=placement.strategy, plugins=placement.plugins or None, callbacks=callbacks,
        logger=CSVLogger(save_dir=str(run_dir), name="csv"), precision=t.precision,
        gradient_clip_val=t.grad_clip, limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches, check_val_every_n_epoch=t.val_every_n_epochs,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, use_distributed_sampler=False, log_every_n_steps=1,
    )


def fit(trainer: pl.Trainer, prepared: Prepared, callbacks: LoopCallbacks, cfg: ExperimentConfig,
        placement: Placement, resume_from: Path | None) -> dict[str, Any]:
    """Run `trainer.fit` (resuming if given) and return the outcome as plain data."""
    start_epoch = checkpoint_epoch(resume_from) if resume_from else 0
    # Lightning builds the first epoch's iterator before any hook runs: seed it here the way
    # EpochSeeder seeds every later epoch, so a resumed epoch replays the same draws.
    seed_all(epoch_seed(cfg.training.seed, placement.rank, start_epoch))
    trainer.fit(prepared.system, prepared.train_loader, prepared.val_loader,
                ckpt_path=str(resume_from) if resume_from else None)
    reporter = callbacks.reporter
    status, error = COMPLETED, None
    if callbacks.nonfinite.tripped:
        status, error = NONFINITE_STATUS, callbacks.nonfinite.message()
    return {"status": status, "error": error, "metrics": dict(reporter.last_metrics),
            "best": dict(reporter.best), "checkpoint_epoch": reporter.last_checkpoint_epoch}


# --- equal steps per rank ----------------------------------------------------------------------
def max_across_ranks(n: int) -> int:
    """max(n) over the ranks of the initialized process group (n itself without one)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return n
    t = torch.tensor([n], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def padding_batch(batch: dict) -> dict:
    """A zero-weight copy of `batch`: validity masks zeroed, patch_id -1 (not a sample)."""
    out = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    for key in MASK_KEYS:
        if key in out:
            out[key] = torch.zeros_like(out[key])
    if "patch_id" in out:
        out["patch_id"] = torch.full_like(torch.as_tensor(out["patch_id"]), -1)
    return out


class EqualSteps:
    """Iterate a loader, then pad with zero-weight batches up to `steps` (see module doc)."""

    def __init__(self, loader: Iterable, steps: int):
        self.loader, self.steps = loader, steps

    def __len__(self) -> int:
        return self.steps

    @property
    def sampler(self) -> Any:
        """Exposed so Lightning's `set_epoch` still reaches the inner loader's seeded shuffle."""
        return getattr(self.loader, "sampler", None)

    def __iter__(self) -> Iterator[dict]:
        last, n = None, 0
        for last in self.loader:
            n += 1
            yield last
        for _ in range(self.steps - n):
            yield padding_batch(last)


# --- checkpoints in the run dir ----------------------------------------------------------------
def checkpoint_epoch(path: Path) -> int:
    """Completed epochs recorded in a checkpoint."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return int(ckpt["epoch"]) + 1


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete `checkpoint_epoch=*/checkpoint.ckpt` under `run_dir`."""
    found = sorted(Path(run_dir).glob(f"checkpoint_epoch=*/{CHECKPOINT_FILE}"))
    return found[-1] if found else None


class RunDirCheckpoints:
    """Publish checkpoints into the run dir atomically (copy aside, then rename), keep the newest."""

    def __init__(self, run_dir: Path, keep: int):
        self.run_dir, self.keep = Path(run_dir), keep

    def store(self, staging: Path) -> Path:
        final = self.run_dir / staging.name
        partial = self.run_dir / f".partial-{staging.name}"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(staging, partial)
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
        self._prune()
        return final

    def _prune(self) -> None:
        folders = sorted(p.parent for p in self.run_dir.glob(f"checkpoint_epoch=*/{CHECKPOINT_FILE}"))
        for old in folders[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)


def read_metrics_log(run_dir: Path) -> list[dict[str, float]]:
    """The per-epoch metrics rank 0 appended to metrics.jsonl (a resumed epoch: last line wins;
    a line torn by a kill mid-write is skipped, see callbacks.append_jsonl)."""
    import json

    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    by_epoch: dict[float, dict] = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        by_epoch[row.get("epoch", len(by_epoch))] = row
    return [by_epoch[k] for k in sorted(by_epoch)]


def result_from_outcome(outcome: dict[str, Any] | None, run_dir: Path, error: str | None = None) -> TrainingResult:
    """A TrainingResult from a worker outcome, completed from the run dir's metrics log."""
    outcome = outcome or {}
    log = read_metrics_log(run_dir)
    metrics = {k: v for k, v in (outcome.get("metrics") or (log[-1] if log else {})).items()
               if isinstance(v, (int, float))}  # the "status" string lives in .status
    best = outcome.get("best") or {k[len("best/"):]: v for k, v in metrics.items() if k.startswith("best/")}
    status = FAILED if error else outcome.get("status", COMPLETED if metrics else FAILED)
    latest = latest_checkpoint(run_dir)
    return TrainingResult(status=status, metrics=dict(metrics), best=dict(best),
                          checkpoint_dir=latest.parent if latest else None, run_dir=Path(run_dir),
                          error=error or outcome.get("error"))


def clear_run_state(run_dir: Path) -> None:
    """Start over in `run_dir`: drop its checkpoints and metrics log (resume=False)."""
    for folder in Path(run_dir).glob("checkpoint_epoch=*"):
        shutil.rmtree(folder, ignore_errors=True)
    (Path(run_dir) / METRICS_FILE).unlink(missing_ok=True)


def write_run_config(cfg: ExperimentConfig, run_dir: Path, kind: str) -> Path:
    """The config the system runs with (`check_run_inputs`' return), so the run dir explains itself."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "kind.txt").write_text(kind + "\n")
    return save(cfg, run_dir / CONFIG_FILE)


# --- the in-process path (no Ray) --------------------------------------------------------------
def fit_in_process(kind: str, cfg: ExperimentConfig, run_dir: str | Path, *,
                   report: Callable[[dict, Path | None], None] | None = None,
                   resume: bool = True, progress: bool = True) -> TrainingResult:
    """Train in this process (one worker, no TorchTrainer): the cheap path for Tune trials.

    `report(metrics, checkpoint_dir_or_None)` is called after every epoch, with the published
    checkpoint folder on checkpoint epochs. Crashes are retried from the latest checkpoint up to
    `training.max_failures` times; a non-finite loss ends the run with status "nonfinite_loss".
    """
    run_dir = Path(run_dir).expanduser().absolute()
    resolved = check_run_inputs(kind, cfg)
    if not resume:
        clear_run_state(run_dir)
    write_run_config(resolved, run_dir, kind)
    store = RunDirCheckpoints(run_dir, cfg.training.checkpoints_to_keep)

    def publish(metrics: dict[str, float], staging: Path | None) -> None:
        final = store.store(staging) if staging is not None else None
        if report is not None:
            report(dict(metrics), final)

    failures = 0
    while True:
        resume_from = latest_checkpoint(run_dir) if (resume or failures) else None
        try:
            outcome = run_once(kind, cfg, run_dir, Placement(), publish, resume_from, progress)
            return result_from_outcome(outcome, run_dir)
        except NonFiniteLossError:
            raise
        except Exception as exc:  # a crash: retry from the latest checkpoint, like Ray Train
            failures += 1
            if failures > cfg.training.max_failures:
                message = f"{type(exc).__name__}: {exc}"
                print(f"training failed after {failures - 1} retries: {message}", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                return result_from_outcome(None, run_dir, error=message)
            print(f"training crashed ({type(exc).__name__}: {exc}); retry {failures}/"
                  f"{cfg.training.max_failures} from {latest_checkpoint(run_dir)}", file=sys.stderr)


def run_once(kind: str, cfg: ExperimentConfig, run_dir: Path, placement: Placement, publish: Publish,
             resume_from: Path | None, progress: bool) -> dict[str, Any]:
    """prepare → callbacks → trainer → fit, for one process."""
    prepared = prepare(kind, cfg, placement)
    callbacks = build_callbacks(cfg, run_dir, placement, publish, prepared.max_epochs, progress)
    trainer = build_trainer(cfg, run_dir, placement, prepared.max_epochs, callbacks.all)
    return fit(trainer, prepared, callbacks, cfg, placement, resume_from)
