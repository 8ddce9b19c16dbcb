"""PixelDiffusionSystem on real batches of the tiny synthetic store, with a real Lightning Trainer."""

from __future__ import annotations

import logging
import re
import warnings

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from depthdif.config.loader import from_dict, replace_dotted
from depthdif.config.schema import ExperimentConfig
from depthdif.train.datamodule import make_loaders
from depthdif.train.pixel import PixelDiffusionSystem
from depthdif.train.systems import build_system, load_system, store_meta

TINY = {
    "data": {"batch_size": 8, "val_subset": 8},
    "model": {"unet": {"base_channels": 8, "channel_mults": [1, 2], "attention_levels": [1],
                       "time_embed_dim": 16, "groups": 4, "zero_init_output": False}},
    "diffusion": {"timesteps": 100},
    "sampling": {"steps": 5},
    "ema": {"enabled": False},
    "training": {"lr": 3e-3, "lr_schedule": "constant", "max_epochs": 5},
}
AMBIENT = {"model.ambient_occlusion.enabled": True, "model.ambient_occlusion.further_drop_prob": 0.5,
           "model.ambient_occlusion.min_kept_observed_pixels": 1, "sampling.ambient_mode": "dense"}



def tiny_cfg(store, **overrides) -> ExperimentConfig:
    data = {**TINY, "data": {**TINY["data"], "store": str(store)}}
    cfg = from_dict(ExperimentConfig, data, "test")
    return replace_dotted(cfg, overrides) if overrides else cfg


def trainer(**kw) -> pl.Trainer:
    logging.getLogger("lightning").setLevel(logging.ERROR)
    return pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, **kw)


@pytest.fixture(scope="module")
def batch(tiny_store):
    """Three real training patches (few, so sampling stays cheap)."""
    train_loader, _ = make_loaders(tiny_cfg(tiny_store))
    return {k: v[:3] for k, v in next(iter(train_loader)).items()}


@pytest.fixture(scope="module")
def trained(tiny_store, tmp_path_factory):
    """One short fit (standard mode), validated before and after, checkpointed."""
    warnings.filterwarnings("ignore")
    cfg = tiny_cfg(tiny_store)
    torch.manual_seed(0)
    system = build_system("pixel", cfg, store_meta(cfg))
    train_loader, val_loader = make_loaders(cfg)
    before = trainer().validate(system, val_loader, verbose=False)[0]
    fitter = trainer(max_epochs=cfg.training.max_epochs, check_val_every_n_epoch=cfg.training.max_epochs)
    losses = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    fitter.callbacks.append(Record())
    fitter.fit(system, train_loader, val_loader)
    after = {k: float(v) for k, v in fitter.callback_metrics.items()}
    path = tmp_path_factory.mktemp("ckpt") / "pixel.ckpt"
    fitter.save_checkpoint(path)
    return system, before, after, losses, path, val_loader


def test_short_training_lowers_loss_and_validation_rmse(trained):
    _, before, after, losses, _, _ = trained
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    assert after["val/loss"] < before["val/loss"]
    assert after["val/rmse_full"] < 0.8 * before["val/rmse_full"]
    assert after["val/rmse_withheld"] < before["val/rmse_withheld"]
    assert "val/rmse_depth/0" in after and np.isfinite(after["val/rmse_full"])


def test_checkpoint_loads_with_weights_only_and_predicts_identically(trained):
    system, _, _, _, path, val_loader = trained
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["kind"] == "pixel"
    loaded = load_system(path)
    assert isinstance(loaded, PixelDiffusionSystem)
    batch = next(iter(val_loader))
    assert torch.equal(loaded.sample(batch, k=2, seed=3), system.eval().sample(batch, k=2, seed=3))


def test_export_round_trip(trained):
    system, _, _, _, _, val_loader = trained
    state = system.export_state()
    assert state and all(k.startswith(("denoiser.", "calibration.")) for k in state)
    assert {"calibration.gain", "calibration.inflation", "calibration.fitted"} <= set(state)
    again = PixelDiffusionSystem.from_export(system.cfg, system.normalization, system.depth, state)
    batch = next(iter(val_loader))
    assert torch.equal(again.predict(batch), system.eval().predict(batch))


def test_sample_shapes_and_seed_determinism(tiny_store, batch):
    cfg = tiny_cfg(tiny_store)
    system = build_system("pixel", cfg, store_meta(cfg)).eval()
    a, b = system.sample(batch, k=2, seed=1), system.sample(batch, k=2, seed=1)
    assert a.shape == (2, *batch["y"].shape) and torch.equal(a, b)
    assert not torch.equal(a, system.sample(batch, k=2, seed=2))
    assert system.predict(batch).shape == batch["y"].shape


def test_inference_never_applies_the_random_drop(tiny_store, batch):
    """Dense sampling with ambient training on equals sampling with ambient off (same weights)."""
    plain = tiny_cfg(tiny_store)
    amb = replace_dotted(plain, AMBIENT)
    meta = store_meta(plain)
    torch.manual_seed(0)
    ambient_system = build_system("pixel", amb, meta).eval()
    plain_system = PixelDiffusionSystem.from_export(plain, meta.normalization, meta.depth,
                                                    ambient_system.export_state())
    assert torch.equal(ambient_system.sample(batch, k=1, seed=4), plain_system.sample(batch, k=1, seed=4))
    fixed = PixelDiffusionSystem.from_export(replace_dotted(amb, {"sampling.ambient_mode": "fixed_mask"}),
                                             meta.normalization, meta.depth, ambient_system.export_state())
    f1, f2 = fixed.sample(batch, k=1, seed=4), fixed.sample(batch, k=1, seed=4)
    assert torch.equal(f1, f2) and not torch.equal(f1, plain_system.sample(batch, k=1, seed=4))


def test_guard_raises_at_construction(tiny_store):
    cfg = tiny_cfg(tiny_store)
    cfg.model.ambient_occlusion.enabled = True  # bypasses the load-time check on purpose
    cfg.diffusion.parameterization = "epsilon"
    with pytest.raises(ValueError, match="parameterization"):
        build_system("pixel", cfg, store_meta(cfg))


def test_empty_support_loss_is_zero_and_backpropagates(tiny_store, batch):
    cfg = replace_dotted(tiny_cfg(tiny_store), AMBIENT)
    system = build_system("pixel", cfg, store_meta(cfg))
    empty = dict(batch, x=torch.zeros_like(batch["x"]), x_valid_mask=torch.zeros_like(batch["x_valid_mask"]))
    loss, fractions = system.compute_loss(empty, system.denoiser, torch.Generator().manual_seed(0))
    assert loss.item() == 0.0
    loss.backward()
    grads = [p.grad for p in system.denoiser.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert fractions["ambient_further_drop_fraction"].item() == 0.0


def test_ambient_fit_logs_the_seed_metrics_and_ema_is_checkpointed(tiny_store, tmp_path):
    cfg = replace_dotted(tiny_cfg(tiny_store), {**AMBIENT, "ema.enabled": True, "ema.warmup_steps": 0})
    system = build_system("pixel", cfg, store_meta(cfg))
    train_loader, val_loader = make_loaders(cfg)
    fitter = trainer(max_epochs=1, limit_train_batches=2)
    fitter.fit(system, train_loader, val_loader)
    logged = fitter.callback_metrics
    for stage in ("train", "val"):
        for name in ("further_drop_fraction", "observed_fraction_original", "observed_fraction_further"):
            assert f"{stage}/ambient_{name}" in logged
    assert 0.0 < float(logged["train/ambient_further_drop_fraction"]) < 1.0
    assert int(system.ema.num_updates) == 2
    fitter.save_checkpoint(tmp_path / "amb.ckpt")
    state = torch.load(tmp_path / "amb.ckpt", weights_only=True)["state_dict"]
    assert any(k.startswith("ema.model.") for k in state)
    ema_weight = next(v for k, v in state.items() if k.startswith("ema.model."))
    raw_weight = state[next(k for k in state if k.startswith("ema.model.")).replace("ema.model.", "denoiser.")]
    assert not torch.equal(ema_weight, raw_weight)


def test_load_system_names_the_problem(tmp_path):
    path = tmp_path / "foreign.ckpt"
    torch.save({"hyper_parameters": {"kind": "gan"}, "state_dict": {}}, path)
    with pytest.raises(ValueError, match="'gan' is not one of"):
        load_system(path)
    with pytest.raises(FileNotFoundError):
        load_system(tmp_path / "missing.ckpt")


def test_lr_schedule_warms_up_then_decays():
    from depthdif.train.diffusion_system import lr_factor

    assert [lr_factor(s, 4, 10, "cosine") for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, 4, 10, "cosine") == 1.0 and lr_factor(10, 4, 10, "cosine") == pytest.approx(0.0)
    assert lr_factor(7, 4, 10, "cosine") == pytest.approx(0.5)
    assert lr_factor(9, 0, 10, "constant") == 1.0


def test_optimizer_trains_the_denoiser_not_the_ema_copy(tiny_store):
    cfg = replace_dotted(tiny_cfg(tiny_store), {"ema.enabled": True})
    system = build_system("pixel", cfg, store_meta(cfg))
    optimizer = system.configure_optimizers()["optimizer"]
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in system.denoiser.parameters()}


def test_the_retired_model_type_key_is_ignored_with_a_warning(tiny_store, tmp_path):
    """The trainer kind is the one switch: an older config's model.model_type loads, warns, and is dropped."""
    from depthdif.config.loader import load, save

    path = tmp_path / "old.yaml"
    save(tiny_cfg(tiny_store), path)
    path.write_text(path.read_text().replace("model:\n", "model:\n  model_type: latent_cond_dif\n", 1))
    with pytest.warns(FutureWarning, match=r"old\.yaml: model\.model_type is retired.*trainer kind"):
        cfg = load(ExperimentConfig, path)
    assert cfg == tiny_cfg(tiny_store)
    assert isinstance(build_system("pixel", cfg, store_meta(cfg)), PixelDiffusionSystem)


def test_reduced_val_metrics_do_not_draw_the_sync_dist_warning(tiny_store, tmp_path):
    """Under a process group, only a key logged unsynced on purpose (val/extra) is warned about."""
    import torch.distributed as dist

    class Extra(PixelDiffusionSystem):
        def on_validation_epoch_end(self):
            super().on_validation_epoch_end()
            self.log("val/extra", torch.tensor(1.0), sync_dist=False)

    cfg = tiny_cfg(tiny_store, **{"sampling.steps": 1})
    meta = store_meta(cfg)
    _, val_loader = make_loaders(cfg)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logged = trainer(limit_val_batches=1).validate(Extra(cfg, meta.normalization, meta.depth), val_loader,
                                                           verbose=False)[0]
    finally:
        dist.destroy_process_group()
    warned = {m.group(1) for w in caught if (m := re.search(r"self\.log\('([^']+)', \.\.\., sync_dist=True\)",
                                                               str(w.message)))}
    reduced = set(logged) - {"val/loss", "val/extra"}  # val/loss: sync_dist=True, a no-op on one device
    assert "val/rmse_depth/0" in reduced and np.isfinite(logged["val/rmse_full"])
    assert "val/extra" in warned and not warned & reduced
