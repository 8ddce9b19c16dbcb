"""RunDir: the one owner of a training run's folder. No other module spells a file name of a run.

    <run_dir>/
      config.yaml                  the resolved ExperimentConfig the run trains with
      kind.txt                     its trainer kind (pixel | latent | ae)
      metrics.jsonl                one JSON line per epoch (rank 0); an epoch redone after a kill:
                                   its last line wins
      csv/                         Lightning's CSV log
      checkpoint_epoch=00003/      a checkpoint after 3 epochs: checkpoint.ckpt + checkpoint.json
      best_checkpoint/             what a study keeps: the checkpoint that scored best on its first
        checkpoint.ckpt, best.json   objective, and that score
      checkpoint_manager_snapshot.json   Ray Train's own record (ray backend only)

A checkpoint is *complete* when its manifest (checkpoint.json, written after the weights) states
the byte size its weights file has. A folder that Ray was still uploading, or one a kill cut
short, is never resumed from: the resume point is the newest complete checkpoint, whether Ray's
snapshot knows it or not (Ray's snapshot is written after its upload, so it can lag behind).
The in-process backend publishes by building the folder aside and renaming it into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from depthdif.atomic import atomic_path, atomic_write_text, swap_into_place
from depthdif.config.loader import save
from depthdif.config.schema import ExperimentConfig
from depthdif.ownership import refuse_foreign

CONFIG_FILE, KIND_FILE, METRICS_FILE, LIGHTNING_LOG = "config.yaml", "kind.txt", "metrics.jsonl", "csv"
CHECKPOINT_PREFIX, CHECKPOINT_FILE, MANIFEST_FILE = "checkpoint_epoch=", "checkpoint.ckpt", "checkpoint.json"
BEST_DIR, BEST_RECORD = "best_checkpoint", "best.json"
RAY_SNAPSHOT = "checkpoint_manager_snapshot.json"
PARTIAL = ".partial-"  # a folder being published (in-process backend)


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint folder and the number of epochs it has completed."""

    folder: Path
    epoch: int

    @property
    def file(self) -> Path:
        """The Lightning checkpoint inside (what `Trainer.fit(ckpt_path=...)` and export read)."""
        return checkpoint_file(self.folder)


def checkpoint_file(folder: str | Path) -> Path:
    """The Lightning checkpoint file of a checkpoint folder."""
    return Path(folder) / CHECKPOINT_FILE


def checkpoint_name(epoch: int) -> str:
    """`checkpoint_epoch=00003`: deterministic, sorts by epoch (`epoch` = completed epochs)."""
    return f"{CHECKPOINT_PREFIX}{epoch:05d}"


def read_checkpoint(folder: str | Path) -> Checkpoint | None:
    """The checkpoint in `folder` if it is complete, else None (missing, torn or half-uploaded)."""
    folder = Path(folder)
    weights = folder / CHECKPOINT_FILE
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        complete = weights.stat().st_size == int(manifest["bytes"])
        return Checkpoint(folder, int(manifest["epoch"])) if complete else None
    except FileNotFoundError:
        return _legacy_checkpoint(folder) if weights.is_file() and not (folder / MANIFEST_FILE).exists() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _legacy_checkpoint(folder: Path) -> Checkpoint | None:
    """A folder written before manifests existed: complete if Lightning's file loads."""
    import torch

    try:
        ckpt = torch.load(folder / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
        return Checkpoint(folder, int(ckpt["epoch"]) + 1)
    except Exception:  # noqa: BLE001 - a truncated zip raises several kinds of errors
        return None


def stage_checkpoint(epoch: int, save_weights: Callable[[Path], None], keep: bool) -> Path | None:
    """Write a checkpoint folder into a fresh temp dir: `save_weights(file)`, then its manifest.

    Every rank must call it (Lightning's save is a collective); only rank 0's file exists, so only
    a `keep` caller gets the sealed folder back. Remove it with `discard_staged` once published."""
    folder = Path(tempfile.mkdtemp(prefix="depthdif-ckpt-")) / checkpoint_name(epoch)
    folder.mkdir()
    save_weights(folder / CHECKPOINT_FILE)
    if not keep:
        discard_staged(folder)
        return None
    manifest = {"epoch": epoch, "bytes": (folder / CHECKPOINT_FILE).stat().st_size}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest) + "\n")
    return folder


def discard_staged(folder: Path) -> None:
    shutil.rmtree(Path(folder).parent, ignore_errors=True)


class RunDir:
    """A run folder: its config, metrics log, numbered checkpoints and best checkpoint."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- what the run is ------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def lightning_log(self) -> tuple[Path, str]:
        """(save_dir, name) for Lightning's CSVLogger."""
        return self.path, LIGHTNING_LOG

    def exists(self) -> bool:
        """A run dir is a folder that records its config."""
        return self.config_file.is_file()

    def write_config(self, cfg: ExperimentConfig, kind: str) -> None:
        """The config the system resolved to, and the kind: the run dir explains itself."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path / KIND_FILE, kind + "\n")
        save(cfg, self.config_file)

    def kind(self) -> str | None:
        path = self.path / KIND_FILE
        return path.read_text().strip() if path.exists() else None

    # --- metrics log ----------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one JSON line and fsync it. A torn tail left by a kill is closed off with a
        newline first, so it stays one bad line (readers skip it) instead of swallowing this one."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / METRICS_FILE, "a+b") as fh:
            torn = False
            if fh.seek(0, os.SEEK_END) > 0:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
            fh.write((b"\n" if torn else b"") + json.dumps(row).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def metrics(self) -> list[dict[str, Any]]:
        """One row per epoch, in epoch order (an epoch logged twice: the last line wins)."""
        path = self.path / METRICS_FILE
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

    # --- checkpoints ----------------------------------------------------------------------------
    def checkpoints(self) -> list[Checkpoint]:
        """Complete checkpoints in the run dir, oldest first."""
        found = (read_checkpoint(p) for p in self.path.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir())
        return sorted((c for c in found if c is not None), key=lambda c: c.epoch)

    def latest(self) -> Checkpoint | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def resume_point(self, *elsewhere: str | Path | None) -> Checkpoint | None:
        """The newest complete checkpoint of the run dir and of `elsewhere` (e.g. Ray's snapshot)."""
        candidates = self.checkpoints() + [c for c in map(read_checkpoint, filter(None, elsewhere)) if c]
        return max(candidates, key=lambda c: c.epoch, default=None)

    def publish(self, staged: Path, keep: int) -> Checkpoint:
        """Move a staged checkpoint into the run dir atomically, then keep only the newest `keep`."""
        self.path.mkdir(parents=True, exist_ok=True)
        partial = self.path / f"{PARTIAL}{staged.name}"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(staged, partial)
        swap_into_place(partial, self.path / staged.name)
        published = read_checkpoint(self.path / staged.name)
        if published is None:
            raise RuntimeError(f"{self.path / staged.name}: published checkpoint is incomplete")
        self.prune(keep)
        return published

    def prune(self, keep: int) -> None:
        """Delete all but the newest `keep` complete checkpoints, and leftovers of killed publishes."""
        for old in self.checkpoints()[:-keep]:
            shutil.rmtree(old.folder, ignore_errors=True)
        for leftover in self.path.glob(f"{PARTIAL}*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def drop_ray_snapshot(self) -> None:
        """Forget Ray's record of this run. The in-process backend prunes checkpoint folders that
        record may still name, and Ray refuses to relaunch a run whose snapshot names a missing
        folder; the resume point never needs the snapshot, the folders say it all."""
        (self.path / RAY_SNAPSHOT).unlink(missing_ok=True)

    def refuse_foreign(self) -> None:
        """Never train into (and later prune) a folder depthdif did not make: a run dir is absent,
        empty, or holds our config/kind files (depthdif/ownership.py)."""
        refuse_foreign(self.path, (KIND_FILE, CONFIG_FILE), "run directory")

    def clear(self) -> None:
        """Start over: checkpoints (complete or not), metrics log, best checkpoint, Ray's snapshot."""
        for pattern in (f"{CHECKPOINT_PREFIX}*", f"{PARTIAL}*", BEST_DIR):
            for folder in self.path.glob(pattern):
                shutil.rmtree(folder, ignore_errors=True)
        for name in (METRICS_FILE, RAY_SNAPSHOT):
            (self.path / name).unlink(missing_ok=True)

    # --- the best checkpoint a study keeps -----------------------------------------------------
    def keep_best(self, checkpoint_dir: str | Path, record: dict[str, Any]) -> Path | None:
        """Copy `checkpoint_dir`'s weights to best_checkpoint/ (readers never see half a file) and
        record why (`record`, plus `checkpoint_path`). None when the folder holds no weights."""
        source = Path(checkpoint_dir) / CHECKPOINT_FILE
        if not source.is_file():
            return None
        target = self.path / BEST_DIR / CHECKPOINT_FILE
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        atomic_write_text(self.path / BEST_DIR / BEST_RECORD, json.dumps({**record, "checkpoint_path": str(target)}))
        return target

    def best_record(self) -> dict[str, Any] | None:
        """What `keep_best` last recorded (value, epoch, checkpoint_path, ...), or None."""
        path = self.path / BEST_DIR / BEST_RECORD
        return json.loads(path.read_text()) if path.exists() else None
