"""`depthdif study` commands."""

from __future__ import annotations

from depthdif.commands.common import not_ready


def register(sub) -> None:
    parser = sub.add_parser("study", help="study commands")
    parser.set_defaults(handler=not_ready("study"))
