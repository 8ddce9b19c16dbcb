"""`depthdif` command line: each subcommand parses, loads its config and calls one function.

Expected failures (bad config, missing or foreign paths, a busy study, a full disk or a
read-only mount) end with one line naming the file and the reason, and exit status 2;
`depthdif --debug …` also prints the traceback.

Command groups live in `depthdif/commands/<group>.py`; each exposes `register(subparsers)`
and imports heavy libraries (torch, ray, xarray) only inside its handlers, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import sys
import traceback

from depthdif import __version__
from depthdif.commands import data, evaluate, export, predict, study, train
from depthdif.commands.common import Parser
from depthdif.config import ConfigError
from depthdif.study.driver_lock import StudyLocked

GROUPS = (data, train, study, evaluate, export, predict)
EXAMPLES = """examples:
  depthdif study run studies/quickstart.yaml --resume-if-exists   # the quickstart study (re-runnable)
  depthdif study report studies_out/quickstart                    # -> studies_out/quickstart/report.html
  depthdif study export studies_out/quickstart --pareto --out exports/quickstart
  depthdif predict --export exports/quickstart/trial_<id> --store data/quickstart.zarr --out pred.zarr
  depthdif <command> --help                                       # options and examples of each command"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="depthdif",
        description="Reconstruct subsurface ocean temperature from sparse Argo profiles and sea-surface "
                    "temperature with conditional diffusion, and run the hyperparameter studies that tune it.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"depthdif {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="{data,train,study,eval,export,predict}")
    sub.required = True
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except KeyboardInterrupt:
        print("depthdif: interrupted", file=sys.stderr)
        return 130
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError, StudyLocked, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"depthdif: {describe_error(exc)}", file=sys.stderr)
        return 2
    return int(result or 0)


def describe_error(exc: BaseException) -> str:
    """One line for a user: config errors as they are; an OSError as path, operation, errno text."""
    if isinstance(exc, ConfigError):
        return f"config error: {exc}"
    if isinstance(exc, StudyLocked):
        return f"study busy: {exc}"
    if isinstance(exc, OSError) and exc.errno is not None:
        path = exc.filename if exc.filename is not None else _open_file(exc)
        paths = f"{path}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return (f"error: {paths or '(path unknown)'}: {os.strerror(exc.errno)} ({name}) while {_operation(exc)}; "
                "rerun with --debug for the traceback")
    return f"error: {exc}"


def _open_file(exc: BaseException) -> str | None:
    """A write error carries no file name: take it from a file object open in the failing frames."""
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        for value in frame.f_locals.values():
            if isinstance(value, io.IOBase) and isinstance(getattr(value, "name", None), str):
                return value.name
    return None


def _operation(exc: BaseException) -> str:
    """What failed, from the traceback: the innermost call and the depthdif function that made it."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "running the command"
    ours = [f for f in frames if f"{os.sep}depthdif{os.sep}" in f.filename]
    where = f" in {ours[-1].name} ({os.path.basename(ours[-1].filename)}:{ours[-1].lineno})" if ours else ""
    return f"calling {frames[-1].name}{where}"


if __name__ == "__main__":
    sys.exit(main())
