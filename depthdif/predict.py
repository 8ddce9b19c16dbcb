"""Export folder + store → a gridded prediction Zarr (ensemble mean and spread, °C).

The grid is tiled with overlapping windows of the export's patch size every `stride` pixels
(default half the patch; the last window of each axis is moved back to end at the border, so
every pixel is covered), at every time step. Each window is reconstructed with K seeded samples
of the exported system, de-normalized per depth level, and the windows are blended:

- **Overlap weighting**: a separable taper w(i, j) = h(i)·h(j) with h the Hann window evaluated at
  pixel centres, h(i) = sin²(π (i + ½) / size). It is never 0, so a pixel at the domain border,
  covered by one window only, keeps that window's value (no NaN edge); with stride = size/2 the
  overlapping tapers sum to 1 (sin² + cos²), so each window fades out exactly where the next fades
  in and no window border shows as a seam. The stitched mean is Σ w·mean / Σ w.
- **Spread**: per window, the ensemble standard deviation over the K members (ddof = 1; 0 when
  K = 1); stitched as sqrt(Σ w·std² / Σ w), i.e. the weighted mean variance.
- **What is written**: `split="all"` every ocean pixel at every time step; a split, the pixels of
  that split's index windows at each step (windows overlapping them are reconstructed; their
  other pixels are only context). NaN elsewhere, on land (`land_mask`), and below the sea floor
  (`y_valid_mask` = 0) in stores that have a target; Argo-only stores (no `y`) mask land only.
  Windows with no ocean pixel or none to write are skipped.
- **Seeds**: batch b of the window sequence (windows ordered by time, then position) is sampled
  with seed `seed * 100_000 + b`, so a prediction is reproducible for the same (export, store,
  split, stride, samples, seed, batch_size), in this process or a fresh one.

The output is written one time step at a time (memory: one (D, lat, lon) slab) into a temp
Zarr next to `out`, then renamed into place.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from depthdif import __version__
from depthdif.data import schema as S
from depthdif.data.index import coverage_mask, window_sums
from depthdif.data.location import absolute
from depthdif.atomic import swap_into_place

MEAN, SPREAD = "temperature_mean", "temperature_spread"
PREDICTION_TITLE = "depthdif reconstruction"  # the root attribute that marks our outputs
SPLIT_CHOICES = ("all", "train", "val", "test")
BATCH_SEED_STRIDE = 100_000


def taper_window(size: int) -> np.ndarray:
    """Separable Hann taper at pixel centres, (size, size), strictly positive."""
    h = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return np.outer(h, h)


def batch_seed(seed: int, batch_index: int) -> int:
    """The sampling seed of one batch (see the module docstring)."""
    return int(seed) * BATCH_SEED_STRIDE + int(batch_index)


@dataclass
class SlabAccumulator:
    """Weighted sums for one time step: Σw, Σw·mean, Σw·var over (D, lat, lon)."""

    weight: np.ndarray
    mean_sum: np.ndarray
    var_sum: np.ndarray

    @classmethod
    def empty(cls, n_levels: int, nlat: int, nlon: int) -> "SlabAccumulator":
        return cls(*(np.zeros((n_levels, nlat, nlon), dtype=np.float64) for _ in range(3)))

    def add(self, mean: np.ndarray, var: np.ndarray, y0: int, x0: int, taper: np.ndarray) -> None:
        """One window's (D, s, s) mean and variance in °C, placed at (y0, x0)."""
        s = taper.shape[0]
        w = np.broadcast_to(taper, mean.shape)
        region = (slice(None), slice(y0, y0 + s), slice(x0, x0 + s))
        self.weight[region] += w
        self.mean_sum[region] += w * mean
        self.var_sum[region] += w * var

    def finish(self, invalid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, spread) float32 with NaN where uncovered or `invalid` (D, lat, lon)."""
        covered = (self.weight > 0) & ~invalid
        safe = np.where(covered, self.weight, 1.0)
        mean = np.where(covered, self.mean_sum / safe, np.nan)
        spread = np.where(covered, np.sqrt(np.maximum(self.var_sum / safe, 0.0)), np.nan)
        return mean.astype(np.float32), spread.astype(np.float32)


def tile_offsets(n: int, size: int, stride: int) -> np.ndarray:
    """Window starts along an axis of n pixels: every `stride`, the last one ending at the border."""
    if not 1 <= stride <= size:
        raise ValueError(f"predict: --stride must be in [1, patch size {size}] (larger leaves gaps), got {stride}")
    if size > n:
        raise ValueError(f"predict: patch size {size} is larger than the grid ({n} pixels)")
    starts = np.arange(0, n - size + 1, stride, dtype=np.int64)
    return starts if starts[-1] == n - size else np.append(starts, n - size)


def target_pixels(store: Any, split: str, time_index: int) -> np.ndarray:
    """(lat, lon) bool: the pixels to write at one step (see the module docstring)."""
    if split not in SPLIT_CHOICES:
        raise ValueError(f"predict: split {split!r}; allowed values: {list(SPLIT_CHOICES)}")
    ocean = ~np.asarray(store.ds[S.LAND].values, dtype=bool)
    if split == "all":
        return ocean
    return ocean & coverage_mask(store.index, time_index, ocean.shape, split)


def tile_windows(store: Any, split: str, stride: int, size: int) -> pd.DataFrame:
    """The windows to reconstruct (time_index, y0, x0, size, lat, lon, time_days), in time order."""
    nlat, nlon = store.ds.sizes["lat"], store.ds.sizes["lon"]
    ys, xs = tile_offsets(nlat, size, stride), tile_offsets(nlon, size, stride)
    yy, xx = (a.ravel() for a in np.meshgrid(ys, xs, indexing="ij"))
    lat, lon = store.ds["lat"].values.astype(np.float64), store.ds["lon"].values.astype(np.float64)
    days = store.ds["time"].values.astype("datetime64[D]").astype(np.int64)
    frames = []
    for t in range(store.ds.sizes["time"]):
        wanted = target_pixels(store, split, t)
        hits = window_sums(wanted.astype(np.float64), yy, xx, size) > 0
        frames.append(pd.DataFrame({"time_index": t, "y0": yy[hits], "x0": xx[hits], "size": size,
                                    "time_days": days[t]}))
    windows = pd.concat(frames, ignore_index=True)
    if windows.empty:
        raise ValueError(f"{store.path}: no windows to predict in split {split!r}")
    centre = size / 2 - 0.5  # window centre, as in the patch index metadata
    windows["lat"] = np.interp(windows["y0"] + centre, np.arange(lat.size), lat)
    windows["lon"] = np.interp(windows["x0"] + centre, np.arange(lon.size), lon)
    windows.insert(0, "patch_id", np.arange(len(windows), dtype=np.int64))  # a running number
    return windows


class TiledWindows(torch.utils.data.Dataset):
    """Batch-contract items of arbitrary windows (not only the patch index's), in the given order."""

    def __init__(self, store_path: Path, windows: pd.DataFrame, eo_channels: list[str]):
        from depthdif.data.dataset import PatchDataset

        # The train split always exists; it only lends its reader and normalization here (float ids
        # serve evaluation only: their fallback warnings do not concern a prediction).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.reader = PatchDataset(store_path, "train", eo_channels=eo_channels)
        self.rows = windows.to_dict("records")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.reader.window_item(self.rows[i])


def ensemble_batches(system: Any, store_path: Path, windows: pd.DataFrame, samples: int, seed: int,
                     batch_size: int, progress: bool) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (window numbers, mean °C, variance °C²) per batch; arrays (B, D, s, s)."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    loader = DataLoader(TiledWindows(store_path, windows, list(system.cfg.data.eo_channels)),
                        batch_size=batch_size, shuffle=False, num_workers=0)
    norm = system.normalization
    with tqdm(total=len(windows), desc="predicting", unit="window", file=sys.stderr, disable=not progress) as bar:
        for b, batch in enumerate(loader):
            fields = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
            with torch.no_grad():
                members = norm.denormalize_depth(system.sample(fields, samples, batch_seed(seed, b)).double())
            var = members.var(dim=0, unbiased=True) if samples > 1 else torch.zeros_like(members[0])
            yield batch["patch_id"].numpy(), members.mean(dim=0).numpy(), var.numpy()
            bar.update(len(batch["patch_id"]))


def invalid_mask(store: Any, time_index: int, split: str = "all") -> np.ndarray:
    """(D, lat, lon) True where nothing is written: outside the split's pixels (land included)
    and, when the store has a target, below the sea floor."""
    outside = ~target_pixels(store, split, time_index)
    invalid = np.broadcast_to(outside, (store.n_levels, *outside.shape)).copy()
    if store.has_target:
        invalid |= ~np.asarray(store.ds[S.Y_MASK].isel(time=time_index).values, dtype=bool)
    return invalid


LEVEL_FLAG = "level_training_data"
CONVENTIONS = "CF-1.10"
COORD_ATTRS = {  # CF attributes every output coordinate carries, whatever the store recorded
    "time": {"standard_name": "time", "long_name": "time", "axis": "T"},
    "depth": {"standard_name": "depth", "long_name": "depth below the sea surface", "units": "m",
              "positive": "down", "axis": "Z"},
    "lat": {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north", "axis": "Y"},
    "lon": {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east", "axis": "X"},
}


def level_training_flags(normalization: Any) -> np.ndarray | None:
    """Per level: 0 trained (>= MIN_LEVEL_COUNT training pixels), 1 sparse (fewer: its std is borrowed
    from a neighbour level), 2 no training data at all. None when the export has no counts."""
    from depthdif.data.normalization import MIN_LEVEL_COUNT

    counts = getattr(normalization, "depth_count", None)
    if counts is None:
        return None
    counts = np.asarray(counts)
    return np.where(counts == 0, 2, np.where(counts < MIN_LEVEL_COUNT, 1, 0)).astype(np.int8)


def temperature_standard_name(store: Any) -> str:
    """CF name of what the store's temperature is (ingest records potential or in situ on `x`)."""
    kind = str(store.ds[S.X].attrs.get("temperature_kind", "potential")) if S.X in store.ds else "potential"
    return "sea_water_temperature" if kind == "in_situ" else "sea_water_potential_temperature"


def slab_dataset(store: Any, t: int, mean: np.ndarray, spread: np.ndarray, attrs: dict,
                 level_flags: np.ndarray | None = None) -> xr.Dataset:
    """One time step of the output, with the store's coordinates and CF attributes; the first
    slab also carries the per-level flag (levels the model saw no training data for)."""
    coords = {"time": store.ds["time"].values[t:t + 1], "depth": store.ds["depth"].values,
              "lat": store.ds["lat"].values, "lon": store.ds["lon"].values}
    dims = S.DIMS_3D
    ds = xr.Dataset({MEAN: (dims, mean[None]), SPREAD: (dims, spread[None])}, coords=coords,
                    attrs={"Conventions": CONVENTIONS, **attrs})
    name = temperature_standard_name(store)
    ds[MEAN].attrs = {"units": "degC", "standard_name": name, "cell_methods": "realization: mean",
                      "long_name": "sea water temperature, ensemble mean reconstruction",
                      "ancillary_variables": LEVEL_FLAG}
    ds[SPREAD].attrs = {"units": "degC", "cell_methods": "realization: standard_deviation",
                        "long_name": f"{name.replace('_', ' ')}, ensemble standard deviation"}
    for coord in ("depth", "lat", "lon", "time"):
        ds[coord].attrs = {**{k: v for k, v in store.ds[coord].attrs.items() if coord != "time" or k != "units"},
                           **COORD_ATTRS[coord]}  # time's units belong to its encoding
    if level_flags is not None:
        ds[LEVEL_FLAG] = ("depth", level_flags, {
            "long_name": "training data behind each depth level", "flag_values": np.array([0, 1, 2], np.int8),
            "flag_meanings": "trained sparse_training_data no_training_data",
            "comment": "1: fewer than the minimum count of training pixels (std borrowed from a neighbour level); "
                       "2: no training pixel at this level: values there are extrapolated, not learned"})
    return ds


def predict_to_zarr(system: Any, store_path: str | Path, out: str | Path, *, split: str = "all",
                    stride: int | None = None, samples: int | None = None, seed: int | None = None,
                    batch_size: int = 8, overwrite: bool = False, progress: bool = True, source: str = "") -> Path:
    """Reconstruct `split` with windows every `stride` pixels (default half the patch), stitch,
    write `out` (Zarr) atomically. Returns `out`."""
    from depthdif.data.store import OceanStore

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: prediction exists; pass --overwrite to replace it")
    _refuse_foreign_output(out)
    store = OceanStore.open(store_path)
    _check_compatible(system, store)
    samples = system.cfg.sampling.ensemble_size if samples is None else int(samples)
    seed = system.cfg.sampling.seed if seed is None else int(seed)
    if samples < 1:
        raise ValueError(f"predict: --samples must be ≥ 1, got {samples}")
    size = int(store.index["size"].iloc[0])
    stride = max(1, size // 2) if stride is None else int(stride)
    windows = tile_windows(store, split, stride, size)
    attrs = {"title": PREDICTION_TITLE, "source": source, "split": split, "samples": samples,
             "seed": seed, "batch_size": batch_size, "patch_size": size, "stride": stride,
             "store": absolute(store_path), "package_version": __version__,
             "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "stitching": f"windows of {size} px every {stride} px; separable Hann taper at pixel centres; "
                          "mean = sum(w*mean)/sum(w); spread = sqrt(sum(w*var)/sum(w)); NaN outside the split, "
                          "on land or below the sea floor"}
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_slabs(system, store, windows, split, tmp, attrs, samples, seed, batch_size, progress,
                     level_training_flags(system.normalization))
        swap_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _refuse_foreign_output(out: Path) -> None:
    """--overwrite replaces only an earlier prediction: never the input store or a foreign folder."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    try:
        title = json.loads((out / "zarr.json").read_text())["attributes"].get("title")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        title = None
    if title != PREDICTION_TITLE:
        raise FileExistsError(f"{out}: exists and is not a depthdif prediction (the input store, or another "
                              "tool's output?); refusing to replace it: choose another --out")


def _check_compatible(system: Any, store: Any) -> None:
    if not callable(getattr(system, "sample", None)):
        kind = getattr(system, "kind", type(system).__name__)
        raise ValueError(f"export kind {kind!r} cannot predict from sparse observations (no sampler); "
                         "predict needs a diffusion export (pixel or latent)")
    depth = np.asarray(system.depth, dtype=np.float64)
    if depth.shape != store.depth.shape or not np.allclose(depth, store.depth, atol=1e-3):
        raise ValueError(f"{store.path}: depth axis ({store.n_levels} levels) differs from the export's "
                         f"({len(depth)} levels); predict needs the store the model was trained for")
    missing = [c for c in system.cfg.data.eo_channels if c not in store.eo_channels]
    if missing:
        raise ValueError(f"{store.path}: EO channels {missing} missing; the export needs "
                         f"{list(system.cfg.data.eo_channels)}, the store has {store.eo_channels}")


def _write_slabs(system: Any, store: Any, windows: pd.DataFrame, split: str, tmp: Path, attrs: dict,
                 samples: int, seed: int, batch_size: int, progress: bool, flags: np.ndarray | None = None) -> None:
    """Accumulate windows time step by time step and append each finished slab to the Zarr."""
    nlat, nlon = store.ds.sizes["lat"], store.ds.sizes["lon"]
    taper, written = taper_window(int(windows["size"].iloc[0])), 0
    slab, slab_t = SlabAccumulator.empty(store.n_levels, nlat, nlon), 0
    rows = windows.set_index("patch_id")
    batches = ensemble_batches(system, store.path, windows, samples, seed, batch_size, progress)
    for numbers, means, variances in batches:
        for number, mean, var in zip(numbers, means, variances):
            row = rows.loc[int(number)]
            while int(row["time_index"]) > slab_t:  # windows come in time order: flush finished steps
                written = _append(store, slab, slab_t, split, tmp, attrs, written, flags)
                slab, slab_t = SlabAccumulator.empty(store.n_levels, nlat, nlon), slab_t + 1
            slab.add(mean, var, int(row["y0"]), int(row["x0"]), taper)
    for t in range(slab_t, store.ds.sizes["time"]):
        written = _append(store, slab, t, split, tmp, attrs, written, flags)
        slab = SlabAccumulator.empty(store.n_levels, nlat, nlon)


def _append(store: Any, slab: SlabAccumulator, t: int, split: str, tmp: Path, attrs: dict, written: int,
            flags: np.ndarray | None = None) -> int:
    mean, spread = slab.finish(invalid_mask(store, t, split))
    ds = slab_dataset(store, t, mean, spread, attrs, flags if written == 0 else None)
    with warnings.catch_warnings():  # zarr notes that consolidated metadata is not in the v3 spec yet
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        if written == 0:
            chunks = (1, store.n_levels, min(256, mean.shape[1]), min(256, mean.shape[2]))
            encoding = {name: {"chunks": chunks} for name in (MEAN, SPREAD)}
            ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=True, encoding=encoding)
        else:
            ds.to_zarr(tmp, append_dim="time", zarr_format=3, consolidated=True)
    return written + 1


def predict_export(export_dir: str | Path, store_path: str | Path, out: str | Path, **kwargs: Any) -> Path:
    """`depthdif predict`: load the export (manifest verified, no study dir, no pickle), then predict."""
    from depthdif.export import load_export

    system, info = load_export(export_dir)
    return predict_to_zarr(system, store_path, out, source=f"export {Path(export_dir).resolve()} "
                                                          f"(trial {info.trial_id})", **kwargs)
