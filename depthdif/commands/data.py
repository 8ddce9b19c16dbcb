"""`depthdif data`: make, inspect and import ocean stores.

A store is one Zarr directory (time x depth x lat x lon temperature, Argo observations and their
masks, EO channels, land mask) with its patch index, profile table and normalization statistics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from depthdif.commands import data_ingest, data_osse
from depthdif.commands.common import add_command, add_store_argument
from depthdif.commands.split_options import add_split_arguments, split_values
from depthdif.commands.store_options import add_store_output_arguments, add_window_arguments


def register(sub) -> None:
    parser = add_command(sub, "data", help="make, inspect and ingest ocean stores", description=__doc__,
                         examples=["depthdif data synth --out data/demo.zarr --size 64 --times 4 --levels 16",
                                   "depthdif data info --store data/demo.zarr --verify"])
    data_sub = parser.add_subparsers(dest="data_command", metavar="{synth,info,ingest,osse}")
    data_sub.required = True
    _register_synth(data_sub)
    _register_info(data_sub)
    data_ingest.register(data_sub)
    data_osse.register(data_sub)


def _register_synth(data_sub) -> None:
    p = add_command(data_sub, "synth", help="write a realistic synthetic ocean store (deterministic by seed)",
                    description="The embedded synthetic ocean: Levitus climatology background, thermocline displaced "
                                "by eddies and fronts, bathymetry and coasts, L4-like SST, drifting Argo-like floats.",
                    examples=["depthdif data synth --out data/demo.zarr",
                              "depthdif data synth --out /tmp/t.zarr --size 64 --times 4 --levels 8 --patch-size 16"])
    p.add_argument("--out", required=True, type=Path, help="store directory (refused if it exists)")
    p.add_argument("--size", type=int, default=256, help="grid edge in pixels (N x N; default 256)")
    p.add_argument("--times", type=int, default=12, help="time steps (default 12)")
    p.add_argument("--levels", type=int, default=50, help="depth levels, a subset of the 50 GLORYS levels")
    add_window_arguments(p, patch_default=32, land_fraction=False)
    p.add_argument("--obs-fraction", type=float, default=0.01,
                   help="Argo profiles per ocean pixel per time step (default 0.01)")
    p.add_argument("--eo-channels", default="sst", help="comma-separated from sst,sss,adt (default sst)")
    p.add_argument("--chunk", type=int, default=None,
                   help="Zarr chunk edge in pixels (default: a multiple of the patch size and stride, about 4 MiB per chunk)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the synthetic ocean and floats (default 0); "
                   "the same seed and sizes give the same store")
    p.add_argument("--climatology", type=Path, default=None,
                   help="Levitus-format NetCDF (default: the copy shipped in depthdif/resources)")
    add_split_arguments(p)
    add_store_output_arguments(p)
    p.set_defaults(handler=handle_synth)


def _register_info(data_sub) -> None:
    p = add_command(data_sub, "info", help="summarize a store: dims, splits, patches, profiles, statistics",
                    description="Dimensions, splits, patches per split, profiles, per-depth statistics, time axis; "
                                "--verify also decodes every chunk; --plot writes depth maps of one step.",
                    examples=["depthdif data info --store data/quickstart.zarr --plot maps/ --step 0",
                              "depthdif data info --store s3://bucket/ocean.zarr --verify"])
    p.add_argument("store_positional", nargs="?", metavar="STORE", help=argparse.SUPPRESS)
    add_store_argument(p, required=False)
    p.add_argument("--verify", action="store_true", help="also read every chunk: checksums, and values finite "
                   "and physically plausible wherever the valid masks say valid")
    p.add_argument("--plot", type=Path, default=None, metavar="DIR",
                   help="write depth maps of y, x and eo for one time step (PNGs + maps_t<step>.svg) into DIR")
    p.add_argument("--step", type=int, default=0, help="time step to plot with --plot (default 0)")
    p.set_defaults(handler=handle_info)


def synth_config(args: argparse.Namespace):
    """The SynthConfig these flags describe (validated through the typed config loader)."""
    from depthdif.config.loader import from_dict
    from depthdif.data.synthetic import SynthConfig

    values = {"nlat": args.size, "nlon": args.size, "ntime": args.times, "n_levels": args.levels,
              "patch_size": args.patch_size, "stride": args.stride or args.patch_size,
              "obs_fraction": args.obs_fraction, "seed": args.seed, "chunk": args.chunk,
              "eo_channels": [c.strip() for c in args.eo_channels.split(",") if c.strip()],
              "climatology": str(args.climatology) if args.climatology else None}
    split = split_values(args)
    values.update({"val_fraction": split["val_fraction"], "test_fraction": split["test_fraction"],
                   "time_block": split["time_block"], "space_block": split["block_size"],
                   "decorrelation_days": split["decorrelation_days"], "leakage": split["leakage"]})
    return from_dict(SynthConfig, values, "depthdif data synth")


def handle_synth(args: argparse.Namespace) -> int:
    from depthdif.data.synthetic import make_synthetic_store

    cfg = synth_config(args)
    start = time.perf_counter()
    path = make_synthetic_store(cfg, args.out, overwrite=args.overwrite, progress=not args.quiet)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def handle_info(args: argparse.Namespace) -> int:
    from depthdif.data.store import OceanStore

    if bool(args.store) == bool(args.store_positional):
        raise ValueError("data info: give the store once, as --store STORE")
    store = OceanStore.open(args.store or args.store_positional)
    report = store.verify(progress=True) if args.verify else None
    print(store.summary())
    print(time_axis_text(store.ds["time"].values))
    if report is not None:
        print(report.summary())
    if args.plot is not None:
        from depthdif.data.depth_maps import write_depth_maps

        paths = write_depth_maps(store.ds, args.plot, step=args.step, title=str(args.store or args.store_positional))
        print(f"wrote {len(paths)} files to {args.plot} (open {paths[0].name})", file=sys.stderr)
    return 0


def time_axis_text(times) -> str:
    """`time: FIRST .. LAST, N steps, step S` (S: the step when regular, else min..max spacing)."""
    import numpy as np
    import pandas as pd

    first, last = (str(pd.Timestamp(t)).removesuffix(" 00:00:00") for t in (times[0], times[-1]))
    text = f"time: {first} .. {last}, {len(times)} steps"
    if len(times) < 2:
        return text + ", single step"
    spacing = np.diff(np.asarray(times, "datetime64[ns]"))
    low, high = pd.Timedelta(spacing.min()), pd.Timedelta(spacing.max())
    return text + (f", step {low}" if low == high else f", steps {low} .. {high} (calendar or irregular)")
