"""`depthdif eval`: a trained model against every baseline, on the same patches and withheld profiles.

The model comes from an export folder (--export, what `study export` and `depthdif export` write),
a run directory or checkpoint file (--checkpoint), or is left out (--checkpoint none). Writes <out>/eval_metrics.parquet (method, scope, band, depth_index, depth_m, metric, value),
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

from depthdif.commands.common import add_command, add_set_argument

MODEL = "model"
# Config keys the trained weights fix: overriding them would not change the loaded network.
FIXED_BY_CHECKPOINT = ("model.", "diffusion.", "ema.", "ae.", "latent.", "data.eo_channels")


def register(sub) -> None:
    parser = add_command(sub, "eval", help="compare a model with the baselines on a split", description=__doc__,
                         examples=["depthdif eval --export exports/quickstart/trial_abc_00003 --store data/quickstart.zarr",
                                   "depthdif eval --checkpoint runs/pixel-demo --store data/quickstart.zarr --samples 4",
                                   "depthdif eval --checkpoint none --store data/quickstart.zarr --methods idw,oi_eo"])
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--export", metavar="DIR", help="an export folder (trial_<id>/ of `study export`, or "
                       "`depthdif export`'s output); its manifest is verified")
    model.add_argument("--checkpoint", metavar="CKPT", help="a Lightning checkpoint file, a run directory (its "
                       "best, else newest checkpoint) or a folder holding one *.ckpt; 'none' = baselines only")
    parser.add_argument("--store", help="the Zarr store to evaluate on (a path or an fsspec URI; default: the "
                        "model's data.store)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"),
                        help="the split whose patches are scored (default test)")
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
    """The checkpoint a --checkpoint value names: a file, a run dir's best (else newest) checkpoint,
    or the one *.ckpt of a folder. An export folder is pointed to --export."""
    from depthdif.export import MANIFEST
    from depthdif.train.run_dir import BEST_DIR, RunDir, checkpoint_file as in_folder

    path = Path(text)
    if not path.is_dir():
        return path
    if (path / MANIFEST).is_file():
        raise ValueError(f"--checkpoint {path}: this is an export folder; pass it as --export {path}")
    run = RunDir(path)
    if run.exists():
        best, latest = in_folder(path / BEST_DIR), run.latest()
        if best.is_file() or latest is not None:
            return best if best.is_file() else latest.file
        raise FileNotFoundError(f"--checkpoint {path}: this run has no complete checkpoint yet")
    found = sorted(path.glob("*.ckpt"))
    if len(found) != 1:
        raise FileNotFoundError(f"--checkpoint {path}: not a run dir, and expected exactly one *.ckpt inside, "
                                f"found {[f.name for f in found]}")
    return found[0]


def resolve(args: argparse.Namespace):
    """(config, model system or None) from the flags, before any data is read."""
    from depthdif.config.loader import apply_overrides, from_dict, load, to_dict
    from depthdif.config.schema import ExperimentConfig

    overrides = list(args.overrides)
    if args.withheld_fraction is not None:
        overrides.append(f"data.withheld_fraction={args.withheld_fraction}")
    if args.withheld_mode is not None:
        overrides.append(f"data.withheld_mode={args.withheld_mode}")
    if args.store:
        overrides.append(f"data.store={args.store}")
    if args.export is None and args.checkpoint.strip().lower() == "none":
        if not args.store:
            raise ValueError("--store is required for a baselines-only evaluation (--checkpoint none)")
        return load(ExperimentConfig, args.config, overrides), None
    if args.config is not None:
        raise ValueError("--config: a model carries its own config; use --set to override it")
    refuse_fixed_keys(args.overrides)
    system, source = load_model(args)
    data = apply_overrides(to_dict(system.cfg), overrides, ExperimentConfig)
    cfg = from_dict(ExperimentConfig, data, f"{source} (with --set overrides)")
    system.cfg = cfg  # the model samples with the overridden config (sampling.*, …)
    return cfg, system


def load_model(args: argparse.Namespace):
    """(system, where it came from): an export folder (safetensors, manifest checked) or a checkpoint."""
    if args.export is not None:
        from depthdif.export import ExportError, load_export

        try:
            return load_export(args.export)[0], args.export
        except ExportError as exc:
            raise ValueError(str(exc)) from None
    from depthdif.train.systems import load_system

    return load_system(checkpoint_file(args.checkpoint)), args.checkpoint


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
    store = args.store or cfg.data.store
    store_name = str(store).rstrip("/").rsplit("/", 1)[-1].removesuffix(".zarr")
    out = args.out or Path("evals") / f"{store_name}-{args.split}"
    result = evaluate_on_store(methods, cfg, store, args.split, out, max_patches=args.max_patches,
                               progress=not args.no_progress)
    print(result.summary_path.read_text(), file=sys.stderr)
    print(f"wrote {result.metrics_path} and {result.html_path}", file=sys.stderr)
    return 0
