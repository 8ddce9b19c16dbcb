"""`depthdif predict --export DIR --store STORE --out PRED.zarr`: an export folder → gridded field."""

from __future__ import annotations

import argparse

from depthdif.commands.common import add_command, add_store_argument

SPLITS = ("all", "train", "val", "test")


def register(sub) -> None:
    parser = add_command(
        sub, "predict", examples=["depthdif predict --export exports/quickstart/trial_<id> --store data/quickstart.zarr "
                                  "--out pred.zarr --samples 4",
                                  "depthdif predict --export exports/pixel-demo --store data/quickstart.zarr --out test.zarr "
                                  "--split test --stride 4"], help="reconstruct a store's gridded temperature with an exported model",
        description="Tiles the grid with overlapping windows (every --stride pixels), samples each with the "
                    "exported model (K seeded members), de-normalizes, blends the windows with a Hann taper "
                    "(no seams at window borders) and writes temperature_mean and "
                    "temperature_spread (time, depth, lat, lon; degC; NaN where uncovered, land or below "
                    "the sea floor) as Zarr. Needs only the export folder, never the study directory.")
    parser.add_argument("--export", required=True, metavar="DIR", help="an export folder: trial_<id>/ of `study "
                        "export`, or what `depthdif export RUN_DIR` wrote")
    add_store_argument(parser)
    parser.add_argument("--out", required=True, metavar="PRED.zarr", help="output Zarr (written atomically)")
    parser.add_argument("--split", choices=SPLITS, default="all",
                        help="pixels to write: every ocean pixel (all) or those of one split's windows")
    parser.add_argument("--stride", type=int, default=None, metavar="PX",
                        help="window step in pixels, 1..patch size (default: half the store's patch size; "
                             "the patch size itself means no overlap and visible seams)")
    parser.add_argument("--samples", type=int, default=None, metavar="K",
                        help="ensemble members per window (default: the export's sampling.ensemble_size)")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (default: the export's sampling.seed)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per sampling batch (part of the seeding)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from depthdif.export import ExportError
    from depthdif.predict import predict_export

    try:
        out = predict_export(args.export, args.store, args.out, split=args.split, stride=args.stride,
                             samples=args.samples, seed=args.seed, batch_size=args.batch_size,
                             overwrite=args.overwrite, progress=args.progress)
    except ExportError as exc:
        raise ValueError(str(exc)) from None
    print(f"wrote {out}")
    return 0
