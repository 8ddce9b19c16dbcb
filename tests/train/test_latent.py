"""LatentDiffusionSystem on the real tiny store: freezing, decoding, metrics, errors, export, PCA codes."""

from __future__ import annotations

import shutil

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import xarray as xr
from torch.utils.data import DataLoader

from depthdif.config.loader import load, replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.data.dataset import PatchDataset
from depthdif.data.normalization import Normalization
from depthdif.evaluation.withheld import withhold_profiles
from depthdif.export import export_checkpoint, load_export
from depthdif.train.autoencoder import AutoencoderSystem, load_autoencoder
from depthdif.train.latent import LatentDiffusionSystem, masked_avg_pool
from depthdif.train import run
from depthdif.train.pixel import PixelDiffusionSystem
from depthdif.train.run_dir import RunDir
from depthdif.train.systems import load_system

from ._tiny import tiny_config


def trainer_for(root, epochs=1, train_batches=2):
    return pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      limit_train_batches=train_batches, limit_val_batches=1, default_root_dir=str(root))


def loaders(store):
    train, val = PatchDataset(store, "train"), PatchDataset(store, "val")
    return DataLoader(train, batch_size=2, shuffle=False), DataLoader(val, batch_size=2)


def train_ae(store, root, downsample=1):
    """A real AE checkpoint (one short epoch: the latent tests need a trained file, not a good AE)."""
    cfg = tiny_config(store, **{"ae.spatial_downsample": downsample})
    val = PatchDataset(store, "val")
    system = AutoencoderSystem.for_training(cfg, val.normalization, val.depth)
    trainer = trainer_for(root)
    trainer.fit(system, *loaders(store))
    path = root / f"ae_s{downsample}.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def ae_checkpoint(tiny_store, tmp_path_factory):
    return train_ae(tiny_store, tmp_path_factory.mktemp("ae1"))


@pytest.fixture(scope="module")
def ae_checkpoint_s2(tiny_store, tmp_path_factory):
    return train_ae(tiny_store, tmp_path_factory.mktemp("ae2"), downsample=2)


def latent_system(store, ae_path, **overrides):
    cfg = tiny_config(store, **{"latent.ae_checkpoint": None if ae_path is None else str(ae_path),
                                **overrides})
    val = PatchDataset(store, "val")
    return LatentDiffusionSystem.for_training(cfg, val.normalization, val.depth)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    after = module.state_dict()
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


def fit_one_epoch(system, store, root):
    pl.seed_everything(0, verbose=False)
    trainer = trainer_for(root)
    trainer.fit(system, *loaders(store))
    return trainer


@pytest.mark.parametrize("freeze,trains_encoder,trains_decoder",
                         [("full", False, False), ("partial", False, True), ("none", True, True)])
def test_freeze_modes_train_only_what_they_say(tiny_store, ae_checkpoint, tmp_path, freeze, trains_encoder,
                                               trains_decoder):
    system = latent_system(tiny_store, ae_checkpoint, **{"latent.freeze": freeze})
    ae_before, denoiser_before = snapshot(system.autoencoder), snapshot(system.denoiser)
    trainer = fit_one_epoch(system, tiny_store, tmp_path)
    moved = changed(ae_before, system.autoencoder)
    assert any(k.startswith("encoder") for k in moved) == trains_encoder  # encoder.*, encoder_linear.*
    assert any(k.startswith("decoder") for k in moved) == trains_decoder
    assert not moved & {"latent_mean", "latent_std", "latent_batches_seen"}  # AE stays in eval mode
    assert changed(denoiser_before, system.denoiser)
    assert ("train/ae_recon_loss" in trainer.callback_metrics) == (freeze != "full")


@pytest.mark.parametrize("downsample", [1, 2])
def test_sampling_decodes_to_all_levels(tiny_store, ae_checkpoint, ae_checkpoint_s2, downsample):
    path = ae_checkpoint if downsample == 1 else ae_checkpoint_s2
    system = latent_system(tiny_store, path).eval()
    batch = next(iter(loaders(tiny_store)[1]))
    assert system.model_space_shape(batch) == (2, 4, 16 // downsample, 16 // downsample)
    samples = system.sample(batch, k=2, seed=3)
    assert samples.shape == (2, 2, 8, 16, 16)
    assert torch.isfinite(samples).all()
    assert torch.equal(samples, system.sample(batch, k=2, seed=3))  # seeded
    assert system.predict(batch).shape == (2, 8, 16, 16)


def test_validation_metrics_follow_the_pixel_definitions(tiny_store, ae_checkpoint, tmp_path):
    """Same metric keys as the pixel model, and val/rmse_full equals a hand computation on decoded samples."""
    system = latent_system(tiny_store, ae_checkpoint)
    pixel = PixelDiffusionSystem(system.cfg, system.normalization, system.depth)
    latent_logged = trainer_for(tmp_path).validate(system, loaders(tiny_store)[1], verbose=False)[0]
    pixel_logged = trainer_for(tmp_path).validate(pixel, loaders(tiny_store)[1], verbose=False)[0]
    metric_keys = {k for k in pixel_logged if "rmse" in k or "mae" in k or "bias" in k}
    assert metric_keys and metric_keys <= set(latent_logged)
    assert "model/latent_channels" not in pixel_logged

    batch = next(iter(loaders(tiny_store)[1]))
    cfg = system.cfg
    held_in, withheld = withhold_profiles(batch, cfg.data.withheld_fraction, cfg.data.withheld_seed)
    pred = system.sample(held_in, seed=cfg.sampling.seed).mean(dim=0).double()
    std = torch.tensor(system.normalization.depth_std).reshape(1, -1, 1, 1)
    within = torch.tensor(system.depth <= cfg.evaluation.max_depth_m).reshape(1, -1, 1, 1)
    mask = batch["y_valid_mask"].double() * within
    rmse = (((pred - batch["y"].double()) * std) ** 2 * mask).sum() / mask.sum()
    assert latent_logged["val/rmse_full"] == pytest.approx(float(rmse.sqrt()), rel=1e-4)


def test_logged_latent_width_is_the_loaded_aes(tiny_store, ae_checkpoint, tmp_path):
    """studies/latent.yaml minimizes `model/latent_channels`: the loaded AE's width, not the request."""
    system = latent_system(tiny_store, ae_checkpoint, **{"ae.latent_channels": 16})
    logged = trainer_for(tmp_path).validate(system, loaders(tiny_store)[1], verbose=False)[0]
    assert logged["model/latent_channels"] == float(system.autoencoder.latent_channels) == 4.0


def test_run_dir_records_the_resolved_config_and_width(tiny_store, ae_checkpoint, tmp_path):
    cfg = tiny_config(tiny_store, **{"latent.ae_checkpoint": str(ae_checkpoint), "ae.latent_channels": 16,
                                     "training.max_epochs": 1, "training.limit_train_batches": 1})
    result = run("latent", cfg, tmp_path / "run", progress=False)
    assert result.ok, result.error
    recorded = load(ExperimentConfig, RunDir(tmp_path / "run").config_file)
    assert recorded.ae.latent_channels == 4 and RunDir(tmp_path / "run").kind() == "latent"
    assert RunDir(result.run_dir).metrics()[-1]["model/latent_channels"] == 4.0
    assert "best/model/latent_channels" not in result.metrics  # reported as-is, not best-so-far


def test_ae_store_mismatch_is_a_clear_error(tiny_store, ae_checkpoint):
    cfg = tiny_config(tiny_store, **{"latent.ae_checkpoint": str(ae_checkpoint)})
    val = PatchDataset(tiny_store, "val")
    norm = val.normalization
    shifted = Normalization(norm.depth_mean, norm.depth_std * np.r_[1, 1, 1.5, 1, 1, 1, 1, 1],
                            norm.eo_mean, norm.eo_std, norm.eo_channels)
    with pytest.raises(ValueError, match=r"depth_std differs from the store's at level 2"):
        LatentDiffusionSystem.for_training(cfg, shifted, val.depth)
    fewer = Normalization(norm.depth_mean[:7], norm.depth_std[:7], norm.eo_mean, norm.eo_std, norm.eo_channels)
    with pytest.raises(ValueError, match=r"trained on 8 depth levels, the store has 7"):
        LatentDiffusionSystem.for_training(cfg, fewer, val.depth[:7])


def test_frozen_latent_needs_a_trained_or_fitted_codec(tiny_store):
    val = PatchDataset(tiny_store, "val")
    with pytest.raises(ValueError, match=r"latent.freeze='full' needs a trained autoencoder.*ae.kind: pca"):
        LatentDiffusionSystem.for_training(tiny_config(tiny_store), val.normalization, val.depth)
    pca = tiny_config(tiny_store, **{"ae.kind": "pca", "latent.freeze": "partial"})
    with pytest.raises(ValueError, match=r"latent.freeze='partial': the pca codec has nothing to train"):
        LatentDiffusionSystem.for_training(pca, val.normalization, val.depth)


def test_resolved_config_records_the_ae_it_loaded(tiny_store, ae_checkpoint):
    system = latent_system(tiny_store, ae_checkpoint, **{"ae.latent_channels": 16})
    assert system.cfg.ae.latent_channels == 4  # the checkpoint's AE, not the stale request
    assert system.hparams["config"]["ae"]["latent_channels"] == 4
    assert system.hparams["kind"] == "latent"


def test_checkpoint_and_export_rebuild_the_same_sampler(tiny_store, ae_checkpoint, tmp_path):
    """Issue 13: the codec travels inside the latent checkpoint and export; once the run has
    started, the AE checkpoint can move or vanish and eval (load_system), export and predict work."""
    from depthdif.predict import MEAN, predict_export

    ae_copy = tmp_path / "ae_copy.ckpt"
    shutil.copy(ae_checkpoint, ae_copy)
    system = latent_system(tiny_store, ae_copy, **{"latent.freeze": "partial"})
    trainer = fit_one_epoch(system, tiny_store, tmp_path)
    path = tmp_path / "latent.ckpt"
    trainer.save_checkpoint(path)
    ae_copy.unlink()
    batch = next(iter(loaders(tiny_store)[1]))
    expected = system.eval().sample(batch, k=1, seed=5)
    from_ckpt = load_system(path)
    assert isinstance(from_ckpt, LatentDiffusionSystem)
    assert from_ckpt.cfg.latent.ae_checkpoint == str(ae_copy)  # recorded for provenance only
    assert torch.allclose(from_ckpt.sample(batch, k=1, seed=5), expected, atol=1e-6)
    state = system.export_state()
    assert any(k.startswith("autoencoder.") for k in state) and any(k.startswith("denoiser.") for k in state)
    exported = LatentDiffusionSystem.from_export(system.hparams["config"], system.hparams["normalization"],
                                                 system.hparams["depth"], state)
    assert torch.allclose(exported.sample(batch, k=1, seed=5), expected, atol=1e-6)
    # The export folder needs neither the AE checkpoint nor the latent one.
    folder = export_checkpoint(path, tmp_path / "export", trial_id="t0")
    path.unlink()
    from_folder, info = load_export(folder)
    assert info.kind == "latent"
    assert torch.allclose(from_folder.sample(batch, k=1, seed=5), expected, atol=1e-6)
    ae, ae_cfg, _, _ = load_autoencoder(folder)  # an AE can also come from a latent export
    assert torch.equal(ae.decoder_linear.weight, system.autoencoder.decoder_linear.weight)
    out = predict_export(folder, tiny_store, tmp_path / "pred.zarr", split="val", samples=1)
    assert np.isfinite(xr.open_zarr(out)[MEAN].values).any()


def test_latent_on_a_pca_code_needs_no_ae_checkpoint(tiny_store, tmp_path):
    """`ae.kind: pca`: the PCA is fitted on the store's train split; its basis is in the checkpoint."""
    system = latent_system(tiny_store, None, **{"ae.kind": "pca", "ae.latent_channels": 3})
    assert system.autoencoder.latent_channels == 3 and not any(p.requires_grad for p in system.autoencoder.parameters())
    assert not torch.equal(system.autoencoder.components, torch.eye(8, 3))  # fitted, not the blank codec
    trainer = fit_one_epoch(system, tiny_store, tmp_path)
    assert torch.isfinite(trainer.callback_metrics["val/rmse_withheld"])
    path = tmp_path / "latent_pca.ckpt"
    trainer.save_checkpoint(path)
    loaded = load_system(path)
    assert torch.equal(loaded.autoencoder.components, system.autoencoder.components)
    batch = next(iter(loaders(tiny_store)[1]))
    assert torch.allclose(loaded.sample(batch, k=1, seed=1), system.eval().sample(batch, k=1, seed=1), atol=1e-6)


def test_ambient_training_in_latent_mode(tiny_store, ae_checkpoint, tmp_path):
    system = latent_system(tiny_store, ae_checkpoint, **{"model.ambient_occlusion.enabled": True,
                                                         "sampling.ambient_mode": "fixed_mask"})
    trainer = fit_one_epoch(system, tiny_store, tmp_path)
    logged = trainer.callback_metrics
    assert torch.isfinite(logged["train/loss"])
    assert 0 < float(logged["train/ambient_observed_fraction_further"]) <= float(
        logged["train/ambient_observed_fraction_original"])
    assert torch.isfinite(logged["val/rmse_full"])


def test_latent_masks_and_pooled_condition(tiny_store, ae_checkpoint, ae_checkpoint_s2):
    mask = torch.zeros(1, 8, 4, 4)
    mask[0, 3, 1, 2] = 1  # one level of one column
    full = latent_system(tiny_store, ae_checkpoint).model_space_mask(mask)
    assert full.shape == (1, 4, 4, 4)
    assert full[:, :, 1, 2].eq(1).all() and full.sum() == 4
    pooled = latent_system(tiny_store, ae_checkpoint_s2).model_space_mask(mask)
    assert pooled.shape == (1, 4, 2, 2) and pooled[:, :, 0, 1].eq(1).all() and pooled.sum() == 4

    field = torch.tensor([[[[1.0, 3.0], [5.0, 7.0]]]])
    valid = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    average, any_valid = masked_avg_pool(field, valid, 2)
    assert average.item() == 3.0 and any_valid.item() == 1.0  # mean of 1 and 5 only
    average, any_valid = masked_avg_pool(field, torch.zeros_like(valid), 2)
    assert average.item() == 0.0 and any_valid.item() == 0.0


def test_a_latent_run_resumes_without_its_ae_checkpoint(tiny_store, ae_checkpoint, tmp_path):
    """Issue 13: a resumed latent run is rebuilt from its own checkpoint (the codec inside it),
    never from `latent.ae_checkpoint`, which may have moved or vanished since the run started."""
    ae_copy = tmp_path / "ae_copy.ckpt"
    shutil.copy(ae_checkpoint, ae_copy)
    cfg = tiny_config(tiny_store, **{"latent.ae_checkpoint": str(ae_copy), "training.max_epochs": 1,
                                     "training.limit_train_batches": 1})
    first = run("latent", cfg, tmp_path / "run", progress=False)
    assert first.ok, first.error
    ae_copy.unlink()
    longer = replace_dotted(cfg, {"training.max_epochs": 2}, "test")
    second = run("latent", longer, tmp_path / "run", progress=False)
    assert second.ok, second.error
    assert [row["epoch"] for row in RunDir(tmp_path / "run").metrics()] == [1, 2]  # epoch 1 not redone
