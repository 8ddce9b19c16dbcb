"""GPU readiness: samples/s on 1 and N GPUs, bf16 vs fp32, through the real training entry points.

    python -m depthdif.benchmarks.gpu_check             # on a GPU machine: writes the `gpu` section
    python -m depthdif.benchmarks.gpu_check --quick --no-write   # tiny, runs unchanged on a CPU (CI)

Device `auto` uses CUDA when available, else the CPU. For each precision (`32-true`, `bf16-mixed`)
one device trains in process (`loop.train_process`, the training process every backend runs),
and with N > 1 GPUs the ray backend trains on N workers with one GPU each (`depthdif.train.run`,
DDP through Ray Train). Samples/s come from the fastest epoch after the first (warm-up: CUDA
context, cuDNN autotuning, worker start), so start-up costs stay out; on a GPU each epoch's time
ends with a device synchronize. The CPU mode (the CI test) runs a tiny model for 2 epochs and
checks that every code path runs; its numbers are not claims.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig

PRECISIONS = ("32-true", "bf16-mixed")
GPU_MODEL = {  # the default UNet on 50 levels and 64x64 windows: enough work per step for a GPU
    "data": {"batch_size": 32, "val_subset": 2, "in_memory": True, "num_workers": 6},
    "diffusion": {"timesteps": 1000},
    "training": {"lr": 1e-3, "lr_schedule": "constant", "val_every_n_epochs": 1000,
                 "checkpoint_every_n_epochs": 1000},
    "ray": {"cpus_per_worker": 4.0, "gpus_per_worker": 1.0},
}
TINY_MODEL = {
    "data": {"batch_size": 4, "val_subset": 2, "num_workers": 0},
    "model": {"unet": {"base_channels": 8, "channel_mults": [1, 2], "attention_levels": [], "time_embed_dim": 16,
                       "groups": 4, "attention_heads": 1}},
    "diffusion": {"timesteps": 20},
    "training": {"lr": 1e-3, "lr_schedule": "constant", "val_every_n_epochs": 1000,
                 "checkpoint_every_n_epochs": 1000, "limit_train_batches": 4},
    "ray": {"cpus_per_worker": 1.0},
}


GPU_DESCRIPTION = ("the default UNet (base 32, mults [1, 2, 2], attention), 50 levels, 64x64 windows, batch 32 per "
                   "device, in-memory reads with 6 loader workers per device")
TINY_DESCRIPTION = "a tiny UNet (base 8, mults [1, 2]), 8 levels, 16x16 windows, batch 4 (CPU smoke mode: not a claim)"


class EpochTimer(pl.Callback):
    """Wall seconds of every training epoch, the device synchronized at its end."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds.append(time.perf_counter() - self._start)


def make_config(folder: Path, gpu: bool, epochs: int) -> tuple[ExperimentConfig, int]:
    """The benchmark model and a synthetic store for it; also the samples of one epoch."""
    from depthdif.data.synthetic import SynthConfig, make_synthetic_store

    size = (dict(nlat=256, nlon=256, ntime=12, n_levels=50, patch_size=64, stride=32) if gpu
            else dict(nlat=48, nlon=48, ntime=3, n_levels=8, patch_size=16, stride=16))
    store = folder / "store.zarr"
    make_synthetic_store(SynthConfig(**size, seed=0), store, progress=False)
    cfg = from_dict(ExperimentConfig, GPU_MODEL if gpu else TINY_MODEL, "depthdif/benchmarks/gpu_check.py")
    cfg = replace_dotted(cfg, {"data.store": str(store), "training.max_epochs": epochs})
    from depthdif.train.datamodule import make_loaders

    loader = make_loaders(cfg)[0]
    batches = min(len(loader), cfg.training.limit_train_batches or len(loader))
    return cfg, min(len(loader.dataset), batches * cfg.data.batch_size)


def one_device(cfg: ExperimentConfig, run_dir: Path, precision: str, gpu: bool) -> list[float]:
    """Per-epoch seconds of one in-process training on one device."""
    from depthdif.train.loop import Placement, train_process
    from depthdif.train.run_dir import RunDir

    timer = EpochTimer()

    def add_timer(trainer: pl.Trainer) -> pl.Trainer:
        trainer.callbacks.append(timer)
        return trainer

    placement = Placement(accelerator="gpu" if gpu else "cpu", devices=1)
    train_process("pixel", replace_dotted(cfg, {"training.precision": precision}), RunDir(run_dir), placement,
                  lambda metrics, staged: None, None, progress=False, wrap_trainer=add_timer)
    return timer.seconds


def many_devices(cfg: ExperimentConfig, run_dir: Path, precision: str, n: int) -> list[float]:
    """Per-epoch seconds of the ray backend on n GPU workers (global throughput)."""
    from depthdif.benchmarks.train import epoch_seconds
    from depthdif.train import run

    run("pixel", replace_dotted(cfg, {"training.precision": precision, "ray.num_workers": n}), run_dir,
        backend="ray", resume=False, progress=False).raise_for_status()
    return epoch_seconds(run_dir)


def run_check(device: str = "auto", quick: bool = False) -> dict:
    """Every (devices, precision) row: samples/s and the ratio to one device in fp32."""
    gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if gpu and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device is visible to torch")
    counts = [1] + ([torch.cuda.device_count()] if gpu and torch.cuda.device_count() > 1 else [])
    epochs = 2 if quick else 4
    out: dict = {"device": torch.cuda.get_device_name(0) if gpu else "cpu", "rows": [],
                 "model": GPU_DESCRIPTION if gpu else TINY_DESCRIPTION}
    with tempfile.TemporaryDirectory(prefix="depthdif-gpu-check-") as tmp:
        cfg, samples = make_config(Path(tmp), gpu, epochs)
        out["samples_per_epoch"] = samples
        if counts[-1] > 1:
            import ray

            ray.init(address="local", log_to_driver=False)
        try:
            for n in counts:
                for precision in PRECISIONS:
                    folder = Path(tmp) / "runs" / f"{n}-{precision}"
                    seconds = (one_device(cfg, folder, precision, gpu) if n == 1
                               else many_devices(cfg, folder, precision, n))
                    rate = samples / min(seconds[1:] or seconds)
                    out["rows"].append({"devices": n, "precision": precision, "samples_per_s": rate})
                    print(f"{n} x {out['device']} {precision}: {rate:.1f} samples/s", file=sys.stderr)
        finally:
            if counts[-1] > 1:
                ray.shutdown()
    base = out["rows"][0]["samples_per_s"]
    for row in out["rows"]:
        row["ratio"] = row["samples_per_s"] / base
    return out


def markdown(r: dict, quick: bool) -> str:
    rows = "\n".join(f"| {row['devices']} | {row['precision']} | {row['samples_per_s']:.1f} | {row['ratio']:.2f} |"
                     for row in r["rows"])
    return f"""## GPU readiness: samples/s by devices and precision (`python -m depthdif.benchmarks.gpu_check{' --quick' if quick else ''}`)

{machine_line()}; device: {r['device']}. Pixel diffusion, {r['model']};
{r['samples_per_epoch']} samples per epoch, samples/s from the fastest epoch after the first.
One device trains in process; N devices train through the ray backend (DDP, one GPU per worker).
Ratios are against one device in fp32 of this run.

| devices | precision | samples/s | ratio |
|---|---|---|---|
{rows}
"""


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, "tiny store, 2 epochs (what CI runs on a CPU)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    args = parser.parse_args(argv)
    result = run_check(args.device, args.quick)
    print(json.dumps(result, indent=1))
    publish("gpu", markdown(result, args.quick), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
