"""`depthdif` command line: each subcommand parses, loads its config and calls one function.

Command groups live in `depthdif/commands/<group>.py`; each exposes `register(subparsers)`
and imports heavy libraries (torch, ray, xarray) only inside its handlers, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import sys

from depthdif import __version__
from depthdif.commands import data, evaluate, predict, study, train
from depthdif.config import ConfigError

GROUPS = (data, train, study, evaluate, predict)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="depthdif",
        description="Conditional diffusion for subsurface ocean temperature, with Ray-scaled studies.",
    )
    parser.add_argument("--version", action="version", version=f"depthdif {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{data,train,study,eval,predict}")
    sub.required = True
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except ConfigError as exc:
        print(f"depthdif: config error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"depthdif: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("depthdif: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
