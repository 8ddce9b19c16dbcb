"""`depthdif export RUN_DIR --out DIR`: a `train` run as a self-contained export folder."""

from __future__ import annotations

import argparse

from depthdif.commands.common import add_command


def register(sub) -> None:
    parser = add_command(
        sub, "export", help="export a training run's checkpoint as a self-contained folder",
        description="Writes DIR with weights.safetensors (EMA), config.yaml, normalization.json, "
                    "objectives.json (the run's best validation metrics), params.json, metadata.json and "
                    "MANIFEST.sha256 — the same folder `study export` writes per trial, so `depthdif predict "
                    "--export DIR` and `depthdif eval --export DIR` read it. Study trials: use `study export`.",
        examples=["depthdif export runs/pixel-demo --out exports/pixel-demo",
                  "depthdif export runs/pixel-demo --out exports/pixel-demo --checkpoint latest --overwrite",
                  "depthdif predict --export exports/pixel-demo --store data/quickstart.zarr --out pred.zarr"])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `depthdif train` "
                        "(STORAGE/NAME, holding config.yaml and checkpoint_epoch=*/)")
    parser.add_argument("--out", required=True, metavar="DIR", help="the export folder to write")
    parser.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                        help="best: the run's best_checkpoint/ when it has one, else the newest; latest: the "
                             "newest complete checkpoint (default best)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export folder at DIR")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from depthdif.export import export_run

    print(f"exported {export_run(args.run_dir, args.out, which=args.checkpoint, overwrite=args.overwrite)}")
    return 0
