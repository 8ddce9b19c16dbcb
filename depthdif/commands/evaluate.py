"""`depthdif eval` commands."""

from __future__ import annotations

from depthdif.commands.common import not_ready


def register(sub) -> None:
    parser = sub.add_parser("eval", help="eval commands")
    parser.set_defaults(handler=not_ready("eval"))
