"""AutoencoderSystem on the real tiny store: metrics in degC, masked loss, errors, checkpoint/export."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from depthdif.config.loader import replace_dotted
from depthdif.data.dataset import PatchDataset
from depthdif.train.autoencoder import AutoencoderSystem, load_autoencoder
from depthdif.train.systems import build_system, load_system

from ._tiny import tiny_config


def loaders(store, batch_size=4):
    train, val = PatchDataset(store, "train"), PatchDataset(store, "val")
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)),
            DataLoader(val, batch_size=batch_size), val)


def make_system(store, **overrides):
    cfg = tiny_config(store, **overrides)
    val = PatchDataset(store, "val")
    return AutoencoderSystem.for_training(cfg, val.normalization, val.depth)


def fit(system, store, epochs=2, root=None):
    train_loader, val_loader, _ = loaders(store)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         default_root_dir=root)
    pl.seed_everything(0, verbose=False)
    trainer.fit(system, train_loader, val_loader)
    return trainer


@pytest.fixture(scope="module")
def trained(tiny_store, tmp_path_factory):
    """A few epochs from the PCA start: the AE must improve on its own initial weights."""
    system = make_system(tiny_store, **{"ae.latent_channels": 2, "ae.encoder_hidden": [32],
                                        "ae.decoder_hidden": [32], "ae.training.lr": 3e-3})
    initial = {k: v.clone() for k, v in system.state_dict().items()}
    trainer = fit(system, tiny_store, epochs=6, root=tmp_path_factory.mktemp("ae"))
    return system, trainer, initial


def test_training_lowers_the_loss_and_logs_every_metric(trained, tiny_store):
    system, trainer, initial = trained
    logged = trainer.callback_metrics
    assert {"train/loss", "val/loss", "val/ae_rmse", "val/pca_rmse", "model/latent_channels"} <= set(logged)
    assert all(f"val/ae_rmse_depth/{k}" in logged for k in range(8))
    assert any(key.startswith("val/ae_rmse_band/") for key in logged)
    assert any(key.startswith("val/pca_rmse_band/") for key in logged)
    untrained = make_system(tiny_store, **{"ae.latent_channels": 2, "ae.encoder_hidden": [32],
                                           "ae.decoder_hidden": [32]})
    untrained.load_state_dict(initial)
    untrained.eval()
    _, val_loader, _ = loaders(tiny_store)
    with torch.no_grad():
        before = sum(untrained.loss(b, untrained.reconstruct(b)) for b in val_loader)
        after = sum(system.eval().loss(b, system.reconstruct(b)) for b in val_loader)
    assert after < 0.9 * before
    assert float(logged["val/ae_rmse"]) < float(logged["val/pca_rmse"])  # beats the PCA it started as


def test_a_fresh_ae_scores_exactly_its_pca(tiny_store, tmp_path):
    """Issue 17: the learned AE starts at PCA quality (val/ae_rmse == val/pca_rmse before training)."""
    system = make_system(tiny_store, **{"ae.latent_channels": 3})
    logged = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        default_root_dir=tmp_path).validate(system, loaders(tiny_store)[1], verbose=False)[0]
    assert logged["val/ae_rmse"] == pytest.approx(logged["val/pca_rmse"], rel=1e-5)
    assert logged["model/latent_channels"] == 3.0


def test_pca_reconstruction_improves_with_width(tiny_store, tmp_path):
    """`ae.kind: pca` on a small fixed store: one epoch (nothing to train), error falls with width."""
    errors = []
    for width in (1, 2, 4, 8):
        system = make_system(tiny_store, **{"ae.kind": "pca", "ae.latent_channels": width})
        assert system.max_epochs == 1 and not system.trainable
        trainer = fit(system, tiny_store, epochs=system.max_epochs, root=tmp_path)
        errors.append(float(trainer.callback_metrics["val/ae_rmse"]))
        assert float(trainer.callback_metrics["val/pca_rmse"]) == errors[-1]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-4  # full width: every valid entry is reproduced


def test_val_rmse_is_degC_against_y_where_valid(trained, tiny_store):
    """val/ae_rmse recomputed by hand: de-normalize with the per-depth std, pool valid entries."""
    system, trainer, _ = trained
    system.eval()
    _, val_loader, val = loaders(tiny_store)
    std = torch.tensor(val.normalization.depth_std, dtype=torch.float64).reshape(1, -1, 1, 1)
    within = torch.tensor(val.depth <= system.cfg.evaluation.max_depth_m).reshape(1, -1, 1, 1)
    sq, n, sq_level, n_level = 0.0, 0.0, torch.zeros(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    with torch.no_grad():
        for batch in val_loader:
            err = (system.reconstruct(batch).double() - batch["y"].double()) * std
            mask = batch["y_valid_mask"].double()
            sq += float((err**2 * mask * within).sum())
            n += float((mask * within).sum())
            sq_level += (err**2 * mask).sum(dim=(0, 2, 3))
            n_level += mask.sum(dim=(0, 2, 3))
    assert float(trainer.callback_metrics["val/ae_rmse"]) == pytest.approx((sq / n) ** 0.5, rel=1e-4)
    k = int(torch.argmax(n_level))
    expected = float((sq_level[k] / n_level[k]).sqrt())
    assert float(trainer.callback_metrics[f"val/ae_rmse_depth/{k}"]) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("masked_only", [True, False])
def test_values_at_invalid_pixels_do_not_change_the_loss(tiny_store, masked_only):
    system = make_system(tiny_store, **{"ae.loss.masked_only": masked_only, "ae.loss.recon_l1_weight": 0.5})
    batch = next(iter(loaders(tiny_store)[1]))
    invalid = 1 - batch["y_valid_mask"]
    assert invalid.sum() > 0
    noisy = {**batch, "y": batch["y"] + invalid * torch.randn_like(batch["y"]) * 50}
    with torch.no_grad():
        loss = system.loss(batch, system.reconstruct(batch))
        assert system.loss(noisy, system.reconstruct(noisy)) == loss


def test_masked_only_scores_only_valid_pixels(tiny_store):
    masked = make_system(tiny_store)
    unmasked = make_system(tiny_store, **{"ae.loss.masked_only": False})
    unmasked.load_state_dict(masked.state_dict())
    batch = next(iter(loaders(tiny_store)[1]))
    with torch.no_grad():
        recon = masked.reconstruct(batch)
        valid = batch["y_valid_mask"]
        by_hand = ((recon - batch["y"]) ** 2 * valid).sum() / valid.sum()
        assert masked.loss(batch, recon) == pytest.approx(float(by_hand), rel=1e-6)
        assert unmasked.loss(batch, recon) != pytest.approx(float(by_hand), rel=1e-3)


def test_in_channels_mismatch_names_both_numbers(tiny_store):
    with pytest.raises(ValueError, match=r"ae.in_channels=50 does not match the store's 8 depth levels"):
        make_system(tiny_store, **{"ae.in_channels": 50})
    assert make_system(tiny_store, **{"ae.in_channels": 8}).autoencoder.in_channels == 8


def test_checkpoint_records_plain_stats_and_reloads(trained, tiny_store, tmp_path):
    system, trainer, _ = trained
    path = tmp_path / "ae.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    hp = ckpt["hyper_parameters"]
    val = PatchDataset(tiny_store, "val")
    assert hp["kind"] == "ae" and hp["depth"] == pytest.approx(val.depth.tolist())
    assert hp["normalization"]["depth_std"] == pytest.approx(val.normalization.depth_std.tolist())
    assert isinstance(hp["config"], dict)
    batch = next(iter(loaders(tiny_store)[1]))
    with torch.no_grad():
        expected = system.eval().reconstruct(batch)
        for loaded in (load_system(path), AutoencoderSystem.from_checkpoint(path)):
            assert torch.equal(loaded.reconstruct(batch), expected)
        ae, ae_cfg, norm, depth = load_autoencoder(path)
        assert torch.equal(ae(batch["y"], batch["y_valid_mask"]), expected)
        assert ae_cfg.latent_channels == 2 and depth == pytest.approx(val.depth.tolist())


def test_export_folder_roundtrip(trained, tiny_store, tmp_path):
    """depthdif.export writes the folder; load_export and load_autoencoder read it back."""
    from depthdif.export import export_checkpoint, load_export

    system, trainer, _ = trained
    trainer.save_checkpoint(tmp_path / "ae.ckpt")
    folder = export_checkpoint(tmp_path / "ae.ckpt", tmp_path / "export", trial_id="t0")
    batch = next(iter(loaders(tiny_store)[1]))
    ae, _, _, depth = load_autoencoder(folder)
    exported, info = load_export(folder)
    assert info.kind == "ae" and depth == pytest.approx(system.depth)
    with torch.no_grad():
        expected = system.eval().reconstruct(batch)
        assert torch.equal(ae(batch["y"], batch["y_valid_mask"]), expected)
        assert torch.equal(exported.reconstruct(batch), expected)


def test_build_system_dispatches_ae_and_uses_ae_batch_settings(tiny_store):
    cfg = replace_dotted(tiny_config(tiny_store), {"ae.training.batch_size": 3, "ae.training.max_epochs": 5})
    val = PatchDataset(tiny_store, "val")
    system = build_system("ae", cfg, {"normalization": val.normalization, "depth": val.depth})
    assert isinstance(system, AutoencoderSystem)
    assert (system.batch_size, system.max_epochs) == (3, 5)
    # fresh = fitted: the AE's PCA is not the unfitted identity truncation
    assert not torch.equal(system.autoencoder.pca.components, torch.eye(8, 4))


def test_schedule_and_early_stopping_watch_val_rmse(tiny_store):
    system = make_system(tiny_store, **{"ae.training.patience": 3, "ae.training.lr_patience": 2})
    scheduler = system.configure_optimizers()["lr_scheduler"]
    assert scheduler["monitor"] == "val/ae_rmse" and scheduler["scheduler"].patience == 2
    (stopper,) = system.configure_callbacks()
    assert stopper.monitor == "val/ae_rmse" and stopper.patience == 3
    assert make_system(tiny_store, **{"ae.training.patience": None}).configure_callbacks() == []
