"""A torch Dataset of store windows that returns the batch contract (depthdif/data/schema.py).

Each item is one window (time_index, y0, x0, size) of the gridded store, normalized per depth
level (x, y) and per EO channel (eo), 0 where invalid. The store is opened lazily, once per
process (DataLoader workers and Ray workers each open their own handles; nothing unpicklable is
carried across), and `shard(rank, world_size)` gives each rank a contiguous block of the index.
Batches may be requested as `WindowRead`s (chunk_sampler.py): the read that is the last of its
chunk block this epoch drops that block's chunks from this process's cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from depthdif.data import schema as S
from depthdif.data.chunk_cache import DEFAULT_CACHE_BYTES
from depthdif.data.chunk_sampler import WindowRead
from depthdif.data.float_ids import FloatIndex, read_profile_cells
from depthdif.data.location import store_source
from depthdif.data.normalization import Normalization
from depthdif.data.store import OceanStore


class PatchDataset(torch.utils.data.Dataset):
    """Windows of one split of a store (or an explicit list of patch ids within it)."""

    def __init__(self, store: str | Path, split: str = "train", *, eo_channels: list[str] | None = None,
                 patch_ids: Sequence[int] | None = None, in_memory: bool = False,
                 cache_bytes: int = DEFAULT_CACHE_BYTES):
        """in_memory loads the whole store into RAM per process (small stores); otherwise windows
        are read from Zarr with a per-process cache of decoded chunks bounded by cache_bytes.
        `store` is a local path or an fsspec URI; it is kept as that plain value (picklable)."""
        if split not in S.SPLITS:
            raise ValueError(f"split {split!r}: must be one of {list(S.SPLITS)}")
        self.store_path = store_source(store)
        self.split = split
        self.in_memory = in_memory
        self.cache_bytes = int(cache_bytes)
        opened = OceanStore.open(self.store_path)
        rows = opened.index[opened.index["split"] == split]
        if patch_ids is not None:
            wanted = np.asarray(patch_ids, dtype=np.int64)
            unknown = np.setdiff1d(wanted, rows["patch_id"].to_numpy())
            if unknown.size:
                raise ValueError(f"{self.store_path}: patch ids {unknown[:10].tolist()} are not in split "
                                 f"{split!r}")
            rows = rows.set_index("patch_id", drop=False).loc[wanted]
        self._rows = _row_arrays(rows)
        self.patch_ids = self._rows["patch_id"]
        channels = list(eo_channels) if eo_channels else list(opened.eo_channels)
        self.normalization: Normalization = opened.normalization.select_eo(channels)
        self.eo_channels = channels
        self._eo_index = np.array([opened.eo_channels.index(c) for c in channels])
        self.depth = opened.depth.astype(np.float32)
        self.n_levels = opened.n_levels
        self.n_eo = len(channels)
        self.has_target = opened.has_target
        # Which float made each observed column (whole-float withholding, evaluation/withheld.py).
        self.float_index = FloatIndex.from_profiles(read_profile_cells(opened.location),
                                                    (opened.ds.sizes["lat"], opened.ds.sizes["lon"]),
                                                    where=str(self.store_path))
        self._store: OceanStore | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return int(self.patch_ids.size)

    def shard(self, rank: int, world_size: int) -> "PatchDataset":
        """Rank's contiguous block of this dataset's rows (index order: time, then position).

        Shards are disjoint, together cover the dataset, and their sizes differ by at most one;
        contiguous blocks keep each rank on its own chunks (one time step per chunk).
        """
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"shard: need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        block = np.array_split(np.arange(len(self)), world_size)[rank]
        return self._subset(block)

    def _subset(self, positions: np.ndarray) -> "PatchDataset":
        new = object.__new__(PatchDataset)
        new.__dict__.update(self.__dict__)
        new._rows = {k: v[positions] for k, v in self._rows.items()}
        new.patch_ids = new._rows["patch_id"]
        new._store, new._pid = None, None
        return new

    def _opened(self) -> OceanStore:
        if self._store is None or self._pid != os.getpid():
            store = OceanStore.open(self.store_path, check_chunks=False, cache_bytes=self.cache_bytes)
            self._store = store.in_memory() if self.in_memory else store
            self._pid = os.getpid()
        return self._store

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} patches")
        return self.window_item({k: v[i] for k, v in self._rows.items()})

    def window_item(self, r: dict) -> dict[str, torch.Tensor]:
        """Read any window of the store as a batch item; `r` has the `_row_arrays` fields
        (predict uses this for windows that are not in the patch index)."""
        w = self._opened().read_window(int(r["time_index"]), int(r["y0"]), int(r["x0"]), int(r["size"]))
        return self.to_batch_item(w, r)

    def __getitems__(self, reads: Sequence[int | WindowRead]) -> list[dict[str, torch.Tensor]]:
        """The items of one batch (the DataLoader calls this); see `WindowRead` for the release."""
        items = []
        for read in reads:
            if not isinstance(read, WindowRead):
                items.append(self[read])
                continue
            items.append(self[read.index])
            if read.last_of_block:
                r = self.window(read.index)
                self._opened().cache.release_containing(r["time_index"], r["y0"], r["x0"])
        return items

    def window(self, i: int) -> dict[str, int]:
        """Where window i lies: time_index, y0, x0, size."""
        return {k: int(self._rows[k][i]) for k in ("time_index", "y0", "x0", "size")}

    def windows(self) -> dict[str, np.ndarray]:
        """Every window's time_index, y0, x0 and size, in dataset order (what samplers plan on)."""
        return {k: self._rows[k] for k in ("time_index", "y0", "x0", "size")}

    def to_batch_item(self, w: dict[str, np.ndarray], r: dict) -> dict[str, torch.Tensor]:
        """Raw window (degC, NaN where invalid) -> normalized float32 tensors of the batch contract."""
        norm = self.normalization
        x_mask = w[S.X_MASK]
        x = np.where(x_mask, norm.normalize_depth(np.nan_to_num(w[S.X])), 0.0)
        if self.has_target:
            y_mask = w[S.Y_MASK]
            y = np.where(y_mask, norm.normalize_depth(np.nan_to_num(w[S.Y])), 0.0)
        else:  # Argo-only store: no target anywhere
            y_mask = np.zeros_like(x_mask)
            y = np.zeros_like(x)
        eo_mask = w[S.EO_MASK][self._eo_index]
        eo = np.where(eo_mask, norm.normalize_eo(np.nan_to_num(w[S.EO][self._eo_index])), 0.0)
        item = {
            "x": x, "y": y, "eo": eo, "eo_valid_mask": eo_mask, "x_valid_mask": x_mask,
            "y_valid_mask": y_mask, "land_mask": w[S.LAND][None],
        }
        out = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in item.items()}
        observed = x_mask.any(axis=0)
        out["float_ids"] = torch.from_numpy(self.float_index.window(
            int(r["time_index"]), int(r["y0"]), int(r["x0"]), int(r["size"]), observed))
        out["depth"] = torch.from_numpy(self.depth.copy())
        out["patch_id"] = torch.tensor(int(r["patch_id"]), dtype=torch.int64)
        out["lat"] = torch.tensor(float(r["lat"]), dtype=torch.float32)
        out["lon"] = torch.tensor(float(r["lon"]), dtype=torch.float32)
        out["time"] = torch.tensor(int(r["time_days"]), dtype=torch.int64)
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_store"], state["_pid"] = None, None  # each process opens its own handles
        return state


def _row_arrays(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Plain numpy columns: fast per-item access and cheap to pickle to workers."""
    cols = ("patch_id", "time_index", "y0", "x0", "size", "lat", "lon", "time_days")
    return {c: rows[c].to_numpy().copy() for c in cols}
