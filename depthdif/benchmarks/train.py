"""Training throughput: the step's implementation, and PyTorch vs Lightning vs Ray Train.

    python -m depthdif.benchmarks.train [--quick] [--part step|backends|all]

Part `step` (section `train_step`): the quickstart model (studies/configs/quickstart.yaml on the
quickstart store) trained in process with `training.fused_step: false` (the per-tensor AdamW,
clipping and EMA and per-step logging the system used before) and `true` (fused AdamW, foreach
clipping, foreach-lerp EMA, epoch-mean logging), interleaved run by run. Throughput is samples per
CPU-second of the training process (one intra-op thread, loader in process), measured by a
callback around each epoch: on a shared box other jobs stretch wall time, not a process's CPU
time. Both variants see the same data in the same order and end at the same loss.

Part `backends` (section `train`):
The same model (a small pixel diffusion UNet), the same Zarr store and the same loaders in every
variant; samples/s are measured over the epochs after the first (warm-up), from inside the
training process, so the one-off costs (Ray start, TorchTrainer and worker-group start, imports,
store open) are reported separately rather than mixed into the throughput:
(a) a plain PyTorch loop (forward, loss, backward, clip, AdamW, EMA: what the system does);
(b) Lightning alone (`depthdif.train.run`, in_process backend: our full callback stack);
(c) Lightning under Ray Train, 1 worker (ray backend: DDP strategy, `ray.train.report` per epoch);
(d) the same with 2 workers (2 CPU processes on this machine: global samples/s).
Only ratios measured in one run are claimed; this box is shared, absolute times are noise.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig

REPO = Path(__file__).resolve().parents[2]
MODEL = {  # the default UNet (base 32, mults [1, 2, 2], attention at the lowest level)
    "data": {"batch_size": 8, "val_subset": 2},
    "diffusion": {"timesteps": 100},
    "sampling": {"steps": 2},
    "training": {"lr": 1e-3, "lr_schedule": "constant", "val_every_n_epochs": 1000,
                 "checkpoint_every_n_epochs": 1000},
    "ray": {"cpus_per_worker": 1.0},
}


def make_store(folder: Path, quick: bool) -> Path:
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    path = folder / "bench.zarr"
    size = SynthConfig(nlat=64, nlon=64, ntime=6 if quick else 12, n_levels=16, patch_size=16, stride=8, seed=0)
    make_synthetic_store(size, path, progress=False)
    return path


def bench_config(store: Path, epochs: int) -> ExperimentConfig:
    cfg = from_dict(ExperimentConfig, MODEL, "depthdif/benchmarks/train.py")
    return replace_dotted(cfg, {"data.store": str(store), "training.max_epochs": epochs})


def epoch_seconds(run_dir: Path) -> list[float]:
    """Per-epoch training seconds from the cumulative `cost/train_seconds` in metrics.jsonl."""
    from depthdif.train.run_dir import RunDir

    cumulative = [row["cost/train_seconds"] for row in RunDir(run_dir).metrics()]
    return [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]


def plain_pytorch(cfg: ExperimentConfig) -> list[float]:
    """(a) The same system's loss in a hand-written loop: per-epoch seconds."""
    from depthdif.train.datamodule import make_loaders
    from depthdif.train.callbacks import seed_all
    from depthdif.train.optim_step import adamw, clip_gradients
    from depthdif.train.systems import build_system, store_meta

    seed_all(cfg.training.seed)
    system = build_system("pixel", cfg, store_meta(cfg)).train()
    loader, _ = make_loaders(cfg, kind="pixel")
    params = [p for p in system.parameters() if p.requires_grad]
    optimizer = adamw(params, lr=cfg.training.lr, weight_decay=cfg.training.weight_decay,
                      fused_step=cfg.training.fused_step)  # the step (b)-(d) take
    times = []
    for epoch in range(cfg.training.max_epochs):
        loader.sampler.set_epoch(epoch)
        start = time.perf_counter()
        for batch in loader:
            loss, _ = system.compute_loss(batch, system.denoiser, None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(optimizer, cfg.training.grad_clip, "norm", foreach=cfg.training.fused_step)
            optimizer.step()
            if system.ema is not None:
                system.ema.update(system.denoiser)
        times.append(time.perf_counter() - start)
    return times


def lightning_alone(cfg: ExperimentConfig, run_dir: Path) -> list[float]:
    """(b) the in_process backend: Lightning with our callbacks, no Ray."""
    from depthdif.train import run

    run("pixel", cfg, run_dir, resume=False, progress=False).raise_for_status()
    return epoch_seconds(run_dir)


def under_ray(cfg: ExperimentConfig, run_dir: Path, workers: int) -> tuple[list[float], float]:
    """(c)/(d) the ray backend with `workers` Ray Train workers: per-epoch seconds, fit wall time."""
    from depthdif.train import run

    start = time.perf_counter()
    run("pixel", replace_dotted(cfg, {"ray.num_workers": workers}), run_dir, backend="ray",
        progress=False).raise_for_status()
    return epoch_seconds(run_dir), time.perf_counter() - start


# --- part `step`: the reference step vs the fused step on the quickstart model ---------------
STEP_VARIANTS = {"reference": False, "fused": True}  # training.fused_step


class EpochCpu(pl.Callback):
    """CPU seconds (this process) and wall seconds of every training epoch."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.cpu.append(time.process_time() - self._cpu)
        self.wall.append(time.perf_counter() - self._wall)


def quickstart_config(folder: Path, epochs: int) -> tuple[ExperimentConfig, int]:
    """The quickstart study's model and store (synthesized as the study would), no validation."""
    import yaml

    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    study = yaml.safe_load((REPO / "studies" / "quickstart.yaml").read_text())
    store = folder / "quickstart.zarr"
    make_synthetic_store(from_dict(SynthConfig, study["data"]["synthetic"], "studies/quickstart.yaml"), store,
                         progress=False)
    cfg = from_dict(ExperimentConfig, yaml.safe_load((REPO / "studies" / "configs" / "quickstart.yaml").read_text()),
                    "studies/configs/quickstart.yaml")
    cfg = replace_dotted(cfg, {"data.store": str(store), "data.num_workers": 0, "training.max_epochs": epochs,
                               "training.val_every_n_epochs": 1000, "training.checkpoint_every_n_epochs": 1000})
    return cfg, cfg.data.batch_size * cfg.training.limit_train_batches


def step_run(cfg: ExperimentConfig, run_dir: Path, fused: bool) -> tuple[EpochCpu, float]:
    """One in-process training run; its per-epoch CPU/wall seconds and its last train/loss."""
    from depthdif.train.loop import Placement, train_process
    from depthdif.train.run_dir import RunDir

    timer = EpochCpu()

    def add_timer(trainer: pl.Trainer) -> pl.Trainer:
        trainer.callbacks.append(timer)
        return trainer

    outcome = train_process("pixel", replace_dotted(cfg, {"training.fused_step": fused}), RunDir(run_dir), Placement(),
                            lambda metrics, staged: None, None, progress=False, wrap_trainer=add_timer)
    return timer, float(outcome["metrics"]["train/loss"])


def run_step(quick: bool) -> dict:
    """Reference and fused runs, interleaved (AB, BA, ...); epoch 1 of each run is warm-up."""
    torch.set_num_threads(1)
    reps, epochs = (2, 3) if quick else (4, 5)
    out: dict = {"reps": reps, "epochs": epochs, **{name: {"cpu": [], "wall": [], "loss": []} for name in STEP_VARIANTS}}
    with tempfile.TemporaryDirectory(prefix="depthdif-bench-step-") as tmp:
        cfg, out["samples_per_epoch"] = quickstart_config(Path(tmp), epochs)
        for rep in range(reps):
            order = list(STEP_VARIANTS) if rep % 2 == 0 else list(reversed(STEP_VARIANTS))
            for name in order:
                timer, loss = step_run(cfg, Path(tmp) / f"{name}-{rep}", STEP_VARIANTS[name])
                out[name]["cpu"] += timer.cpu[1:]
                out[name]["wall"] += timer.wall[1:]
                out[name]["loss"].append(loss)
                print(f"step {name} rep {rep}: cpu/epoch {[round(c, 3) for c in timer.cpu]}", file=sys.stderr)
    for name in STEP_VARIANTS:
        out[name]["samples_per_cpu_s"] = out["samples_per_epoch"] / statistics.median(out[name]["cpu"])
        out[name]["samples_per_s"] = out["samples_per_epoch"] / statistics.median(out[name]["wall"])
    return out


def step_markdown(r: dict, quick: bool) -> str:
    ref, fused = r["reference"], r["fused"]
    rows = "\n".join(
        f"| {name} | {v['samples_per_cpu_s']:.1f} | {v['samples_per_cpu_s'] / ref['samples_per_cpu_s']:.2f} "
        f"| {v['samples_per_s']:.1f} | {v['samples_per_s'] / ref['samples_per_s']:.2f} | {v['loss'][-1]:.5f} |"
        for name, v in (("reference (`training.fused_step: false`)", ref), ("fused (default)", fused)))
    return f"""## Training step: reference vs fused (`python -m depthdif.benchmarks.train --part step{' --quick' if quick else ''}`)

{machine_line()}. The quickstart model (`studies/configs/quickstart.yaml`: UNet base 16, mults [1, 2],
ambient objective, batch 4, 16 levels, 16x16 windows) on the quickstart store, trained in process with
the loader in process and one intra-op thread; {r['reps']} runs per variant, interleaved, {r['epochs']}
epochs of {r['samples_per_epoch']} samples each (the first epoch of a run is warm-up and dropped),
no validation. Samples per CPU-second: this process's CPU time per epoch (median over epochs and
runs); other jobs on the shared box stretch wall time, not CPU time, so the CPU ratio is the claim
and the wall ratio is shown beside it. Reference = per-tensor AdamW, Lightning's per-tensor gradient
clipping, a state_dict EMA update and four `self.log` calls per step (the path before issue 15);
fused = fused AdamW, foreach clipping, one `torch._foreach_lerp_` EMA update over tensor slots walked
once, epoch means logged once per epoch. Goal: >= 1.2x.

| variant | samples / CPU-s | ratio | samples / s (wall) | ratio | last train/loss |
|---|---|---|---|---|---|
{rows}

Both variants draw the same batches and noise; their losses agree to rounding (the numbers are
compared in `tests/train/test_fused_step.py`).
"""


def samples_per_second(times: list[float], samples_per_epoch: int) -> float:
    """From the fastest epoch after the first (warm-up): other jobs on a shared box only ever
    add time, so the best epoch is the least disturbed estimate of a variant's own cost."""
    steady = times[1:] or times
    return samples_per_epoch / min(steady)


def run(quick: bool) -> dict:
    import ray

    # One intra-op thread everywhere: Ray gives each 1-CPU worker OMP_NUM_THREADS=1, and on a
    # loaded 2-core box thread over-subscription would otherwise dominate every ratio.
    torch.set_num_threads(1)
    epochs = 3 if quick else 6
    with tempfile.TemporaryDirectory(prefix="depthdif-bench-train-") as tmp:
        folder = Path(tmp)
        cfg = bench_config(make_store(folder, quick), epochs)
        from depthdif.train.datamodule import make_loaders

        n = len(make_loaders(cfg, kind="pixel")[0].dataset)
        out: dict = {"epochs": epochs, "train_samples": n}
        print(f"benchmark: {n} training patches, {epochs} epochs per variant", file=sys.stderr)
        # (a) runs before and after every other variant: each ratio is paired with the mean of
        # its two neighbouring (a) runs, which cancels slow drifts of the shared machine's load.
        plain = [samples_per_second(plain_pytorch(cfg), n)]
        out["b_lightning"] = samples_per_second(lightning_alone(cfg, folder / "b"), n)
        plain.append(samples_per_second(plain_pytorch(cfg), n))
        start = time.perf_counter()
        # Keep the dashboard: without its State API, Ray 2.60's PlacementGroupCleaner can drop
        # a live run's placement group (seen here: the worker was killed as training ended).
        ray.init(address="local", num_cpus=2, log_to_driver=False)
        out["ray_init_s"] = time.perf_counter() - start
        times, wall = under_ray(cfg, folder / "runs" / "c", 1)
        out["c_ray_1"] = samples_per_second(times, n)
        out["c_overhead_s"] = wall - sum(times)
        plain.append(samples_per_second(plain_pytorch(cfg), n))
        times, wall = under_ray(cfg, folder / "runs" / "d", 2)
        out["d_ray_2"] = samples_per_second(times, n)
        out["d_overhead_s"] = wall - sum(times)
        ray.shutdown()
        plain.append(samples_per_second(plain_pytorch(cfg), n))
        out["a_plain_runs"] = plain
        for i, key in enumerate(("b_lightning", "c_ray_1", "d_ray_2")):
            out[f"{key}_time_ratio"] = statistics.mean(plain[i:i + 2]) / out[key]
    return out


def markdown(r: dict, quick: bool) -> str:
    plain = r["a_plain_runs"]
    rows = [("(b) Lightning alone", "b_lightning"), ("(c) Lightning + Ray Train, 1 worker", "c_ray_1"),
            ("(d) Lightning + Ray Train, 2 workers", "d_ray_2")]
    table = "\n".join(f"| {name} | {r[key]:.1f} | {r[key + '_time_ratio']:.2f} |" for name, key in rows)
    return f"""## Training throughput: PyTorch vs Lightning vs Ray Train (`python -m depthdif.benchmarks.train --part backends{' --quick' if quick else ''}`)

{machine_line()}. Pixel diffusion with the default UNet (16 levels, 16x16 patches, batch 8), the
same Zarr loaders, {r['train_samples']} training patches, {r['epochs']} epochs per variant, one
intra-op thread per process; samples/s is from the fastest of epochs 2..N (other jobs only
add time), measured inside the training process. The plain PyTorch loop (a) runs before and after each other variant; a variant's
time ratio is its time per sample over the mean of its two neighbouring (a) runs (goal for (c):
<= 1.10). The box is shared with other jobs: only the paired ratios of one run mean anything.

| variant | samples/s | time ratio vs (a) |
|---|---|---|
| (a) plain PyTorch loop, 4 runs | {' / '.join(f'{p:.1f}' for p in plain)} | 1.00 |
{table}

One-off costs, not in the ratios: `ray.init` {r['ray_init_s']:.1f} s; TorchTrainer start + worker
imports + teardown (fit wall time minus training time): {r['c_overhead_s']:.1f} s with 1 worker,
{r['d_overhead_s']:.1f} s with 2. 2 workers vs 1: {r['d_ray_2'] / r['c_ray_1']:.2f}x the samples/s
(DDP over gloo, one thread per worker, on 2 cores shared with other jobs).
"""


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, "fewer runs and epochs")
    parser.add_argument("--part", choices=("step", "backends", "all"), default="all")
    args = parser.parse_args(argv)
    if args.part in ("step", "all"):
        result = run_step(args.quick)
        print(json.dumps({k: v for k, v in result.items()}, indent=1, default=str))
        publish("train_step", step_markdown(result, args.quick), write=not args.no_write)
    if args.part in ("backends", "all"):
        result = run(args.quick)
        print(json.dumps(result, indent=2))
        publish("train", markdown(result, args.quick), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
