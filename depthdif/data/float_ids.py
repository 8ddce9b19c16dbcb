"""Which Argo float(s) made each observed grid column: the per-window `float_ids` batch key.

Whole-float cross-validation (evaluation/withheld.py) needs, for every observed cell of a
window, the floats whose profiles were binned into it. The store's `profiles.parquet` knows
(platform, time_index, iy, ix) per profile; this module turns it into stable integer ids and, per
window, a (K, s, s) int64 raster: up to K distinct float ids per cell, -1 in unused slots. K is
the store-wide maximum number of distinct floats sharing one cell at one time step, so every
window of a store has the same shape and batches collate.

Ids are a 63-bit BLAKE2b hash of the platform string: the same float gets the same id in every
process, store and run, so a withholding decision that depends on (seed, id) depends only on
(seed, platform).

Fallbacks (each warns once per store):
- no profiles.parquet, no `platform` column, or every platform empty: every profile is its own
  "float" (id from its cell and time step): float withholding becomes per-profile withholding;
- a profile with an empty platform: its own pseudo float (from its profile_id);
- all platforms unique (one profile per float): float withholding is per-profile withholding;
- an observed cell that no profile row explains: its own pseudo float (from its cell and step).
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import pandas as pd

from depthdif.data import schema as S
from depthdif.data.location import StoreLocation

ID_MASK = np.uint64(0x7FFF_FFFF_FFFF_FFFF)  # ids are non-negative int64; -1 marks "no float"
_CELL_TAG, _PROFILE_TAG = np.uint64(0xC3A5C85C97CB3127), np.uint64(0xB492B66FBE98F273)
_COLUMNS = ["platform", "time_index", "iy", "ix", "profile_id"]


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer on uint64 arrays (wraps modulo 2**64; a well-mixed bijection)."""
    z = np.asarray(values, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def platform_ids(platforms) -> np.ndarray:
    """Stable non-negative int64 id per platform string (BLAKE2b, 63 bits)."""
    unique, inverse = np.unique(np.asarray(platforms, dtype=str), return_inverse=True)
    ids = np.array([int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "little")
                    for p in unique], dtype=np.uint64) & ID_MASK
    return ids.astype(np.int64)[inverse.reshape(-1)]


def cell_ids(time_index, iy, ix, shape: tuple[int, int]) -> np.ndarray:
    """Pseudo float ids for columns without a known platform: one per (time step, cell)."""
    h, w = shape
    flat = (np.asarray(time_index, np.uint64) * np.uint64(h) + np.asarray(iy, np.uint64)) * np.uint64(w)
    return ((splitmix64((flat + np.asarray(ix, np.uint64)) ^ _CELL_TAG)) & ID_MASK).astype(np.int64)


def _profile_pseudo_ids(profile_id: np.ndarray) -> np.ndarray:
    return ((splitmix64(np.asarray(profile_id, np.int64).astype(np.uint64) ^ _PROFILE_TAG)) & ID_MASK).astype(np.int64)


def read_profile_cells(location: StoreLocation) -> pd.DataFrame | None:
    """The columns of profiles.parquet this module needs (the temperature lists are not read)."""
    import pyarrow.parquet as pq

    if not location.exists(S.PROFILES_FILE):
        return None
    source = location.path / S.PROFILES_FILE if location.is_local else io.BytesIO(location.read_bytes(S.PROFILES_FILE))
    table = pq.ParquetFile(source)
    columns = [c for c in _COLUMNS if c in table.schema_arrow.names]
    return table.read(columns=columns).to_pandas()


class FloatIndex:
    """Per time step, the distinct (cell, float id) pairs of a store; windows → (K, s, s) rasters."""

    def __init__(self, time_index: np.ndarray, iy: np.ndarray, ix: np.ndarray, ids: np.ndarray,
                 shape: tuple[int, int], fallback: str | None = None):
        self.shape = (int(shape[0]), int(shape[1]))
        self.fallback = fallback  # why float ids are not real platforms (None: they are)
        h, w = self.shape
        cell = (np.asarray(time_index, np.int64) * h + np.asarray(iy, np.int64)) * w + np.asarray(ix, np.int64)
        pairs = np.unique(np.stack([cell, np.asarray(ids, np.int64)], axis=1), axis=0)  # sorted by cell
        self._cell, self._id = pairs[:, 0], pairs[:, 1]
        starts = np.r_[0, np.flatnonzero(np.diff(self._cell)) + 1] if len(pairs) else np.zeros(0, np.int64)
        counts = np.diff(np.r_[starts, len(pairs)])
        self._rank = np.arange(len(pairs)) - np.repeat(starts, counts)  # slot of each pair in its cell
        self.k = int(counts.max()) if counts.size else 1

    @classmethod
    def from_profiles(cls, profiles: pd.DataFrame | None, shape: tuple[int, int], where: str) -> "FloatIndex":
        """Build from the profile table (or None); warns and falls back as the module docstring says."""
        h, w = shape
        if profiles is None or len(profiles) == 0:
            return cls._fallback(where, "the store has no profiles.parquet (no float ids)", shape)
        t, iy, ix = (profiles[c].to_numpy(np.int64) for c in ("time_index", "iy", "ix"))
        inside = (t >= 0) & (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        platform = (profiles["platform"].astype("string").fillna("").str.strip().to_numpy(dtype=str)
                    if "platform" in profiles.columns else np.full(len(profiles), "", dtype=str))
        known = platform != ""
        if not known[inside].any():
            return cls._fallback(where, "profiles.parquet has no usable `platform` column", shape)
        ids = np.where(known, platform_ids(np.where(known, platform, "?")), -1)
        unknown = ~known
        if unknown.any():
            pid = profiles["profile_id"].to_numpy(np.int64) if "profile_id" in profiles else np.arange(len(profiles))
            ids[unknown] = _profile_pseudo_ids(pid[unknown])
            _warn(where, f"{int(unknown.sum())} profiles have no platform; each counts as its own float")
        fallback = None
        if np.unique(platform[known & inside]).size == int((known & inside).sum()):
            fallback = "every platform has a single profile: whole-float withholding is per-profile withholding"
            _warn(where, fallback)
        return cls(t[inside], iy[inside], ix[inside], ids[inside], shape, fallback)

    @classmethod
    def _fallback(cls, where: str, reason: str, shape: tuple[int, int]) -> "FloatIndex":
        message = f"{reason}; each observed column counts as its own float (per-profile withholding)"
        _warn(where, message)
        empty = np.zeros(0, np.int64)
        return cls(empty, empty, empty, empty, shape, message)

    def window(self, time_index: int, y0: int, x0: int, size: int, observed: np.ndarray) -> np.ndarray:
        """(K, size, size) int64 float ids of one window; -1 where no (further) float.

        `observed` (size, size) bool: observed columns of the window; one that no profile row
        explains gets a pseudo id of its own (cell, step), so it can still be withheld.
        """
        h, w = self.shape
        out = np.full((self.k, size, size), -1, dtype=np.int64)
        base = time_index * h * w
        lo, hi = np.searchsorted(self._cell, [base + y0 * w, base + (y0 + size) * w])
        cell, ids, rank = self._cell[lo:hi], self._id[lo:hi], self._rank[lo:hi]
        cy, cx = np.divmod(cell - base, w)
        inside = (cx >= x0) & (cx < x0 + size)
        out[rank[inside], cy[inside] - y0, cx[inside] - x0] = ids[inside]
        orphan = observed & (out[0] < 0)
        if orphan.any():
            oy, ox = np.nonzero(orphan)
            out[0, oy, ox] = cell_ids(np.full(oy.size, time_index), oy + y0, ox + x0, self.shape)
        return out


def _warn(where: str, message: str) -> None:
    warnings.warn(f"{where}: {message}", UserWarning, stacklevel=3)
