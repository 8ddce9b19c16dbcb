"""`depthdif study pareto` and `depthdif study export`: what a finished (or running) study yields.

`register(study_sub)` is called by `depthdif/commands/study.py` with the `study` group's
subparsers. Handlers import pandas / plotly / torch lazily so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from depthdif.atomic import atomic_path

PARETO_PARQUET = "pareto.parquet"


def register(study_sub) -> None:
    pareto = study_sub.add_parser(
        "pareto", help="Pareto front, hypervolume history and plots of a study",
        description="Writes pareto.html, hypervolume.html (+ pareto.png when kaleido is installed) and "
                    "pareto.parquet into STUDY_DIR and prints the front. Only COMPLETE trials count.")
    pareto.add_argument("study_dir", metavar="STUDY_DIR", help="a study directory (holds study.yaml)")
    pareto.add_argument("--reference", type=float, nargs="+", metavar="VALUE",
                        help="hypervolume reference point, one value per objective in the objectives' "
                             "units (default: worst complete value + 10%% of the range)")
    pareto.set_defaults(handler=run_pareto)

    export = study_sub.add_parser(
        "export", help="export trial checkpoints as self-contained folders",
        description="Writes OUT/trial_<id>/ with weights.safetensors (EMA), config.yaml, "
                    "normalization.json, objectives.json, params.json, metadata.json, MANIFEST.sha256.")
    export.add_argument("study_dir", metavar="STUDY_DIR")
    export.add_argument("--out", required=True, metavar="DIR", help="folder that receives trial_<id>/ folders")
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", metavar="ID", help="one trial, by trial_id or trial_number")
    which.add_argument("--pareto", action="store_true", help="every trial on the Pareto front")
    which.add_argument("--best", metavar="METRIC", help="the best trial by one objective (direction from the study)")
    export.add_argument("--overwrite", action="store_true", help="replace existing trial_<id>/ folders")
    export.set_defaults(handler=run_export)


def run_pareto(args: argparse.Namespace) -> int:
    """Compute the front, write plots and pareto.parquet into the study dir, print the front."""
    from depthdif.study.pareto import compute_pareto, front_table
    from depthdif.study.plot import write_study_plots
    from depthdif.study.results import read_results
    from depthdif.study.spec import read_study_dir

    study_dir = Path(args.study_dir)
    spec = read_study_dir(study_dir)
    result = compute_pareto(read_results(study_dir), spec.objectives, reference=args.reference)
    written, note = write_study_plots(result, study_dir, title=spec.name)
    written.append(write_parquet_atomic(result.front, study_dir / PARETO_PARQUET))
    eligible = int(result.trials["eligible"].sum())
    print(f"study {spec.name}: {len(result.trials)} trials, {eligible} complete, "
          f"{len(result.front)} on the Pareto front; hypervolume {result.hypervolume:.6g} "
          f"(reference {', '.join(f'{v:.4g}' for v in result.reference_point)})")
    if not result.front.empty:
        print(front_table(result))
    for path in written:
        print(f"wrote {path}")
    if note:
        print(note, file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export the selected trials; print one line per folder written."""
    from depthdif.export import export_study

    paths = export_study(args.study_dir, args.out, trial=args.trial, pareto=args.pareto,
                         best=args.best, overwrite=args.overwrite)
    for path in paths:
        print(f"exported {path}")
    return 0


def write_parquet_atomic(frame, path: Path) -> Path:
    """Temp file + rename, so a reader never sees half a Parquet file."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)
