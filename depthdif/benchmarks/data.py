"""Data-layer benchmark: synth time and store size, Zarr-vs-RAM throughput.

    python -m depthdif.benchmarks.data            # default-size store (~1-3 min on 2 busy cores)
    python -m depthdif.benchmarks.data --quick    # smaller store, fewer epochs (~30 s)

Throughput is measured side by side in one run (a ratio, no absolute-time claims on a shared CPU
box): the same shuffled DataLoader (2 workers, persistent) over the same train windows, reading
either from Zarr (with the per-process chunk cache) or from arrays loaded into RAM. How real the
synthetic ocean is: `python -m depthdif.benchmarks.realism` (its own section).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from depthdif.benchmarks.report import machine_line, update_section
from depthdif.data.dataset import PatchDataset
from depthdif.data.synthetic import SynthConfig, make_synthetic_store



def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024**2


def bench_synth(cfg: SynthConfig, out: Path) -> dict:
    start = time.perf_counter()
    make_synthetic_store(cfg, out, overwrite=True, progress=False)
    return {"seconds": time.perf_counter() - start, "size_mb": dir_size_mb(out),
            "raw_mb": cfg.ntime * cfg.nlat * cfg.nlon * cfg.n_levels * 4 * 2 / 1024**2}


def epoch_rates(dataset, epochs: int, workers: int, batch_size: int = 16) -> list[float]:
    """Samples/s per epoch of a shuffled DataLoader with persistent workers (caches survive)."""
    import torch

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0,
                                         generator=torch.Generator().manual_seed(0))
    rates = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for batch in loader:
            n += batch["x"].shape[0]
        rates.append(n / (time.perf_counter() - start))
    return rates


def bench_throughput(store: Path, epochs: int, workers: int) -> dict:
    """Interleave the variants per repetition so background load hits them alike."""
    variants = {
        "zarr (chunk cache)": lambda: PatchDataset(store, "train"),
        "zarr (no cache)": lambda: PatchDataset(store, "train", cache_bytes=0),
        "in memory": lambda: PatchDataset(store, "train", in_memory=True),
    }
    return {name: epoch_rates(make(), epochs, workers) for name, make in variants.items()}


def render(synth: dict, cfg: SynthConfig, rates: dict, quick: bool, workers: int) -> str:
    mem = np.mean(rates["in memory"])
    mem_warm = np.mean(rates["in memory"][1:]) if len(rates["in memory"]) > 1 else mem
    lines = [
        f"`python -m depthdif.benchmarks.data{' --quick' if quick else ''}` ({machine_line()}; the 2 cores "
        "are shared with other jobs, so read ratios, not absolute times).", "",
        f"### Synthetic store ({cfg.nlat}x{cfg.nlon}, {cfg.ntime} steps, {cfg.n_levels} levels, "
        f"{cfg.patch_size}x{cfg.patch_size} windows)", "",
        f"- `make_synthetic_store` (synthesize + validate + index + stats + write): {synth['seconds']:.1f} s",
        f"- store on disk: {synth['size_mb']:.0f} MB (y and x alone are {synth['raw_mb']:.0f} MB as raw float32;"
        " zstd, every chunk written)", "",
        f"### Dataset throughput: Zarr windows vs the same arrays in RAM ({workers} DataLoader workers, "
        "batch 16, shuffled, persistent workers)", "",
        "| reader | epoch 1 (samples/s) | later epochs (samples/s) | ratio to RAM, all epochs | ratio, later epochs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in rates.items():
        later = np.mean(r[1:]) if len(r) > 1 else r[0]
        lines.append(f"| {name} | {r[0]:.0f} | {later:.0f} | {np.mean(r) / mem:.2f} | {later / mem_warm:.2f} |")
    lines += ["", "Goal: ratio >= 0.8. The chunk cache decodes each chunk once per worker (a 64x64 chunk "
              "serves four 32x32 windows), so epoch 1 pays the decode and later epochs read RAM.", "",
              "How real the synthetic ocean is: section `realism` (`python -m depthdif.benchmarks.realism`)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller store and fewer epochs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-report", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    cfg = SynthConfig(nlat=128, nlon=128, ntime=6) if args.quick else SynthConfig()
    tmp = Path(tempfile.mkdtemp(prefix="depthdif-bench-data-"))
    try:
        print(f"synthesizing {cfg.nlat}x{cfg.nlon}x{cfg.ntime}x{cfg.n_levels} ...", file=sys.stderr)
        synth = bench_synth(cfg, tmp / "bench.zarr")
        print(f"  {synth['seconds']:.1f} s, {synth['size_mb']:.0f} MB; throughput ...", file=sys.stderr)
        rates = bench_throughput(tmp / "bench.zarr", epochs=2 if args.quick else 3, workers=args.workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(synth, cfg, rates, args.quick, args.workers)
    print(text)
    if not args.no_report:
        print(f"updated {update_section('data', text)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
