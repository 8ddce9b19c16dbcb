"""Benchmark: does the tuned model beat OI on the EO-regression background? (BENCHMARKS.md "skill")

    python -m depthdif.benchmarks.skill                      # the synthetic case, CPU budget per model
    python -m depthdif.benchmarks.skill --steps 1500         # fixed steps per model (BENCHMARKS.md)
    python -m depthdif.benchmarks.skill --quick              # a smoke run (~3 CPU-minutes)
    python -m depthdif.benchmarks.skill --only "pixel standard + oi_eo" --budget 120 --no-write

One *case* is a store whose test split is a spatially disjoint area (never seen in training, at any
time). Every diffusion model trains for the same CPU budget (this process's CPU time with one
intra-op thread; the step count each budget buys is printed), or for a fixed number of optimizer
steps (`--steps`), which a busy machine slows but cannot change. Run a budget on an idle machine,
and compare rows within one run only: on a 2-vCPU VM a second busy process raised a step's CPU time
about 3x (1500 steps: 14.3 CPU-minutes instead of 4.7), and the same 4.5-minute budget bought 1482
steps (pixel standard + oi_eo) in one idle run, 688 in another a day later. Then every method,
baselines included, is scored by `compare_methods` on the same test windows with the same withheld
profiles. Rows: the baselines; "background only" (an untrained background-residual model, whose
zero-initialised network returns its OI+EO background exactly); pixel diffusion with the standard
objective, with the ambient objective (sampled `dense` and `fixed_mask`), and latent diffusion,
each without and with the OI+EO background; and the reference, issue 10's deterministic residual
UNet (residual_regression.py), to tell what diffusion costs or gains over plain regression. The
surface table checks that the SST reaches the top levels.
Cases are a parameter (`--case`, benchmarks/skill_cases.py): `synthetic` (section `skill`), `argo`
(real Argo alone, no EO; section `skill_argo`) and `osse` (floats over a real ROMS field; section
`skill_osse`). A case without a dense truth trains only the ambient rows and scores withheld floats.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import lightning.pytorch as pl
import torch

from depthdif.baselines.registry import BASELINES, build_baseline
from depthdif.benchmarks.report import benchmark_parser, publish
from depthdif.benchmarks.residual_regression import ResidualRegression
from depthdif.benchmarks.skill_cases import CASES
from depthdif.benchmarks.skill_report import BANDS_M, BAR, render
from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset
from depthdif.evaluation.compare import SampledPredictor, compare_methods
from depthdif.evaluation.store_evaluation import batches_of
from depthdif.train.datamodule import make_loaders
from depthdif.train.systems import build_system, store_meta

SECTION = "skill"
WITHHELD_SEED = 1234


@dataclass
class Settings:
    """Budgets of one run (`--quick` shrinks them)."""

    budget_s: float = 270.0  # training CPU seconds per diffusion model
    steps: int | None = None  # fixed optimizer steps per model instead (`--steps`: immune to load)
    ae_budget_s: float = 60.0  # the latent models' autoencoder (counted separately)
    members: int = 4  # ensemble members scored (RMSE of their mean, spread, CRPS)
    ddim_steps: int = 10
    max_test_patches: int | None = None

    @classmethod
    def quick(cls) -> "Settings":
        return cls(budget_s=15.0, ae_budget_s=5.0, members=2, ddim_steps=4, max_test_patches=16)


def model_config(store: Path, settings: Settings, quick: bool) -> ExperimentConfig:
    """The model every variant shares: the studies' base recipe at CPU size."""
    unet = ({"base_channels": 16, "channel_mults": [1, 2], "attention_levels": [], "time_embed_dim": 32, "groups": 4}
            if quick else {"base_channels": 24, "channel_mults": [1, 2, 2], "attention_levels": [2],
                           "time_embed_dim": 64, "groups": 8})
    return from_dict(ExperimentConfig, {
        "data": {"store": str(store), "batch_size": 16, "val_subset": 64},
        "model": {"unet": unet},
        "diffusion": {"timesteps": 200, "schedule": "cosine"},
        "sampling": {"sampler": "ddim", "steps": settings.ddim_steps, "ensemble_size": settings.members},
        "ema": {"decay": 0.995, "warmup_steps": 0},
        "training": {"lr": 1e-3, "lr_schedule": "cosine", "warmup_steps": 50, "grad_clip": 1.0},
        "ae": {"kernel_size": 1, "latent_channels": 8, "encoder_hidden": [64, 64], "decoder_hidden": [64, 64],
               "training": {"lr": 3e-3, "batch_size": 32}},
    }, "benchmarks/skill.py")


@dataclass
class Variant:
    """One trained model: its system kind, config overrides and extra sampling modes (same weights)."""

    name: str
    kind: str
    overrides: dict
    twins: dict = field(default_factory=dict)  # row name -> sampling overrides
    system: type | None = None  # a class to build instead of the kind's (the regression reference)

    def build(self, cfg: ExperimentConfig) -> pl.LightningModule:
        """A fresh, untrained system of this row for `cfg`'s store."""
        meta = store_meta(cfg)
        if self.system is None:
            return build_system(self.kind, cfg, meta)
        return self.system(cfg, meta.normalization, meta.depth)


AMBIENT = {"model.ambient_occlusion.enabled": True, "model.ambient_occlusion.further_drop_prob": 0.25}
BACKGROUND = {"model.background": BAR}
REFERENCE = "reference: deterministic residual UNet"  # issue 10's feasibility net (residual_regression.py)


def variants(has_target: bool = True) -> list[Variant]:
    """Each objective without and with the background; the background's standard row also in v.
    Without a dense truth (Argo alone) only the ambient objective can learn (seed 000)."""
    fixed = {"sampling.ambient_mode": "fixed_mask"}
    out = []
    for suffix, bg in (("", {}), (f" + {BAR}", BACKGROUND)):
        raw = {f"pixel standard{suffix} (uncalibrated)": {"sampling.calibration": "off"}}
        out.append(Variant(f"pixel standard{suffix}", "pixel", dict(bg), raw))
        if bg:
            out.append(Variant(f"pixel standard{suffix} (v)", "pixel", {**bg, "diffusion.parameterization": "v"}))
            out.append(Variant(f"{REFERENCE}{suffix}", "pixel", dict(bg), {
                f"{REFERENCE}{suffix} (uncalibrated)": {"sampling.calibration": "off"}}, system=ResidualRegression))
        twins = {f"pixel ambient{suffix} (fixed_mask)": fixed}
        if bg:  # the unobserved surface: carried from the shallowest observed level (default) or not
            twins[f"pixel ambient{suffix} (fixed_mask, top = background)"] = {
                **fixed, "model.unobserved_top_levels": "background"}
        out.append(Variant(f"pixel ambient{suffix}", "pixel", {**AMBIENT, **bg, "sampling.ambient_mode": "dense"},
                           twins))
        out.append(Variant(f"latent standard{suffix}", "latent", bg))
    return out if has_target else [v for v in out if "ambient" in v.name]


# --- training under a CPU budget -----------------------------------------------------------
def step_seconds(system, loader, repeats: int = 3) -> float:
    """CPU seconds of one optimizer step (forward, backward, AdamW) on real batches; one warm-up."""
    system.fit_background()
    params = [p for p in system.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    batches = itertools.cycle([batch for _, batch in zip(range(repeats + 1), loader)])  # small stores repeat
    times = []
    for _ in range(repeats + 1):
        batch = next(batches)
        start = time.process_time()
        loss, _ = system.compute_loss(batch, system.denoiser, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.process_time() - start)
    return sum(times[1:]) / repeats


def fit_steps(system: pl.LightningModule, loader, steps: int) -> tuple[pl.Trainer, float]:
    """Train for `steps` optimizer steps with a plain Lightning Trainer; (trainer, CPU seconds)."""
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0)
    start = time.process_time()
    trainer.fit(system, loader)
    return trainer, time.process_time() - start


def train_autoencoder(cfg: ExperimentConfig, settings: Settings, folder: Path) -> tuple[Path, float, int]:
    """A band-only AE trained for its budget, saved as a checkpoint for `latent.ae_checkpoint`."""
    torch.manual_seed(0)
    system = build_system("ae", cfg, store_meta(cfg))
    loader, _ = make_loaders(cfg, kind="ae")
    probe = build_system("ae", cfg, store_meta(cfg))
    optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-3)
    start = time.process_time()
    for _, batch in zip(range(3), loader):
        loss = probe.loss(batch, probe.reconstruct(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    steps = max(10, int(settings.ae_budget_s / ((time.process_time() - start) / 3)))
    trainer, seconds = fit_steps(system, loader, steps)
    path = folder / "ae.ckpt"
    trainer.save_checkpoint(path, weights_only=True)  # weights only: read back with weights_only=True
    return path, seconds, steps


def train_variant(variant: Variant, base: ExperimentConfig, settings: Settings) -> tuple[object, dict]:
    cfg = replace_dotted(base, variant.overrides)
    loader, _ = make_loaders(cfg, kind=variant.kind)
    torch.manual_seed(0)
    steps = settings.steps or max(10, int(settings.budget_s / step_seconds(variant.build(cfg), loader)))
    torch.manual_seed(0)
    system = variant.build(cfg)
    _, seconds = fit_steps(system, loader, steps)
    return calibrate(system.eval()), {"steps": steps, "train CPU-min": seconds / 60}


def calibrate(system):
    """One validation pass over the val split's subset: fits the residual gain and spread inflation
    (`sampling.calibration`, models/calibration.py) on its withheld floats; the test split stays unseen."""
    if system.cfg.sampling.calibration != "off":
        trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False)
        trainer.validate(system, make_loaders(system.cfg, kind=system.kind)[1], verbose=False)
    return system.eval()


def background_step_cost(base: ExperimentConfig, repeats: int = 4) -> float:
    """CPU time of a training step (loss + backward) with the OI+EO background over one without,
    interleaved on the same batches (median), so the machine's load hits both alike."""
    systems = []
    for overrides in ({}, BACKGROUND):
        torch.manual_seed(0)
        system = build_system("pixel", replace_dotted(base, overrides), store_meta(base))
        system.fit_background()
        systems.append(system)
    batches = [batch for _, batch in zip(range(3), make_loaders(base)[0])]
    times: list[list[float]] = [[], []]
    for _ in range(repeats):
        for system, record in zip(systems, times):
            for batch in batches:
                start = time.process_time()
                loss, _ = system.compute_loss(batch, system.denoiser, None)
                loss.backward()
                record.append(time.process_time() - start)
    plain, with_background = (statistics.median(t[len(batches):]) for t in times)
    return with_background / plain


def background_only(base: ExperimentConfig):
    """An untrained oi_eo background-residual model: its zero network returns the background."""
    system = build_system("pixel", replace_dotted(base, BACKGROUND), store_meta(base))
    system.fit_background()
    return system.eval()


# --- the run ---------------------------------------------------------------------------------
def run(case_name: str, settings: Settings, quick: bool, only: list[str] | None = None) -> str:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="depthdif-bench-skill-") as tmp:
        folder = Path(tmp)
        case = CASES[case_name](folder, quick)
        settings = dataclasses.replace(settings, budget_s=settings.budget_s * case.budget_scale)
        base = model_config(case.store, settings, quick)
        if not case.has_target:  # the objective every row shares on a store without a dense truth
            base = replace_dotted(base, AMBIENT)
        train = PatchDataset(case.store, "train")
        methods, info = [], {}
        for name in BASELINES:
            print(f"fitting {name}", file=sys.stderr)
            methods.append(build_baseline(name, base.evaluation.baselines).fit(train))
        methods.append(SampledPredictor(background_only(base), 1, 0, name=f"background only ({BAR})"))
        info["step cost"] = background_step_cost(base)
        ae = None
        for variant in variants(case.has_target):
            if only and variant.name not in only:
                continue
            if variant.kind == "latent":
                if ae is None:
                    print("training the autoencoder", file=sys.stderr)
                    ae = train_autoencoder(base, settings, folder)
                    info["autoencoder"] = {"steps": ae[2], "train CPU-min": ae[1] / 60}
                variant.overrides["latent.ae_checkpoint"] = str(ae[0])
            print(f"training {variant.name}", file=sys.stderr)
            system, info[variant.name] = train_variant(variant, base, settings)
            methods.append(SampledPredictor(system, settings.members, 0, name=variant.name))
            for twin_name, overrides in variant.twins.items():
                twin = calibrate(type(system).from_export(replace_dotted(system.cfg, overrides),
                                                          system.normalization, system.depth, system.export_state()))
                methods.append(SampledPredictor(twin, settings.members, 0, name=twin_name))
                info[twin_name] = dict(info[variant.name])
        test = PatchDataset(case.store, "test")
        print("scoring", file=sys.stderr)
        result = compare_methods(methods, batches_of(test, 16, settings.max_test_patches), depth=test.depth,
                                 depth_mean=test.normalization.depth_mean, depth_std=test.normalization.depth_std,
                                 withheld_fraction=case.withheld_fraction, withheld_mode=case.withheld_mode,
                                 withheld_seed=WITHHELD_SEED, bands_m=BANDS_M,
                                 progress=False)
    return render(case, settings, result, info, quick)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, "a small store and budgets (~3 CPU-minutes)")
    parser.add_argument("--case", default="synthetic", choices=sorted(CASES))
    parser.add_argument("--budget", type=float, help="training CPU seconds per diffusion model")
    parser.add_argument("--steps", type=int, help="fixed optimizer steps per diffusion model (not a CPU budget)")
    parser.add_argument("--only", help="comma list of model rows to train (default: all)")
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    if args.budget:
        settings.budget_s = args.budget
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive number of optimizer steps, got {args.steps}")
    settings.steps = args.steps
    only = [name.strip() for name in args.only.split(",")] if args.only else None
    section = SECTION if args.case == "synthetic" else f"{SECTION}_{args.case}"
    publish(section, run(args.case, settings, args.quick, only), write=not args.no_write and not only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
