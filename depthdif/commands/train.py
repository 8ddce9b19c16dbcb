"""`depthdif train {pixel,latent,ae}`: one training run, on Ray Train or (--workers 0) in this process.

The config is validated and the store opened before any worker starts. The run directory
STORAGE/NAME gets the resolved config.yaml, metrics.jsonl (one line per epoch) and checkpoints;
running the same command again resumes that run from its newest complete checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depthdif.commands.common import add_command, add_plan_arguments, add_set_argument

KINDS = {
    "pixel": ("pixel-space conditional diffusion (DepthDif) with the ambient objective",
              "Trains the conditional diffusion UNet directly on the depth levels, conditioned on the sparse "
              "Argo profiles, their mask and the EO (SST) channels. With model.ambient_occlusion.enabled it "
              "learns from the observations alone (further-masked A, loss on S = A*Y).",
              ["depthdif train pixel --config studies/configs/quickstart.yaml --set data.store=data/quickstart.zarr "
               "--workers 0 --storage runs --name pixel-demo",
               "depthdif train pixel --resume runs/pixel-demo",
               "depthdif train pixel --config studies/configs/quickstart.yaml --dry-run"]),
    "latent": ("latent diffusion on a (frozen) depth-band autoencoder",
               "Trains the diffusion model in the latent space of an autoencoder given by latent.ae_checkpoint "
               "(a checkpoint or an export folder); latent.freeze chooses full, partial or no freezing.",
               ["depthdif train latent --config studies/configs/quickstart.yaml --set data.store=data/quickstart.zarr "
                "--set latent.ae_checkpoint=runs/ae-demo/best_checkpoint/checkpoint.ckpt --workers 0 "
                "--storage runs --name latent-demo"]),
    "ae": ("the depth-band autoencoder (needs a store with the dense target y)",
           "Trains the per-column (or 3x3) autoencoder that compresses the depth levels into ae.latent_channels "
           "bands; its checkpoint is what latent diffusion starts from.",
           ["depthdif train ae --config studies/configs/quickstart.yaml --set data.store=data/quickstart.zarr "
            "--set ae.training.max_epochs=2 --workers 0 --storage runs --name ae-demo"]),
}


def register(sub) -> None:
    parser = add_command(sub, "train", help="train one model (pixel, latent or ae)", description=__doc__,
                         examples=["depthdif train pixel --help"])
    kinds = parser.add_subparsers(dest="kind", metavar="{pixel,latent,ae}")
    kinds.required = True
    for kind, (summary, description, examples) in KINDS.items():
        p = add_command(kinds, kind, help=summary, description=description + "\n\n" + __doc__.split("\n\n", 1)[1],
                        examples=examples)
        _add_arguments(p)
        p.set_defaults(handler=handle_train)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="experiment YAML (default: the run dir's config "
                        "with --resume, else the built-in defaults)")
    parser.add_argument("--store", metavar="STORE", help="the Zarr store to train on (same as --set data.store=...)")
    parser.add_argument("--workers", type=int, help="Ray Train workers (0 = train in this process, "
                        "without Ray); default ray.num_workers")
    parser.add_argument("--gpus-per-worker", type=float, help="GPUs per worker (default ray.gpus_per_worker)")
    parser.add_argument("--storage", metavar="DIR", help="where run dirs live (default ray.storage_path)")
    parser.add_argument("--name", help="run name (default: <kind>-<hash of the resolved config>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its "
                        "newest complete checkpoint")
    parser.add_argument("--address", help="Ray cluster address (default $RAY_ADDRESS, else a local runtime)")
    add_plan_arguments(parser, "experiment config")
    add_set_argument(parser)


def resolve(args: argparse.Namespace):
    """(config, run dir) from the flags; raises ConfigError/ValueError before anything starts."""
    from depthdif.config.loader import load
    from depthdif.config.schema import ExperimentConfig
    from depthdif.train.run_dir import RunDir
    from depthdif.train.runner import absolute_run_dir, default_run_name

    overrides = list(args.overrides)
    for flag, key in ((args.workers, "ray.num_workers"), (args.gpus_per_worker, "ray.gpus_per_worker"),
                      (args.address, "ray.address"), (getattr(args, "store", None), "data.store")):
        if flag is not None and flag != "":
            overrides.append(f"{key}={flag}")
    if args.resume is None:
        cfg = load(ExperimentConfig, args.config, overrides)
        storage = str(args.storage or cfg.ray.storage_path).rstrip("/")  # a URI is refused by name later
        return cfg, f"{storage}/{args.name or default_run_name(args.kind, cfg)}"
    run = RunDir(absolute_run_dir(args.resume))
    if not run.exists():
        raise FileNotFoundError(f"--resume {args.resume}: no {run.config_file.name} there; not a run dir")
    recorded = run.kind() or args.kind
    if recorded != args.kind:
        raise ValueError(f"--resume {args.resume}: this run trains {recorded!r}, not {args.kind!r}")
    return load(ExperimentConfig, args.config or run.config_file, overrides), run.path


def train_plan(kind: str, cfg, run_dir: str) -> str:
    """What `depthdif train` would do (for --dry-run): no Ray, nothing trained or written."""
    from depthdif.train.run_dir import RunDir
    from depthdif.train.runner import absolute_run_dir

    run = RunDir(absolute_run_dir(run_dir))
    latest = run.latest() if run.exists() else None
    workers = cfg.ray.num_workers
    where = ("in this process (no Ray)" if workers == 0 else
             f"on Ray Train: {workers} worker(s) x {cfg.ray.cpus_per_worker:g} CPU, {cfg.ray.gpus_per_worker:g} GPU"
             f" ({cfg.ray.address or 'a local Ray runtime'})")
    resume = f"resumes from {latest.folder.name} ({latest.epoch} epochs done)" if latest else "starts from scratch"
    epochs = cfg.ae.training.max_epochs if kind == "ae" else cfg.training.max_epochs
    return "\n".join([f"train {kind}: would train {where}",
                      f"  run dir   {run.path} ({resume})", f"  store     {cfg.data.store}",
                      f"  epochs    {epochs}", "nothing was started (--dry-run)"])


def handle_train(args: argparse.Namespace) -> int:
    cfg, run_dir = resolve(args)
    if args.print_config:
        from depthdif.config.loader import dump_yaml

        print(dump_yaml(cfg), end="")
        return 0
    if args.dry_run:
        print(train_plan(args.kind, cfg, run_dir))
        return 0
    from depthdif.train import run

    backend = "in_process" if cfg.ray.num_workers == 0 else "ray"
    result = run(args.kind, cfg, run_dir, backend=backend)
    # Overall figures only; per-depth and per-band values are in the run's metrics.jsonl.
    headline = {k: v for k, v in result.best.items() if "depth/" not in k and "band/" not in k}
    summary = ", ".join(f"{k}={v:.4g}" for k, v in sorted(headline.items()))
    print(f"{result.status}: {result.run_dir}" + (f"  best: {summary}" if summary else ""), file=sys.stderr)
    if result.checkpoint_dir:
        print(f"latest checkpoint: {result.checkpoint_dir}", file=sys.stderr)
        print(f"export it: depthdif export {result.run_dir} --out exports/{Path(result.run_dir).name}",
              file=sys.stderr)
    if not result.ok:
        print(f"depthdif: training {result.status}: {result.error}", file=sys.stderr)
        return 1
    return 0
