"""`depthdif study report`, `pareto` and `export`: what a finished (or running) study yields."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depthdif.atomic import atomic_path
from depthdif.commands.common import add_command

PARETO_PARQUET = "pareto.parquet"


def register(study_sub) -> None:
    report = add_command(
        study_sub, "report", help="write the study's report.html (one self-contained page)",
        description="One HTML page that opens offline: summary (budget, states, wall and CPU/GPU time), Pareto "
                    "front with units coloured by a parameter, hypervolume, learning curves, parallel coordinates, "
                    "parameter importances per objective, RMSE by depth of the front against the baselines (fitted "
                    "on the store's train split, scored on the trials' validation windows; cached), a "
                    "reconstruction of the best trial (truth, error, spread), failed trials, export folders. "
                    "Written at the end of `study run` and `study resume` too.",
        examples=["depthdif study report studies_out/quickstart",
                  "depthdif study report studies_out/quickstart --color-by training.lr --no-map"])
    report.add_argument("study_dir", metavar="STUDY_DIR", help="a study directory (holds study.yaml)")
    report.add_argument("--out", type=Path, metavar="FILE", help="where to write (default STUDY_DIR/report.html)")
    report.add_argument("--color-by", metavar="PARAM", help="colour the Pareto points by this parameter (dotted "
                        "key; default: the most important one for the first objective)")
    report.add_argument("--no-baselines", dest="baselines", action="store_false",
                        help="skip fitting and scoring the baselines (the per-depth figure shows the trials only)")
    report.add_argument("--no-map", dest="reconstruction", action="store_false",
                        help="skip the reconstruction map (it samples the best trial's model)")
    report.set_defaults(handler=run_report)

    pareto = add_command(
        study_sub, "pareto", help="Pareto front, hypervolume history and plots of a study",
        description="Writes pareto.html, hypervolume.html (+ pareto.png when kaleido is installed) and "
                    "pareto.parquet into STUDY_DIR and prints the front. Only COMPLETE trials count.",
        examples=["depthdif study pareto studies_out/quickstart",
                  "depthdif study pareto studies_out/quickstart --reference 2.0 60"])
    pareto.add_argument("study_dir", metavar="STUDY_DIR", help="a study directory (holds study.yaml)")
    pareto.add_argument("--reference", type=float, nargs="+", metavar="VALUE",
                        help="hypervolume reference point, one value per objective in the objectives' "
                             "units (default: worst complete value + 10%% of the range)")
    pareto.set_defaults(handler=run_pareto)

    export = add_command(
        study_sub, "export", help="export trial checkpoints as self-contained folders",
        description="Writes OUT/trial_<id>/ with weights.safetensors (EMA), config.yaml, "
                    "normalization.json, objectives.json, params.json, metadata.json, MANIFEST.sha256; "
                    "`depthdif predict --export` and `depthdif eval --export` read such a folder.",
        examples=["depthdif study export studies_out/quickstart --pareto --out exports/quickstart",
                  "depthdif study export studies_out/quickstart --best val/rmse_withheld --out exports/best",
                  "depthdif study export studies_out/quickstart --trial 3 --out exports/t3 --overwrite"])
    export.add_argument("study_dir", metavar="STUDY_DIR", help="a study directory (holds study.yaml)")
    export.add_argument("--out", required=True, metavar="DIR", help="folder that receives trial_<id>/ folders")
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", metavar="ID", help="one trial, by trial_id or trial_number")
    which.add_argument("--pareto", action="store_true", help="every trial on the Pareto front")
    which.add_argument("--best", metavar="METRIC", help="the best trial by one objective (direction from the study)")
    export.add_argument("--overwrite", action="store_true", help="replace existing trial_<id>/ folders")
    export.set_defaults(handler=run_export)


def run_report(args: argparse.Namespace) -> int:
    from depthdif.study.report import write_report

    path = write_report(args.study_dir, args.out, baselines=args.baselines, reconstruction=args.reconstruction,
                        color_by=args.color_by)
    print(f"wrote {path}")
    return 0


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
