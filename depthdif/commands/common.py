"""Argument helpers shared by the command groups."""

from __future__ import annotations

import argparse


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by its dotted key (repeatable), "
                             "e.g. --set model.ambient_occlusion.further_drop_prob=0.3")


def not_ready(name: str):
    def handler(args: argparse.Namespace) -> int:
        raise NotImplementedError(f"`depthdif {name}` is not implemented yet")
    return handler
