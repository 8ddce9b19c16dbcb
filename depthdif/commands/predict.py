"""`depthdif predict` commands."""

from __future__ import annotations

from depthdif.commands.common import not_ready


def register(sub) -> None:
    parser = sub.add_parser("predict", help="predict commands")
    parser.set_defaults(handler=not_ready("predict"))
