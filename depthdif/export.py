"""Trial checkpoint → a self-contained export folder, and back to a ready-to-sample system.

An export folder (`OUT/trial_<id>/`) needs neither the study directory nor pickle to load:
  weights.safetensors   the EMA weights used for inference (`system.export_state()`)
  config.yaml           the resolved ExperimentConfig the trial trained with
  normalization.json    per-depth / per-EO statistics and the depth axis (metres)
  objectives.json       {metric: {"value", "direction"}} from the study's results table
  params.json           {dotted config key: value} the searcher chose
  metadata.json         package version, kind, source checkpoint, trial id, state, created (UTC)
  MANIFEST.sha256       `sha256sum -c` compatible checksums of every other file
The folder is written to a temp dir next to it and renamed into place, so a crash never leaves a
half export; `load_export` verifies the manifest first and names any missing, extra or tampered file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from depthdif import __version__
from depthdif.config import ExperimentConfig, from_dict, load, save
from depthdif.data.normalization import Normalization
from depthdif.atomic import swap_into_place
from depthdif.ownership import EXPORT_MARKERS, refuse_foreign

WEIGHTS, CONFIG, NORMALIZATION = "weights.safetensors", "config.yaml", "normalization.json"
OBJECTIVES, PARAMS, METADATA, MANIFEST = "objectives.json", "params.json", "metadata.json", "MANIFEST.sha256"
EXPORT_FILES = (WEIGHTS, CONFIG, NORMALIZATION, OBJECTIVES, PARAMS, METADATA)
EXPORT_FORMAT, EXPORT_FORMAT_VERSION = "depthdif-export", 1


class ExportError(ValueError):
    """An export folder is missing, incomplete or tampered with; the message names the file."""


@dataclass(frozen=True)
class ExportInfo:
    """Everything in an export folder except the weights."""

    path: Path
    kind: str
    config: ExperimentConfig
    normalization: Normalization
    depth: np.ndarray
    objectives: dict[str, dict[str, Any]]
    params: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def trial_id(self) -> str | None:
        return self.metadata.get("trial_id")


# --- writing -------------------------------------------------------------------------------------

def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, *, trial_id: str | None = None,
                      objectives: Mapping[str, Mapping[str, Any]] | None = None,
                      params: Mapping[str, Any] | None = None, extra_metadata: Mapping[str, Any] | None = None,
                      overwrite: bool = False) -> Path:
    """Write the export folder `out_dir` from a Lightning checkpoint (read with weights_only=True)."""
    from safetensors.torch import save_file

    from depthdif.train.systems import load_system

    out_dir, checkpoint = Path(out_dir), Path(checkpoint)
    _refuse_existing(out_dir, overwrite)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: checkpoint not found (trial {trial_id})")
    system = load_system(checkpoint)
    hparams = dict(system.hparams)
    config = from_dict(ExperimentConfig, hparams["config"], f"{checkpoint}: hparams.config")
    state = {k: v.detach().cpu().contiguous().clone() for k, v in system.export_state().items()}
    metadata = {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION,
                "package": "depthdif", "package_version": __version__, "kind": hparams["kind"],
                "source_checkpoint": str(checkpoint.resolve()), "trial_id": trial_id,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                **dict(extra_metadata or {})}
    normalization = {**dict(hparams["normalization"]), "depth": [float(d) for d in hparams["depth"]]}
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt", "kind": hparams["kind"]})
        save(config, tmp / CONFIG)
        for name, payload in ((NORMALIZATION, normalization), (OBJECTIVES, dict(objectives or {})),
                              (PARAMS, dict(params or {})), (METADATA, metadata)):
            (tmp / name).write_text(json.dumps(_plain(payload), indent=2, sort_keys=True) + "\n")
        write_manifest(tmp)
        swap_into_place(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _plain(value: Any) -> Any:
    """JSON-safe plain data: numpy scalars → Python, NaN → None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _refuse_existing(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir}: export exists; pass --overwrite to replace it")
    refuse_foreign(out_dir, EXPORT_MARKERS, "export folder")  # --overwrite replaces only our exports


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> Path:
    """`<sha256>  <name>` per file (sha256sum format), every file but the manifest itself."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    lines = [f"{sha256_of(folder / name)}  {name}\n" for name in names]
    (folder / MANIFEST).write_text("".join(lines))
    return folder / MANIFEST


def verify_manifest(folder: str | Path) -> None:
    """Raise ExportError naming any file that is missing, unlisted or whose checksum differs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such export folder")
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise ExportError(f"{folder}: not an export folder (no {MANIFEST})")
    listed = {}
    for line_no, line in enumerate(manifest.read_text().splitlines(), 1):
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line.strip())
        if not match:
            raise ExportError(f"{manifest}: line {line_no} is not '<sha256>  <file>'")
        listed[match[2]] = match[1]
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST}
    unlisted_required = sorted(set(EXPORT_FILES) - set(listed))
    if unlisted_required:
        raise ExportError(f"{manifest}: required files {unlisted_required} are not listed")
    missing, unexpected = sorted(set(listed) - present), sorted(present - set(listed))
    if missing:
        raise ExportError(f"{folder / missing[0]}: listed in {MANIFEST} but missing")
    if unexpected:
        raise ExportError(f"{folder / unexpected[0]}: not listed in {MANIFEST} (unexpected file)")
    for name, expected in sorted(listed.items()):
        if sha256_of(folder / name) != expected:
            raise ExportError(f"{folder / name}: checksum mismatch with {MANIFEST} (file modified or corrupt)")


# --- reading -------------------------------------------------------------------------------------

def read_export_info(folder: str | Path, *, verify: bool = True) -> ExportInfo:
    """Config, statistics, objectives and metadata of an export (manifest checked first)."""
    folder = Path(folder)
    if verify:
        verify_manifest(folder)
    metadata = json.loads((folder / METADATA).read_text())
    if metadata.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{folder / METADATA}: format {metadata.get('format')!r} is not {EXPORT_FORMAT!r}")
    stats = json.loads((folder / NORMALIZATION).read_text())
    if "depth" not in stats:
        raise ExportError(f"{folder / NORMALIZATION}: missing the depth axis ('depth')")
    return ExportInfo(path=folder, kind=str(metadata["kind"]), config=load(ExperimentConfig, folder / CONFIG),
                      normalization=Normalization.from_dict(stats),
                      depth=np.asarray(stats["depth"], dtype=np.float64),
                      objectives=json.loads((folder / OBJECTIVES).read_text()),
                      params=json.loads((folder / PARAMS).read_text()), metadata=metadata)


def load_export(folder: str | Path) -> tuple[Any, ExportInfo]:
    """(system in eval mode, ExportInfo) from an export folder: safetensors + YAML + JSON only."""
    from safetensors.torch import load_file

    from depthdif.train.systems import SYSTEMS

    info = read_export_info(folder)
    if info.kind not in SYSTEMS:
        raise ExportError(f"{info.path / METADATA}: kind {info.kind!r} unknown; allowed values: {sorted(SYSTEMS)}")
    state = load_file(str(info.path / WEIGHTS), device="cpu")
    system = SYSTEMS[info.kind].from_export(info.config, info.normalization, info.depth.tolist(), state)
    system.eval()
    return system, info


# --- choosing trials of a study ------------------------------------------------------------------

def select_trials(results: pd.DataFrame, objectives: Sequence[Any], *, trial: str | None = None,
                  pareto: bool = False, best: str | None = None) -> pd.DataFrame:
    """The rows to export: one trial (by trial_id or trial_number), the Pareto set, or the best
    COMPLETE trial by one objective (its direction from the study spec)."""
    from depthdif.study.pareto import compute_pareto, eligible_mask
    from depthdif.study.results import OBJECTIVE_PREFIX, objective_key

    if sum([trial is not None, pareto, best is not None]) != 1:
        raise ValueError("export: choose exactly one of --trial ID, --pareto, --best METRIC")
    if pareto:
        return compute_pareto(results, objectives).front
    if best is not None:
        metric = best.removeprefix(OBJECTIVE_PREFIX)
        by_metric = {o.metric: o for o in objectives}
        if metric not in by_metric:
            raise ValueError(f"export --best {best!r}: not an objective of this study; allowed values: "
                             f"{sorted(by_metric)}")
        column = objective_key(metric)
        rows = results[eligible_mask(results, [column])]
        if rows.empty:
            raise ValueError(f"export --best {metric}: no COMPLETE trial with a finite {column}")
        ascending = by_metric[metric].direction == "minimize"
        return rows.sort_values([column, "trial_number"], ascending=[ascending, True]).head(1)
    match = results[(results["trial_id"].astype(str) == str(trial))
                    | (results["trial_number"].astype(str) == str(trial))]
    if match.empty:
        known = results["trial_id"].astype(str).tolist()
        raise ValueError(f"export --trial {trial!r}: no such trial; trial ids: {known}")
    return match.head(1)


def trial_folder_name(trial_id: Any) -> str:
    """`trial_<id>` with anything but letters, digits, '.', '_' and '-' replaced by '_'."""
    return "trial_" + re.sub(r"[^A-Za-z0-9._-]", "_", str(trial_id))


def export_row(row: pd.Series, objectives: Sequence[Any], out_root: str | Path, *, study_name: str = "",
               overwrite: bool = False) -> Path:
    """Export one results-table row (its checkpoint, objectives and parameters)."""
    checkpoint = row.get("checkpoint_path")
    if not isinstance(checkpoint, str) or not checkpoint:
        raise ValueError(f"trial {row['trial_id']} ({row.get('state')}): no checkpoint_path in the results table")
    from depthdif.study.results import objective_key

    values = {o.metric: {"value": row.get(objective_key(o.metric)), "direction": o.direction} for o in objectives}
    params = {c.removeprefix("param/"): row[c] for c in row.index  # unset conditional params: dropped
              if c.startswith("param/") and row[c] is not None
              and not (isinstance(row[c], float) and math.isnan(row[c]))}
    extra = {"trial_number": row.get("trial_number"), "state": row.get("state"), "study": study_name,
             "fidelity": row.get("fidelity"), "run_dir": row.get("run_dir")}
    return export_checkpoint(checkpoint, Path(out_root) / trial_folder_name(row["trial_id"]),
                             trial_id=str(row["trial_id"]), objectives=values, params=params,
                             extra_metadata=extra, overwrite=overwrite)


def export_study(study_dir: str | Path, out_root: str | Path, *, trial: str | None = None, pareto: bool = False,
                 best: str | None = None, overwrite: bool = False) -> list[Path]:
    """`depthdif study export`: select trials of a study directory and export each one."""
    from tqdm.auto import tqdm

    from depthdif.study.results import read_results
    from depthdif.study.spec import read_study_dir

    spec = read_study_dir(study_dir)
    rows = select_trials(read_results(study_dir), spec.objectives, trial=trial, pareto=pareto, best=best)
    if rows.empty:
        raise ValueError(f"{study_dir}: no trial to export (no COMPLETE trial on the Pareto front yet)")
    for _, row in rows.iterrows():  # fail before writing anything when a target exists
        _refuse_existing(Path(out_root) / trial_folder_name(row["trial_id"]), overwrite)
    paths = [export_row(row, spec.objectives, out_root, study_name=spec.name, overwrite=overwrite)
             for _, row in tqdm(list(rows.iterrows()), desc="exporting", unit="trial", file=sys.stderr)]
    from depthdif.study.dashboard import record_exports

    record_exports(study_dir, spec.name, {int(n): str(p.resolve()) for n, p in zip(rows["trial_number"], paths)})
    return paths


# --- a `depthdif train` run --------------------------------------------------------------------

def run_checkpoint(run_dir: str | Path, which: str = "best") -> tuple[Path, dict[str, Any]]:
    """(checkpoint file, what it is) of a run dir: its best checkpoint (a study trial's
    best_checkpoint/) when `which` is "best" and one exists, else its newest complete one."""
    from depthdif.train.run_dir import BEST_DIR, RunDir, checkpoint_file

    run = RunDir(Path(run_dir).expanduser().resolve())
    if not run.exists():
        raise FileNotFoundError(f"{run.path}: not a run directory (no {run.config_file.name}); "
                                "give the folder `depthdif train` wrote (STORAGE/NAME)")
    best = checkpoint_file(run.path / BEST_DIR)
    if which == "best" and best.is_file():
        record = run.best_record() or {}
        return best, {"checkpoint": "best", "epoch": record.get("epoch"), "best_metric": record.get("metric")}
    latest = run.latest()
    if latest is None:
        raise FileNotFoundError(f"{run.path}: no complete checkpoint yet (checkpoint_epoch=*/ with its manifest)")
    return latest.file, {"checkpoint": "latest", "epoch": latest.epoch}


def export_run(run_dir: str | Path, out_dir: str | Path, *, which: str = "best", overwrite: bool = False) -> Path:
    """`depthdif export RUN_DIR --out DIR`: the run's checkpoint as an export folder, like a study
    trial's (objectives.json holds the run's best-so-far validation metrics, params.json nothing)."""
    from depthdif.train.best_metrics import better
    from depthdif.train.run_dir import RunDir

    checkpoint, chosen = run_checkpoint(run_dir, which)
    run = RunDir(Path(run_dir).expanduser().resolve())
    history = run.metrics()
    last = history[-1] if history else {}
    objectives = {k.removeprefix("best/"): {"value": v, "direction": "minimize" if better(k.removeprefix("best/"))
                                            == "lower" else "maximize"}
                  for k, v in last.items() if k.startswith("best/") and "depth/" not in k and "band/" not in k
                  and isinstance(v, (int, float))}
    extra = {"run_dir": str(run.path), "run_name": run.path.name, **chosen}
    return export_checkpoint(checkpoint, out_dir, trial_id=None, objectives=objectives, params={},
                             extra_metadata=extra, overwrite=overwrite)
