"""`depthdif data` commands."""

from __future__ import annotations

from depthdif.commands.common import not_ready


def register(sub) -> None:
    parser = sub.add_parser("data", help="data commands")
    parser.set_defaults(handler=not_ready("data"))
