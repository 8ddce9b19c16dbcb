"""Background-residual diffusion (`model.background`) on the tiny real store: the zero-residual
property, what the background may see, fitting on the train split, and what exports carry."""

from __future__ import annotations

import logging
import warnings

import lightning.pytorch as pl
import pytest
import torch

from depthdif.baselines.registry import build_baseline
from depthdif.config.loader import replace_dotted
from depthdif.data.dataset import PatchDataset
from depthdif.evaluation.withheld import withhold_profiles
from depthdif.train.datamodule import make_loaders
from depthdif.train.latent import LatentDiffusionSystem
from depthdif.train.pixel import PixelDiffusionSystem
from depthdif.train.systems import build_system, load_system, store_meta

from ._tiny import tiny_config

AMBIENT = {"model.ambient_occlusion.enabled": True, "model.ambient_occlusion.further_drop_prob": 0.5}


def fitted_system(store, kind="pixel", **overrides):
    cfg = tiny_config(store, **{"model.background": "oi_eo", **overrides})
    torch.manual_seed(0)
    system = build_system(kind, cfg, store_meta(cfg))
    system.fit_background()
    return system.eval()


@pytest.fixture(scope="module")
def batch(tiny_store):
    train_loader, _ = make_loaders(tiny_config(tiny_store, **{"data.batch_size": 4}))
    return next(iter(train_loader))


WINDOW = {"model.condition.anomalies": "window"}


@pytest.mark.parametrize("sampler,objective", [("ddim", {}), ("ddpm", {}), ("ddim", AMBIENT), ("ddim", WINDOW)],
                         ids=["ddim", "ddpm", "ambient-ddim", "window-anomalies"])
def test_a_zero_denoiser_reproduces_the_background_exactly(tiny_store, batch, sampler, objective):
    """Zero-initialised output, x0 parameterization: the samples are the background, bit for bit."""
    system = fitted_system(tiny_store, **{"sampling.sampler": sampler, "sampling.eta": 1.0, **objective})
    background = system.compute_background(batch, batch["x"], batch["x_valid_mask"])
    samples = system.sample(batch, k=2, seed=3)
    assert torch.equal(samples[0], background) and torch.equal(samples[1], background)
    oi_eo = build_baseline("oi_eo", system.cfg.evaluation.baselines).fit(PatchDataset(tiny_store, "train"))
    torch.testing.assert_close(background, oi_eo.predict(batch))  # one implementation, same numbers


def test_latent_zero_denoiser_reproduces_the_background_exactly(tiny_store, batch):
    system = fitted_system(tiny_store, kind="latent", **{"latent.freeze": "none"})
    assert isinstance(system, LatentDiffusionSystem)
    background = system.compute_background(batch, batch["x"], batch["x_valid_mask"])
    assert torch.equal(system.sample(batch, k=1, seed=0)[0], background)
    loss, _ = system.compute_loss(batch, system.denoiser, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)


def test_parameters_are_those_of_the_baseline_fitted_on_the_train_split(tiny_store):
    system = fitted_system(tiny_store)
    oi_eo = build_baseline("oi_eo", system.cfg.evaluation.baselines).fit(PatchDataset(tiny_store, "train"))
    bg = system.background
    assert torch.equal(bg.length_scale, oi_eo.length_scale) and torch.equal(bg.noise_ratio, oi_eo.noise_ratio)
    assert torch.equal(bg.eo_coefficients, oi_eo.background.coefficients)
    scale = bg.residual_scale
    assert scale.shape == (system.n_levels,) and bool((scale > 0).all()) and bool(torch.isfinite(scale).all())


@pytest.mark.parametrize("overrides", [{"model.background_profile_drop": 0.5}, AMBIENT], ids=["standard", "ambient"])
def test_background_and_condition_see_only_the_kept_profiles(tiny_store, batch, overrides):
    """Changing the observations a training step hid (dropped columns) changes neither."""
    system = fitted_system(tiny_store, **overrides)
    inputs, background, cond, target, _ = system.training_inputs(batch, torch.Generator().manual_seed(5))
    hidden = batch["x_valid_mask"] - inputs.cond_mask
    assert hidden.sum() > 0
    poked = dict(batch, x=batch["x"] + 100.0 * hidden)
    _, background2, cond2, target2, _ = system.training_inputs(poked, torch.Generator().manual_seed(5))
    assert torch.equal(background, background2) and torch.equal(cond, cond2)
    if overrides is AMBIENT:  # the ambient target is the observations themselves, hidden ones included
        assert not torch.equal(target, target2)


@pytest.mark.parametrize("anomalies", ["none", "window"])
def test_a_withheld_profile_cannot_influence_the_prediction(tiny_store, batch, anomalies):
    system = fitted_system(tiny_store, **{"model.unet.zero_init_output": False, "model.condition.anomalies": anomalies})
    held_in, withheld = withhold_profiles(batch, 0.5, 1)
    assert withheld.sum() > 0
    poked = dict(held_in, x=held_in["x"] + 50.0 * (1 - held_in["x_valid_mask"]))  # garbage where unseen
    assert torch.equal(system.sample(poked, k=1, seed=0), system.sample(held_in, k=1, seed=0))
    assert not torch.equal(system.sample(batch, k=1, seed=0), system.sample(held_in, k=1, seed=0))


def test_window_anomalies_cannot_tell_where_the_same_water_lies(tiny_store, batch):
    """Shift a window's EO by c and its profiles by the regression's slope times c (the same water,
    warmer place): the `window` condition is unchanged, the absolute one is not; the x channels are
    the innovations (x - b)·A."""
    window, absolute = fitted_system(tiny_store, **WINDOW), fitted_system(tiny_store)
    ocean = dict(batch, eo_valid_mask=torch.ones_like(batch["eo_valid_mask"]),
                 land_mask=torch.zeros_like(batch["land_mask"]))
    slope = window.background.eo_coefficients[:, 1].to(batch["x"]).reshape(1, -1, 1, 1)
    shifted = dict(ocean, eo=ocean["eo"] + 0.7, x=ocean["x"] + 0.7 * slope * ocean["x_valid_mask"])
    background, cond = window.inference_inputs(ocean)
    _, cond_shifted = window.inference_inputs(shifted)
    torch.testing.assert_close(cond_shifted, cond, atol=1e-4, rtol=0)
    assert not torch.allclose(absolute.inference_inputs(shifted)[1], absolute.inference_inputs(ocean)[1])
    d, A = window.n_levels, ocean["x_valid_mask"]
    torch.testing.assert_close(cond[:, :d], (ocean["x"] - background) * A)
    assert cond[:, :d].abs().sum() > 0


def test_exports_and_checkpoints_carry_the_fitted_background(tiny_store, batch, tmp_path):
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    cfg = tiny_config(tiny_store, **{"model.background": "oi_eo", "model.unet.zero_init_output": False})
    torch.manual_seed(0)
    system = build_system("pixel", cfg, store_meta(cfg))
    assert not system.background.is_fitted
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(system, make_loaders(cfg)[0])  # fits the background at the start of fit
    assert system.background.is_fitted
    trainer.save_checkpoint(tmp_path / "bg.ckpt")
    loaded = load_system(tmp_path / "bg.ckpt")
    assert loaded.background.is_fitted
    assert torch.equal(loaded.sample(batch, k=1, seed=2), system.eval().sample(batch, k=1, seed=2))
    state = system.export_state()
    assert {"background.length_scale", "background.residual_scale", "background.fitted"} <= set(state)
    again = PixelDiffusionSystem.from_export(system.cfg, system.normalization, system.depth, state)
    assert torch.equal(again.sample(batch, k=1, seed=2), system.sample(batch, k=1, seed=2))
    with pytest.raises(ValueError, match="background"):
        PixelDiffusionSystem.from_export(system.cfg, system.normalization, system.depth,
                                         {k: v for k, v in state.items() if k.startswith("denoiser.")})


def test_an_unfitted_background_refuses_to_predict(tiny_store, batch):
    cfg = tiny_config(tiny_store, **{"model.background": "eo_regression"})
    system = build_system("pixel", cfg, store_meta(cfg))
    with pytest.raises(RuntimeError, match="not fitted"):
        system.sample(batch, k=1)


def test_validation_fits_a_gain_that_takes_a_harmful_model_back_to_its_background(tiny_store, batch, tmp_path):
    """A denoiser whose corrections are noise: validation sees it on the withheld floats and the
    calibrated samples fall back towards the background; checkpoints and exports carry the gain."""
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    cfg = tiny_config(tiny_store, **{"model.background": "oi_eo", "data.val_subset": 8, "sampling.ensemble_size": 2,
                                     "training.limit_val_batches": None})
    torch.manual_seed(0)
    system = build_system("pixel", cfg, store_meta(cfg))
    system.fit_background()
    with torch.no_grad():  # a harmful model: a large random correction, no relation to the error
        system.denoiser.output[-1].weight.normal_(0.0, 2.0)
        system.ema.model.load_state_dict(system.denoiser.state_dict())
    raw = system.eval().sample(batch, k=2, seed=1)
    assert not bool(system.calibration.fitted) and torch.equal(raw, system.sample_raw(batch, k=2, seed=1)[0])
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.validate(system, make_loaders(cfg)[1])
    assert bool(system.calibration.fitted) and float(system.calibration.gain.max()) < 0.3
    background = system.compute_background(batch, batch["x"], batch["x_valid_mask"])
    calibrated = system.sample(batch, k=2, seed=1).mean(0)
    assert (calibrated - background).abs().mean() < 0.3 * (raw.mean(0) - background).abs().mean()
    trainer.save_checkpoint(tmp_path / "cal.ckpt")
    assert torch.equal(load_system(tmp_path / "cal.ckpt").calibration.gain, system.calibration.gain)
    again = PixelDiffusionSystem.from_export(system.cfg, system.normalization, system.depth, system.export_state())
    assert torch.equal(again.sample(batch, k=2, seed=1), system.sample(batch, k=2, seed=1))
    off = PixelDiffusionSystem.from_export(replace_dotted(system.cfg, {"sampling.calibration": "off"}),
                                           system.normalization, system.depth, system.export_state())
    assert torch.equal(off.sample(batch, k=2, seed=1), raw)
