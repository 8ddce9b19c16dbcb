"""`depthdif study`: multi-objective hyperparameter studies with Ray Tune + Optuna.

A study directory STUDY_DIR (= STORAGE/NAME) holds study.yaml (the resolved study), results.parquet
(one row per trial), optuna.journal (open it with optuna-dashboard), report.html, tune/ and runs/.
"""

from __future__ import annotations

import argparse
import sys

from depthdif.commands import study_outputs
from depthdif.commands.common import add_command, add_plan_arguments, add_set_argument

STUDY_DIR_HELP = "a study directory: STORAGE/NAME, the folder holding study.yaml"
ADDRESS_HELP = "Ray cluster address (default: $RAY_ADDRESS, else a local Ray runtime on this machine)"


def register(sub) -> None:
    parser = add_command(sub, "study", help="multi-objective hyperparameter studies (Ray Tune + Optuna)",
                         description=__doc__, examples=[
                             "depthdif study run studies/quickstart.yaml --resume-if-exists",
                             "depthdif study status studies_out/quickstart",
                             "depthdif study report studies_out/quickstart"])
    study_sub = parser.add_subparsers(dest="study_command", metavar="{run,resume,status,list,report,pareto,export}")
    study_sub.required = True
    _register_run(study_sub)
    resume = add_command(study_sub, "resume", help="continue a study whose driver stopped or was killed",
                         description="Finished trials are kept, trials that were running resume from their newest "
                                     "checkpoint, the searcher keeps its history; nothing is counted twice. A study "
                                     "whose budget is met starts nothing and only rewrites its report.",
                         examples=["depthdif study resume studies_out/quickstart"])
    resume.add_argument("study_dir", metavar="STUDY_DIR", help=STUDY_DIR_HELP)
    resume.add_argument("--address", help=ADDRESS_HELP)
    resume.add_argument("--no-report", dest="report", action="store_false", help="do not write report.html at the end")
    resume.add_argument("--quiet", action="store_true", help="no progress lines")
    resume.set_defaults(handler=handle_resume)
    status = add_command(study_sub, "status", help="trials, states, objectives, the Pareto front and the driver",
                         description="Reads the study directory only (no Ray): works while the study runs, after its "
                                     "driver died, and on a copy. Pareto-optimal trials are marked '*'.",
                         examples=["depthdif study status studies_out/quickstart",
                                   "depthdif study status studies_out/quickstart --rows 100"])
    status.add_argument("study_dir", metavar="STUDY_DIR", help=STUDY_DIR_HELP)
    status.add_argument("--rows", type=int, default=40, help="show at most this many trial lines (default 40)")
    status.set_defaults(handler=handle_status)
    listing = add_command(study_sub, "list", help="the studies in a storage folder, one line each",
                          description="Every study directory directly below DIR: name, trainer, trials finished of "
                                      "the budget, best value per objective, whether a driver runs it.",
                          examples=["depthdif study list studies_out"])
    listing.add_argument("storage", metavar="DIR", help="a storage folder (the study file's `storage`)")
    listing.set_defaults(handler=handle_list)
    study_outputs.register(study_sub)


def _register_run(study_sub) -> None:
    run = add_command(study_sub, "run", help="start a study from a study file (or resume it: --resume-if-exists)",
                      description="Validates the study file, its search space and objectives before Ray starts, "
                                  "synthesizes the data store when the file says `data.synthetic` and it is missing, "
                                  "then runs the trials. Prints a live status line, the optuna-dashboard command and "
                                  "writes STUDY_DIR/report.html at the end.",
                      examples=["depthdif study run studies/quickstart.yaml --resume-if-exists",
                                "depthdif study run studies/quickstart.yaml --name q2 --set trials=4 "
                                "--set overrides.training.max_epochs=2",
                                "depthdif study run studies/quickstart.yaml --dry-run"])
    run.add_argument("study_file", metavar="STUDY.yaml", help="a study file, e.g. studies/quickstart.yaml")
    run.add_argument("--name", help="study name (default: `name` in the file); the study dir is STORAGE/NAME")
    run.add_argument("--storage", metavar="DIR", help="folder holding study directories (default: `storage` in "
                                                     "the file); on a cluster a path every node mounts")
    run.add_argument("--address", help=ADDRESS_HELP)
    run.add_argument("--warm-start", metavar="OLD_STUDY_DIR",
                     help="seed the searcher with this study's COMPLETE trials (same search-space keys)")
    run.add_argument("--resume-if-exists", action="store_true",
                     help="if this study was started before: resume it (or, when finished, only rewrite its "
                          "report) instead of refusing; a different study under the same name is still refused")
    run.add_argument("--no-report", dest="report", action="store_false", help="do not write report.html at the end")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    add_plan_arguments(run, "study (study.yaml as it would be saved)")
    add_set_argument(run)
    run.set_defaults(handler=handle_run)


def handle_run(args: argparse.Namespace) -> int:
    from depthdif.study.spec import load_study_spec

    spec = load_study_spec(args.study_file, args.overrides, name=args.name, storage=args.storage)
    if args.print_config:
        from depthdif.config.loader import dump_yaml

        print(dump_yaml(spec), end="")
        return 0
    if args.dry_run:
        from depthdif.study.plan import study_plan

        print(study_plan(spec, args.resume_if_exists))
        return 0
    from depthdif.study.runner import StudyFailed, run_study  # Ray is imported only after validation

    try:
        outcome = run_study(spec, address=args.address, warm_start=args.warm_start, progress=not args.quiet,
                            resume_if_exists=args.resume_if_exists, report=args.report)
    except StudyFailed as exc:
        print(f"depthdif: study failed: {exc}", file=sys.stderr)
        return 1
    return _summary(outcome.study_dir)


def handle_resume(args: argparse.Namespace) -> int:
    from depthdif.study.runner import StudyFailed, resume_study

    try:
        outcome = resume_study(args.study_dir, address=args.address, progress=not args.quiet, report=args.report)
    except StudyFailed as exc:
        print(f"depthdif: study failed: {exc}", file=sys.stderr)
        return 1
    return _summary(outcome.study_dir)


def handle_status(args: argparse.Namespace) -> int:
    from depthdif.study.status import format_status, study_status

    print(format_status(study_status(args.study_dir), max_rows=args.rows))
    return 0


def handle_list(args: argparse.Namespace) -> int:
    from depthdif.study.status import format_study_list

    print(format_study_list(args.storage))
    return 0


def _summary(study_dir) -> int:
    from depthdif.study.status import format_status, study_status

    print(format_status(study_status(study_dir), max_rows=0))
    return 0
