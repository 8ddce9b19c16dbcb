"""Training throughput: plain PyTorch vs Lightning vs Lightning under Ray Train (1 and 2 workers).

    python -m depthdif.benchmarks.train [--quick] [--kind pixel]

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

import torch

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig

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
    from depthdif.train.systems import build_system, store_meta

    seed_all(cfg.training.seed)
    system = build_system("pixel", cfg, store_meta(cfg)).train()
    loader, _ = make_loaders(cfg, kind="pixel")
    params = [p for p in system.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.training.lr, weight_decay=cfg.training.weight_decay)
    times = []
    for epoch in range(cfg.training.max_epochs):
        loader.sampler.set_epoch(epoch)
        start = time.perf_counter()
        for batch in loader:
            loss, _ = system.compute_loss(batch, system.denoiser, None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.training.grad_clip)
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
    return f"""## Training throughput: PyTorch vs Lightning vs Ray Train (`python -m depthdif.benchmarks.train{' --quick' if quick else ''}`)

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
    args = benchmark_parser(__doc__, "smaller store, 3 epochs per variant").parse_args(argv)
    result = run(args.quick)
    print(json.dumps(result, indent=2))
    publish("train", markdown(result, args.quick), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
