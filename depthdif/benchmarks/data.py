"""Data-layer benchmark: synth time and store size.

    python -m depthdif.benchmarks.data            # default-size store (~1 min on 2 busy cores)
    python -m depthdif.benchmarks.data --quick    # smaller store (~20 s)

Loader throughput (Zarr vs RAM, chunk-aware shuffling) is `python -m depthdif.benchmarks.loader`
and how real the synthetic ocean is `python -m depthdif.benchmarks.realism` (their own sections).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from depthdif.benchmarks.report import machine_line, update_section
from depthdif.data.synthetic import SynthConfig, make_synthetic_store


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024**2


def bench_synth(cfg: SynthConfig, out: Path) -> dict:
    start = time.perf_counter()
    make_synthetic_store(cfg, out, overwrite=True, progress=False)
    return {"seconds": time.perf_counter() - start, "size_mb": dir_size_mb(out),
            "raw_mb": cfg.ntime * cfg.nlat * cfg.nlon * cfg.n_levels * 4 * 2 / 1024**2}


def render(synth: dict, cfg: SynthConfig, quick: bool) -> str:
    return "\n".join([
        f"`python -m depthdif.benchmarks.data{' --quick' if quick else ''}` ({machine_line()}; the 2 cores "
        "are shared with other jobs, so this time is indicative only).", "",
        f"### Synthetic store ({cfg.nlat}x{cfg.nlon}, {cfg.ntime} steps, {cfg.n_levels} levels, "
        f"{cfg.patch_size}x{cfg.patch_size} windows)", "",
        f"- `make_synthetic_store` (synthesize + validate + index + stats + write): {synth['seconds']:.1f} s",
        f"- store on disk: {synth['size_mb']:.0f} MB (y and x alone are {synth['raw_mb']:.0f} MB as raw float32;"
        " zstd + CRC32C, every chunk written)", "",
        "Loader throughput: section `loader`; realism of the synthetic ocean: section `realism`."])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller store")
    parser.add_argument("--no-report", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    cfg = SynthConfig(nlat=128, nlon=128, ntime=6) if args.quick else SynthConfig()
    tmp = Path(tempfile.mkdtemp(prefix="depthdif-bench-data-"))
    try:
        print(f"synthesizing {cfg.nlat}x{cfg.nlon}x{cfg.ntime}x{cfg.n_levels} ...", file=sys.stderr)
        synth = bench_synth(cfg, tmp / "bench.zarr")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(synth, cfg, args.quick)
    print(text)
    if not args.no_report:
        print(f"updated {update_section('data', text)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
