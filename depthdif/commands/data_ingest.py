"""`depthdif data ingest`: real model / SST / Argo files into one store."""

from __future__ import annotations

import argparse

from depthdif.commands.common import add_command
from depthdif.commands.split_options import add_split_arguments, split_spec
from depthdif.commands.store_options import add_store_output_arguments, add_window_arguments

ARGO_FORMATS = ("auto", "table", "erddap", "gdac")


def register(data_sub) -> None:
    parser = add_command(
        data_sub, "ingest", examples=["depthdif data ingest --out real.zarr --model glorys_*.nc --sst ostia_*.nc --argo argo/",
                                      "depthdif data ingest --out argo.zarr --argo argo/ --grid=-60,-35,0,50,1 --time-step 30D"], help="ingest model fields, SST and Argo profiles into a store",
        description="Build a store from real files, streamed one time step at a time. A model field on "
                    "a regular grid is kept as is (y is not regridded unless --regrid); curvilinear "
                    "grids (ROMS, NEMO) are resampled with pyresample and s-levels converted to depth. "
                    "SST is averaged per step and interpolated onto the grid. Argo profiles are QC'd, put "
                    "on the depth levels and binned onto the grid. Without a model the store is "
                    "Argo-only; without SST it has no EO (eo_valid_mask 0).")
    parser.add_argument("--out", required=True, help="store directory to write (refused if it exists)")
    inputs = parser.add_argument_group("inputs")
    inputs.add_argument("--glorys", "--model", dest="glorys", nargs="+", default=[], metavar="FILE",
                        help="dense model temperature NetCDF file(s): GLORYS/CMEMS, NEMO, ROMS, reanalyses")
    inputs.add_argument("--model-var", default=None, metavar="NAME", help="model temperature variable "
                        "(default: by CF standard_name, then thetao/votemper/temp/theta...)")
    inputs.add_argument("--ostia", "--sst", dest="ostia", nargs="+", default=[], metavar="FILE",
                        help="SST NetCDF file(s): OSTIA, Met Office monthly, OISST, ... (K or degC, any time step)")
    inputs.add_argument("--sst-var", default=None, metavar="NAME", help="SST variable (default: by CF "
                        "standard_name sea_surface_temperature / _foundation_ / surface_temperature, then names)")
    inputs.add_argument("--argo", nargs="+", default=[], metavar="FILE",
                        help="Argo files: Parquet/CSV tables, ERDDAP/argopy NetCDF, GDAC *_prof.nc, directories")
    inputs.add_argument("--argo-format", choices=ARGO_FORMATS, default="auto",
                        help="Argo file format (default: detect per file)")
    inputs.add_argument("--argo-temperature", choices=("potential", "in_situ"), default="potential",
                        help="what the store's x holds (default potential, like model thetao); tables declare "
                             "theirs by column name (temp = in situ, potential_temperature/theta = potential)")
    inputs.add_argument("--eo-from-glorys", "--eo-from-model", dest="eo_from_glorys", action="store_true",
                        help="without SST: use the model's top level as a stand-in SST")
    grid = parser.add_argument_group("grid")
    source = grid.add_mutually_exclusive_group()
    source.add_argument("--grid-from", choices=("glorys", "ostia"), default=None,
                        help="take the target grid from these files (default: the model's, else the SST's)")
    source.add_argument("--grid", default=None, metavar="LAT0,LAT1,LON0,LON1,RES[,LON_RES]",
                        help="regular target grid in degrees; centres from LAT0/LON0 up to LAT1/LON1; LON0 > LON1 "
                             "crosses the antimeridian (170,-170) or Greenwich (330,10)")
    grid.add_argument("--regrid", action="store_true",
                      help="resample a regular model field onto another target grid / depth levels")
    grid.add_argument("--depths", default="glorys",
                      help="'glorys' (the model's z-levels, else the 50 GLORYS12 levels), a file, or metres "
                           "separated by commas")
    add_window_arguments(grid, patch_default=16)
    time = parser.add_argument_group("time axis")
    time.add_argument("--time-from", choices=("glorys", "ostia", "argo"), default=None,
                      help="whose dates make the axis (default: the model's, else Argo's span, else the SST's)")
    time.add_argument("--time-step", default=None, metavar="OFFSET",
                      help="pandas offset: 1D, 7D, 12h, 30.4375D (centred steps) or 1MS, 1YS (calendar periods); "
                           "default 7D over Argo's span, the SST's own records with --time-from ostia")
    time.add_argument("--time-step-days", type=float, default=None, help=argparse.SUPPRESS)
    time.add_argument("--time-range", default=None, metavar="START,END", help="clip the axis to these dates")
    time.add_argument("--time-window-days", type=float, default=None,
                      help="half-width of a centred step's interval (default: half the step)")
    add_split_arguments(parser)
    add_store_output_arguments(parser)
    parser.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    from depthdif.data.ingest import IngestSpec, ingest

    spec = IngestSpec(glorys=list(args.glorys), ostia=list(args.ostia), argo=list(args.argo),
                      argo_format=args.argo_format, model_var=args.model_var, sst_var=args.sst_var,
                      grid_from=args.grid_from, grid=args.grid, regrid=args.regrid, depths=args.depths,
                      patch_size=args.patch_size, stride=args.stride, max_land_fraction=args.max_land_fraction,
                      time_from=args.time_from, time_step=args.time_step, time_step_days=args.time_step_days,
                      time_range=args.time_range, time_window_days=args.time_window_days,
                      temperature=args.argo_temperature, eo_from_glorys=args.eo_from_glorys)
    out = ingest(spec, args.out, overwrite=args.overwrite, progress=not args.quiet, split=split_spec(args))
    print(out)
    return 0
