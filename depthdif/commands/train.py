"""`depthdif train {pixel,latent,ae}`: one training run, on Ray Train or (--workers 0) in this process.

    depthdif train pixel --config studies/configs/quickstart.yaml --workers 2 --storage runs
    depthdif train pixel --resume runs/pixel-1a2b3c4d5e          # continue from its newest checkpoint

The config is loaded and validated (and the store opened) before any worker starts; the
resolved config is written into the run dir `<storage>/<name>`. The default name is derived
from the kind and the resolved config, so rerunning the same command resumes the same run,
from its newest complete checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depthdif.commands.common import add_set_argument

KINDS = ("pixel", "latent", "ae")


def register(sub) -> None:
    parser = sub.add_parser("train", help="train a model (pixel, latent or ae) on Ray Train or in this process",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS, help="which model to train")
    parser.add_argument("--config", type=Path, help="experiment YAML (default: the run dir's config "
                        "with --resume, else the built-in defaults)")
    parser.add_argument("--workers", type=int, help="Ray Train workers (0 = train in this process, "
                        "without Ray); default ray.num_workers")
    parser.add_argument("--gpus-per-worker", type=float, help="GPUs per worker (default ray.gpus_per_worker)")
    parser.add_argument("--storage", help="where run dirs live (default ray.storage_path)")
    parser.add_argument("--name", help="run name (default: <kind>-<hash of the resolved config>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its "
                        "newest complete checkpoint")
    parser.add_argument("--address", help="Ray cluster address (default $RAY_ADDRESS, else a local runtime)")
    add_set_argument(parser)
    parser.set_defaults(handler=handle_train)


def resolve(args: argparse.Namespace):
    """(config, run dir) from the flags; raises ConfigError/ValueError before anything starts."""
    from depthdif.config.loader import load
    from depthdif.config.schema import ExperimentConfig
    from depthdif.train.run_dir import RunDir
    from depthdif.train.runner import absolute_run_dir, default_run_name

    overrides = list(args.overrides)
    if args.workers is not None:
        overrides.append(f"ray.num_workers={args.workers}")
    if args.gpus_per_worker is not None:
        overrides.append(f"ray.gpus_per_worker={args.gpus_per_worker}")
    if args.address:
        overrides.append(f"ray.address={args.address}")
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


def handle_train(args: argparse.Namespace) -> int:
    from depthdif.train import run

    cfg, run_dir = resolve(args)
    backend = "in_process" if cfg.ray.num_workers == 0 else "ray"
    result = run(args.kind, cfg, run_dir, backend=backend)
    # Overall figures only; per-depth and per-band values are in the run's metrics.jsonl.
    headline = {k: v for k, v in result.best.items() if "depth/" not in k and "band/" not in k}
    summary = ", ".join(f"{k}={v:.4g}" for k, v in sorted(headline.items()))
    print(f"{result.status}: {result.run_dir}" + (f"  best: {summary}" if summary else ""), file=sys.stderr)
    if result.checkpoint_dir:
        print(f"latest checkpoint: {result.checkpoint_dir}", file=sys.stderr)
    if not result.ok:
        print(f"depthdif: training {result.status}: {result.error}", file=sys.stderr)
        return 1
    return 0
