"""Store round trip: values, dtypes, chunks, attrs, statistics, files, atomic overwrite, chunk reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
import zarr

from depthdif.data import schema as S
from depthdif.data.index import SplitSpec, coverage_mask
from depthdif.data.store import OceanStore, write_store


def _write(ds, path, **kw):
    kw.setdefault("patch_size", 8)
    kw.setdefault("split", SplitSpec(block_size=16, time_block=1, seed=0))
    return write_store(ds, path, progress=False, **kw)


def test_round_trip_values_dtypes_and_chunks(tmp_path, small_dataset):
    ds = small_dataset()
    path = _write(ds, tmp_path / "s.zarr", chunks={"lat": 16}, provenance={"generator": "test", "seed": 7})
    store = OceanStore.open(path)
    for name in S.STORE_VARIABLES:
        np.testing.assert_array_equal(store.ds[name].values, ds[name].values, err_msg=name)
    group = zarr.open_group(str(path), mode="r")
    assert group[S.Y].dtype == np.float32 and group[S.X_MASK].dtype == bool
    assert group[S.Y].chunks == (1, 4, 16, 16)
    assert group[S.EO].chunks == (1, 1, 16, 16) and group[S.LAND].chunks == (16, 16)
    assert store.n_levels == 4 and store.depth.tolist() == ds["depth"].values.tolist()
    assert store.eo_channels == ["sst"] and store.has_target


def test_attrs_provenance_and_consolidated_metadata(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr", provenance={"generator": "test", "seed": 7})
    store = OceanStore.open(path)
    assert store.ds[S.Y].attrs["units"] == "degC"
    assert store.ds["depth"].attrs["units"] == "m"
    assert store.ds.attrs["provenance_generator"] == "test" and store.ds.attrs["provenance_seed"] == 7
    assert store.ds.attrs["depthdif_version"]
    root = json.loads((path / "zarr.json").read_text())
    assert "consolidated_metadata" in root and root["consolidated_metadata"]


def test_side_files_and_marker(tmp_path, small_dataset):
    path = _write(small_dataset(), tmp_path / "s.zarr", config={"answer": 42})
    for name in (S.PATCH_INDEX_FILE, S.NORMALIZATION_FILE, S.CONFIG_FILE, S.COMPLETE_MARKER):
        assert (path / name).exists(), name
    cfg = yaml.safe_load((path / S.CONFIG_FILE).read_text())
    assert cfg["store"]["patch_size"] == 8 and cfg["generator"] == {"answer": 42}
    assert not list(tmp_path.glob(".s.zarr.*"))  # no temp dir left behind


def test_statistics_are_over_train_windows_valid_pixels(tmp_path, small_dataset):
    ds = small_dataset()
    store = OceanStore.open(_write(ds, tmp_path / "s.zarr"))
    index = store.index
    values = {d: [] for d in range(4)}
    for t in range(ds.sizes["time"]):
        cover = coverage_mask(index, t, (32, 32), "train")
        for d in range(4):
            ok = cover & ds[S.Y_MASK].values[t, d]
            values[d].append(ds[S.Y].values[t, d][ok])
    for d in range(4):
        v = np.concatenate(values[d]).astype(np.float64)
        assert store.normalization.depth_mean[d] == pytest.approx(v.mean(), rel=1e-6)
        assert store.normalization.depth_std[d] == pytest.approx(v.std(), rel=1e-5)
        assert store.normalization.depth_count[d] == v.size
    # the deepest level (2000 m) is valid only on the deep half: fewer pixels than the surface
    assert store.normalization.depth_count[3] < store.normalization.depth_count[0]


def test_argo_only_store_takes_statistics_from_observations(tmp_path, small_dataset):
    ds = small_dataset(target=False)
    store = OceanStore.open(_write(ds, tmp_path / "argo.zarr"))
    assert not store.has_target and S.Y not in store.ds
    x = ds[S.X].values[:, 0][ds[S.X_MASK].values[:, 0]]
    assert store.normalization.depth_mean[0] == pytest.approx(x.mean(), abs=1.0)
    w = store.read_window(0, 8, 8, 8)
    assert S.Y not in w and w[S.X].shape == (4, 8, 8)


def test_overwrite_replaces_and_leaves_nothing_behind(tmp_path, small_dataset):
    path = _write(small_dataset(seed=0), tmp_path / "s.zarr")
    new = small_dataset(seed=1)
    _write(new, path, overwrite=True)
    store = OceanStore.open(path)
    np.testing.assert_array_equal(store.ds[S.Y].values, new[S.Y].values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


@pytest.mark.parametrize("chunk", [8, 12, 64])
def test_windows_read_through_the_chunk_cache_match_the_array(tmp_path, small_dataset, chunk):
    ds = small_dataset()
    store = OceanStore.open(_write(ds, tmp_path / "s.zarr", chunks={"lat": chunk}))
    for t, y0, x0, size in [(0, 0, 0, 8), (1, 5, 9, 12), (2, 20, 20, 12), (2, 0, 0, 32)]:
        w = store.read_window(t, y0, x0, size)
        win = np.s_[y0:y0 + size, x0:x0 + size]
        np.testing.assert_array_equal(w[S.Y], ds[S.Y].values[t][(slice(None),) + win])
        np.testing.assert_array_equal(w[S.X_MASK], ds[S.X_MASK].values[t][(slice(None),) + win])
        np.testing.assert_array_equal(w[S.EO], ds[S.EO].values[t][(slice(None),) + win])
        np.testing.assert_array_equal(w[S.LAND], ds[S.LAND].values[win])
        assert w[S.LAND].dtype == bool
    assert store.cache.hits > 0


def test_cached_windows_are_copies(tmp_path, small_dataset):
    store = OceanStore.open(_write(small_dataset(), tmp_path / "s.zarr"))
    first = store.read_window(0, 0, 8, 8)
    first[S.Y][:] = -99
    assert (store.read_window(0, 0, 8, 8)[S.Y] != -99).all()


def test_in_memory_matches_zarr(tmp_path, small_dataset):
    store = OceanStore.open(_write(small_dataset(), tmp_path / "s.zarr"))
    mem = store.in_memory()
    a, b = store.read_window(1, 8, 16, 8), mem.read_window(1, 8, 16, 8)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_window_outside_the_grid_is_an_error(tmp_path, small_dataset):
    store = OceanStore.open(_write(small_dataset(), tmp_path / "s.zarr"))
    with pytest.raises(ValueError, match="outside the grid"):
        store.read_window(0, 30, 0, 8)


def test_profiles_table_round_trip_and_summary(tmp_path, small_dataset):
    from depthdif.data.profiles import make_profiles

    prof = make_profiles(platform=["1", "2"], time=np.array(["2021-03-01"] * 2, "datetime64[ns]"),
                         lat=[-39.0, -38.0], lon=[11.0, 12.0], temp=np.full((2, 4), 10.0),
                         time_index=[0, 0], iy=[1, 2], ix=[5, 6], source="t")
    store = OceanStore.open(_write(small_dataset(), tmp_path / "s.zarr", profiles=prof))
    assert len(store.profiles) == 2 and list(store.profiles["temp"].iloc[0]) == [10.0] * 4
    text = store.summary()
    assert "train:" in text and "profiles: 2" in text and "2000.0" in text
