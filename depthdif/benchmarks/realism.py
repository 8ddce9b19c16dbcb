"""Realism of the synthetic ocean where it matters for reconstruction: real vs synthetic, side by side.

    python -m depthdif.benchmarks.realism            # 128-px twins, 2 seeds (~5-10 min on 2 busy cores)
    python -m depthdif.benchmarks.realism --quick    # 64-px twins, 1 seed (smoke run)

For each real set (realism_sources.py: three Argo floats and a reanalysis' columns) the synthetic
twin is sampled at the same places, days and levels, and both go through realism_metrics.py:
anomaly std per depth, decorrelation length per depth band, steepest thermocline gradient, and
SST-subsurface anomaly correlation. The generator's defaults were tuned on the two floats south of
Africa, pooled ("default basin region": the basin `depthdif data synth` makes), against TOLERANCES;
the tropical float and the equatorial reanalysis are out-of-region checks the uniform parameters
are not tuned for. Writes the `realism` section of BENCHMARKS.md and figures/realism.svg.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

from depthdif.benchmarks import realism_sources as sources
from depthdif.benchmarks.realism_figure import realism_svg
from depthdif.benchmarks.realism_metrics import BANDS_M, ProfileSet, Realism, realism
from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.config.loader import atomic_write_text
from depthdif.data.climatology import load_climatology

FIGURE = Path(__file__).resolve().parent / "figures" / "realism.svg"
POOLED = "default basin region (both floats south of Africa)"
TUNED_ON = ("Southern Ocean 57-51S", "Agulhas Return 49-39S")
REPORT_DEPTHS_M = (10.0, 50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 1900.0)
TOLERANCES = {  # what "within tolerance" means in the tables (pooled set)
    "std": (0.7, 1.3),        # synthetic / real anomaly std at every depth from 50 to 1900 m
    "length": "16-84 %",      # synthetic L inside the real bootstrap interval
    "sst_corr": 0.15,         # |synthetic - real|
    "gradient": (0.7, 1.3),   # synthetic / real median steepest thermocline gradient
}


def band_label(band: tuple[float, float]) -> str:
    return "surface (top level)" if band[0] == 0 else f"{band[0]:.0f}-{band[1]:.0f} m"


def compare(real: ProfileSet, synthetic: ProfileSet, clim) -> tuple[Realism, Realism]:
    keep = np.isfinite(synthetic.temp).any(1)  # twin columns that fell on synthetic land are dropped
    seeds = len(synthetic.lat) // len(real.lat)
    keep_real = keep.reshape(seeds, -1).any(0)
    return realism(real.subset(keep_real), clim), realism(synthetic.subset(keep), clim)


def _fmt(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}" if np.isfinite(v) else "–"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def detail_table(real: Realism, synth: Realism, depth: np.ndarray) -> list[str]:
    """The pooled set's full comparison against TOLERANCES."""
    lo, hi = TOLERANCES["std"]
    lines = ["| depth (m) | anomaly std real (°C) | synthetic | ratio | within ±30 % |", "|---:|---:|---:|---:|---|"]
    for z in REPORT_DEPTHS_M:
        k = int(np.argmin(np.abs(depth - z)))
        r, s = real.anomaly_std[k], synth.anomaly_std[k]
        ok = np.isfinite(r) and lo <= s / r <= hi if z >= 50 else True
        lines.append(f"| {depth[k]:.0f} | {_fmt(r)} | {_fmt(s)} | {_fmt(s / r if np.isfinite(r) else np.nan)} | "
                     f"{_mark(ok) if np.isfinite(r) else '–'} |")
    lines += ["", "| depth band | decorrelation length real (km) [16-84 %] | synthetic | within | "
                  "SST corr real | synthetic | within ±0.15 | pairs |", "|---|---:|---:|---|---:|---:|---|---:|"]
    for b, band in enumerate(BANDS_M):
        (a, c), length = real.decorrelation_range[b], synth.decorrelation_km[b]
        corr_r, corr_s = real.sst_corr[b], synth.sst_corr[b]
        corr_ok = _mark(abs(corr_s - corr_r) <= TOLERANCES["sst_corr"]) if np.isfinite(corr_r) else "–"
        lines.append(f"| {band_label(band)} | {_fmt(real.decorrelation_km[b], 0)} [{_fmt(a, 0)}-{_fmt(c, 0)}] | "
                     f"{_fmt(length, 0)} | {_mark(a <= length <= c)} | {_fmt(corr_r)} | {_fmt(corr_s)} | {corr_ok} | "
                     f"{real.n_pairs[b]} |")
    g_lo, g_hi = TOLERANCES["gradient"]
    ratio = synth.gradient / real.gradient
    lines += ["", f"Steepest thermocline gradient (median over profiles, 20-1000 m): real {real.gradient:.2f} °C/100 m "
                  f"at {real.gradient_depth:.0f} m, synthetic {synth.gradient:.2f} °C/100 m at "
                  f"{synth.gradient_depth:.0f} m (ratio {ratio:.2f}, within ±30 %: {_mark(g_lo <= ratio <= g_hi)})."]
    return lines


def summary_table(rows: list[tuple[str, Realism, Realism]], depth: np.ndarray) -> list[str]:
    """One line per set: the headline figures, real / synthetic."""
    ks = [int(np.argmin(np.abs(depth - z))) for z in (100.0, 300.0, 1000.0)]
    lines = ["| set | profiles | std 100 m | std 300 m | std 1000 m | L 100-500 m (km) | L 1000-2000 m | "
             "SST corr 100-500 m | SST corr 1000-2000 m | gradient (°C/100 m) | mean-profile RMS diff (°C) |",
             "|---|---:|" + "---|" * 9]
    for name, real, synth in rows:
        pair = lambda a, b, d=2: f"{_fmt(a, d)} / {_fmt(b, d)}"  # noqa: E731
        stds = " | ".join(pair(real.anomaly_std[k], synth.anomaly_std[k]) for k in ks)
        lines.append(f"| {name} | {real.n_profiles} | {stds} | {pair(real.decorrelation_km[2], synth.decorrelation_km[2], 0)} | "
                     f"{pair(real.decorrelation_km[4], synth.decorrelation_km[4], 0)} | "
                     f"{pair(real.sst_corr[2], synth.sst_corr[2])} | {pair(real.sst_corr[4], synth.sst_corr[4])} | "
                     f"{pair(real.gradient, synth.gradient)} | "
                     f"{np.sqrt(np.nanmean((real.mean_profile - synth.mean_profile) ** 2)):.2f} |")
    return lines


def render(pooled: tuple[Realism, Realism], rows: list, depth: np.ndarray, args, seconds: float) -> str:
    size, seeds = (64, 1) if args.quick else (128, 2)
    lines = [f"`python -m depthdif.benchmarks.realism{' --quick' if args.quick else ''}` ({machine_line()}; "
             f"{seconds:.0f} s). Synthetic twins: the default generator sampled at each real profile's place, day "
             f"and measured levels ({size}x{size} basins of 20°, {seeds} seed(s)); anomalies are taken from the same "
             "Levitus climatology for both. See depthdif/benchmarks/realism_metrics.py for the definitions.", "",
             f"![real vs synthetic realism](depthdif/benchmarks/figures/{FIGURE.name})", "",
             f"### Tuned region: {POOLED}", ""]
    lines += detail_table(*pooled, depth)
    lines += ["", "### Every set (real / synthetic)", ""]
    lines += summary_table(rows, depth)
    lines += ["", "Reading: anomaly std sets the climatology baseline's error; the decorrelation length is how far a "
              "profile informs its neighbours (what OI's covariance assumes); the SST correlation is what EO "
              "regression and the model's EO conditioning exploit. Pairs are a float's own profiles within one "
              "calendar month (3-31 days, up to ~400 km apart), so lengths beyond ~400 km are extrapolated and "
              "carry time decorrelation too; the twin keeps the same pairs. Where it still differs: see README "
              "(synthetic ocean)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, "64-px twins and one seed")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # levels no profile reached
    start = time.perf_counter()
    reals = sources.real_sets()
    if not reals:
        print(f"no real profiles under {sources.SHARED}: nothing to compare", file=sys.stderr)
        return 1
    clim = load_climatology()
    size, seeds = (64, 1) if args.quick else (128, 2)
    twins = {}
    for real in reals:
        print(f"twin of {real.name} ({len(real.lat)} profiles) ...", file=sys.stderr)
        twins[real.name] = sources.twins(real, size=size, seeds=seeds)
    rows = [(r.name, *compare(r, twins[r.name], clim)) for r in reals]
    tuned = [r for r in reals if r.name in TUNED_ON]
    pooled_real = sources.pool(tuned, POOLED)
    per_seed = {r.name: _by_seed(twins[r.name], seeds) for r in tuned}
    pooled_twin = sources.pool([per_seed[r.name][k] for k in range(seeds) for r in tuned], POOLED)  # seed-major
    pooled = compare(pooled_real, pooled_twin, clim)
    depth = reals[0].depth
    if not args.no_write:
        atomic_write_text(FIGURE, realism_svg(pooled, rows, depth))
    publish("realism", render(pooled, rows, depth, args, time.perf_counter() - start), write=not args.no_write)
    return 0


def _by_seed(twin: ProfileSet, seeds: int) -> list[ProfileSet]:
    """A stacked twin (sources.twins: seed-major) back into one set per seed."""
    n = len(twin.lat) // seeds
    return [twin.subset(np.arange(k * n, (k + 1) * n)) for k in range(seeds)]


if __name__ == "__main__":
    sys.exit(main())
