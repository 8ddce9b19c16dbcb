"""Benchmark: depth-band AE and latent vs pixel diffusion at 50 levels (BENCHMARKS.md "latent").

`python -m depthdif.benchmarks.latent [--quick]` measures, in one run on one synthetic store:
1. AE reconstruction RMSE (degC, val split) by latent channels 4 / 8 / 12 / 16 (per-column codec),
   plus the spatial (3x3) and downsampled (s = 2) variants at 12 channels, after the same
   number of epochs;
2. latent vs pixel diffusion: training-step time (median over interleaved steps) and peak
   memory allocated during one step (PyTorch profiler memory events, the CPU analogue of
   `torch.cuda.max_memory_allocated`), as ratios to pixel diffusion;
3. RMSE per depth band (full field and withheld profiles) of latent vs pixel diffusion after the
   same wall-clock training budget; the latent model's budget includes its AE's training time.
Time is this process's CPU time (`time.process_time`) with one intra-op thread: on a box shared with
other jobs, wall time measures the neighbours' load, CPU time measures our work. Steps of competing
models are interleaved all the same. Only ratios and errors are reported, never absolute times.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.data import DataLoader

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset
from depthdif.data.synthetic import SynthConfig, make_synthetic_store
from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.evaluation.withheld import withhold_for_scoring
from depthdif.models.autoencoder import DepthBandAutoencoder, build_autoencoder, reconstruction_loss
from depthdif.train.latent import LatentDiffusionSystem
from depthdif.train.pixel import PixelDiffusionSystem

SECTION = "latent"
LATENT_CHANNELS = (4, 8, 12, 16)
BANDS = ("0-100m", "100-500m", "500-2000m")


@dataclass
class Settings:
    """Sizes of one benchmark run (`--quick` shrinks every budget)."""

    grid: int = 96
    ntime: int = 8
    patch: int = 16
    ae_epochs: int = 20
    step_repeats: int = 12
    budget_s: float = 45.0
    val_patches: int = 24
    batch_size: int = 8
    cost_patch: int = 64  # train-step cost is measured on larger (random) patches
    cost_batch: int = 4

    @classmethod
    def quick(cls) -> "Settings":
        return cls(grid=64, ntime=6, ae_epochs=3, step_repeats=3, budget_s=8.0, val_patches=8, cost_patch=32)


def experiment_config(store: Path, **overrides) -> ExperimentConfig:
    """The diffusion setup shared by both models (a small UNet: this is a CPU box)."""
    base = {"data": {"store": str(store), "batch_size": 8},
            "model": {"unet": {"base_channels": 16, "channel_mults": [1, 2], "attention_levels": [],
                               "time_embed_dim": 64, "groups": 4}},
            "diffusion": {"timesteps": 200}, "sampling": {"steps": 10},
            "ema": {"decay": 0.99, "warmup_steps": 20},
            "training": {"lr": 1e-3, "lr_schedule": "constant"}}
    return replace_dotted(from_dict(ExperimentConfig, base, "benchmarks/latent.py"), overrides)


# --- 1. autoencoder reconstruction -----------------------------------------------------------
def train_autoencoder(ae: DepthBandAutoencoder, loader: DataLoader, epochs: int, lr: float = 3e-3) -> float:
    """Plain Adam on the masked MSE (the `ae.loss` defaults); returns the wall time it took."""
    optimizer = torch.optim.Adam(ae.parameters(), lr=lr)
    start = time.process_time()
    ae.train()
    for _ in range(epochs):
        for batch in loader:
            valid = batch["y_valid_mask"]
            loss = reconstruction_loss(ae(batch["y"], valid), batch["y"] * valid, valid, l1_weight=0.0, l2_weight=1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    ae.eval()
    return time.process_time() - start


@torch.no_grad()
def autoencoder_scores(ae: DepthBandAutoencoder, loader: DataLoader, metrics: ReconstructionMetrics) -> dict:
    metrics.reset()
    for batch in loader:
        metrics.update(ae(batch["y"], batch["y_valid_mask"]), batch, torch.zeros_like(batch["x_valid_mask"]))
    return {k: float(v) for k, v in metrics.compute().items()}


def autoencoder_table(cfg: ExperimentConfig, train: DataLoader, val: DataLoader, metrics: ReconstructionMetrics,
                      settings: Settings, n_levels: int) -> tuple[str, dict[str, tuple[DepthBandAutoencoder, float]]]:
    """Markdown rows per AE variant, and every trained AE with its training CPU time, by name."""
    variants = [(f"k1 L{c}", {"latent_channels": c}) for c in LATENT_CHANNELS]
    variants += [("k3 L12", {"latent_channels": 12, "kernel_size": 3}),
                 ("k1 L12 s2", {"latent_channels": 12, "spatial_downsample": 2})]
    rows, trained = [], {}
    for name, overrides in variants:
        torch.manual_seed(0)
        ae_cfg = replace_dotted(cfg, {f"ae.{k}": v for k, v in overrides.items()}).ae
        ae = build_autoencoder(ae_cfg, n_levels)
        seconds = train_autoencoder(ae, train, settings.ae_epochs)
        scores = autoencoder_scores(ae, val, metrics)
        bands = " | ".join(f"{scores[f'rmse_full_band/{b}']:.3f}" for b in BANDS)
        ratio = n_levels * settings.patch**2 / (ae.latent_channels * (settings.patch // ae.spatial_downsample) ** 2)
        rows.append(f"| {name} | {ratio:.1f}x | {scores['rmse_full']:.3f} | {bands} |")
        print(f"[latent bench] AE {name}: rmse {scores['rmse_full']:.3f} degC", file=sys.stderr)
        trained[name] = (ae, seconds)
    header = ("| AE | compression | RMSE ≤2000 m | " + " | ".join(BANDS) + " |\n"
              "|---|---|---|" + "---|" * len(BANDS))
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

    ae_md: str
    cost_md: str
    budget_md: str
    ae_seconds: dict[str, float]
    n_train: int
    n_val: int


def make_data(settings: Settings, workdir: Path) -> tuple[DataLoader, DataLoader]:
    """A 50-level synthetic store and its (train, fixed val subset) loaders, held in memory."""
    store = workdir / "bench50.zarr"
    synth = SynthConfig(nlat=settings.grid, nlon=settings.grid, ntime=settings.ntime, n_levels=50,
                        patch_size=settings.patch, stride=settings.patch, obs_fraction=0.02, seed=0)
    make_synthetic_store(synth, store, progress=False, overwrite=True)
    train_set = PatchDataset(store, "train", in_memory=True)
    val_ids = PatchDataset(store, "val").patch_ids[: settings.val_patches].tolist()
    val_set = PatchDataset(store, "val", in_memory=True, patch_ids=val_ids)
    train = DataLoader(train_set, batch_size=settings.batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    return train, DataLoader(val_set, batch_size=settings.batch_size)


def run(settings: Settings, workdir: Path) -> Figures:
    train, val = make_data(settings, workdir)
    norm, depth = train.dataset.normalization, train.dataset.depth
    cfg = experiment_config(train.dataset.store_path)
    ev = cfg.evaluation
    metrics = ReconstructionMetrics(depth, norm.depth_mean, norm.depth_std, ev.max_depth_m, ev.depth_bands_m)
    ae_md, aes = autoencoder_table(cfg, train, val, metrics, settings, len(depth))
    latents = {"latent L12": "k1 L12", "latent L12 s2": "k1 L12 s2"}  # system name -> AE name

    def systems() -> dict:
        torch.manual_seed(0)
        out = {"pixel": PixelDiffusionSystem(cfg, norm, depth)}
        out.update({name: LatentDiffusionSystem(cfg, norm, depth, autoencoder=aes[ae][0])
                    for name, ae in latents.items()})
        return out

    batch = cost_batch(settings.cost_batch, len(depth), len(norm.eo_channels), settings.cost_patch)
    cost_md = step_cost_table(systems(), batch, settings.step_repeats)
    competing = systems()
    budgets = {"pixel": settings.budget_s}
    budgets.update({name: max(settings.budget_s - aes[ae][1], 0.0) for name, ae in latents.items()})
    steps = train_for_budgets(competing, budgets, train)
    return Figures(ae_md, cost_md, budget_table(competing, steps, val),
                   {ae: aes[ae][1] for ae in latents.values()}, len(train.dataset), len(val.dataset))


def render(settings: Settings, f: Figures, quick: bool) -> str:
    ae_time = ", ".join(f"{seconds:.1f} s for {name}" for name, seconds in f.ae_seconds.items())
    return "\n\n".join([
        f"## Depth-band autoencoder and latent vs pixel diffusion (50 levels)\n\n"
        f"`python -m depthdif.benchmarks.latent{' --quick' if quick else ''}` - {machine_line()}",
        f"Synthetic store: {settings.grid}x{settings.grid} grid, {settings.ntime} time steps, 50 GLORYS levels, "
        f"{settings.patch}² patches, obs_fraction 0.02, seed 0; {f.n_train} train patches, scored on "
        f"{f.n_val} val patches. RMSE in °C, pooled over valid entries (`ReconstructionMetrics`).",
        f"### AE reconstruction of y by latent size ({settings.ae_epochs} epochs each, Adam 3e-3, masked MSE, "
        f"hidden [64, 96, 128] / [128, 96, 64])\n\n{f.ae_md}\n\nk1 = 1x1 per-column codec, k3 = 3x3 spatial, "
        "s2 = 2x2 patch embedding (latent grid halved). Compression = input values / latent values.",
        f"### Train-step cost at 50 levels (batch {settings.cost_batch}, {settings.cost_patch}² random patches, "
        f"median of {settings.step_repeats} interleaved steps)\n\n{f.cost_md}\n\nSame UNet (base 16, mults "
        "[1, 2]) and condition for all; the AE is frozen (its encode is part of the latent step). Memory = "
        "peak bytes allocated during one step after warm-up (profiler memory events), not counting "
        "weights and optimizer state allocated earlier.",
        f"### Same budget: RMSE per depth band after {settings.budget_s:.0f} CPU-seconds of training\n\n"
        f"{f.budget_md}\n\nBudget per model: {settings.budget_s:.0f} s of CPU time in training steps (one "
        f"thread); a latent model spends part of it on its AE ({ae_time} in this run). Scored like "
        "`val/rmse_*`: DDIM 10 steps from the EMA denoiser, 20% of profiles withheld (seed 1234). A short "
        "budget on a CPU: compare the rows, not these numbers with converged models.",
    ])


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__, "tiny budgets (a smoke run, ~1 minute)").parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    torch.set_num_threads(1)  # CPU-time budgets: see the module docstring
    with tempfile.TemporaryDirectory(prefix="depthdif-latent-bench-") as tmp:
        markdown = render(settings, run(settings, Path(tmp)), args.quick)
    publish(SECTION, markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
