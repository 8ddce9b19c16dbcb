"""`depthdif data ingest`: real GLORYS / OSTIA / Argo files into one store.

Parses the flags into an `IngestSpec` and calls `depthdif.data.ingest.ingest` (imported lazily,
so `depthdif --help` stays fast).
"""

from __future__ import annotations

import argparse

ARGO_FORMATS = ("auto", "table", "erddap", "gdac")


def register(data_sub) -> None:
    parser = data_sub.add_parser(
        "ingest", help="ingest GLORYS/OSTIA NetCDF and Argo profiles into a store",
        description="Build a store from real files: the GLORYS grid is kept as is (y is never "
                    "regridded), OSTIA is interpolated onto it, Argo profiles are QC'd, put on the "
                    "depth levels and binned onto the grid. Without --glorys the store is Argo-only.")
    parser.add_argument("--out", required=True, help="store directory to write (refused if it exists)")
    parser.add_argument("--glorys", nargs="+", default=[], metavar="FILE", help="GLORYS thetao NetCDF file(s)")
    parser.add_argument("--ostia", nargs="+", default=[], metavar="FILE", help="OSTIA analysed_sst NetCDF file(s)")
    parser.add_argument("--argo", nargs="+", default=[], metavar="FILE",
                        help="Argo files: Parquet/CSV tables, ERDDAP/argopy NetCDF, GDAC *_prof.nc")
    parser.add_argument("--argo-format", choices=ARGO_FORMATS, default="auto",
                        help="Argo file format (default: detect per file)")
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--grid-from", choices=("glorys", "ostia"), default=None,
                      help="take the target grid from these files (default: glorys if given, else ostia)")
    grid.add_argument("--grid", default=None, metavar="LAT0,LAT1,LON0,LON1,RES",
                      help="explicit regular target grid in degrees (Argo-only stores)")
    parser.add_argument("--depths", default="glorys",
                        help="'glorys' (the GLORYS file's levels, else the 50 GLORYS12 levels) or a file of "
                             "depths in metres (a subset of the GLORYS levels when --glorys is given)")
    parser.add_argument("--patch-size", type=int, default=16)
    parser.add_argument("--stride", type=int, default=None, help="window stride (default: patch size)")
    parser.add_argument("--max-land-fraction", type=float, default=0.5)
    parser.add_argument("--time-step-days", type=float, default=7.0,
                        help="time step of the store when there is no GLORYS time axis")
    parser.add_argument("--time-window-days", type=float, default=None,
                        help="half-width of the window that assigns Argo/OSTIA to a time step "
                             "(default: half the time step)")
    parser.add_argument("--argo-temperature", choices=("potential", "in_situ"), default="potential",
                        help="store Argo as potential temperature (like GLORYS thetao; default) or in situ")
    parser.add_argument("--eo-from-glorys", action="store_true",
                        help="without --ostia: use GLORYS's top level as a stand-in SST")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    from depthdif.data.ingest import IngestSpec, ingest

    spec = IngestSpec(glorys=list(args.glorys), ostia=list(args.ostia), argo=list(args.argo),
                      argo_format=args.argo_format, grid_from=args.grid_from, grid=args.grid,
                      depths=args.depths, patch_size=args.patch_size, stride=args.stride,
                      max_land_fraction=args.max_land_fraction, time_step_days=args.time_step_days,
                      time_window_days=args.time_window_days, temperature=args.argo_temperature,
                      eo_from_glorys=args.eo_from_glorys)
    out = ingest(spec, args.out, overwrite=args.overwrite, progress=not args.quiet)
    print(out)
    return 0
