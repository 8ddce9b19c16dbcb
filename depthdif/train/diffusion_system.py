"""DiffusionSystem: the Lightning glue shared by pixel and latent conditional diffusion.

The equations live in depthdif/diffusion (schedule, ambient masks, loss, samplers, EMA) and the
network in depthdif/models; this module wires them to batches, the optimizer, logging, EMA and
(de)serialization. Latent diffusion composes the same system by overriding the HOOKS:

- `model_channels` (property): channels of the diffused tensor (pixel: D depth levels);
- `condition_channels` (property): channels produced by `build_condition`;
- `to_model_space(field, mask) -> z`: a depth field (B, D, H, W) with its validity mask → the
  tensor that is diffused (pixel: identity);
- `from_model_space(z) -> field`: back to normalized depth space (pixel: identity);
- `model_space_mask(mask) -> mask`: a depth-space mask (loss support S or Y, noisy-branch Ã) →
  model space (pixel: identity);
- `build_condition(batch, x, obs_mask) -> cond`: the condition from the (possibly further
  masked) sparse input, its per-depth mask and the batch's EO / land fields.

Background residual (`model.background`, depthdif/models/background.py): the background b is
computed from exactly the input the condition is built from, appended to the condition (pooled to
the model grid if needed), and the diffused tensor is the model-space residual
z = (M(f) − M(b)) / s, with M = `to_model_space`, f the target field (y; in ambient mode b with
the observations of A filled in) and s the background's `residual_scale`; a sample decodes to
b + F(M(b) + s·z) − F(M(b)), F = `from_model_space`. Hence z = 0 decodes to b exactly, in pixel
and latent space alike: a denoiser that outputs zero (x0 parameterization, zero-initialised
output layer) reproduces the background. The background's parameters are fitted on the train
split at the start of the first fit/validate (`fit_background`) and live in buffers.
`model_channels`, `condition_channels` and `build_denoiser` run inside `__init__`, so a subclass
must set what they read (plain attributes) before calling `super().__init__`.

Logged: `train/loss` (the epoch mean), `val/loss` (fixed seeds per batch, so epochs are comparable), the ambient
fractions of seed 000 under `train/` and `val/`, and every `ReconstructionMetrics` key under
`val/` (`val/rmse_full`, `val/rmse_withheld`, `val/rmse_depth/<k>`, …) from DDIM samples of the
EMA network on the validation subset with a fixed fraction of profiles withheld.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from torch import Tensor, nn

from depthdif.config.loader import from_dict, to_dict
from depthdif.config.schema import ExperimentConfig
from depthdif.data.normalization import Normalization
from depthdif.diffusion.ambient import ObjectiveInputs, ambient_fractions, ambient_inputs, further_mask, standard_inputs
from depthdif.diffusion.ema import EMA
from depthdif.diffusion.loss import diffusion_loss, sample_timesteps
from depthdif.diffusion.parameterization import check_ambient_parameterization
from depthdif.diffusion.sampling import member_generator, sample_ensemble
from depthdif.diffusion.schedule import make_schedule
from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.evaluation.withheld import withhold_for_scoring
from depthdif.models.background import Background
from depthdif.models.calibration import Calibration, CalibrationStats, band_of_level
from depthdif.models.condition import build_condition, condition_channels
from depthdif.models.unet import UNet
from depthdif.train.augment import dihedral
from depthdif.train.background_residual import BackgroundResidual
from depthdif.train.epoch_means import EpochMeans, last_step_of_epoch
from depthdif.train.optim_step import adamw, clip_step

# Offsets that keep the seeded streams of validation (per batch) apart from sampling seeds.
VAL_LOSS_SEED_OFFSET = 7_919


def as_config(cfg: ExperimentConfig | dict) -> ExperimentConfig:
    """Accept the typed config or its plain-dict form (checkpoint hyper-parameters, exports)."""
    return cfg if isinstance(cfg, ExperimentConfig) else from_dict(ExperimentConfig, cfg, "checkpoint config")


def as_normalization(normalization: Normalization | dict) -> Normalization:
    return normalization if isinstance(normalization, Normalization) else Normalization.from_dict(normalization)


class DiffusionSystem(BackgroundResidual, pl.LightningModule):
    """Conditional diffusion on depth fields: train/val steps, EMA, sampling, export."""

    kind = "diffusion"  # subclasses set the SYSTEMS key ("pixel", "latent")

    def __init__(self, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                 depth: Sequence[float] | np.ndarray):
        super().__init__()
        self.cfg, self.normalization = as_config(cfg), as_normalization(normalization)
        depth = [float(d) for d in np.asarray(depth, dtype=np.float64).reshape(-1)]  # plain, for hparams
        self.depth = np.asarray(depth, dtype=np.float64)
        if self.normalization.n_levels != len(self.depth):
            raise ValueError(f"normalization has {self.normalization.n_levels} depth levels, the depth axis "
                             f"has {len(self.depth)}")
        amb = self.cfg.model.ambient_occlusion
        # Seed 000 §6.1; the config check does this at load, a hand-built config must fail here too.
        check_ambient_parameterization(amb.enabled, amb.require_x0_parameterization,
                                       self.cfg.diffusion.parameterization)
        self.save_hyperparameters({"kind": self.kind, "config": to_dict(self.cfg),
                                   "normalization": self.normalization.to_dict(),
                                   "depth": depth})
        d = self.cfg.diffusion
        self.schedule = make_schedule(d.schedule, d.timesteps, d.beta_start, d.beta_end)
        kind = self.cfg.model.background
        self.background = None if kind == "none" else Background(kind, self.n_levels, self.eo_channels,
                                                                 self.model_channels)
        self.denoiser = self.build_denoiser()
        self.ema = EMA(self.denoiser, self.cfg.ema.decay, self.cfg.ema.warmup_steps) if self.cfg.ema.enabled else None
        ev = self.cfg.evaluation
        self.train_means = EpochMeans()
        self.val_metrics = ReconstructionMetrics(self.depth, self.normalization.depth_mean,
                                                 self.normalization.depth_std, ev.max_depth_m, ev.depth_bands_m)
        self.calibration = Calibration(self.n_levels)  # fitted at each validation (models/calibration.py)
        self.calibration_stats = CalibrationStats(self.normalization.depth_std)

    # --- hooks (overridden by latent diffusion) ---------------------------------------------
    @property
    def n_levels(self) -> int:
        return len(self.depth)

    @property
    def eo_channels(self) -> int:
        return len(self.cfg.data.eo_channels)

    @property
    def model_channels(self) -> int:
        """Channels of the diffused tensor."""
        return self.n_levels

    @property
    def condition_channels(self) -> int:
        extra = 0 if self.cfg.model.background == "none" else self.n_levels  # the background field
        return condition_channels(self.n_levels, self.eo_channels, self.cfg.model.condition) + extra

    def build_denoiser(self) -> nn.Module:
        """The network `forward(x_t, t, cond)`; called once in __init__."""
        return UNet(self.model_channels, self.condition_channels, self.model_channels, self.cfg.model.unet)

    def to_model_space(self, field: Tensor, mask: Tensor) -> Tensor:
        return field

    def from_model_space(self, z: Tensor) -> Tensor:
        return z

    def model_space_mask(self, mask: Tensor) -> Tensor:
        return mask

    def model_space_shape(self, batch: dict) -> tuple[int, ...]:
        """Shape (B, C, h, w) of one sample chain for `batch`."""
        b, _, h, w = batch["x"].shape
        return (b, self.model_channels, h, w)

    def build_condition(self, batch: dict, x: Tensor, obs_mask: Tensor) -> Tensor:
        return build_condition(x, obs_mask, batch["eo"], batch["eo_valid_mask"], batch["land_mask"],
                               self.cfg.model.condition)

    # --- objective --------------------------------------------------------------------------
    def objective_inputs(self, batch: dict, generator: torch.Generator | None) -> tuple[ObjectiveInputs, dict]:
        """Standard (y on Y) or ambient (x on S = A ⊙ Y, condition on Ã) inputs, plus fractions to log."""
        x, A, Y = batch["x"], batch["x_valid_mask"], batch["y_valid_mask"]
        amb = self.cfg.model.ambient_occlusion
        if not amb.enabled:
            inputs = standard_inputs(x, A, batch["y"], Y)
            drop = self.cfg.model.background_profile_drop
            if self.background is not None and drop > 0:  # hide profiles from background + condition
                kept = further_mask(A, drop, 1, True, generator)
                inputs.cond_x, inputs.cond_mask = kept * x, kept
            return inputs, {}
        A_further = further_mask(A, amb.further_drop_prob, amb.min_kept_observed_pixels,
                                 amb.shared_spatial_mask, generator)
        inputs = ambient_inputs(x, A, Y, A_further, amb.apply_further_corruption_to_noisy_branch)
        return inputs, ambient_fractions(A, A_further)

    def training_inputs(self, batch: dict, generator: torch.Generator | None
                        ) -> tuple[ObjectiveInputs, Tensor | None, Tensor, Tensor, dict]:
        """(objective inputs, background, condition, model-space target, fractions) of one step:
        the background and the condition see only `inputs.cond_x` / `inputs.cond_mask`."""
        inputs, fractions = self.objective_inputs(batch, generator)
        background = self.compute_background(batch, inputs.cond_x, inputs.cond_mask)
        cond = self.condition(batch, inputs.cond_x, inputs.cond_mask, background)
        target = self.encode_target(batch, inputs.target, inputs.target_mask, background)
        return inputs, background, cond, target, fractions

    def compute_loss(self, batch: dict, denoiser: nn.Module, generator: torch.Generator | None) -> tuple[Tensor, dict]:
        """One denoising loss on the batch; randomness from `generator` (CPU) when given."""
        inputs, _, cond, target, fractions = self.training_inputs(batch, generator)
        loss_mask = self.model_space_mask(inputs.loss_mask)
        noisy_mask = None if inputs.noisy_mask is None else self.model_space_mask(inputs.noisy_mask)
        t = sample_timesteps(target.shape[0], self.schedule, generator, target.device)
        if generator is None:  # training: the device's global RNG (seeded per epoch by the loop)
            noise = torch.randn_like(target)
        else:  # validation: a CPU stream, identical on every device
            noise = torch.randn(target.shape, generator=generator, dtype=target.dtype).to(target.device)
        loss = diffusion_loss(lambda x_t, tt: denoiser(x_t, tt, cond), target, loss_mask, t, noise,
                              self.schedule, self.cfg.diffusion.parameterization, noisy_mask)
        return loss, fractions

    def inference_denoiser(self) -> nn.Module:
        """EMA weights when EMA is on (validation and sampling), else the trained weights."""
        return self.ema.model if self.ema is not None else self.denoiser

    # --- Lightning steps --------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        if self.cfg.training.augment == "dihedral":
            batch = dihedral(batch)
        loss, fractions = self.compute_loss(batch, self.denoiser, None)
        size = batch["x"].shape[0]
        if self.cfg.training.fused_step:  # the same epoch means, logged once per epoch (epoch_means.py)
            self.train_means.add({"train/loss": loss, **{f"train/{k}": v for k, v in fractions.items()}}, size)
            return loss
        # Epoch means (weighted by batch size), not the last batch's value.
        self.log("train/loss", loss, prog_bar=True, batch_size=size, sync_dist=True, on_step=False, on_epoch=True)
        if fractions:
            self.log_dict({f"train/{k}": v for k, v in fractions.items()}, batch_size=size, sync_dist=True,
                          on_step=False, on_epoch=True)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self.denoiser)
        if last_step_of_epoch(self.trainer, batch_idx):
            self.train_means.flush(self)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        size = batch["x"].shape[0]
        seed = self.cfg.training.seed * 1_000_003 + VAL_LOSS_SEED_OFFSET + batch_idx
        loss, fractions = self.compute_loss(batch, self.inference_denoiser(), torch.Generator().manual_seed(seed))
        self.log("val/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
        if fractions:
            self.log_dict({f"val/{k}": v for k, v in fractions.items()}, batch_size=size, sync_dist=True)
        held_in, withheld = withhold_for_scoring(batch, self.cfg.data)
        raw, background = self.sample_raw(held_in, seed=self.cfg.sampling.seed + batch_idx)
        if self.cfg.sampling.calibration == "validation":
            self.calibration_stats.update(raw, background, batch["x"], withheld * batch["x_valid_mask"])
        self.val_metrics.update(self.calibrated(raw, background), batch, withheld)

    def on_validation_epoch_end(self) -> None:
        # compute() all-reduces the metric sums on every rank, so each rank logs the same final
        # values: a second (Lightning) reduction would be waste, hence sync_dist=False.
        results = {f"val/{k}": v for k, v in self.val_metrics.compute().items()}
        with torch.inference_mode(False):  # fresh states must stay normal tensors for the next fit/validate
            self.val_metrics.reset()
        ignore_unsynced_warning(results)
        self.log_dict(results, sync_dist=False)
        self.fit_calibration()

    def fit_calibration(self) -> None:
        """Refit the gain and inflation from this validation's samples (all ranks' sums); used from now on."""
        if self.cfg.sampling.calibration != "validation":
            return
        sums = self.calibration_stats.reduced(self._all_reduce_sum)
        self.calibration_stats.reset()
        if self._trainer is not None and self._trainer.sanity_checking:
            return  # Lightning's sanity check runs an untrained model on two batches: not evidence
        bands = band_of_level(self.depth, self.cfg.evaluation.depth_bands_m)
        self.calibration.fit(sums, bands, self.cfg.sampling.ensemble_size, self.background is not None)

    def _all_reduce_sum(self, tensor: Tensor) -> Tensor:
        trainer = self._trainer
        if trainer is None or trainer.world_size == 1:
            return tensor
        return trainer.strategy.reduce(tensor.to(self.device), reduce_op="sum").cpu()

    # --- optimization -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict:
        tr = self.cfg.training
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = adamw(params, lr=tr.lr, weight_decay=tr.weight_decay, fused_step=tr.fused_step,
                          precision=tr.precision)
        if self.ema is not None:  # the EMA update takes the step's path too (optim_step.py)
            self.ema.foreach = tr.fused_step
        total = self._total_steps()
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, tr.warmup_steps, total,
                                                                                        tr.lr_schedule))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _total_steps(self) -> int:
        try:
            return max(int(self.trainer.estimated_stepping_batches), 1)
        except (RuntimeError, AttributeError, ValueError, TypeError):  # no trainer attached / unknown length
            return 1

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """`training.grad_clip` applies whatever Trainer builds this module; the Trainer's value wins."""
        clip = gradient_clip_val if gradient_clip_val is not None else self.cfg.training.grad_clip
        clip_step(self, optimizer, clip, gradient_clip_algorithm, fused_step=self.cfg.training.fused_step)

    # --- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, batch: dict, k: int | None = None, seed: int | None = None) -> Tensor:
        """K samples (K, B, D, H, W), normalized, conditioned on the full (x, A, EO), calibrated
        (`sampling.calibration`)."""
        return self.calibrated(*self.sample_raw(batch, k, seed))

    def calibrated(self, members: Tensor, background: Tensor | None) -> Tensor:
        if self.cfg.sampling.calibration == "off" or not bool(self.calibration.fitted):
            return members
        return self.calibration.apply(members, background)

    @torch.no_grad()
    def sample_raw(self, batch: dict, k: int | None = None, seed: int | None = None) -> tuple[Tensor, Tensor | None]:
        """(K raw samples (K, B, D, H, W), the background (B, D, H, W) or None), normalized.

        The random further drop is never applied here. With `sampling.ambient_mode: fixed_mask`
        (and ambient training on), one Ã per sample, drawn once from the seed, masks the noisy
        branch at every step (Ã ⊙ x_t, Daras et al. 2023); `dense` feeds x_t unmasked.
        """
        k = self.cfg.sampling.ensemble_size if k is None else k
        seed = self.cfg.sampling.seed if seed is None else seed
        x, A = batch["x"], batch["x_valid_mask"]
        background, cond = self.inference_inputs(batch)
        noisy_mask = self._fixed_noisy_mask(A, seed)
        net = self.inference_denoiser()

        def denoise(x_t: Tensor, t: Tensor) -> Tensor:
            return net(x_t if noisy_mask is None else noisy_mask * x_t, t, cond)

        shape = self.model_space_shape(batch)
        z = sample_ensemble(denoise, shape, self.schedule, self.cfg.diffusion.parameterization, self.cfg.sampling,
                            k, seed, device=x.device, dtype=x.dtype)
        fields = self.decode_samples(batch, z.reshape(k * shape[0], *shape[1:]), background)
        return fields.reshape(k, shape[0], *fields.shape[1:]), background

    def inference_inputs(self, batch: dict) -> tuple[Tensor | None, Tensor]:
        """(background, condition) from the full input (x, A, EO): what every sampler conditions on."""
        x, A = batch["x"], batch["x_valid_mask"]
        background = self.compute_background(batch, x, A)
        return background, self.condition(batch, x, A, background)

    def _fixed_noisy_mask(self, A: Tensor, seed: int) -> Tensor | None:
        amb = self.cfg.model.ambient_occlusion
        if self.cfg.sampling.ambient_mode != "fixed_mask" or not amb.enabled:
            return None
        generator = member_generator(seed, -1)  # a stream apart from the ensemble members'
        A_further = further_mask(A, amb.further_drop_prob, amb.min_kept_observed_pixels,
                                 amb.shared_spatial_mask, generator)
        return self.model_space_mask(A_further)

    def predict(self, batch: dict) -> Tensor:
        """Ensemble-mean reconstruction (B, D, H, W), normalized."""
        return self.sample(batch).mean(dim=0)

    # --- export ---------------------------------------------------------------------------------
    def export_state(self) -> dict[str, Tensor]:
        """What inference needs: the (EMA) denoiser weights as contiguous CPU tensors, `denoiser.` keys."""
        state = {f"denoiser.{k}": v for k, v in self.inference_denoiser().state_dict().items()}
        if self.background is not None:  # fitted parameters: predict stays self-contained
            state.update({f"background.{k}": v for k, v in self.background.state_dict().items()})
        state.update({f"calibration.{k}": v for k, v in self.calibration.state_dict().items()})
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def load_export_state(self, state: dict[str, Tensor]) -> None:
        prefix = "denoiser."
        weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not weights:
            raise ValueError(f"export state has no {prefix!r} keys (got {sorted(state)[:5]}…)")
        self.denoiser.load_state_dict(weights)
        if self.ema is not None:
            self.ema.model.load_state_dict(weights)
        if self.background is not None:
            fitted = {k[len("background."):]: v for k, v in state.items() if k.startswith("background.")}
            if not fitted:
                raise ValueError(f"export state has no 'background.' tensors, but model.background="
                                 f"{self.cfg.model.background!r} needs its fitted parameters")
            self.background.load_state_dict(fitted)
        # Exports from before calibration existed have none: they load uncalibrated.
        self.calibration.load_state_dict({k[len("calibration."):]: v for k, v in state.items()
                                          if k.startswith("calibration.")})

    @classmethod
    def from_export(cls, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                    depth: Sequence[float] | np.ndarray, state: dict[str, Tensor]) -> "DiffusionSystem":
        system = cls(cfg, normalization, depth)
        system.load_export_state(state)
        return system.eval()


def ignore_unsynced_warning(keys: Iterable[str]) -> None:
    """Silence Lightning's "use sync_dist=True" advice for exactly these (already reduced) keys.

    Lightning gives it for every epoch-level tensor logged with sync_dist=False under DDP, without
    knowing the value came out of a torchmetrics reduction; other keys still warn."""
    names = "|".join(re.escape(k) for k in keys)
    if not names:  # an empty alternation would match, and silence, every key
        return
    warnings.filterwarnings("ignore", message=rf"It is recommended to use `self\.log\('(?:{names})'",
                            category=PossibleUserWarning)


def lr_factor(step: int, warmup_steps: int, total_steps: int, kind: str) -> float:
    """Linear warm-up to 1, then constant or cosine decay to 0 at `total_steps`."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    progress = min(max(step - warmup_steps, 0) / max(total_steps - warmup_steps, 1), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))
