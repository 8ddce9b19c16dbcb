"""`depthdif data info --verify`: read every chunk of a store once and check what it holds.

Two kinds of silent damage: bytes changed inside a chunk (caught by the chunk checksum, see
store_codecs.py, or by the decoder on stores written without one) and values that decode fine
but are non-finite or physically implausible where the valid mask says they are valid (the
ranges of store_validation.PLAUSIBLE, the same ones a store is checked against when written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from depthdif.data import schema as S
from depthdif.data.store_codecs import has_checksum
from depthdif.data.store_error import StoreError
from depthdif.data.store_validation import check_stored_values

VALUE_MASKS = ((S.Y, S.Y_MASK), (S.X, S.X_MASK), (S.EO, S.EO_MASK))  # values and their valid masks


@dataclass(frozen=True)
class VerifyReport:
    """What a verify pass read: time steps, and which variables' chunks carry a checksum."""

    time_steps: int
    checksummed: dict[str, bool]

    def summary(self) -> str:
        unprotected = sorted(name for name, ok in self.checksummed.items() if not ok)
        note = ("every chunk checksummed" if not unprotected else
                f"no chunk checksum on {unprotected} (written before checksums; rewrite the store to add them)")
        return f"verified: {self.time_steps} time steps decoded, values finite and plausible under the masks; {note}"


def verify_store(store: Any, progress: bool = False) -> VerifyReport:
    """Decode every chunk of an opened OceanStore and check its values; raise StoreError."""
    from tqdm.auto import tqdm

    arrays = store._window_arrays()
    for t in tqdm(range(store.ds.sizes["time"]), desc="verifying", disable=not progress):
        step = {name: _decode(store.path, name, arr, None if name == S.LAND else t) for name, arr in arrays.items()}
        _check_step(store, step, t)
    return VerifyReport(int(store.ds.sizes["time"]), {name: has_checksum(arr) for name, arr in arrays.items()})


def _decode(path: Any, name: str, arr: Any, t: int | None) -> np.ndarray:
    try:
        return np.asarray(arr[...] if t is None else arr[t])
    except Exception as exc:  # zarr raises many types for a damaged chunk
        where = "" if t is None else f" at time_index {t}"
        raise StoreError(f"{path}: variable {name!r}: corrupt data{where} (a chunk fails its checksum or does not "
                         f"decode): {type(exc).__name__}: {exc}") from exc


def _check_step(store: Any, step: dict[str, np.ndarray], t: int) -> None:
    checks = [(v, step[v], step[m]) for v, m in VALUE_MASKS if v in step and v != S.EO]
    checks += [(f"{S.EO}[{c}]", step[S.EO][i], step[S.EO_MASK][i]) for i, c in enumerate(store.eo_channels)]
    for name, values, valid in checks:
        try:
            check_stored_values(values, valid.astype(bool), name, f"time_index {t}")
        except ValueError as exc:
            raise StoreError(f"{store.path}: {exc}") from None
