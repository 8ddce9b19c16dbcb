"""The patch index: which windows of the gridded store are samples, and in which split.

Patches are windows (time_index, y0, x0, size) over the native grid, never copies. Splits are
drawn per *cell* = (spatial block, time block), never per patch: overlapping patches share pixels,
so a random per-patch split would leak validation pixels into training (upstream's AE split leaks
the validation year). A window takes the split of the cells it covers; a window that straddles
cells of different splits is dropped. Hence no val/test window shares a pixel with a train window
at the same time step, by construction (tests/data/test_index.py checks it directly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

INDEX_COLUMNS = ("patch_id", "time_index", "y0", "x0", "size", "split", "land_fraction", "n_profiles")


@dataclass
class SplitSpec:
    """How cells (spatial block x time block) are assigned to train/val/test."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # Spatial block edge in pixels (None: 2 x patch_size); time block length in time steps.
    block_size: int | None = None
    time_block: int = 4
    seed: int = 0
    # Temporal leakage rule (depthdif/data/split_leakage.py): a val/test window sharing pixels with a
    # train window less than this many days away leaks; "warn", "drop" those windows, or "refuse".
    decorrelation_days: float = 15.0
    leakage: str = "warn"

    def check(self) -> None:
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise ValueError(f"split: val_fraction={self.val_fraction}, test_fraction={self.test_fraction} "
                             "must be in [0, 1) with a sum < 1")
        if self.block_size is not None and self.block_size < 1:
            raise ValueError(f"split: block_size must be >= 1, got {self.block_size}")
        if self.time_block < 1:
            raise ValueError(f"split: time_block must be >= 1, got {self.time_block}")
        if self.decorrelation_days < 0 or self.leakage not in ("warn", "drop", "refuse"):
            raise ValueError(f"split: decorrelation_days must be >= 0 and leakage one of ['warn', 'drop', "
                             f"'refuse'], got {self.decorrelation_days}, {self.leakage!r}")


def window_offsets(n: int, size: int, stride: int) -> np.ndarray:
    """Start offsets of windows of `size` with `stride` along an axis of length n."""
    if size > n:
        raise ValueError(f"patch_size {size} is larger than the grid ({n} pixels)")
    return np.arange(0, n - size + 1, stride, dtype=np.int64)


def window_sums(field2d: np.ndarray, y0: np.ndarray, x0: np.ndarray, size: int) -> np.ndarray:
    """Sum of a 2-D field over each window, with an integral image (O(1) per window)."""
    s = np.zeros((field2d.shape[0] + 1, field2d.shape[1] + 1))
    s[1:, 1:] = np.cumsum(np.cumsum(field2d, axis=0), axis=1)
    y1, x1 = y0 + size, x0 + size
    return s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]


def assign_cell_splits(n_time_blocks: int, n_by: int, n_bx: int, weight: np.ndarray,
                       spec: SplitSpec) -> np.ndarray:
    """Split code per cell (0 train, 1 val, 2 test), shape (n_time_blocks, n_by, n_bx).

    weight: whole usable windows per cell. Cells are visited in a seeded random order and each goes
    to the split furthest below its target share of windows, so the splits match the fractions even
    when cells differ in size; with 3+ usable cells, val and test each get at least one.
    """
    rng = np.random.default_rng(spec.seed)
    target = np.array(_fractions(spec)) * weight.sum()
    flat = np.zeros(weight.size, dtype=np.int8)
    w = weight.ravel()
    assigned = np.zeros(3)
    cells = rng.permutation(np.flatnonzero(w > 0))
    for cell in cells:
        code = int(np.argmax(target - assigned))
        flat[cell] = code
        assigned[code] += w[cell]
    if len(cells) >= 3:
        for code in (1, 2):
            if assigned[code] == 0 and target[code] > 0:
                train_cells = [c for c in cells if flat[c] == 0]
                smallest = min(train_cells, key=lambda c: w[c])
                flat[smallest] = code
                assigned[code] += w[smallest]
                assigned[0] -= w[smallest]
    # Cells without a whole window still get a split (windows may span two same-split cells).
    empty = np.flatnonzero(w == 0)
    flat[empty] = rng.choice(3, size=empty.size, p=_fractions(spec))
    return flat.reshape(n_time_blocks, n_by, n_bx)


def _fractions(spec: SplitSpec) -> list[float]:
    return [1 - spec.val_fraction - spec.test_fraction, spec.val_fraction, spec.test_fraction]


def build_patch_index(land_mask: np.ndarray, observed_columns: np.ndarray, *, patch_size: int,
                      stride: int | None = None, max_land_fraction: float = 0.5,
                      split: SplitSpec | None = None) -> pd.DataFrame:
    """Cut the regular window grid, drop too-dry windows, assign splits per cell.

    land_mask: (H, W), true on land. observed_columns: (T, H, W), true where a profile was binned.
    Rows are sorted by time, then y0, then x0; patch_id is the row number.
    """
    index = plan_patch_index(land_mask, observed_columns.shape[0], patch_size=patch_size, stride=stride,
                             max_land_fraction=max_land_fraction, split=split)
    rows = index.groupby("time_index").indices
    for t, where in rows.items():
        count_profiles(index, where, observed_columns[t])
    return index


def plan_patch_index(land_mask: np.ndarray, ntime: int, *, patch_size: int, stride: int | None = None,
                     max_land_fraction: float = 0.5, split: SplitSpec | None = None) -> pd.DataFrame:
    """The index before any observation is known (n_profiles 0): splits need only land and the
    number of steps, so a streaming writer can plan it first and count profiles step by step."""
    split = split or SplitSpec()
    split.check()
    stride = stride or patch_size
    if stride < 1 or patch_size < 1:
        raise ValueError(f"patch_size ({patch_size}) and stride ({stride}) must be >= 1")
    if not 0 <= max_land_fraction <= 1:
        raise ValueError(f"max_land_fraction must be in [0, 1], got {max_land_fraction}")
    h, w = land_mask.shape
    block = split.block_size or 2 * patch_size
    if block < patch_size:  # then a window spans at most 2 blocks per axis: corners suffice
        raise ValueError(f"split.block_size ({block}) must be >= patch_size ({patch_size})")
    ys, xs = window_offsets(h, patch_size, stride), window_offsets(w, patch_size, stride)
    yy, xx = (a.ravel() for a in np.meshgrid(ys, xs, indexing="ij"))
    land_fraction = window_sums(land_mask.astype(np.float64), yy, xx, patch_size) / patch_size**2
    usable = land_fraction <= max_land_fraction + 1e-12
    # A window lies in one block when its first and last pixel do.
    by0, by1 = yy // block, (yy + patch_size - 1) // block
    bx0, bx1 = xx // block, (xx + patch_size - 1) // block
    n_by, n_bx = -(-h // block), -(-w // block)
    n_tb = -(-ntime // split.time_block)
    whole = usable & (by0 == by1) & (bx0 == bx1)
    weight = np.zeros((n_tb, n_by, n_bx))
    for t in range(ntime):
        np.add.at(weight[t // split.time_block], (by0[whole], bx0[whole]), 1.0)
    codes = assign_cell_splits(n_tb, n_by, n_bx, weight, split)
    rows = []
    names = np.array(["train", "val", "test"])
    for t in range(ntime):
        cell = codes[t // split.time_block]
        corner_codes = np.stack([cell[by0, bx0], cell[by0, bx1], cell[by1, bx0], cell[by1, bx1]])
        same = (corner_codes == corner_codes[0]).all(axis=0)
        keep = usable & same
        rows.append(pd.DataFrame({
            "time_index": np.full(keep.sum(), t, dtype=np.int64), "y0": yy[keep], "x0": xx[keep],
            "size": np.full(keep.sum(), patch_size, dtype=np.int64), "split": names[corner_codes[0][keep]],
            "land_fraction": land_fraction[keep].astype(np.float32),
            "n_profiles": np.zeros(keep.sum(), dtype=np.int64),
        }))
    index = pd.concat(rows, ignore_index=True)
    index.insert(0, "patch_id", np.arange(len(index), dtype=np.int64))
    return index


def count_profiles(index: pd.DataFrame, rows: np.ndarray, observed: np.ndarray) -> None:
    """Fill n_profiles of `rows` (one time step) from that step's (H, W) observed columns."""
    if len(rows) == 0:
        return
    sub = index.iloc[rows]
    size = int(sub["size"].iloc[0])
    counts = window_sums(observed.astype(np.float64), sub["y0"].to_numpy(), sub["x0"].to_numpy(), size)
    index.iloc[rows, index.columns.get_loc("n_profiles")] = counts.round().astype(np.int64)


def coverage_mask(index: pd.DataFrame, time_index: int, shape: tuple[int, int],
                  split: str = "train") -> np.ndarray:
    """(H, W) bool: pixels covered by `split` windows at one time step (each pixel once)."""
    cover = np.zeros(shape, dtype=bool)
    rows = index[(index["time_index"] == time_index) & (index["split"] == split)]
    for y0, x0, size in zip(rows["y0"], rows["x0"], rows["size"]):
        cover[y0:y0 + size, x0:x0 + size] = True
    return cover


def check_no_leakage(index: pd.DataFrame, shape: tuple[int, int]) -> None:
    """Raise if a val/test window shares a pixel with a train window at the same time step."""
    for t in index["time_index"].unique():
        train = coverage_mask(index, int(t), shape, "train")
        for split in ("val", "test"):
            other = coverage_mask(index, int(t), shape, split)
            if (train & other).any():
                raise AssertionError(f"split leakage: {split} overlaps train at time_index {t}")


def split_counts(index: pd.DataFrame) -> dict[str, int]:
    counts = index["split"].value_counts()
    return {s: int(counts.get(s, 0)) for s in ("train", "val", "test")}
