"""Real-format ingest: model fields (GLORYS, NEMO, ROMS, ...), SST, Argo tables / ERDDAP / GDAC → one store.

Entry points: `ingest(IngestSpec(...), out)` writes a store one time step at a time;
`build_dataset(spec)` returns the dataset, profile table and provenance in memory (small inputs);
`read_argo(paths)` gives the QC'd measurement table; `profiles_on_levels(measurements, depths)` the
per-profile values on levels; `open_model` / `open_sst` open gridded inputs lazily.
"""

from .argo import ARGO_READERS, detect_format, read_argo
from .build import IngestSpec, build_dataset, ingest, plan_ingest
from .conventions import IngestError
from .model_field import open_model
from .sst import open_sst
from .vertical import interpolate_to_levels, profiles_on_levels

__all__ = ["ARGO_READERS", "IngestError", "IngestSpec", "build_dataset", "detect_format", "ingest",
           "interpolate_to_levels", "open_model", "open_sst", "plan_ingest", "profiles_on_levels", "read_argo"]
