"""`depthdif data osse`: sample Argo-like floats from a dense model field into a store (an OSSE).

The way to test a configuration before trusting it on real Argo: the truth `y` is known everywhere,
so reconstructions are scored on the whole field, and whole floats can be withheld (platform ids
are in the profile table).
"""

from __future__ import annotations

import argparse

from depthdif.commands.common import add_command
from depthdif.commands.split_options import add_split_arguments, split_spec
from depthdif.commands.store_options import add_store_output_arguments, add_window_arguments


def register(data_sub) -> None:
    p = add_command(
        data_sub, "osse", examples=["depthdif data osse --truth model.nc --out osse.zarr --obs-fraction 0.02 --seed 0"], help="sample Argo-like floats from a dense model field (observing-system simulation)",
        description="Fly Argo-like floats over a model field taken as truth and write a store: y is the "
                    "dense field on the store grid, x the floats' profiles (drifting tracks, one profile per "
                    "cycle, reach ~2000 m above the sea floor, sensor noise), EO the truth's top level (or "
                    "--sst, or --no-eo). Use it to test a configuration before trusting it on real Argo.")
    p.add_argument("--truth", nargs="+", required=True, metavar="FILE",
                   help="dense model temperature NetCDF file(s) (GLORYS, NEMO, ROMS s-levels, reanalyses)")
    p.add_argument("--truth-var", default=None, metavar="NAME", help="temperature variable (default: by CF name)")
    p.add_argument("--out", required=True, help="store directory to write")
    p.add_argument("--grid", default=None, metavar="LAT0,LAT1,LON0,LON1,RES[,LON_RES]",
                   help="regular store grid (default: the truth's grid; curvilinear: regular at its spacing)")
    p.add_argument("--regrid", action="store_true", help="resample a regular truth grid onto --grid / --depths")
    p.add_argument("--depths", default="glorys", help="'glorys', a file, or metres separated by commas")
    p.add_argument("--time-range", default=None, metavar="START,END", help="clip the truth's dates")
    p.add_argument("--obs-fraction", type=float, default=0.01,
                   help="profiles per ocean cell per time step on average (default 0.01)")
    p.add_argument("--cycle-days", type=float, default=10.0, help="days between a float's profiles (default 10)")
    p.add_argument("--max-depth-m", type=float, default=2000.0, help="deepest a profile reaches (default 2000)")
    p.add_argument("--noise", type=float, default=0.01, help="sensor noise std in degC (default 0.01)")
    eo = p.add_mutually_exclusive_group()
    eo.add_argument("--sst", nargs="+", default=[], metavar="FILE", help="a real SST as EO instead of the truth's top")
    eo.add_argument("--no-eo", action="store_true", help="no EO condition (eo_valid_mask 0)")
    p.add_argument("--eo-noise", type=float, default=0.0, help="std of noise added to the truth-top EO (degC)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the float tracks, profiles and noise (default 0)")
    add_window_arguments(p, patch_default=16)
    add_split_arguments(p)
    add_store_output_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from depthdif.data.floats import CycleSpec, FloatSpec
    from depthdif.data.osse import OsseSpec, run_osse

    floats = CycleSpec(obs_fraction=args.obs_fraction, cycle_days=args.cycle_days, max_depth_m=args.max_depth_m,
                       floats=FloatSpec(sensor_noise_c=args.noise))
    spec = OsseSpec(truth=list(args.truth), truth_var=args.truth_var, grid=args.grid, regrid=args.regrid,
                    depths=args.depths, time_range=args.time_range, sst=list(args.sst), no_eo=args.no_eo,
                    eo_noise_c=args.eo_noise, floats=floats, seed=args.seed, patch_size=args.patch_size,
                    stride=args.stride, max_land_fraction=args.max_land_fraction)
    print(run_osse(spec, args.out, split=split_spec(args), overwrite=args.overwrite, progress=not args.quiet))
    return 0
