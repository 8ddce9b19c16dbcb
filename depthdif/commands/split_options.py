"""`--time-block`, `--space-block` and the leakage rule, shared by `data synth`, `ingest` and `osse`.

Splits are drawn per (spatial block x time block) cell (depthdif/data/index.py); the leakage rule
(depthdif/data/split_leakage.py) flags val/test windows that share pixels with a train window less
than `--decorrelation-days` away.
"""

from __future__ import annotations

import argparse


def add_split_arguments(parser: argparse.ArgumentParser, time_block_default: int = 4) -> None:
    group = parser.add_argument_group("splits (train/val/test by space x time block)")
    group.add_argument("--space-block", type=int, default=None, metavar="PIXELS",
                       help="spatial block edge in pixels (default: 2 x patch size; must be >= patch size)")
    group.add_argument("--time-block", type=int, default=time_block_default, metavar="STEPS",
                       help=f"time block length in steps (default {time_block_default}; >= the number of "
                            "steps: pure spatial blocking, which never leaks in time)")
    group.add_argument("--val-fraction", type=float, default=0.15, help="share of blocks in the val split (default 0.15)")
    group.add_argument("--test-fraction", type=float, default=0.15,
                       help="share of blocks in the test split (default 0.15)")
    group.add_argument("--split-seed", type=int, default=None, help="seed of the block assignment (default: --seed or 0)")
    group.add_argument("--decorrelation-days", type=float, default=15.0,
                       help="a val/test window leaks when it shares pixels with a train window closer in time "
                            "than this (default 15)")
    group.add_argument("--leakage", choices=("warn", "drop", "refuse"), default="warn",
                       help="what to do with leaking val/test windows (default: warn with counts)")


def split_values(args: argparse.Namespace) -> dict:
    """The SplitSpec fields these flags set (synth passes them through its own config)."""
    seed = args.split_seed if args.split_seed is not None else getattr(args, "seed", 0)
    return {"val_fraction": args.val_fraction, "test_fraction": args.test_fraction, "block_size": args.space_block,
            "time_block": args.time_block, "seed": seed, "decorrelation_days": args.decorrelation_days,
            "leakage": args.leakage}


def split_spec(args: argparse.Namespace):
    from depthdif.data.index import SplitSpec

    spec = SplitSpec(**split_values(args))
    spec.check()
    return spec
