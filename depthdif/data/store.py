"""The gridded Zarr ocean store: write it atomically, open it safely, read windows fast.

Layout of a store directory (Zarr v3 written through xarray, consolidated metadata):
  y, x, x_valid_mask, y_valid_mask   (time, depth, lat, lon)   float32 degC / bool
  eo, eo_valid_mask                  (time, eo_channel, lat, lon)
  land_mask                          (lat, lon)                bool, true on LAND
  patch_index.parquet, profiles.parquet, normalization.json, config.yaml, .depthdif_complete
Chunks are (1 time, all depths, chunk x chunk), the edge chosen for the windows by default
(chunking.py: a multiple of the patch and stride, a few MiB per chunk), so a window reads one
chunk per variable and a decoded chunk serves many windows. Every chunk is written, even all-NaN ones, so a
missing chunk file is detectable on open (zarr would silently return the fill value). Each chunk
carries a checksum (store_codecs.py), so a damaged one fails to decode instead of reading as junk.

Argo-only stores (no GLORYS target) have no `y` / `y_valid_mask`: the dataset then returns y = 0
and y_valid_mask = 0, and only the ambient-occlusion objective can train on them (the seed's point:
learning from sparse observations alone). Their normalization comes from the observations x.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from depthdif import __version__
from depthdif.atomic import swap_into_place
from depthdif.config.loader import atomic_write_text, dump_yaml, to_dict
from depthdif.data import schema as S
from depthdif.data.chunk_cache import DEFAULT_CACHE_BYTES, ChunkCache, read_chunked_window
from depthdif.data.chunking import default_chunk_edge
from depthdif.data.index import SplitSpec, plan_patch_index
from depthdif.data.location import StoreLocation, is_uri, store_source
from depthdif.data.normalization import Normalization
from depthdif.data.profiles import validate_profiles
from depthdif.data.split_leakage import apply_leakage_rule
from depthdif.data.store_error import StoreError
from depthdif.data.store_origin import refuse_foreign_store
from depthdif.data.store_validation import validate_dataset
from depthdif.data.store_verify import VALUE_MASKS, VerifyReport, verify_store
from depthdif.data.store_writer import StoreSteps, quiet_zarr, steps_from_dataset, stream_steps



# --- writing -------------------------------------------------------------------------------------

def write_store(ds: xr.Dataset | StoreSteps, out: str | Path, *, profiles: pd.DataFrame | None = None,
                patch_size: int = 32, stride: int | None = None, max_land_fraction: float = 0.5,
                split: SplitSpec | None = None, chunks: dict | None = None,
                provenance: dict | None = None, config: Any = None, overwrite: bool = False,
                progress: bool = True) -> Path:
    """Validate, build the patch index and statistics, write the store atomically.

    `ds` is an xr.Dataset holding the variables of depthdif/data/schema.py on dims (time, depth,
    lat, lon), (time, eo_channel, lat, lon) and (lat, lon) (y / y_valid_mask may be absent:
    Argo-only), or a `StoreSteps` that produces it one time step at a time (ingest, OSSE: memory
    then does not grow with the number of steps; see store_writer.py). Nothing is written to
    `out` until everything is ready: the store is assembled in a sibling temp dir, the
    completion marker is written last, then the dir is renamed into place. An existing store is
    refused unless overwrite, and even then it is moved aside only after the new one is complete
    (so an error never damages it). Stores are written locally only; copy a finished one to
    object storage (it is read from a URI by OceanStore.open).
    """
    if is_uri(out):
        raise ValueError(f"{out}: write_store writes local directories only (the atomic rename needs a "
                         "filesystem); write it locally, then copy it to the bucket (e.g. `aws s3 sync`)")
    out = store_source(out)
    _refuse_existing(out, overwrite)
    steps = ds if isinstance(ds, StoreSteps) else steps_from_dataset(validate_dataset(ds))
    template = steps.template
    if profiles is not None:
        validate_profiles(profiles, template.sizes["depth"], where="profiles")
    if steps.land.all():
        raise ValueError(f"{S.LAND}: every pixel is land; no ocean windows can be cut")
    stride = stride or patch_size
    split = split or SplitSpec()
    index = plan_patch_index(steps.land, steps.ntime, patch_size=patch_size, stride=stride,
                             max_land_fraction=max_land_fraction, split=split)
    index, leakage = apply_leakage_rule(index, template["time"].values, steps.land.shape,
                                        split.decorrelation_days, split.leakage)
    if not (index["split"] == "train").any():
        raise ValueError(f"{out}: no train windows (grid {steps.land.shape}, patch_size {patch_size}, "
                         f"max_land_fraction {max_land_fraction}); use smaller patches or more ocean")
    chunk = _chunk_size(chunks, template, patch_size, stride)
    settings = {"patch_size": patch_size, "stride": stride, "max_land_fraction": max_land_fraction,
                "split": to_dict(split), "chunk": chunk, "split_leakage": leakage}
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        normalization = stream_steps(steps, tmp, index, chunk, _global_attrs(provenance, settings), progress)
        if profiles is None and steps.profiles is not None:
            profiles = validate_profiles(steps.profiles(), template.sizes["depth"], where="profiles")
        index = _add_window_metadata(index, template)
        index.to_parquet(tmp / S.PATCH_INDEX_FILE, index=False)
        if profiles is not None:
            profiles.to_parquet(tmp / S.PROFILES_FILE, index=False)
        atomic_write_text(tmp / S.NORMALIZATION_FILE, json.dumps(normalization.to_dict(), indent=1))
        atomic_write_text(tmp / S.CONFIG_FILE, dump_yaml({"store": settings, "generator": to_dict(config),
                                                          "provenance": provenance or {}}))
        (tmp / S.COMPLETE_MARKER).write_text(dt.datetime.now(dt.timezone.utc).isoformat() + "\n")
        swap_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _refuse_existing(out: Path, overwrite: bool) -> None:
    """Only a depthdif store (or an empty folder) is ever replaced: we delete nothing we did not write."""
    if not out.exists():
        return
    if not overwrite:
        raise FileExistsError(f"{out}: output already exists; pass overwrite (--overwrite) to replace it")
    refuse_foreign_store(out)


def _chunk_size(chunks: dict | None, ds: xr.Dataset, patch_size: int, stride: int) -> int:
    """Square spatial chunk edge from chunks={"lat": n, "lon": n} (time is 1, depth is whole);
    by default sized and aligned for the windows (depthdif/data/chunking.py)."""
    chunks = {k: v for k, v in (chunks or {}).items() if v is not None}  # None: the default edge
    unknown = sorted(set(chunks) - {"lat", "lon"})
    if unknown:
        raise ValueError(f"chunks: unknown keys {unknown}; allowed ['lat', 'lon'] (time is always 1, "
                         "depth and eo_channel always whole)")
    default = default_chunk_edge(patch_size, stride, ds.sizes["depth"], (ds.sizes["lat"], ds.sizes["lon"]))
    size = int(chunks.get("lat", chunks.get("lon", default)))
    if size < 1 or int(chunks.get("lon", size)) != size:
        raise ValueError(f"chunks: need one square chunk edge >= 1, got {chunks}")
    return size


def _add_window_metadata(index: pd.DataFrame, ds: xr.Dataset) -> pd.DataFrame:
    """Patch centre lat/lon and time (days since 1970-01-01) per row, for the batch metadata."""
    lat, lon = ds["lat"].values.astype(np.float64), ds["lon"].values.astype(np.float64)
    centre = index["size"].to_numpy() / 2 - 0.5
    index["lat"] = np.interp(index["y0"].to_numpy() + centre, np.arange(lat.size), lat).astype(np.float32)
    index["lon"] = np.interp(index["x0"].to_numpy() + centre, np.arange(lon.size), lon).astype(np.float32)
    days = ds["time"].values.astype("datetime64[D]").astype(np.int64)
    index["time_days"] = days[index["time_index"].to_numpy()]
    return index


def _global_attrs(provenance: dict | None, settings: dict) -> dict:
    attrs = {"title": "depthdif gridded ocean store", "Conventions": "CF-1.8",
             "depthdif_version": __version__,
             "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "patch_size": settings["patch_size"], "stride": settings["stride"]}
    for key, value in (provenance or {}).items():
        attrs[f"provenance_{key}"] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)
    return attrs


# --- reading -------------------------------------------------------------------------------------

def _read_parquet(location: StoreLocation, name: str) -> pd.DataFrame:
    if location.is_local:
        return pd.read_parquet(location.path / name)
    return pd.read_parquet(io.BytesIO(location.read_bytes(name)))


class OceanStore:
    """An opened, complete store: xarray view, patch index, statistics and fast window reads.

    `path` is a Path for a local store and the URI string for a remote one (`location` reads both)."""

    def __init__(self, path: str | Path | StoreLocation, ds: xr.Dataset, index: pd.DataFrame,
                 normalization: Normalization, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.location = path if isinstance(path, StoreLocation) else StoreLocation(path)
        self.path = self.location.source
        self.ds, self.index, self.normalization = ds, index, normalization
        self.depth = ds["depth"].values.astype(np.float64)
        self.n_levels = int(self.depth.size)
        self.eo_channels = [str(c) for c in ds["eo_channel"].values]
        self.has_target = S.Y in ds
        self._arrays: dict[str, Any] | None = None
        self._profiles: pd.DataFrame | None = None
        self.cache = ChunkCache(cache_bytes)

    @classmethod
    def open(cls, path: str | Path, *, check_chunks: bool = True,
             cache_bytes: int = DEFAULT_CACHE_BYTES) -> "OceanStore":
        """Open a store; refuse an incomplete one (no marker), missing variables or missing chunks.

        `path` is a local directory or an fsspec URI (s3://, gs://, memory://, ...).
        cache_bytes bounds this process's cache of decoded chunks (0 disables it)."""
        location = StoreLocation(path)
        path = location.source
        if not location.is_dir():
            raise FileNotFoundError(f"{path}: no such store directory")
        if not location.exists(S.COMPLETE_MARKER):
            raise StoreError(f"{path}: incomplete store (no {S.COMPLETE_MARKER} marker: the write was "
                             "interrupted, or this is not a depthdif store); rewrite it with --overwrite")
        try:
            with quiet_zarr():
                ds = xr.open_zarr(path if location.is_local else location.zarr_store(), chunks=None,
                                  consolidated=True)
        except Exception as exc:  # zarr raises many types for a damaged store
            raise StoreError(f"{path}: cannot open the Zarr metadata: {exc}") from exc
        required = [v for v in S.STORE_VARIABLES if v not in (S.Y, S.Y_MASK)]
        missing = [v for v in required if v not in ds]
        if missing:
            raise StoreError(f"{path}: missing variables {missing}; a store needs {list(S.STORE_VARIABLES)}")
        for name in (S.PATCH_INDEX_FILE, S.NORMALIZATION_FILE):
            if not location.exists(name):
                raise StoreError(f"{path}: missing {name}")
        index = _read_parquet(location, S.PATCH_INDEX_FILE)
        normalization = Normalization.from_dict(json.loads(location.read_text(S.NORMALIZATION_FILE)))
        store = cls(location, ds, index, normalization, cache_bytes)
        if check_chunks:
            store.check_chunks()
        return store

    @property
    def profiles(self) -> pd.DataFrame | None:
        """The profile table (loaded on first use), or None when the store has none."""
        if self._profiles is None and self.location.exists(S.PROFILES_FILE):
            self._profiles = _read_parquet(self.location, S.PROFILES_FILE)
        return self._profiles

    def check_chunks(self) -> None:
        """Every chunk file of every variable must exist (all are written, even empty ones).

        On a URI this lists each variable's chunk keys (paginated listings: slow on huge stores)."""
        group = self._group()
        for name in self._variables():
            arr = group[name]
            grid = [-(-n // c) for n, c in zip(arr.shape, arr.chunks)]
            expected = int(np.prod(grid))
            found = self.location.count_files(f"{name}/c")
            if found < expected:
                raise StoreError(f"{self.path}: variable {name!r}: {expected - found} of {expected} chunk "
                                 "files are missing (damaged or partially copied store)")

    def read_window(self, time_index: int, y0: int, x0: int, size: int) -> dict[str, np.ndarray]:
        """Raw arrays of one window: y, x (D,s,s) degC with NaN where invalid; masks bool;
        eo (E,s,s); land_mask (s,s). y / y_valid_mask are absent in Argo-only stores."""
        ntime, h, w = self.ds.sizes["time"], self.ds.sizes["lat"], self.ds.sizes["lon"]
        if not (0 <= time_index < ntime and 0 <= y0 and y0 + size <= h and 0 <= x0 and x0 + size <= w):
            raise ValueError(f"{self.path}: window (time_index {time_index}, y0 {y0}, x0 {x0}, size {size}) "
                             f"is outside the grid (time {ntime}, lat {h}, lon {w})")
        out = {}
        for name, arr in self._window_arrays().items():
            t = None if name == S.LAND else time_index
            try:
                if isinstance(arr, np.ndarray):  # in-memory copy
                    window = arr[y0:y0 + size, x0:x0 + size] if t is None else arr[t, :, y0:y0 + size, x0:x0 + size]
                    out[name] = window.copy()
                else:
                    out[name] = read_chunked_window(arr, name, self.cache, t, y0, x0, size)
            except Exception as exc:  # a corrupt chunk surfaces as a codec error deep in zarr
                raise StoreError(f"{self.path}: variable {name!r}: cannot read the window at time_index "
                                 f"{time_index}, y0 {y0}, x0 {x0}: {type(exc).__name__}: {exc}") from exc
        for name in (S.X_MASK, S.Y_MASK, S.EO_MASK, S.LAND):
            if name in out and out[name].dtype != bool:
                out[name] = out[name].astype(bool)
        self._refuse_nonfinite(out, f"time_index {time_index}, y0 {y0}, x0 {x0}, size {size}")
        return out

    def _refuse_nonfinite(self, window: dict[str, np.ndarray], where: str) -> None:
        """A NaN/inf the mask calls valid would train (or score) as garbage: stop at the read."""
        for value, mask in VALUE_MASKS:
            if value in window:
                bad = int(np.count_nonzero(window[mask] & ~np.isfinite(window[value])))
                if bad:
                    raise StoreError(f"{self.path}: variable {value!r}: {bad} non-finite values under {mask} in "
                                     f"the window at {where}; the store is damaged (check it with "
                                     "`depthdif data info --verify`, rebuild it from its sources)")

    def in_memory(self) -> "OceanStore":
        """The same store with every array loaded into RAM (small stores, benchmarks)."""
        copy = OceanStore(self.location, self.ds, self.index, self.normalization, 0)
        copy._arrays = {name: np.asarray(arr[...]) for name, arr in self._window_arrays().items()}
        return copy

    def verify(self, progress: bool = False) -> VerifyReport:
        """Read every chunk once and check its values (see store_verify.py); raise StoreError."""
        return verify_store(self, progress)

    def _variables(self) -> list[str]:
        return [v for v in S.STORE_VARIABLES if v in self.ds]

    def _group(self) -> zarr.Group:
        with quiet_zarr():
            return zarr.open_group(self.location.zarr_store(), mode="r", use_consolidated=True)

    def _window_arrays(self) -> dict[str, Any]:
        """Raw zarr arrays, opened once per process (cheaper than xarray indexing per window)."""
        if self._arrays is None:
            group = self._group()
            self._arrays = {name: group[name] for name in self._variables()}
        return self._arrays

    def summary(self) -> str:
        """A few lines for `depthdif data info`."""
        counts = self.index["split"].value_counts()
        n = self.normalization
        prof = self.profiles
        lines = [
            f"store: {self.path}",
            f"dims: {dict(self.ds.sizes)}",
            f"eo_channels: {self.eo_channels}; target y: {'yes' if self.has_target else 'no (Argo-only)'}",
            f"patches: {len(self.index)} (size {int(self.index['size'].iloc[0])}) - "
            + ", ".join(f"{s}: {int(counts.get(s, 0))}" for s in S.SPLITS),
            f"profiles: {0 if prof is None else len(prof)}",
            "depth_m  mean_degC  std_degC  n_train_pixels",
        ]
        count = n.depth_count if n.depth_count is not None else np.zeros(n.n_levels, int)
        for d, m, s, c in zip(self.depth, n.depth_mean, n.depth_std, count):
            lines.append(f"{d:8.1f}  {m:9.3f}  {s:8.3f}  {int(c)}")
        lines.append("eo: " + ", ".join(f"{c} mean {m:.3f} std {s:.3f}"
                                        for c, m, s in zip(n.eo_channels, n.eo_mean, n.eo_std)))
        return "\n".join(lines)

    def __getstate__(self) -> dict:
        """Drop open zarr handles when pickled (DataLoader / Ray workers reopen lazily)."""
        state = dict(self.__dict__)
        state["_arrays"] = None
        state["cache"] = ChunkCache(self.cache.max_bytes)
        return state
