"""`depthdif study {run,resume,status}` (+ `pareto`, `export` from commands/study_outputs.py).

    depthdif study run studies/quickstart.yaml --storage "$PWD/studies_out" --name quickstart
    depthdif study run studies/quickstart.yaml --set trials=3 --set overrides.training.max_epochs=1
    depthdif study resume studies_out/quickstart        # after the driver was killed
    depthdif study status studies_out/quickstart

The study file and its search space are validated before Ray starts; the study directory is
`<storage>/<name>` (holding study.yaml, results.parquet, optuna.journal, tune/, runs/).
"""

from __future__ import annotations

import argparse
import sys

from depthdif.commands import study_outputs
from depthdif.commands.common import add_set_argument


def register(sub) -> None:
    parser = sub.add_parser("study", help="multi-objective studies with Ray Tune + Optuna",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    study_sub = parser.add_subparsers(dest="study_command", metavar="{run,resume,status,pareto,export}")
    study_sub.required = True

    run = study_sub.add_parser("run", help="start a study from a study file")
    run.add_argument("study_file", metavar="STUDY.yaml", help="a studies/*.yaml file")
    run.add_argument("--name", help="study name (default: `name` in the file); the dir is STORAGE/NAME")
    run.add_argument("--storage", help="folder holding study dirs (default: `storage` in the file); "
                                       "a shared filesystem path on a cluster")
    run.add_argument("--address", help="Ray cluster address (default $RAY_ADDRESS, else a local runtime)")
    run.add_argument("--warm-start", metavar="OLD_STUDY_DIR",
                     help="seed the searcher with this study's COMPLETE trials (same search-space keys)")
    run.add_argument("--quiet", action="store_true", help="no line per finished trial")
    add_set_argument(run)
    run.set_defaults(handler=handle_run)

    resume = study_sub.add_parser("resume", help="continue a study whose driver stopped or was killed")
    resume.add_argument("study_dir", metavar="STUDY_DIR")
    resume.add_argument("--address", help="Ray cluster address (default $RAY_ADDRESS, else a local runtime)")
    resume.add_argument("--quiet", action="store_true", help="no line per finished trial")
    resume.set_defaults(handler=handle_resume)

    status = study_sub.add_parser("status", help="trials, states, objectives and the best so far")
    status.add_argument("study_dir", metavar="STUDY_DIR")
    status.add_argument("--rows", type=int, default=40, help="show at most this many trial lines")
    status.set_defaults(handler=handle_status)

    study_outputs.register(study_sub)


def handle_run(args: argparse.Namespace) -> int:
    from depthdif.study.spec import load_study_spec

    spec = load_study_spec(args.study_file, args.overrides, name=args.name, storage=args.storage)
    from depthdif.study.runner import StudyFailed, run_study  # Ray is imported only after validation

    try:
        outcome = run_study(spec, address=args.address, warm_start=args.warm_start, progress=not args.quiet)
    except StudyFailed as exc:
        print(f"depthdif: study failed: {exc}", file=sys.stderr)
        return 1
    return _summary(outcome.study_dir)


def handle_resume(args: argparse.Namespace) -> int:
    from depthdif.study.runner import StudyFailed, resume_study

    try:
        outcome = resume_study(args.study_dir, address=args.address, progress=not args.quiet)
    except StudyFailed as exc:
        print(f"depthdif: study failed: {exc}", file=sys.stderr)
        return 1
    return _summary(outcome.study_dir)


def handle_status(args: argparse.Namespace) -> int:
    from depthdif.study.status import format_status, study_status

    print(format_status(study_status(args.study_dir), max_rows=args.rows))
    return 0


def _summary(study_dir) -> int:
    from depthdif.study.status import format_status, study_status

    print(format_status(study_status(study_dir), max_rows=0))
    return 0
