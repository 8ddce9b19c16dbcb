"""Argument helpers shared by the command groups: `--set`, `--store`, examples, "did you mean"."""

from __future__ import annotations

import argparse
import difflib
import re
import textwrap

_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped subcommand or choice (`depthdif stuy`)."""

    def error(self, message: str):  # type: ignore[override]
        match = _INVALID_CHOICE.search(message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(match.group(1), choices, n=2, cutoff=0.5)
            if close:
                message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        super().error(message)


def add_command(sub, name: str, help: str, description: str, examples: list[str] | tuple[str, ...] = (),
                **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its description and, below the options, its examples."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) if examples else None
    return sub.add_parser(name, help=help, description=fill_paragraphs(description), epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def fill_paragraphs(text: str, width: int = 100) -> str:
    """Wrap each prose paragraph to `width`; indented paragraphs (commands, tables) stay as written."""
    paragraphs = text.strip("\n").split("\n\n")
    return "\n\n".join(p if p.startswith(" ") else textwrap.fill(" ".join(p.split()), width) for p in paragraphs)


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by its dotted key (repeatable), "
                             "e.g. --set model.ambient_occlusion.further_drop_prob=0.3")


def add_store_argument(parser: argparse.ArgumentParser, required: bool = True, help: str | None = None) -> None:
    """`--store STORE`: the same flag on every command that reads a store."""
    parser.add_argument("--store", required=required, metavar="STORE",
                        help=help or "a depthdif Zarr store: a directory or an fsspec URI (s3://bucket/ocean.zarr)")


def add_plan_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--print-config` and `--dry-run`: look before anything starts."""
    parser.add_argument("--print-config", action="store_true",
                        help=f"print the resolved {what} (YAML) and exit; nothing starts")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything, say what would run and where, and exit (no Ray, no training)")
