"""Silent damage is caught: a chunk with overwritten bytes, NaN or implausible values under a valid
mask, and a foreign Zarr where a store is about to be replaced (issue 12, rows 2 and 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from numcodecs import Zstd

from depthdif.cli import main
from depthdif.data import schema as S
from depthdif.data.index import SplitSpec
from depthdif.data.store import OceanStore, StoreError, write_store


def _write(ds, path, **kw):
    return write_store(ds, path, patch_size=8, split=SplitSpec(block_size=16, time_block=1, seed=0),
                       chunks={"lat": 16}, progress=False, **kw)


def _chunk(path: Path, name: str, t: int, cy: int = 0, cx: int = 0) -> Path:
    """The chunk file of (time t, all levels, chunk row cy, chunk column cx)."""
    return path / name / "c" / str(t) / "0" / str(cy) / str(cx)


def _silently_corrupt(path: Path, name: str, chunk: Path) -> None:
    """Change values inside a chunk the way bit rot the decompressor cannot see does: a valid
    Zstd frame of other bytes (16 floats become 3e38, as in issue 12); a checksum trailer, if the
    store has one, is left as it was."""
    codecs = json.loads((path / name / "zarr.json").read_text())["codecs"]
    checksummed = any(codec["name"] == "crc32c" for codec in codecs)
    raw = chunk.read_bytes()
    frame = raw[:-4] if checksummed else raw
    values = np.frombuffer(Zstd().decode(frame), dtype="<f4").copy()
    values[100:116] = np.float32(3.0e38)
    chunk.write_bytes(bytes(Zstd(level=0).encode(values.tobytes())) + (raw[-4:] if checksummed else b""))


def test_silently_changed_chunk_bytes_fail_verify_and_window_reads(tmp_path, small_dataset, capsys):
    path = _write(small_dataset(), tmp_path / "s.zarr")
    _silently_corrupt(path, S.Y, _chunk(path, S.Y, 1, 0, 1))

    assert main(["data", "info", str(path), "--verify"]) == 2
    err = capsys.readouterr().err
    assert "variable 'y': corrupt data at time_index 1" in err and "checksum" in err
    store = OceanStore.open(path)
    store.read_window(1, 0, 0, 8)  # a clean chunk of the same time step still reads
    with pytest.raises(StoreError, match=r"variable 'y': cannot read the window at time_index 1, y0 0, x0 16.*checksum"):
        store.read_window(1, 0, 16, 8)


def test_new_stores_checksum_every_variable(tmp_path, small_dataset, capsys):
    path = _write(small_dataset(), tmp_path / "s.zarr")
    report = OceanStore.open(path).verify()
    assert report.time_steps == 3 and all(report.checksummed.values())
    assert set(report.checksummed) == set(S.STORE_VARIABLES)
    assert main(["data", "info", str(path), "--verify"]) == 0
    assert "every chunk checksummed" in capsys.readouterr().out


def _edit(path: Path, name: str, index: tuple, value) -> None:
    """Write one value through zarr (valid chunk, valid checksum): damage only values can show."""
    array = zarr.open_group(str(path), mode="r+")[name]
    array[index] = value


def test_nonfinite_under_a_valid_mask_is_refused_by_window_reads_and_verify(tmp_path, small_dataset):
    ds = small_dataset()
    path = _write(ds, tmp_path / "s.zarr")
    t, d, i, j = 2, 1, 5, 20  # ocean, above the sea floor: valid in y_valid_mask
    assert bool(ds[S.Y_MASK].values[t, d, i, j])
    _edit(path, S.Y, (t, d, i, j), np.nan)
    store = OceanStore.open(path)
    store.read_window(t, 8, 16, 8)  # the neighbouring window is clean
    with pytest.raises(StoreError, match=r"variable 'y': 1 non-finite values under y_valid_mask in the window "
                                         r"at time_index 2, y0 0, x0 16, size 8"):
        store.read_window(t, 0, 16, 8)
    with pytest.raises(StoreError, match=r"y at time_index 2: 1 valid entries are non-finite .* first at index "
                                         r"\(1, 5, 20\)"):
        store.verify()


def test_implausible_values_under_a_valid_mask_fail_verify(tmp_path, small_dataset, capsys):
    ds = small_dataset()
    path = _write(ds, tmp_path / "s.zarr")
    _edit(path, S.EO, (0, 0, 3, 10), 3.0e38)  # what a damaged float often decodes to
    assert main(["data", "info", str(path), "--verify"]) == 2
    err = capsys.readouterr().err
    assert "eo[sst] at time_index 0: 1 valid entries are non-finite or outside the plausible range [-3.0, 40.0] degC" in err


def test_a_foreign_zarr_is_never_replaced(tmp_path, small_dataset):
    """A prediction output (or any Zarr we did not write) survives write_store(overwrite=True)."""
    foreign = tmp_path / "pred.zarr"
    xr.Dataset({"temperature_mean": (("t", "x"), np.ones((2, 3), np.float32))}).to_zarr(foreign, zarr_format=3)
    before = sorted(p.relative_to(foreign) for p in foreign.rglob("*"))
    with pytest.raises(FileExistsError, match=r"pred.zarr: exists and is not a depthdif store .* refusing"):
        _write(small_dataset(), foreign, overwrite=True)
    assert sorted(p.relative_to(foreign) for p in foreign.rglob("*")) == before
    assert float(xr.open_zarr(foreign)["temperature_mean"].sum()) == 6.0
    ours = _write(small_dataset(), tmp_path / "s.zarr")
    _write(small_dataset(seed=1), ours, overwrite=True)  # our own store is still replaceable
    assert OceanStore.open(ours).verify().time_steps == 3
