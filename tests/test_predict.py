"""Stitching windows back onto the grid, and a real prediction Zarr from the tiny store."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from depthdif.predict import (MEAN, SPREAD, SlabAccumulator, batch_seed, predict_to_zarr, taper_window, tile_offsets,
                              tile_windows)


def tiny_experiment(store):
    """A few-thousand-parameter pixel model with a 3-step DDIM sampler."""
    from depthdif.config import ExperimentConfig, replace_dotted

    return replace_dotted(ExperimentConfig(), {
        "data.store": str(store), "data.batch_size": 4, "data.val_subset": 2,
        "model.unet.base_channels": 8, "model.unet.channel_mults": [1, 2], "model.unet.attention_levels": [],
        "model.unet.groups": 4, "model.unet.time_embed_dim": 16,
        "diffusion.timesteps": 50, "sampling.steps": 3, "sampling.ensemble_size": 2,
        "training.max_epochs": 1, "training.limit_train_batches": 2, "training.limit_val_batches": 1,
    })


@pytest.fixture(scope="module")
def untrained_system(tiny_store):
    """A real (randomly initialised) pixel system: stitching does not need a trained model."""
    import torch

    from depthdif.train.systems import SYSTEMS, store_meta

    torch.manual_seed(0)
    cfg = tiny_experiment(tiny_store)
    meta = store_meta(cfg)
    return SYSTEMS["pixel"](cfg, meta.normalization, meta.depth.tolist()).eval()


def test_taper_is_positive_symmetric_and_peaks_in_the_centre():
    w = taper_window(16)
    assert w.shape == (16, 16) and (w > 0).all()
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_allclose(w, w[::-1, ::-1])
    assert w[7, 7] == pytest.approx(w.max()) and w[0, 0] == pytest.approx(w.min())


def test_overlapping_windows_average_by_taper_weight():
    taper = np.array([[1.0, 2.0], [2.0, 4.0]])
    slab = SlabAccumulator.empty(1, 2, 3)
    slab.add(np.full((1, 2, 2), 10.0), np.full((1, 2, 2), 1.0), 0, 0, taper)
    slab.add(np.full((1, 2, 2), 20.0), np.full((1, 2, 2), 4.0), 0, 1, taper)
    invalid = np.zeros((1, 2, 3), dtype=bool)
    invalid[0, 1, 0] = True
    mean, spread = slab.finish(invalid)
    # column 1 is covered by window A's right column (w 2, 4) and window B's left column (w 1, 2)
    assert mean[0, 0, 1] == pytest.approx((2 * 10 + 1 * 20) / 3)
    assert spread[0, 0, 1] == pytest.approx(np.sqrt((2 * 1 + 1 * 4) / 3))
    assert mean[0, 0, 0] == 10.0 and mean[0, 0, 2] == 20.0 and spread[0, 1, 2] == pytest.approx(2.0)
    assert np.isnan(mean[0, 1, 0]) and np.isnan(spread[0, 1, 0])  # invalid pixel


def test_uncovered_pixels_are_nan():
    slab = SlabAccumulator.empty(2, 4, 4)
    slab.add(np.ones((2, 2, 2)), np.zeros((2, 2, 2)), 0, 0, taper_window(2))
    mean, _ = slab.finish(np.zeros((2, 4, 4), dtype=bool))
    assert np.isfinite(mean[:, :2, :2]).all() and np.isnan(mean[:, 2:, :]).all()


def test_batch_seeds_are_distinct_and_reproducible():
    seeds = {batch_seed(3, b) for b in range(1000)}
    assert len(seeds) == 1000 and batch_seed(3, 7) == batch_seed(3, 7) != batch_seed(4, 7)


def test_tiles_step_by_stride_and_end_at_the_border():
    assert tile_offsets(48, 16, 8).tolist() == [0, 8, 16, 24, 32]
    assert tile_offsets(50, 16, 8).tolist() == [0, 8, 16, 24, 32, 34]  # the last window ends at the border
    assert tile_offsets(48, 16, 16).tolist() == [0, 16, 32]
    for bad in (0, 17):
        with pytest.raises(ValueError, match="--stride"):
            tile_offsets(48, 16, bad)


def test_tiles_cover_every_ocean_pixel_in_time_order(tiny_store):
    from depthdif.data.store import OceanStore

    store = OceanStore.open(tiny_store)
    windows = tile_windows(store, "all", 8, 16)
    assert (np.diff(windows["time_index"].to_numpy()) >= 0).all()
    assert windows["patch_id"].tolist() == list(range(len(windows)))
    ocean = ~store.ds["land_mask"].values.astype(bool)
    for t in range(store.ds.sizes["time"]):
        covered = np.zeros_like(ocean)
        for row in windows[windows["time_index"] == t].itertuples():
            assert ocean[row.y0:row.y0 + 16, row.x0:row.x0 + 16].any()  # all-land windows are skipped
            covered[row.y0:row.y0 + 16, row.x0:row.x0 + 16] = True
        assert covered[ocean].all()
    with pytest.raises(ValueError, match="allowed values"):
        tile_windows(store, "holdout", 8, 16)


def test_prediction_zarr_on_the_store_grid(tiny_store, untrained_system, tmp_path):
    from depthdif.data.store import OceanStore

    out = predict_to_zarr(untrained_system, tiny_store, tmp_path / "pred.zarr", split="all", samples=2,
                          seed=0, progress=False)
    store = OceanStore.open(tiny_store)
    pred = xr.open_zarr(out, chunks=None)
    assert pred[MEAN].dims == ("time", "depth", "lat", "lon")
    for name in ("time", "depth", "lat", "lon"):
        np.testing.assert_array_equal(pred[name].values, store.ds[name].values)
    mean, spread = pred[MEAN].values, pred[SPREAD].values
    land = store.ds["land_mask"].values.astype(bool)
    below_floor = ~store.ds["y_valid_mask"].values.astype(bool)
    assert np.isnan(mean[:, :, land]).all()
    assert np.isnan(mean[below_floor]).all()
    valid = ~below_floor & ~land[None, None]  # split "all": every ocean pixel above the floor, borders included
    assert np.isfinite(mean[valid]).all() and (spread[valid] >= 0).all()
    assert pred.attrs["stride"] == 8 and pred.attrs["patch_size"] == 16  # default: half the patch
    assert pred[MEAN].attrs["units"] == "degC" and pred.attrs["samples"] == 2
    # de-normalized: plausible ocean temperatures, not unit-variance noise around 0
    assert -5 < np.nanmean(mean) < 35


def test_split_restricts_coverage_and_existing_output_is_kept(tiny_store, untrained_system, tmp_path):
    from depthdif.data.store import OceanStore

    out = predict_to_zarr(untrained_system, tiny_store, tmp_path / "test.zarr", split="test", samples=1,
                          seed=0, progress=False)
    store = OceanStore.open(tiny_store)
    mean = xr.open_zarr(out, chunks=None)[MEAN].values
    covered = np.zeros(mean.shape, dtype=bool)
    for row in store.index[store.index["split"] == "test"].itertuples():
        covered[row.time_index, :, row.y0:row.y0 + row.size, row.x0:row.x0 + row.size] = True
    assert np.isnan(mean[~covered]).all() and np.isfinite(mean[covered]).any()
    assert np.nanmax(xr.open_zarr(out, chunks=None)[SPREAD].values) == 0.0  # K = 1: no spread
    with pytest.raises(FileExistsError, match="--overwrite"):
        predict_to_zarr(untrained_system, tiny_store, out, split="test", samples=1, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_overwrite_replaces_a_prediction_never_the_input_store(tiny_store, untrained_system, tmp_path):
    import shutil

    out = predict_to_zarr(untrained_system, tiny_store, tmp_path / "p.zarr", split="test", samples=1,
                          progress=False)
    predict_to_zarr(untrained_system, tiny_store, out, split="test", samples=1, seed=1, overwrite=True,
                    progress=False)  # an earlier prediction is ours to replace
    store_copy = shutil.copytree(tiny_store, tmp_path / "store.zarr")
    with pytest.raises(FileExistsError, match=r"store.zarr: exists and is not a depthdif prediction"):
        predict_to_zarr(untrained_system, store_copy, store_copy, overwrite=True, progress=False)
    from depthdif.data.store import OceanStore

    OceanStore.open(store_copy).verify()  # untouched


def test_argo_only_store_masks_land_but_not_the_sea_floor(tiny_store, untrained_system, tmp_path):
    """Without a target there is no sea-floor mask: only land and uncovered pixels are NaN."""
    from depthdif.data.store import OceanStore, write_store

    source = OceanStore.open(tiny_store)
    argo_only = write_store(source.ds.drop_vars(["y", "y_valid_mask"]).load(), tmp_path / "argo.zarr",
                            profiles=source.profiles, patch_size=16, stride=16, progress=False)
    store = OceanStore.open(argo_only)
    assert not store.has_target
    out = predict_to_zarr(untrained_system, argo_only, tmp_path / "pred.zarr", split="test", samples=1,
                          progress=False)
    mean = xr.open_zarr(out, chunks=None)[MEAN].values
    land = store.ds["land_mask"].values.astype(bool)
    covered = np.zeros(mean.shape, dtype=bool)
    for row in store.index[store.index["split"] == "test"].itertuples():
        covered[row.time_index, :, row.y0:row.y0 + row.size, row.x0:row.x0 + row.size] = True
    ocean = covered & ~land[None, None]
    assert np.isfinite(mean[ocean]).all() and np.isnan(mean[~ocean]).all()
    below_floor = ~source.ds["y_valid_mask"].values.astype(bool)
    assert np.isfinite(mean[ocean & below_floor]).any()  # values the target store would have masked


class WindowOracle:
    """A stand-in reconstruction with a known answer: each window returns `field` (°C, on the store
    grid) plus an error that differs from window to window, as a real model's does. It follows the
    interface predict needs (cfg, normalization, depth, sample); the tiling and blending are real."""

    def __init__(self, store, cfg, field: np.ndarray, window_error: float):
        self.cfg, self.normalization, self.depth = cfg, store.normalization.select_eo(["sst"]), store.depth
        self.field, self.window_error = field, window_error
        self.lat, self.lon = store.ds["lat"].values, store.ds["lon"].values

    def _start(self, centre: float, axis: np.ndarray, size: int) -> int:
        return int(round((centre - axis[0]) / (axis[1] - axis[0]) - (size / 2 - 0.5)))

    def sample(self, batch: dict, k: int, seed: int):
        import torch

        size = batch["x"].shape[-1]
        out = []
        for lat, lon in zip(batch["lat"].tolist(), batch["lon"].tolist()):
            y0, x0 = self._start(lat, self.lat, size), self._start(lon, self.lon, size)
            error = self.window_error * np.sin(1.7 * y0 + 0.9 * x0 + 0.3)  # differs between windows
            window = self.field[:, y0:y0 + size, x0:x0 + size] + error
            out.append(self.normalization.normalize_depth(window))
        members = torch.as_tensor(np.stack(out), dtype=torch.float32)
        return members.unsqueeze(0).expand(k, *members.shape)


def oracle_prediction(tiny_store, tmp_path, field, window_error, stride, name):
    from depthdif.data.store import OceanStore

    store = OceanStore.open(tiny_store)
    oracle = WindowOracle(store, tiny_experiment(tiny_store), field, window_error)
    out = predict_to_zarr(oracle, tiny_store, tmp_path / name, split="all", stride=stride, samples=1, seed=0,
                          progress=False)
    return store, xr.open_zarr(out, chunks=None)[MEAN].values[0]  # first time step (D, lat, lon)


def test_a_constant_field_stays_constant_across_window_borders(tiny_store, tmp_path):
    from depthdif.data.store import OceanStore

    shape = OceanStore.open(tiny_store).ds["y"].shape[1:]
    store, mean = oracle_prediction(tiny_store, tmp_path, np.full(shape, 12.5), 0.0, None, "const.zarr")
    written = np.isfinite(mean)
    assert written[:, ~store.ds["land_mask"].values.astype(bool)].any(axis=0).all()  # no NaN edge or hole
    np.testing.assert_allclose(mean[written], 12.5, atol=1e-4)


def test_overlap_blending_leaves_no_seam_at_window_borders(tiny_store, tmp_path):
    """A smooth field plus per-window errors: without overlap the errors jump at window borders;
    with the default half-patch stride the jumps there are no larger than inside the windows."""
    from depthdif.data.store import OceanStore

    d, h, w = OceanStore.open(tiny_store).ds["y"].shape[1:]
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    smooth = np.broadcast_to(15 + 2 * np.sin(yy / 9.0) + 1.5 * np.cos(xx / 11.0), (d, h, w)).copy()

    def step_ratio(stride, name):
        store, mean = oracle_prediction(tiny_store, tmp_path, smooth, 0.5, stride, name)
        error = (mean - smooth)[0]  # top level: above the sea floor everywhere in the ocean
        jumps = np.abs(np.diff(error, axis=1))  # between columns c and c+1
        border = np.isin(np.arange(w - 1), np.arange(15, w - 1, 16))  # c = 15, 31: the 16-px window edges
        finite = np.isfinite(jumps)
        at_border = np.nanmax(np.where(finite & border[None], jumps, np.nan))
        inside = np.nanmax(np.where(finite & ~border[None], jumps, np.nan))
        return at_border, inside

    seam, inside = step_ratio(16, "no_overlap.zarr")
    assert seam > 0.3 and inside < 1e-4  # no overlap: piecewise-constant errors, jumps at the borders only
    blended_border, blended_inside = step_ratio(None, "overlap.zarr")
    assert blended_border < 0.25 * seam and blended_border <= 1.5 * blended_inside


def test_prediction_is_cf_described_and_flags_levels_without_training_data(tiny_store, untrained_system, tmp_path):
    """Conventions, standard names, time axis attributes, and a per-level flag: a level the model
    saw no training pixel of is marked 2 (issue 14), a sparsely sampled one 1."""
    import dataclasses

    from depthdif.predict import LEVEL_FLAG

    counts = np.asarray(untrained_system.normalization.depth_count).copy()
    counts[-1], counts[-2] = 0, 5  # the deepest level never seen, the next one barely
    system = untrained_system
    original = system.normalization
    system.normalization = dataclasses.replace(original, depth_count=counts)
    try:
        out = predict_to_zarr(system, tiny_store, tmp_path / "cf.zarr", split="test", samples=1, seed=0,
                              progress=False)
    finally:
        system.normalization = original
    pred = xr.open_zarr(out, chunks=None)
    assert pred.attrs["Conventions"].startswith("CF-")
    assert pred[MEAN].attrs["standard_name"] == "sea_water_potential_temperature"
    assert pred[MEAN].attrs["ancillary_variables"] == LEVEL_FLAG and "standard_name" not in pred[SPREAD].attrs
    assert pred["time"].attrs["standard_name"] == "time" and pred["time"].attrs["axis"] == "T"
    assert pred["time"].encoding["units"].startswith("days since") or "since" in pred["time"].encoding["units"]
    assert pred["depth"].attrs["positive"] == "down" and pred["lat"].attrs["units"] == "degrees_north"
    flags = pred[LEVEL_FLAG]
    assert flags.dims == ("depth",) and flags.values.tolist() == [0] * (len(counts) - 2) + [1, 2]
    assert flags.attrs["flag_meanings"].split() == ["trained", "sparse_training_data", "no_training_data"]
    assert list(flags.attrs["flag_values"]) == [0, 1, 2]
