"""Bad input fails with a message naming the file/variable and the problem; stores are never damaged."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from depthdif.data import schema as S
from depthdif.data.dataset import PatchDataset
from depthdif.data.index import SplitSpec
from depthdif.data.store import OceanStore, StoreError, write_store


def _write(ds, path, **kw):
    return write_store(ds, path, patch_size=8, progress=False,
                       split=SplitSpec(block_size=16, time_block=1), **kw)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", [S.X, S.EO_MASK, S.LAND])
def test_missing_variable_is_named(tmp_path, small_dataset, name):
    with pytest.raises(ValueError, match=f"missing variables \\['{name}'\\]"):
        _write(small_dataset().drop_vars(name), tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_target_without_its_mask(tmp_path, small_dataset):
    with pytest.raises(ValueError, match="y and y_valid_mask must be given together"):
        _write(small_dataset().drop_vars(S.Y_MASK), tmp_path / "s.zarr")


def test_wrong_units_declared(tmp_path, small_dataset):
    ds = small_dataset()
    ds[S.Y].attrs["units"] = "K"
    with pytest.raises(ValueError, match="y: units 'K' not supported"):
        _write(ds, tmp_path / "s.zarr")


def test_sst_in_kelvin_declared_as_degc(tmp_path, small_dataset):
    ds = small_dataset()
    ds[S.EO] = ds[S.EO] + 273.15
    ds[S.EO].attrs["channel_units"] = "degC"
    with pytest.raises(ValueError, match=r"eo\[sst\].*plausible.*kelvin"):
        _write(ds, tmp_path / "s.zarr")


def test_all_nan_target(tmp_path, small_dataset):
    ds = small_dataset()
    ds[S.Y] = ds[S.Y] * np.nan
    ds[S.Y_MASK] = ds[S.Y_MASK] & False
    with pytest.raises(ValueError, match="y: no valid target values"):
        _write(ds, tmp_path / "s.zarr")


def test_argo_only_store_without_observations(tmp_path, small_dataset):
    ds = small_dataset(target=False)
    ds[S.X_MASK] = ds[S.X_MASK] & False
    ds[S.X] = ds[S.X] * np.nan
    with pytest.raises(ValueError, match="Argo-only store .* needs observations"):
        _write(ds, tmp_path / "s.zarr")


def test_mask_says_valid_where_value_is_nan(tmp_path, small_dataset):
    ds = small_dataset()
    ds[S.Y].values[0, 0, 10, 10] = np.nan
    with pytest.raises(ValueError, match="y: 1 entries are marked valid"):
        _write(ds, tmp_path / "s.zarr")


def test_mismatched_grids(tmp_path, small_dataset):
    ds = small_dataset()
    shifted = ds[S.EO].assign_coords(lat=ds["lat"].values + 0.05)
    merged = xr.merge([ds.drop_vars([S.EO]), shifted.to_dataset(name=S.EO)], join="outer", compat="override")
    with pytest.raises(ValueError, match="NaN.*grids|grids"):
        _write(merged, tmp_path / "s.zarr")
    renamed = ds.drop_vars(S.LAND).assign({S.LAND: (("row", "col"), ds[S.LAND].values)})
    with pytest.raises(ValueError, match="land_mask: dims \\('row', 'col'\\)"):
        _write(renamed, tmp_path / "s.zarr")


def test_unknown_eo_channel(tmp_path, small_dataset):
    ds = small_dataset().assign_coords(eo_channel=["chl"])
    with pytest.raises(ValueError, match="unknown channels \\['chl'\\]; allowed"):
        _write(ds, tmp_path / "s.zarr")


def test_profiles_with_wrong_levels(tmp_path, small_dataset):
    from depthdif.data.profiles import make_profiles

    bad = make_profiles(platform=["1"], time=np.array(["2021-03-01"], "datetime64[ns]"), lat=[-39.0],
                        lon=[11.0], temp=np.full((1, 3), 10.0))
    with pytest.raises(ValueError, match="profiles: column 'temp'"):
        _write(small_dataset(), tmp_path / "s.zarr", profiles=bad)
    with pytest.raises(ValueError, match="missing columns"):
        _write(small_dataset(), tmp_path / "s.zarr", profiles=pd.DataFrame({"lat": [1.0]}))


def test_existing_output_is_refused_and_untouched(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr")
    before = _snapshot(path)
    with pytest.raises(FileExistsError, match="s.zarr: output already exists"):
        _write(small_dataset(seed=9), path)
    assert _snapshot(path) == before


def test_failed_overwrite_never_damages_the_existing_store(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr")
    before = _snapshot(path)
    broken = small_dataset(seed=9)
    broken[S.EO] = broken[S.EO] + 273.15
    with pytest.raises(ValueError):
        _write(broken, path, overwrite=True)
    assert _snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    OceanStore.open(path)


def test_overwrite_refuses_a_directory_that_is_not_a_store(tmp_path, small_dataset):
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a depthdif store"):
        _write(small_dataset(), other, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"


def test_incomplete_store_is_refused(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr")
    (path / S.COMPLETE_MARKER).unlink()
    with pytest.raises(StoreError, match="incomplete store"):
        OceanStore.open(path)
    with pytest.raises(StoreError, match="incomplete store"):
        PatchDataset(path, "train")
    with pytest.raises(FileNotFoundError, match="no such store"):
        OceanStore.open(tmp_path / "nothing.zarr")


def _chunk_files(path: Path, name: str) -> list[Path]:
    return sorted(p for p in (path / name / "c").rglob("*") if p.is_file())


def test_missing_chunk_is_detected_on_open(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr", chunks={"lat": 16})
    _chunk_files(path, S.X_MASK)[1].unlink()
    with pytest.raises(StoreError, match=f"s.zarr: variable '{S.X_MASK}': 1 of 12 chunk files are missing"):
        OceanStore.open(path)


def test_corrupt_chunk_names_store_and_variable(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr", chunks={"lat": 16})
    victim = _chunk_files(path, S.Y)[0]  # time 0, top-left chunk
    victim.write_bytes(os.urandom(victim.stat().st_size))
    store = OceanStore.open(path)  # every file is there: only reading finds it
    with pytest.raises(StoreError, match="s.zarr: variable 'y': cannot read the window at time_index 0"):
        store.read_window(0, 0, 0, 8)
    with pytest.raises(StoreError, match="variable 'y': corrupt data at time_index 0"):
        store.verify()


def test_store_without_index_file(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr")
    (path / S.PATCH_INDEX_FILE).unlink()
    with pytest.raises(StoreError, match="missing patch_index.parquet"):
        OceanStore.open(path)


def test_all_land_grid(tmp_path, small_dataset):
    ds = small_dataset()
    ds[S.LAND] = ds[S.LAND] | True
    with pytest.raises(ValueError, match="every pixel is land"):
        _write(ds, tmp_path / "s.zarr")
