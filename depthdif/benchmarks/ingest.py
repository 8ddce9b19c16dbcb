"""Ingest memory benchmark: peak RSS of `depthdif data ingest` for N and 4N time steps.

    python -m depthdif.benchmarks.ingest            # 160x160 grid, 40 levels, N = 8 daily steps (~3 min)
    python -m depthdif.benchmarks.ingest --quick    # 64x64, 20 levels, N = 4 (~30 s)

Inputs are written in CMEMS conventions (daily GLORYS-like files, packed int16, one per day; a
daily OSTIA-like SST on a finer grid; an Argo table with a few profiles per day), then ingested in
a fresh subprocess each (peak RSS = ru_maxrss of that process). Because the store is written one
time step at a time, the peak should not grow with the number of steps: the goal is a 4N/N ratio
<= 1.2. A third subprocess only imports the same modules, to show the fixed part of the peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish

PROBE = """
import json, resource, sys, warnings
warnings.simplefilter("ignore")
from depthdif.data.index import SplitSpec
from depthdif.data.ingest import IngestSpec, ingest
spec = IngestSpec(**json.loads(sys.argv[1]))
if sys.argv[2] != "-":
    ingest(spec, sys.argv[2], progress=False, split=SplitSpec(time_block=1000))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_inputs(root: Path, n_days: int, size: int, levels: int) -> dict:
    """Daily model files, one SST file and an Argo table for `n_days` days; returns the IngestSpec fields."""
    rng = np.random.default_rng(0)
    lat, lon = np.linspace(-40.0, -40.0 + size * 0.1, size), np.linspace(10.0, 10.0 + size * 0.1, size)
    depth = np.geomspace(1.0, 2000.0, levels)
    days = np.datetime64("2021-01-01") + np.arange(n_days)
    model_files = []
    for d, day in enumerate(days):
        path = root / f"model_{d:03d}.nc"
        field = 4.0 + 16.0 * np.exp(-depth[:, None, None] / 300.0) + 0.01 * lat[None, :, None] + \
            0.1 * rng.standard_normal((levels, size, size))
        _write_model(path, day, lat, lon, depth, field)
        model_files.append(str(path))
    sst_lat, sst_lon = np.linspace(lat[0] - 0.5, lat[-1] + 0.5, 2 * size), np.linspace(lon[0] - 0.5, lon[-1] + 0.5, 2 * size)
    _write_sst(root / "sst.nc", days, sst_lat, sst_lon, 290.0 + rng.standard_normal((n_days, sst_lat.size, sst_lon.size)))
    rows = [{"platform": f"{p}", "cycle": d, "time": f"{day}T12:00", "latitude": float(rng.choice(lat)),
             "longitude": float(rng.choice(lon)), "pres": pres, "temp": 15.0 - pres / 200.0}
            for d, day in enumerate(days) for p in range(10) for pres in np.arange(5.0, 2000.0, 50.0)]
    pd.DataFrame(rows).to_csv(root / "argo.csv", index=False)
    return {"glorys": model_files, "ostia": [str(root / "sst.nc")], "argo": [str(root / "argo.csv")],
            "patch_size": 32}


def _write_model(path: Path, day, lat, lon, depth, field) -> None:
    with netCDF4.Dataset(path, "w") as nc:
        for dim, n in (("time", 1), ("depth", depth.size), ("latitude", lat.size), ("longitude", lon.size)):
            nc.createDimension(dim, n)
        for name, values, units in (("depth", depth, "m"), ("latitude", lat, "degrees_north"),
                                    ("longitude", lon, "degrees_east")):
            nc.createVariable(name, "f4", (name,))[:] = values
            nc[name].units = units
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "hours since 1950-01-01"
        time[:] = (np.datetime64(day, "h") - np.datetime64("1950-01-01", "h")).astype(float)
        var = nc.createVariable("thetao", "i2", ("time", "depth", "latitude", "longitude"), fill_value=-32767)
        var.setncatts({"units": "degrees_C", "scale_factor": 0.001, "add_offset": 20.0,
                       "standard_name": "sea_water_potential_temperature"})
        var[:] = field[None]


def _write_sst(path: Path, days, lat, lon, kelvin) -> None:
    with netCDF4.Dataset(path, "w") as nc:
        for dim, n in (("time", days.size), ("lat", lat.size), ("lon", lon.size)):
            nc.createDimension(dim, n)
        nc.createVariable("lat", "f4", ("lat",))[:] = lat
        nc.createVariable("lon", "f4", ("lon",))[:] = lon
        nc["lat"].units, nc["lon"].units = "degrees_north", "degrees_east"
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "days since 1981-01-01"
        time[:] = (days - np.datetime64("1981-01-01")).astype(float)
        var = nc.createVariable("analysed_sst", "i2", ("time", "lat", "lon"))
        var.setncatts({"units": "kelvin", "scale_factor": 0.01, "add_offset": 273.15})
        var[:] = kelvin


def peak_rss_mb(spec: dict, out: str) -> float:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(spec), out], capture_output=True, text=True,
                            check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, "64x64 grid, 20 levels, N = 4 (a smoke run)")
    args = parser.parse_args(argv)
    size, levels, n = (64, 20, 4) if args.quick else (160, 40, 8)
    with tempfile.TemporaryDirectory(prefix="depthdif-ingest-bench-") as tmp:
        rows = []
        for steps in (n, 4 * n):
            root = Path(tmp) / f"in_{steps}"
            root.mkdir()
            spec = write_inputs(root, steps, size, levels)
            rows.append((steps, peak_rss_mb(spec, str(Path(tmp) / f"store_{steps}.zarr"))))
        imports = peak_rss_mb(spec, "-")
    raw_mb = 4 * n * levels * size * size * 4 / 1024**2
    ratio = rows[1][1] / rows[0][1]
    text = "\n".join([
        "## Ingest memory: peak RSS for N and 4N time steps",
        "",
        f"`python -m depthdif.benchmarks.ingest{' --quick' if args.quick else ''}` ({machine_line()}).",
        "",
        f"Inputs: daily GLORYS-like files ({size}x{size}, {levels} levels, packed int16, one file per day), a daily "
        f"OSTIA-like SST on a 2x finer grid, an Argo table (10 profiles a day). Each ingest runs in a fresh process; "
        f"peak RSS is that process's ru_maxrss. For scale: y alone for {4 * n} steps is {raw_mb:.0f} MB as float32.",
        "",
        "| time steps | peak RSS (MB) |",
        "|---|---|",
        *[f"| {steps} | {mb:.0f} |" for steps, mb in rows],
        f"| imports only | {imports:.0f} |",
        "",
        f"**Ratio 4N / N: {ratio:.2f}** (goal <= 1.2; above the imports: {rows[0][1] - imports:.0f} MB vs "
        f"{rows[1][1] - imports:.0f} MB). The store is streamed one time step at a time (store_writer.py): "
        "peak memory is a few steps plus the profile table and patch index, not the record.",
    ])
    publish("ingest", text, write=not args.no_write)
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
