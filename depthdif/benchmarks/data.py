"""Data-layer benchmark: synth time and store size, realism vs real Argo.

    python -m depthdif.benchmarks.data            # default-size store (~1-3 min on 2 busy cores)
    python -m depthdif.benchmarks.data --quick    # smaller store, fewer epochs (~30 s)

Loader throughput (Zarr vs RAM, chunk-aware shuffling) is `python -m depthdif.benchmarks.loader`
(its own section). Realism: the
per-depth mean and spread of real Argo profiles (../shared/data/argo, ERDDAP NetCDF) against
synthetic float profiles made for the same latitude/longitude box over a year.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from depthdif.benchmarks.report import machine_line, update_section
from depthdif.config.loader import atomic_write_text
from depthdif.data.synthetic import SynthConfig, make_synthetic_store, synthesize

ARGO_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "argo"
FIGURE = Path(__file__).resolve().parent / "figures" / "data_realism.svg"
REALISM_DEPTHS_M = np.array([10.0, 50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1000.0, 1500.0, 1900.0])


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024**2


def bench_synth(cfg: SynthConfig, out: Path) -> dict:
    start = time.perf_counter()
    make_synthetic_store(cfg, out, overwrite=True, progress=False)
    return {"seconds": time.perf_counter() - start, "size_mb": dir_size_mb(out),
            "raw_mb": cfg.ntime * cfg.nlat * cfg.nlon * cfg.n_levels * 4 * 2 / 1024**2}


def real_argo_profiles(path: Path) -> tuple[np.ndarray, dict]:
    """(N, len(REALISM_DEPTHS_M)) potential temperatures of good-QC profiles (TEOS-10), interpolated
    inside each profile's measured range; plus the box and each profile's (lat, lon, day of year)."""
    import gsw
    import xarray as xr

    with xr.open_dataset(path) as ds:
        df = ds[["platform_number", "cycle_number", "latitude", "longitude", "pres", "temp", "temp_qc",
                 "pres_qc", "psal", "time"]].to_dataframe()
    good = df["temp_qc"].astype(str).isin(["1", "2"]) & df["pres_qc"].astype(str).isin(["1", "2"])
    df = df[good & np.isfinite(df["temp"]) & np.isfinite(df["pres"])].copy()
    lat, lon, pres = (df[c].to_numpy() for c in ("latitude", "longitude", "pres"))
    df["depth"] = -gsw.z_from_p(pres, lat)
    # Potential temperature, as the climatology and GLORYS hold (SP = 35 where salinity is missing).
    sp = np.where(np.isfinite(df["psal"].to_numpy()), df["psal"].to_numpy(), 35.0)
    df["temp"] = gsw.pt0_from_t(gsw.SA_from_SP(sp, pres, lon, lat), df["temp"].to_numpy(), pres)
    rows, where = [], []
    for _, prof in df.groupby(["platform_number", "cycle_number"]):
        prof = prof.sort_values("depth").drop_duplicates("depth")
        rows.append(_inside_range(prof["depth"].to_numpy(), prof["temp"].to_numpy()))
        first = prof.iloc[0]
        where.append((first["latitude"], first["longitude"], pd.Timestamp(first["time"]).day_of_year))
    box = {"lat": (float(df["latitude"].min()), float(df["latitude"].max())),
           "lon": (float(df["longitude"].min()), float(df["longitude"].max())),
           "time": (str(df["time"].min())[:10], str(df["time"].max())[:10]),
           "where": np.array(where, dtype=np.float64)}
    return np.array(rows), box


def _inside_range(depth: np.ndarray, temp: np.ndarray) -> np.ndarray:
    """Linear interpolation to REALISM_DEPTHS_M; NaN outside the measured range (no extrapolation)."""
    out = np.interp(REALISM_DEPTHS_M, depth, temp)
    out[(REALISM_DEPTHS_M < depth.min()) | (REALISM_DEPTHS_M > depth.max())] = np.nan
    return out


def synthetic_profiles(box: dict, quick: bool, seed: int = 0) -> np.ndarray:
    """The synthetic ocean's columns at the real profiles' positions and day of year.

    A basin covering the real profiles' box, one step per month; each real profile picks its
    nearest cell and month (profiles that fall on the synthetic coast are skipped)."""
    from depthdif.data import schema as S
    from depthdif.data.profiles import grid_cells

    res = 0.25 if quick else 0.1
    nlat = int(min(256, max(16, np.ceil((box["lat"][1] - box["lat"][0]) / res))))
    nlon = int(min(256, max(16, np.ceil((box["lon"][1] - box["lon"][0]) / res))))
    cfg = SynthConfig(nlat=nlat, nlon=nlon, ntime=12, n_levels=50, patch_size=16, stride=16,
                      obs_fraction=0.01, lat_range=box["lat"], lon_range=box["lon"], time_step_days=30,
                      start="2021-01-15", seed=seed)
    ds, _ = synthesize(cfg, progress=False)
    lat, lon, doy = box["where"].T
    iy, ix = grid_cells(lat, lon, ds["lat"].values, ds["lon"].values)
    month = np.clip(((doy - 15) / 30).round().astype(int), 0, 11)
    y, valid, depth = ds[S.Y].values, ds[S.Y_MASK].values, ds["depth"].values
    rows = []
    for t, r, c in zip(month, iy, ix):
        ok = valid[t, :, r, c]
        if r >= 0 and c >= 0 and ok.sum() >= 2:
            rows.append(_inside_range(depth[ok], y[t, ok, r, c]))
    return np.array(rows)


def realism_table(name: str, real: np.ndarray, synth: np.ndarray, box: dict) -> str:
    lines = [f"**{name}**: {len(real)} real profiles, {box['lat'][0]:.1f} to {box['lat'][1]:.1f} N, "
             f"{box['lon'][0]:.1f} to {box['lon'][1]:.1f} E, {box['time'][0]} to {box['time'][1]}; "
             f"{len(synth)} synthetic columns at the same positions and months", "",
             "| depth (m) | real mean (°C) | synth mean (°C) | real std | synth std | n real | n synth |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # depths no real profile reached
        for k, z in enumerate(REALISM_DEPTHS_M):
            r, s = real[:, k][np.isfinite(real[:, k])], synth[:, k][np.isfinite(synth[:, k])]
            cells = [f"{v:.2f}" if np.isfinite(v) else "–" for v in (r.mean(), s.mean(), r.std(), s.std())]
            lines.append(f"| {z:.0f} | " + " | ".join(cells) + f" | {r.size} | {s.size} |")
        diff = np.nanmean(real, 0) - np.nanmean(synth, 0)
    lines += ["", f"RMS difference of the mean profiles: {np.sqrt(np.nanmean(diff ** 2)):.2f} °C "
                  f"(largest {np.nanmax(np.abs(diff)):.2f} °C)."]
    return "\n".join(lines)


def bench_realism(quick: bool) -> tuple[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    files = sorted(ARGO_DIR.glob("*.nc"))
    if not files:
        return f"(no real Argo files found in {ARGO_DIR}: realism check skipped)", []
    parts, curves = [], []
    for path in files:
        real, box = real_argo_profiles(path)
        synth = synthetic_profiles(box, quick)
        parts.append(realism_table(path.name, real, synth, box))
        curves.append((f"{box['lat'][0]:.0f} to {box['lat'][1]:.0f} N", real, synth))
    return "\n\n".join(parts), curves


def realism_svg(curves: list[tuple[str, np.ndarray, np.ndarray]]) -> str:
    """Mean +- std temperature profiles, real (blue) vs synthetic (orange), one panel per file.
    Hand-written SVG: no plotting dependency, and it renders inline on any markdown viewer."""
    w, h, pad = 300, 320, 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(curves)}" height="{h}" '
           'font-family="sans-serif" font-size="11">']
    zmax = float(REALISM_DEPTHS_M[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, (title, real, synth) in enumerate(curves):
            stats = [(np.nanmean(a, 0), np.nanstd(a, 0)) for a in (real, synth)]
            lo = min(np.nanmin(m - s) for m, s in stats)
            hi = max(np.nanmax(m + s) for m, s in stats)
            px = lambda t: i * w + pad + (t - lo) / (hi - lo) * (w - 2 * pad)  # noqa: E731
            py = lambda z: pad + z / zmax * (h - 2 * pad)  # noqa: E731
            out.append(f'<text x="{i * w + pad}" y="20">{title}: real (blue) vs synthetic (orange)</text>')
            out.append(f'<rect x="{i * w + pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" '
                       'fill="none" stroke="#999"/>')
            for t in np.linspace(lo, hi, 5):
                out.append(f'<text x="{px(t) - 10:.0f}" y="{h - pad + 14}">{t:.0f}</text>')
            for z in (0, 500, 1000, 1500, 2000):
                out.append(f'<text x="{i * w + 4}" y="{py(min(z, zmax)) + 4:.0f}">{z}</text>')
            for (mean, std), color in zip(stats, ("#1f77b4", "#ff7f0e")):
                ok = np.isfinite(mean)
                for curve, dash in ((mean, ""), (mean - std, ' stroke-dasharray="4 3"'), (mean + std, ' stroke-dasharray="4 3"')):
                    pts = " ".join(f"{px(t):.1f},{py(z):.1f}" for t, z in zip(curve[ok], REALISM_DEPTHS_M[ok]))
                    out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.5"{dash}/>')
            out.append(f'<text x="{i * w + w / 2 - 40}" y="{h - 8}">temperature (degC)</text>')
    out.append("</svg>")
    return "\n".join(out)


def render(synth: dict, cfg: SynthConfig, realism: str, quick: bool) -> str:
    lines = [
        f"`python -m depthdif.benchmarks.data{' --quick' if quick else ''}` ({machine_line()}; the 2 cores "
        "are shared with other jobs, so read ratios, not absolute times).", "",
        f"### Synthetic store ({cfg.nlat}x{cfg.nlon}, {cfg.ntime} steps, {cfg.n_levels} levels, "
        f"{cfg.patch_size}x{cfg.patch_size} windows)", "",
        f"- `make_synthetic_store` (synthesize + validate + index + stats + write): {synth['seconds']:.1f} s",
        f"- store on disk: {synth['size_mb']:.0f} MB (y and x alone are {synth['raw_mb']:.0f} MB as raw float32;"
        " zstd, every chunk written)", "",
        "Loader throughput on a store far larger than the chunk cache: the `loader` section.", "",
              "### Realism: synthetic vs real Argo profiles at the same latitudes", "", realism]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller store and fewer epochs")
    parser.add_argument("--no-report", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    cfg = SynthConfig(nlat=128, nlon=128, ntime=6) if args.quick else SynthConfig()
    tmp = Path(tempfile.mkdtemp(prefix="depthdif-bench-data-"))
    try:
        print(f"synthesizing {cfg.nlat}x{cfg.nlon}x{cfg.ntime}x{cfg.n_levels} ...", file=sys.stderr)
        synth = bench_synth(cfg, tmp / "bench.zarr")
        print(f"  {synth['seconds']:.1f} s, {synth['size_mb']:.0f} MB", file=sys.stderr)
        print("  realism vs real Argo ...", file=sys.stderr)
        realism, curves = bench_realism(args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if curves and not args.no_report:
        atomic_write_text(FIGURE, realism_svg(curves))
        realism = (f"![mean ± std profiles, real vs synthetic]({FIGURE.relative_to(FIGURE.parents[3]).as_posix()})"
                   "\n\n" + realism)
    text = render(synth, cfg, realism, args.quick)
    print(text)
    if not args.no_report:
        print(f"updated {update_section('data', text)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
