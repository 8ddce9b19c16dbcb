"""`depthdif eval`: a trained model against every baseline, on the same patches and withheld profiles.

    depthdif eval --checkpoint runs/pixel-1a2b/checkpoint.ckpt --store data/demo.zarr --split test
    depthdif eval --checkpoint none --store data/demo.zarr --methods idw,oi_eo   # baselines only

Writes <out>/eval_metrics.parquet (method, scope, band, depth_index, depth_m, metric, value),
rmse_by_depth.html, summary.md and the resolved config.yaml. With a checkpoint, the config is
the checkpoint's (then --config is refused); --set overrides either, and the loaded model samples
with the overridden config (e.g. --set sampling.steps=50). Keys the trained weights fix (model.*,
diffusion.*, ema.*, ae.*, latent.*, data.eo_channels) are refused with a checkpoint.

What is withheld and scored: data.withheld_mode (default float: whole Argo floats, each with
probability data.withheld_fraction; column: that share of each patch's observed columns), seed
data.withheld_seed; summary.md states it with the counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from depthdif.commands.common import add_set_argument

MODEL = "model"
# Config keys the trained weights fix: overriding them would not change the loaded network.
FIXED_BY_CHECKPOINT = ("model.", "diffusion.", "ema.", "ae.", "latent.", "data.eo_channels")


def register(sub) -> None:
    parser = sub.add_parser("eval", help="compare a model with the baselines on a split",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="Lightning checkpoint file (or a dir holding "
                        "exactly one *.ckpt); 'none' = baselines only")
    parser.add_argument("--store", required=True, help="the Zarr store to evaluate on (a path or an fsspec URI)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--out", type=Path, help="output dir (default evals/<store>-<split>)")
    parser.add_argument("--withheld-fraction", type=float, help="share of floats (or of each patch's "
                        "columns) withheld and scored (default data.withheld_fraction)")
    parser.add_argument("--withheld-mode", choices=("float", "column"), help="withhold whole Argo floats "
                        "(float) or a share of each patch's columns (column); default data.withheld_mode (float)")
    parser.add_argument("--methods", default="all", help="'all' or a comma list of baselines "
                        "(climatology, idw, oi, eo_regression, oi_eo); the model is always included")
    parser.add_argument("--samples", type=int, help="ensemble members per patch for the model "
                        "(default sampling.ensemble_size); K > 1 adds spread and CRPS")
    parser.add_argument("--max-patches", type=int, help="score only the first N patches of the split")
    parser.add_argument("--config", type=Path, help="experiment YAML for baselines-only runs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_set_argument(parser)
    parser.set_defaults(handler=handle_eval)


def baseline_names(text: str) -> list[str]:
    from depthdif.baselines.registry import BASELINES

    if text.strip() == "all":
        return list(BASELINES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BASELINES]
    if unknown or not names:
        raise ValueError(f"--methods: unknown {unknown or text!r}; allowed: 'all' or a comma list of "
                         f"{sorted(BASELINES)}")
    return list(dict.fromkeys(names))


def checkpoint_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        found = sorted(path.glob("*.ckpt"))
        if len(found) != 1:
            raise FileNotFoundError(f"--checkpoint {path}: expected exactly one *.ckpt inside, found "
                                    f"{[f.name for f in found]}")
        return found[0]
    return path


def resolve(args: argparse.Namespace):
    """(config, model system or None) from the flags, before any data is read."""
    from depthdif.config.loader import apply_overrides, from_dict, load, to_dict
    from depthdif.config.schema import ExperimentConfig

    overrides = list(args.overrides)
    if args.withheld_fraction is not None:
        overrides.append(f"data.withheld_fraction={args.withheld_fraction}")
    if args.withheld_mode is not None:
        overrides.append(f"data.withheld_mode={args.withheld_mode}")
    overrides.append(f"data.store={args.store}")
    if args.checkpoint.strip().lower() == "none":
        return load(ExperimentConfig, args.config, overrides), None
    if args.config is not None:
        raise ValueError("--config: a checkpoint carries its own config; use --set to override it")
    from depthdif.train.systems import load_system

    refuse_fixed_keys(args.overrides)
    system = load_system(checkpoint_file(args.checkpoint))
    data = apply_overrides(to_dict(system.cfg), overrides, ExperimentConfig)
    cfg = from_dict(ExperimentConfig, data, f"{args.checkpoint} (with --set overrides)")
    system.cfg = cfg  # the model samples with the overridden config (sampling.*, …)
    return cfg, system


def refuse_fixed_keys(overrides: list[str]) -> None:
    from depthdif.config.loader import ConfigError, parse_override

    for text in overrides:
        key, _ = parse_override(text)
        if key.startswith(FIXED_BY_CHECKPOINT):
            raise ConfigError("--set", key, "fixed by the checkpoint's trained weights; eval can override "
                                            "sampling.*, evaluation.*, data.* (except eo_channels) and training.*")


def handle_eval(args: argparse.Namespace) -> int:
    from depthdif.baselines.registry import build_baseline
    from depthdif.evaluation.compare import SampledPredictor
    from depthdif.evaluation.store_evaluation import evaluate_on_store

    if args.samples is not None and args.samples < 1:
        raise ValueError(f"--samples must be ≥ 1, got {args.samples}")
    if args.max_patches is not None and args.max_patches < 1:
        raise ValueError(f"--max-patches must be ≥ 1, got {args.max_patches}")
    names = baseline_names(args.methods)
    cfg, system = resolve(args)
    methods = [build_baseline(name, cfg.evaluation.baselines) for name in names]
    if system is not None:
        samples = args.samples or cfg.sampling.ensemble_size
        methods.insert(0, SampledPredictor(system, samples, cfg.sampling.seed, name=MODEL))
    store_name = args.store.rstrip("/").rsplit("/", 1)[-1].removesuffix(".zarr")
    out = args.out or Path("evals") / f"{store_name}-{args.split}"
    result = evaluate_on_store(methods, cfg, args.store, args.split, out, max_patches=args.max_patches,
                               progress=not args.no_progress)
    print(result.summary_path.read_text(), file=sys.stderr)
    print(f"wrote {result.metrics_path} and {result.html_path}", file=sys.stderr)
    return 0
