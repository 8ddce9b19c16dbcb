"""LatentDiffusionSystem (`depthdif train latent`): the pixel system plus an AE pair.

Composition, not a fork (STYLE.md habit 16): schedules, samplers, EMA, the ambient objective,
validation sampling and `ReconstructionMetrics` are the `DiffusionSystem` ones; this class only
overrides the model-space hooks:

- `to_model_space(field, mask)`: z = E(field ⊙ mask), the AE's standardized latent
  (no grad when the encoder is frozen);
- `from_model_space(z)`: D(z), all depth levels, so validation metrics are computed in depth
  space on decoded samples exactly as for the pixel model (`val/rmse_full`, `val/rmse_withheld`,
  `val/rmse_depth/<k>`, …);
- `model_space_mask(mask)`: a depth-space mask (B, D, H, W) → latent (B, L, h, w): a latent pixel
  counts when ANY level of ANY pixel it covers counts (amax over depth, max-pool over the s x s
  block), broadcast to the L latent channels;
- `build_condition(batch, x, A)`: the condition is NOT built from encoded sparse x (an AE trained on
  dense y sees out-of-distribution input there, DEPTHDIF.md). With `spatial_downsample` 1 the
  latent grid is the pixel grid, so the condition is the pixel model's: x, its per-depth mask A,
  EO, EO validity, land. With s > 1 every field is resampled to the latent grid first:
  x and EO by masked average pooling (mean of the valid pixels of each s x s block, per level /
  channel), their masks by max pooling (1 where any pixel of the block is valid), the land mask by
  average pooling (land fraction).

The codec (`ae.kind: learned`, the AE, or `pca`) is chosen once, by `for_training` when a run
starts: the one in `latent.ae_checkpoint` (a Lightning checkpoint of `AutoencoderSystem` or of a
latent run, read with weights_only=True, or an export folder), else the PCA fitted on the store's
training split (`ae.kind: pca`), else (`freeze: none`) a fresh AE started from that PCA. A loaded
codec's level count, depth axis and normalization must match the store's (clear error otherwise),
and its own `ae` config replaces `cfg.ae` in the resolved config. From then on the codec is part of
this system: its weights (AE parameters or PCA basis and means) are in every checkpoint and export,
and `LatentDiffusionSystem(cfg, ...)` rebuilds its architecture from the resolved `ae` block, so
eval, export and predict never read `latent.ae_checkpoint` again (issue 13).
`latent.freeze`: `full` (default) freezes the whole AE; `partial` fine-tunes the decoder only;
`none` trains encoder and decoder with the denoiser. Unless `full`, the loss adds
`latent.recon_weight` x the AE reconstruction loss of y (`ae.loss.*`), logged as
`train/ae_recon_loss` / `val/ae_recon_loss`: the diffusion loss lives in latent space and never
reaches the decoder, and alone it would let an unfrozen encoder shrink its latents. The AE is kept
in eval mode throughout (its latent standardization uses the statistics of AE training); the EMA
covers the denoiser only.

Ambient occlusion in latent mode (seed 000 mapped through the AE):
- exact: the condition uses x̃ = Ã ⊙ x and Ã in pixel space (s = 1: the same channels as the pixel
  model; Ã drops whole profiles when `shared_spatial_mask`), and inference conditions on the full
  (x, A);
- approximate: the clean target is z = E(x ⊙ A), the encoding of the sparse profiles; the loss
  support is S = A ⊙ Y mapped to latent pixels (any level), and the noisy-branch mask is Ã mapped
  the same way. With `kernel_size` 1 and s = 1 each latent column is the code of one observed
  profile, so the only approximation is that levels below a profile's maximum depth are encoded
  as the per-depth mean (0). With `kernel_size` 3 or s > 1 the codes also mix in zero-filled,
  unobserved neighbours: prefer the per-column codec for ambient latent training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depthdif.config.schema import ExperimentConfig
from depthdif.data.normalization import Normalization
from depthdif.models.autoencoder import Codec, build_codec, reconstruction_loss
from depthdif.models.condition import build_condition
from depthdif.train.autoencoder import autoencoder_state, load_autoencoder, load_autoencoder_state
from depthdif.train.codec import fresh_codec
from depthdif.train.diffusion_system import DiffusionSystem, as_config, as_normalization

KIND = "latent"
# Relative tolerance when comparing the AE's normalization / depth axis with the store's.
STATS_RTOL = 1e-4


def check_ae_matches_store(ae_normalization: Normalization, ae_depth: Sequence[float],
                           normalization: Normalization, depth: Sequence[float], source: str) -> None:
    """Raise naming the first mismatch between the AE's training statistics and the store's."""
    if len(ae_depth) != len(depth):
        raise ValueError(f"{source}: the autoencoder was trained on {len(ae_depth)} depth levels, "
                         f"the store has {len(depth)}")
    pairs = {"depth axis (m)": (ae_depth, depth),
             "normalization depth_mean": (ae_normalization.depth_mean, normalization.depth_mean),
             "normalization depth_std": (ae_normalization.depth_std, normalization.depth_std)}
    for name, (ae_values, store_values) in pairs.items():
        ae_values, store_values = np.asarray(ae_values, float), np.asarray(store_values, float)
        bad = np.flatnonzero(~np.isclose(ae_values, store_values, rtol=STATS_RTOL, atol=1e-6))
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"{source}: the autoencoder's {name} differs from the store's at level {k} "
                             f"({ae_values[k]:.6g} vs {store_values[k]:.6g}; {bad.size} levels differ); "
                             "retrain the AE on this store")


def masked_avg_pool(field: Tensor, mask: Tensor, s: int) -> tuple[Tensor, Tensor]:
    """Mean of the valid pixels of each s x s block (0 where none) and the any-valid block mask."""
    mask = mask.to(field.dtype)
    total = F.avg_pool2d(field * mask, s)
    share = F.avg_pool2d(mask, s)
    return total / share.clamp_min(1e-12) * (share > 0), (share > 0).to(field.dtype)


class LatentDiffusionSystem(DiffusionSystem):
    """Conditional diffusion on the latent grid of a depth-band autoencoder."""

    kind = KIND

    def __init__(self, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                 depth: Sequence[float] | np.ndarray, autoencoder: Codec | None = None):
        """`autoencoder` None: an unfitted codec built from `cfg.ae`, for a state dict to fill
        (checkpoint, export); `for_training` passes the trained or fitted one."""
        cfg, normalization = as_config(cfg), as_normalization(normalization)
        depth = [float(d) for d in depth]  # plain list: see AutoencoderSystem.__init__
        autoencoder = build_codec(cfg.ae, len(depth)) if autoencoder is None else autoencoder
        if autoencoder.in_channels != len(depth):
            raise ValueError(f"the autoencoder has {autoencoder.in_channels} input levels, the store has {len(depth)}")
        if cfg.latent.freeze != "full" and not (autoencoder.encoder_parts + autoencoder.decoder_parts):
            raise ValueError(f"latent.freeze={cfg.latent.freeze!r}: the {cfg.ae.kind} codec has nothing to "
                             "train; use latent.freeze: full")
        # Plain ints read by the base __init__ (build_denoiser) before nn.Module attributes exist.
        self._latent_channels = autoencoder.latent_channels
        self._downsample = autoencoder.spatial_downsample
        super().__init__(cfg, normalization, depth)
        self.autoencoder = autoencoder
        self._apply_freeze(self.cfg.latent.freeze)

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def for_training(cls, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                     depth: Sequence[float] | np.ndarray) -> "LatentDiffusionSystem":
        """A fresh system with its codec: loaded from `latent.ae_checkpoint`, or fitted (module doc)."""
        cfg, normalization = as_config(cfg), as_normalization(normalization)
        depth = [float(d) for d in depth]
        path = cfg.latent.ae_checkpoint
        if path is not None:
            autoencoder, ae_cfg, ae_norm, ae_depth = load_autoencoder(path)
            check_ae_matches_store(ae_norm, ae_depth, normalization, depth, f"latent.ae_checkpoint {path}")
            cfg = dataclasses.replace(cfg, ae=ae_cfg)
        elif cfg.ae.kind == "pca" or cfg.latent.freeze == "none":
            autoencoder = fresh_codec(cfg.ae, cfg.data.store, len(depth))
        else:
            raise ValueError(f"latent.freeze={cfg.latent.freeze!r} needs a trained autoencoder: set "
                             "latent.ae_checkpoint (a checkpoint or export folder), use ae.kind: pca (fitted "
                             "on the store), or latent.freeze: none")
        return cls(cfg, normalization, depth, autoencoder=autoencoder)

    def _apply_freeze(self, freeze: str) -> None:
        """full: nothing of the AE trains; partial: only the decoder; none: both."""
        ae = self.autoencoder
        trainable = {"full": (), "partial": ae.decoder_parts, "none": ae.encoder_parts + ae.decoder_parts}[freeze]
        self.autoencoder.requires_grad_(False)
        for part in trainable:
            part.requires_grad_(True)
        self.autoencoder.eval()

    def train(self, mode: bool = True) -> "LatentDiffusionSystem":
        """Lightning switches modes every epoch; the AE (latent standardization) stays in eval."""
        super().train(mode)
        self.autoencoder.eval()
        return self

    @property
    def encoder_frozen(self) -> bool:
        return self.cfg.latent.freeze != "none"

    # --- hooks ----------------------------------------------------------------------------------
    @property
    def model_channels(self) -> int:
        return self._latent_channels

    def to_model_space(self, field: Tensor, mask: Tensor) -> Tensor:
        if self.encoder_frozen:
            with torch.no_grad():
                return self.autoencoder.encode(field, mask)
        return self.autoencoder.encode(field, mask)

    def from_model_space(self, z: Tensor) -> Tensor:
        return self.autoencoder.decode(z)

    def model_space_mask(self, mask: Tensor) -> Tensor:
        columns = mask.amax(dim=1, keepdim=True)
        if self._downsample > 1:
            columns = F.max_pool2d(columns, self._downsample)
        return columns.expand(-1, self._latent_channels, -1, -1)

    def model_space_shape(self, batch: dict) -> tuple[int, ...]:
        b, _, h, w = batch["x"].shape
        s = self._downsample
        if h % s or w % s:
            raise ValueError(f"patch size {(h, w)} is not divisible by ae.spatial_downsample={s}")
        return (b, self.model_channels, h // s, w // s)

    def build_condition(self, batch: dict, x: Tensor, obs_mask: Tensor) -> Tensor:
        s = self._downsample
        if s == 1:
            return super().build_condition(batch, x, obs_mask)
        x, obs_mask = masked_avg_pool(x, obs_mask, s)
        eo, eo_mask = masked_avg_pool(batch["eo"], batch["eo_valid_mask"], s)
        land = F.avg_pool2d(batch["land_mask"].to(x.dtype), s)
        return build_condition(x, obs_mask, eo, eo_mask, land, self.cfg.model.condition)

    # --- logging: the latent width, a study objective (studies/latent.yaml) ------------------
    def log_latent_width(self) -> None:
        """`model/latent_channels`: the loaded AE's width, which only the system knows when the AE
        comes from `latent.ae_checkpoint` (the requested `ae` block may be stale)."""
        self.log("model/latent_channels", float(self._latent_channels), on_step=False, on_epoch=True,
                 batch_size=1, sync_dist=True)  # equal on every rank; synced so Lightning does not warn

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss = super().training_step(batch, batch_idx)
        self.log_latent_width()  # also there in epochs without validation
        return loss

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self.log_latent_width()

    # --- objective: add the AE reconstruction term when the AE trains -------------------------
    def compute_loss(self, batch: dict, denoiser: nn.Module, generator: torch.Generator | None) -> tuple[Tensor, dict]:
        loss, logged = super().compute_loss(batch, denoiser, generator)
        if self.cfg.latent.freeze == "full":
            return loss, logged
        recon = self.reconstruction_loss(batch)
        return loss + self.cfg.latent.recon_weight * recon, {**logged, "ae_recon_loss": recon.detach()}

    def reconstruction_loss(self, batch: dict) -> Tensor:
        """The AE's own loss (`ae.loss.*`) on y: what keeps a trainable decoder/encoder honest."""
        loss_cfg, valid = self.cfg.ae.loss, batch["y_valid_mask"]
        reconstruction = self.autoencoder.decode(self.to_model_space(batch["y"], valid))
        return reconstruction_loss(reconstruction, batch["y"] * valid, valid if loss_cfg.masked_only else None,
                                   l1_weight=loss_cfg.recon_l1_weight, l2_weight=loss_cfg.recon_l2_weight)

    # --- export ---------------------------------------------------------------------------------
    def export_state(self) -> dict[str, Tensor]:
        """Denoiser (EMA) weights under `denoiser.` and the AE under `autoencoder.`."""
        return {**super().export_state(), **autoencoder_state(self.autoencoder)}

    def load_export_state(self, state: dict[str, Tensor]) -> None:
        super().load_export_state(state)
        load_autoencoder_state(self.autoencoder, state)

