"""Real-format ingest: GLORYS and OSTIA NetCDF, Argo tables / ERDDAP / GDAC files → one store.

Entry points: `ingest(IngestSpec(...), out)` writes a store; `build_dataset(spec)` returns the
dataset, profile table and provenance without writing; `read_argo(paths)` gives the QC'd
measurement table; `profiles_on_levels(measurements, depths)` the per-profile values on levels.
"""

from .argo import ARGO_READERS, detect_format, read_argo
from .build import IngestSpec, build_dataset, ingest
from .conventions import IngestError
from .glorys import read_glorys
from .ostia import read_ostia
from .vertical import interpolate_to_levels, profiles_on_levels

__all__ = ["ARGO_READERS", "IngestError", "IngestSpec", "build_dataset", "detect_format", "ingest",
           "interpolate_to_levels", "profiles_on_levels", "read_argo", "read_glorys", "read_ostia"]
