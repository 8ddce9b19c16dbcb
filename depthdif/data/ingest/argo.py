"""Pick the Argo reader for each file (explicit `--argo-format`, or detected) and read them all.

Detection (`auto`): `.parquet`/`.csv` → table; NetCDF with N_PROF and N_LEVELS dimensions →
GDAC profile file; any other NetCDF → ERDDAP/argopy point file. A directory stands for every
.nc/.parquet/.csv file below it (a GDAC float directory with its `profiles/` folder, say).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pandas as pd
from tqdm.auto import tqdm

from .argo_erddap import read_erddap
from .argo_gdac import read_gdac
from .argo_table import read_table
from .conventions import IngestError
from .netcdf_file import open_raw

ArgoFormat = Literal["auto", "table", "erddap", "gdac"]
ARGO_READERS: dict[str, Callable[[str | Path], pd.DataFrame]] = {
    "table": read_table,
    "erddap": read_erddap,
    "gdac": read_gdac,
}
TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def detect_format(path: str | Path) -> str:
    """The reader name for one file, from its suffix and (for NetCDF) its dimensions."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: Argo file not found")
    if path.suffix.lower() in TABLE_SUFFIXES:
        return "table"
    with open_raw(path, "Argo") as nc:
        dims = {d.upper() for d in nc.dimensions}
    return "gdac" if {"N_PROF", "N_LEVELS"} <= dims else "erddap"


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files as given; a directory stands for its Argo-looking files (sorted), e.g. a GDAC float dir."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".nc", *TABLE_SUFFIXES))
            if not found:
                raise IngestError(path, "directory holds no .nc, .parquet or .csv Argo files")
            files.extend(found)
        else:
            files.append(path)
    return files


def read_argo(paths: list[str | Path], fmt: ArgoFormat = "auto", progress: bool = False) -> pd.DataFrame:
    """All files' good measurements in one table (see measurements.MEASUREMENT_COLUMNS)."""
    if fmt != "auto" and fmt not in ARGO_READERS:
        raise ValueError(f"--argo-format: must be one of {['auto', *ARGO_READERS]}, got {fmt!r}")
    frames = []
    files = expand_paths(paths)
    for path in tqdm(files, desc="Argo files", unit="file", disable=not progress or len(files) < 2,
                     file=sys.stderr):
        frames.append(read_one(path, fmt))
    return pd.concat(frames, ignore_index=True)


def read_one(path: Path, fmt: ArgoFormat) -> pd.DataFrame:
    """One file's measurements; any failure inside a reader is reported with the file's name."""
    name = detect_format(path) if fmt == "auto" else fmt
    try:
        return ARGO_READERS[name](path)
    except (IngestError, FileNotFoundError):
        raise
    except (ValueError, KeyError, IndexError, TypeError, OSError, RuntimeError) as exc:
        raise IngestError(path, f"cannot read as Argo {name} ({type(exc).__name__}: {exc})") from exc
