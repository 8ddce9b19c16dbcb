"""Flags every store-writing command (`data synth`, `ingest`, `osse`) shares: window geometry and output.

One definition each, so the three commands cannot drift apart in names, defaults or help.
"""

from __future__ import annotations

import argparse


def add_window_arguments(group, patch_default: int, land_fraction: bool = True) -> None:
    """`--patch-size`, `--stride` (and `--max-land-fraction`): the patch index's windows."""
    group.add_argument("--patch-size", type=int, default=patch_default,
                       help=f"window edge in pixels (default {patch_default})")
    group.add_argument("--stride", type=int, default=None, help="window stride (default: the patch size)")
    if land_fraction:
        group.add_argument("--max-land-fraction", type=float, default=0.5,
                           help="windows with a larger share of land pixels are left out of the patch index "
                                "(default 0.5)")


def add_store_output_arguments(parser: argparse.ArgumentParser) -> None:
    """`--overwrite` (an existing store of ours is rebuilt aside and swapped in at the end) and `--quiet`."""
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing store at --out (ours only; swapped in at the end)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
