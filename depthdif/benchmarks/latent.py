"""Benchmark: depth-band codes (PCA and AE) and latent vs pixel diffusion at 50 levels (BENCHMARKS.md "latent").

`python -m depthdif.benchmarks.latent [--quick] [--set KEY=VALUE ...]` measures, in one run on one
synthetic store:
1. reconstruction RMSE (degC, val split, levels <= 2000 m) of the learned AE beside the PCA of the
   same width (issue 17) at 4 / 8 / 12 / 16 channels (per-column codec), plus the spatial (3x3)
   and downsampled (s = 2) variants at 12 channels. Each AE starts as its PCA and trains the way
   `depthdif train ae` does (`AutoencoderSystem`: LR halved on plateaus of val/ae_rmse, early
   stopping), capped at `ae_max_epochs`;
2. latent vs pixel diffusion: training-step time (median over interleaved steps) and peak
   memory allocated during one step (PyTorch profiler memory events, the CPU analogue of
   `torch.cuda.max_memory_allocated`), as ratios to pixel diffusion;
3. RMSE per depth band (full field and withheld profiles) of latent vs pixel diffusion after the
   same training budget (CPU-seconds in diffusion training steps). The codec is trained or fitted
   once, before, and reused by every latent run of a study, so its cost is reported beside the
   budget, not charged to it.
`--set` overrides apply to the experiment config every model here starts from (pixel, latent and
the AE's `ae.*` block), e.g. `--set training.lr=5e-4`.
Time is this process's CPU time (`time.process_time`) with one intra-op thread: on a box shared with
other jobs, wall time measures the neighbours' load, CPU time measures our work. Steps of competing
models are interleaved all the same. Only ratios and errors are reported, never absolute step times.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.data import DataLoader

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.loader import from_dict, parse_override, replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset
from depthdif.data.synthetic import SynthConfig, make_synthetic_store
from depthdif.evaluation.withheld import withhold_for_scoring
from depthdif.models.autoencoder import Codec
from depthdif.train.autoencoder import AutoencoderSystem
from depthdif.train.latent import LatentDiffusionSystem
from depthdif.train.pixel import PixelDiffusionSystem

SECTION = "latent"
LATENT_CHANNELS = (4, 8, 12, 16)
K3_MAX_EPOCHS = 60  # 3x3 layers cost ~10x the 1x1 ones per step: a shorter cap keeps the run bounded
BANDS = ("0-100m", "100-500m", "500-2000m")
CODECS = ([(f"k1 L{c}", {"ae.latent_channels": c}) for c in LATENT_CHANNELS]
          + [("k3 L12", {"ae.latent_channels": 12, "ae.kernel_size": 3, "ae.training.max_epochs": K3_MAX_EPOCHS}),
             ("k1 L12 s2", {"ae.latent_channels": 12, "ae.spatial_downsample": 2})])
# Diffusion rows: name -> (trained codec, "ae" for the learned AE or "pca" for its PCA start).
LATENTS = {"latent L12 AE": ("k1 L12", "ae"), "latent L12 s2 PCA": ("k1 L12 s2", "pca"),
           "latent L12 s2 AE": ("k1 L12 s2", "ae")}
BUDGET_ROWS = ("latent L12 s2 PCA", "latent L12 s2 AE")  # the s = 1 latent costs a pixel step: cost table only


@dataclass
class Settings:
    """Sizes of one benchmark run (`--quick` shrinks every budget)."""

    grid: int = 96
    ntime: int = 8
    patch: int = 16
    ae_max_epochs: int = 200
    ae_batch_size: int = 16
    step_repeats: int = 12
    budget_s: float = 150.0
    val_patches: int = 24
    batch_size: int = 8
    cost_patch: int = 64  # train-step cost is measured on larger (random) patches
    cost_batch: int = 4

    @classmethod
    def quick(cls) -> "Settings":
        return cls(grid=64, ntime=6, ae_max_epochs=2, step_repeats=3, budget_s=8.0, val_patches=8, cost_patch=32)


def experiment_config(store: Path, settings: Settings, overrides: dict | None = None) -> ExperimentConfig:
    """The setup shared by every model (a small UNet: this is a CPU box), then the `--set` overrides."""
    base = {"data": {"store": str(store), "batch_size": settings.batch_size, "val_subset": settings.val_patches},
            "model": {"unet": {"base_channels": 16, "channel_mults": [1, 2], "attention_levels": [],
                               "time_embed_dim": 64, "groups": 4}},
            "diffusion": {"timesteps": 200}, "sampling": {"steps": 10},
            "ema": {"decay": 0.99, "warmup_steps": 20},
            "training": {"lr": 1e-3, "lr_schedule": "constant"},
            "ae": {"training": {"max_epochs": settings.ae_max_epochs, "batch_size": settings.ae_batch_size}}}
    return replace_dotted(from_dict(ExperimentConfig, base, "benchmarks/latent.py"), overrides or {})


# --- 1. codes: the learned AE beside the PCA of its width -----------------------------------
@dataclass
class TrainedCodec:
    system: AutoencoderSystem
    scores: dict[str, float]
    seconds: float
    epochs: int

    def codec(self, which: str) -> Codec:
        return self.system.pca if which == "pca" else self.system.autoencoder


def train_codec(cfg: ExperimentConfig, train: DataLoader, val: DataLoader, norm, depth) -> TrainedCodec:
    """Fit the PCA, start the AE from it, train it like `depthdif train ae`; CPU time includes the fit."""
    torch.manual_seed(0)
    start = time.process_time()
    system = AutoencoderSystem.for_training(cfg, norm, depth)
    trainer = pl.Trainer(max_epochs=system.max_epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         gradient_clip_val=cfg.training.grad_clip)
    trainer.fit(system, train, val)
    seconds = time.process_time() - start
    scores = trainer.validate(system, val, verbose=False)[0]
    return TrainedCodec(system.eval(), {k: float(v) for k, v in scores.items()}, seconds, trainer.current_epoch)


def codec_table(cfg: ExperimentConfig, train: DataLoader, val: DataLoader, settings: Settings,
                norm, depth) -> tuple[str, dict[str, TrainedCodec]]:
    """Markdown rows per codec (AE and PCA side by side), and every trained codec by name."""
    rows, trained = [], {}
    for name, overrides in CODECS:
        result = train_codec(replace_dotted(cfg, overrides), train, val, norm, depth)
        s, ae = result.scores, result.system.autoencoder
        ratio = len(depth) * settings.patch**2 / (ae.latent_channels * (settings.patch // ae.spatial_downsample) ** 2)
        bands = " | ".join(f"{s[f'val/ae_rmse_band/{b}']:.3f} ({s[f'val/pca_rmse_band/{b}']:.3f})" for b in BANDS)
        rows.append(f"| {name} | {ratio:.1f}x | {s['val/pca_rmse']:.3f} | {s['val/ae_rmse']:.3f} | "
                    f"{s['val/ae_rmse'] / s['val/pca_rmse']:.2f} | {bands} | {result.epochs} | {result.seconds:.0f} |")
        print(f"[latent bench] {name}: PCA {s['val/pca_rmse']:.4f}, AE {s['val/ae_rmse']:.4f} degC after "
              f"{result.epochs} epochs, {result.seconds:.0f} CPU-s", file=sys.stderr)
        trained[name] = result
    header = ("| code | compression | PCA ≤2000 m | AE ≤2000 m | AE / PCA | " + " | ".join(f"AE (PCA) {b}" for b in BANDS)
              + " | AE epochs | CPU-s |\n|---|---|---|---|---|" + "---|" * len(BANDS) + "---|---|")
    return header + "\n" + "\n".join(rows), trained


# --- 2. train-step time and memory ---------------------------------------------------------
def cost_batch(batch_size: int, n_levels: int, n_eo: int, size: int, seed: int = 0) -> dict:
    """A random batch at a realistic patch size (costs do not depend on the values).

    2% of columns observed over their top 40 levels, the bottom 5 levels below the sea floor.
    """
    g = torch.Generator().manual_seed(seed)
    shape = (batch_size, n_levels, size, size)
    columns = (torch.rand(batch_size, 1, size, size, generator=g) < 0.02).float()
    x_valid = columns * (torch.arange(n_levels) < 40).float().reshape(1, -1, 1, 1)
    y_valid = torch.ones(shape) * (torch.arange(n_levels) < n_levels - 5).float().reshape(1, -1, 1, 1)
    y = torch.randn(shape, generator=g) * y_valid
    return {"x": y * x_valid, "x_valid_mask": x_valid, "y": y, "y_valid_mask": y_valid,
            "eo": torch.randn(batch_size, n_eo, size, size, generator=g),
            "eo_valid_mask": torch.ones(batch_size, n_eo, size, size),
            "land_mask": torch.zeros(batch_size, 1, size, size),
            "patch_id": torch.arange(batch_size)}


def train_step(system, optimizer: torch.optim.Optimizer, batch: dict) -> None:
    """What `training_step` + Lightning's optimizer step do, without Lightning's overhead."""
    loss, _ = system.compute_loss(batch, system.denoiser, None)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if system.ema is not None:
        system.ema.update(system.denoiser)


def make_optimizer(system) -> torch.optim.Optimizer:
    return torch.optim.AdamW([p for p in system.parameters() if p.requires_grad], lr=system.cfg.training.lr)


def peak_step_bytes(system, optimizer: torch.optim.Optimizer, batch: dict) -> int:
    """Peak bytes allocated during one step (live-allocation curve from profiler memory events)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        train_step(system, optimizer, batch)
    live = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def step_cost_table(systems: dict, batch: dict, repeats: int) -> str:
    """Median step time and peak step memory of each system, as ratios to the first (pixel)."""
    optimizers = {name: make_optimizer(s) for name, s in systems.items()}
    for name, system in systems.items():  # warm-up: allocates optimizer state
        train_step(system, optimizers[name], batch)
    times = {name: [] for name in systems}
    for _ in range(repeats):
        for name, system in systems.items():
            start = time.process_time()
            train_step(system, optimizers[name], batch)
            times[name].append(time.process_time() - start)
    memory = {name: peak_step_bytes(s, optimizers[name], batch) for name, s in systems.items()}
    base = next(iter(systems))
    rows = []
    for name, system in systems.items():
        params = sum(p.numel() for p in system.denoiser.parameters())
        rows.append(f"| {name} | {tuple(system.model_space_shape(batch)[1:])} | {params / 1e3:.0f}k | "
                    f"{statistics.median(times[name]) / statistics.median(times[base]):.2f} | "
                    f"{memory[name] / memory[base]:.2f} |")
    return ("| model | diffused tensor (C, h, w) | denoiser params | step time / pixel | peak step memory / pixel |\n"
            "|---|---|---|---|---|\n" + "\n".join(rows))


# --- 3. same wall-clock budget -----------------------------------------------------------------
def train_for_budgets(systems: dict, budgets: dict, loader: DataLoader) -> dict:
    """Interleave steps until each system has spent its own budget; returns steps per system."""
    optimizers = {name: make_optimizer(s) for name, s in systems.items()}
    spent = {name: 0.0 for name in systems}
    steps = {name: 0 for name in systems}
    for system in systems.values():
        system.train()
    while any(spent[n] < budgets[n] for n in systems):
        for batch in loader:
            for name, system in systems.items():
                if spent[name] >= budgets[name]:
                    continue
                start = time.process_time()
                train_step(system, optimizers[name], batch)
                spent[name] += time.process_time() - start
                steps[name] += 1
    return steps


@torch.no_grad()
def diffusion_scores(system, loader: DataLoader) -> dict:
    """The validation protocol of `DiffusionSystem.validation_step` (withheld profiles, DDIM)."""
    system.eval()
    metrics = system.val_metrics
    metrics.reset()
    cfg = system.cfg
    for i, batch in enumerate(loader):
        held_in, withheld = withhold_for_scoring(batch, cfg.data)
        metrics.update(system.sample(held_in, seed=cfg.sampling.seed + i), batch, withheld)
    return {k: float(v) for k, v in metrics.compute().items()}


def budget_table(systems: dict, steps: dict, loader: DataLoader) -> str:
    cols = [f"{target} {b}" for target in ("withheld", "full") for b in BANDS]
    rows = []
    for name, system in systems.items():
        s = diffusion_scores(system, loader)
        values = [s[f"rmse_{t}_band/{b}"] for t in ("withheld", "full") for b in BANDS]
        rows.append(f"| {name} | {steps[name]} | " + " | ".join(f"{v:.3f}" for v in values)
                    + f" | {s['rmse_withheld']:.3f} | {s['rmse_full']:.3f} |")
        print(f"[latent bench] {name}: {steps[name]} steps, withheld {s['rmse_withheld']:.3f} degC", file=sys.stderr)
    return ("| model | steps | " + " | ".join(cols) + " | withheld ≤2000 m | full ≤2000 m |\n"
            "|---|---|" + "---|" * (len(cols) + 2) + "\n" + "\n".join(rows))


# --- driver ------------------------------------------------------------------------------------
@dataclass
class Figures:
    """What one run measured, ready to render."""

    codec_md: str
    cost_md: str
    budget_md: str
    codec_seconds: dict[str, float]
    n_train: int
    n_val: int


def make_data(settings: Settings, workdir: Path) -> tuple[PatchDataset, PatchDataset]:
    """A 50-level synthetic store and its (train, fixed val subset) datasets, held in memory."""
    store = workdir / "bench50.zarr"
    synth = SynthConfig(nlat=settings.grid, nlon=settings.grid, ntime=settings.ntime, n_levels=50,
                        patch_size=settings.patch, stride=settings.patch, obs_fraction=0.02, seed=0)
    make_synthetic_store(synth, store, progress=False, overwrite=True)
    val_ids = PatchDataset(store, "val").patch_ids[: settings.val_patches].tolist()
    return PatchDataset(store, "train", in_memory=True), PatchDataset(store, "val", in_memory=True, patch_ids=val_ids)


def loader(dataset: PatchDataset, batch_size: int, shuffle: bool = False) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


def run(settings: Settings, workdir: Path, overrides: dict | None = None) -> Figures:
    train_set, val_set = make_data(settings, workdir)
    norm, depth = train_set.normalization, train_set.depth
    cfg = experiment_config(train_set.store_path, settings, overrides)
    val = loader(val_set, settings.batch_size)
    codec_md, codecs = codec_table(cfg, loader(train_set, cfg.ae.training.batch_size, shuffle=True), val,
                                   settings, norm, depth)
    latent_cfgs = {name: replace_dotted(cfg, {"ae.kind": "pca" if which == "pca"
                                              else "learned", **dict(CODECS)[code]})
                   for name, (code, which) in LATENTS.items()}

    def systems(names) -> dict:
        torch.manual_seed(0)
        out = {"pixel": PixelDiffusionSystem(cfg, norm, depth)}
        out.update({name: LatentDiffusionSystem(latent_cfgs[name], norm, depth,
                                                autoencoder=codecs[LATENTS[name][0]].codec(LATENTS[name][1]))
                    for name in names})
        return out

    batch = cost_batch(settings.cost_batch, len(depth), len(norm.eo_channels), settings.cost_patch)
    cost_md = step_cost_table(systems(LATENTS), batch, settings.step_repeats)
    competing = systems(BUDGET_ROWS)
    steps = train_for_budgets(competing, {name: settings.budget_s for name in competing},
                              loader(train_set, settings.batch_size, shuffle=True))
    return Figures(codec_md, cost_md, budget_table(competing, steps, val),
                   {name: codecs[name].seconds for name in {LATENTS[n][0] for n in BUDGET_ROWS}},
                   len(train_set), len(val_set))


def render(settings: Settings, f: Figures, quick: bool, overrides: dict) -> str:
    codec_time = ", ".join(f"{seconds:.0f} CPU-s for {name} (PCA fit + AE training)"
                           for name, seconds in f.codec_seconds.items())
    sets = "".join(f" --set {k}={v}" for k, v in overrides.items())
    return "\n\n".join([
        f"## Depth-band codes (PCA and AE) and latent vs pixel diffusion (50 levels)\n\n"
        f"`python -m depthdif.benchmarks.latent{' --quick' if quick else ''}{sets}` - {machine_line()}",
        f"Synthetic store: {settings.grid}x{settings.grid} grid, {settings.ntime} time steps, 50 GLORYS levels, "
        f"{settings.patch}² patches, obs_fraction 0.02, seed 0; {f.n_train} train patches, scored on "
        f"{f.n_val} val patches. RMSE in °C, pooled over valid entries (`ReconstructionMetrics`).",
        f"### Reconstruction of y: learned AE beside the PCA of the same width\n\n{f.codec_md}\n\n"
        "PCA: EOFs of the per-depth standardized columns (EM fit over the levels cut by the sea floor; "
        "partial columns encoded by least squares on their valid levels), `ae.kind: pca`. AE: "
        "`ae.kind: learned`, hidden [64, 96, 128] / [128, 96, 64], started as that PCA (linear paths = "
        "EOFs, residual paths zeroed), AdamW 1e-3, masked MSE, batch 16 patches, LR halved after 5 "
        f"validations without a new best val/ae_rmse, stopped after 15 (at most {settings.ae_max_epochs} "
        f"epochs, {K3_MAX_EPOCHS} for k3). k1 = 1x1 per-column codec, k3 = 3x3 spatial, s2 = 2x2 blocks (latent grid halved; its "
        "PCA is the PCA of 2x2x50 blocks). Compression = input values / latent values.",
        f"### Train-step cost at 50 levels (batch {settings.cost_batch}, {settings.cost_patch}² random patches, "
        f"median of {settings.step_repeats} interleaved steps)\n\n{f.cost_md}\n\nSame UNet (base 16, mults "
        "[1, 2]) and condition for all; the codec is frozen (its encode, gap filling included, is part of "
        "the latent step). Memory = peak bytes allocated during one step after warm-up (profiler memory "
        "events), not counting weights and optimizer state allocated earlier.",
        f"### Same budget: RMSE per depth band after {settings.budget_s:.0f} CPU-seconds of training\n\n"
        f"{f.budget_md}\n\nBudget per model: {settings.budget_s:.0f} s of CPU time in diffusion training "
        f"steps (one thread). The codec is made once before and shared by every latent run ({codec_time}). "
        "Scored like `val/rmse_*`: DDIM 10 steps from the EMA denoiser, 20% of profiles withheld (seed "
        "1234). A short budget on a CPU: compare the rows, not these numbers with converged models.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, "tiny budgets (a smoke run, a few minutes)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override the shared experiment config by dotted key (repeatable)")
    args = parser.parse_args(argv)
    overrides = dict(parse_override(text) for text in args.overrides)
    settings = Settings.quick() if args.quick else Settings()
    torch.set_num_threads(1)  # CPU-time budgets: see the module docstring
    with tempfile.TemporaryDirectory(prefix="depthdif-latent-bench-") as tmp:
        markdown = render(settings, run(settings, Path(tmp), overrides), args.quick, overrides)
    publish(SECTION, markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
