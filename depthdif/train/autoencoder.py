"""AutoencoderSystem: Lightning glue around the depth-band codec (seed 003, issue 17).

The equations live in `depthdif/models/autoencoder.py` and `depthdif/models/pca.py`; this module
only wires them to batches, the optimizer, logging and (de)serialization.

`AutoencoderSystem(...)` builds the architecture (what a checkpoint or export loads into);
`AutoencoderSystem.for_training(...)` is a fresh one: the PCA fitted on the store's training split
(`ae.kind: pca`, nothing to train: one validation epoch) or the AE started as that PCA
(`ae.kind: learned`), trained with AdamW, the LR halved after `ae.training.lr_patience`
validations without a new best `val/ae_rmse`, and stopped after `ae.training.patience`.

Metrics, all in degC through the same `ReconstructionMetrics` the diffusion systems use:
- `train/loss`, `val/loss`: the configured reconstruction loss in normalized units;
- `val/ae_rmse`: RMSE of the reconstruction against `y` where `y_valid_mask`, pooled over the
  levels with depth ≤ `evaluation.max_depth_m` (the definition of `val/rmse_full`);
- `val/ae_rmse_depth/<k>` for every level k (NaN where a level has no valid pixel), and
  `val/ae_rmse_band/<lo-hi m>` for the evaluation depth bands;
- `val/pca_rmse`, `val/pca_rmse_band/<lo-hi m>`: the same for the PCA of the same width (the AE's
  starting point), the floor the AE study draws beside its Pareto front;
- `model/latent_channels`: the code width (a study objective).

The checkpoint's hyper-parameters are plain types (`kind`, `config`, `normalization`, `depth`),
so it loads with `torch.load(weights_only=True)`; `load_autoencoder` reads either such a
checkpoint or an export folder (safetensors + config + normalization).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch import Tensor

from depthdif.config.loader import from_dict, read_yaml, to_dict
from depthdif.config.schema import AEConfig, ExperimentConfig
from depthdif.data.normalization import Normalization
from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.models.autoencoder import Codec, build_codec, reconstruction_loss
from depthdif.train.codec import fresh_codec
from depthdif.train.optim_step import adamw, clip_step

KIND = "ae"
LATENT_KIND = "latent"  # a latent checkpoint holds its codec under the same `autoencoder.` keys
# Names inside an export folder, as depthdif/export.py writes them (a downstream layer, so the
# names are repeated here rather than imported); normalization.json also holds the depth axis.
EXPORT_WEIGHTS, EXPORT_CONFIG, EXPORT_NORMALIZATION = "weights.safetensors", "config.yaml", "normalization.json"
STATE_PREFIX = "autoencoder."
MONITOR = "val/ae_rmse"  # what the LR schedule and early stopping watch
LR_FACTOR, MIN_LR_RATIO = 0.5, 1e-2  # each plateau halves the LR, down to 1 % of ae.training.lr


def as_config(cfg: ExperimentConfig | dict, source: str = "checkpoint hyper_parameters") -> ExperimentConfig:
    """Accept the typed config or its plain-dict form (from a checkpoint or export)."""
    return cfg if isinstance(cfg, ExperimentConfig) else from_dict(ExperimentConfig, cfg, source)


def as_normalization(normalization: Normalization | dict) -> Normalization:
    return normalization if isinstance(normalization, Normalization) else Normalization.from_dict(normalization)


class AutoencoderSystem(pl.LightningModule):
    """Trains the depth-band codec to reconstruct the dense target y on its valid pixels."""

    def __init__(self, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                 depth: Sequence[float], kind: str = KIND):
        super().__init__()
        if kind != KIND:
            raise ValueError(f"AutoencoderSystem: checkpoint kind {kind!r} is not {KIND!r}")
        self.cfg, self.normalization = as_config(cfg), as_normalization(normalization)
        # A plain list: Lightning compares the __init__ arguments with the hparams dict (`==`),
        # which an ndarray depth turns into an ambiguous elementwise comparison.
        depth = self.depth = [float(d) for d in depth]
        if self.normalization.n_levels != len(self.depth):
            raise ValueError(f"normalization has {self.normalization.n_levels} levels, depth axis has "
                             f"{len(self.depth)}")
        self.save_hyperparameters({"kind": KIND, "config": to_dict(self.cfg),
                                   "normalization": self.normalization.to_dict(), "depth": self.depth})
        self.autoencoder: Codec = build_codec(self.cfg.ae, len(self.depth))
        ev = self.cfg.evaluation
        self.val_metrics, self.pca_metrics = (
            ReconstructionMetrics(self.depth, self.normalization.depth_mean, self.normalization.depth_std,
                                  ev.max_depth_m, ev.depth_bands_m) for _ in range(2))

    @classmethod
    def for_training(cls, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                     depth: Sequence[float]) -> "AutoencoderSystem":
        """A fresh system: the codec fitted on (PCA) or started from (AE) `cfg.data.store`'s train split."""
        system = cls(cfg, normalization, depth)
        system.autoencoder = fresh_codec(system.cfg.ae, system.cfg.data.store, len(system.depth))
        return system

    # --- what the trainer (worker) needs besides the module -------------------------------
    @property
    def batch_size(self) -> int:
        """The AE trains with its own batch size (`ae.training.batch_size`), not `data.batch_size`."""
        return self.cfg.ae.training.batch_size

    @property
    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.autoencoder.parameters() if p.requires_grad]

    @property
    def max_epochs(self) -> int:
        """A PCA has nothing to train: one epoch scores it."""
        return self.cfg.ae.training.max_epochs if self.trainable else 1

    @property
    def pca(self) -> torch.nn.Module:
        """The PCA of the codec's width: the AE's starting point, or the codec itself."""
        return getattr(self.autoencoder, "pca", self.autoencoder)

    # --- steps ------------------------------------------------------------------------------
    def reconstruct(self, batch: dict) -> Tensor:
        """Normalized reconstruction (B, D, H, W) of `y` from its valid entries."""
        return self.autoencoder(batch["y"], batch["y_valid_mask"])

    def loss(self, batch: dict, reconstruction: Tensor) -> Tensor:
        """Recon loss vs y ⊙ Y: over Y when `masked_only`, else over every pixel (target 0 = mean)."""
        loss_cfg = self.cfg.ae.loss
        valid = batch["y_valid_mask"]
        mask = valid if loss_cfg.masked_only else None
        return reconstruction_loss(reconstruction, batch["y"] * valid, mask,
                                   l1_weight=loss_cfg.recon_l1_weight, l2_weight=loss_cfg.recon_l2_weight)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor | None:
        if not self.trainable:
            return None  # a PCA codec: Lightning skips the step
        loss = self.loss(batch, self.reconstruct(batch))
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["y"].shape[0], sync_dist=True,
                 on_step=False, on_epoch=True)  # the epoch mean, not the last batch
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        reconstruction = self.reconstruct(batch)
        loss = self.loss(batch, reconstruction)
        self.log("val/loss", loss, prog_bar=True, batch_size=batch["y"].shape[0], sync_dist=True)
        nothing_withheld = torch.zeros_like(batch["x_valid_mask"])
        self.val_metrics.update(reconstruction, batch, nothing_withheld)
        self.pca_metrics.update(self.pca(batch["y"], batch["y_valid_mask"]), batch, nothing_withheld)

    def on_validation_epoch_end(self) -> None:
        logged = {"model/latent_channels": float(self.autoencoder.latent_channels)}
        for prefix, metrics in (("val/ae_", self.val_metrics), ("val/pca_", self.pca_metrics)):
            results = metrics.compute()
            metrics.reset()
            logged[prefix + "rmse"] = results["rmse_full"]
            for key, value in results.items():
                if key.startswith("rmse_depth/") and prefix == "val/ae_":
                    logged[prefix + key] = value
                elif key.startswith("rmse_full_band/"):
                    logged[prefix + "rmse_band/" + key.split("/", 1)[1]] = value
        self.log_dict(logged, sync_dist=False)  # already reduced across ranks by torchmetrics

    def configure_optimizers(self) -> dict | None:
        """AdamW; the LR halves when `val/ae_rmse` stalls (ReduceLROnPlateau). None for a PCA."""
        if not self.trainable:
            return None
        tr = self.cfg.ae.training
        optimizer = adamw(self.trainable, lr=tr.lr, weight_decay=self.cfg.training.weight_decay,
                          fused_step=self.cfg.training.fused_step, precision=self.cfg.training.precision)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=LR_FACTOR,
                                                             patience=tr.lr_patience, min_lr=tr.lr * MIN_LR_RATIO)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": plateau, "monitor": MONITOR, "interval": "epoch",
                                 "frequency": self.cfg.training.val_every_n_epochs,
                                 "strict": False}}  # an epoch without validation skips the step

    def configure_callbacks(self) -> list[pl.Callback]:
        """Stop when `val/ae_rmse` has not improved for `ae.training.patience` validations."""
        patience = self.cfg.ae.training.patience
        if patience is None or not self.trainable:
            return []
        return [EarlyStopping(monitor=MONITOR, mode="min", patience=patience, check_on_train_epoch_end=False)]

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        clip_step(self, optimizer, gradient_clip_val, gradient_clip_algorithm, fused_step=self.cfg.training.fused_step)

    # --- export -------------------------------------------------------------------------------
    def export_state(self) -> dict[str, Tensor]:
        """AE weights and buffers under `autoencoder.` (the latent export uses the same keys)."""
        return autoencoder_state(self.autoencoder)

    def load_export_state(self, state: dict[str, Tensor]) -> None:
        load_autoencoder_state(self.autoencoder, state)

    @classmethod
    def from_export(cls, cfg: ExperimentConfig | dict, normalization: Normalization | dict,
                    depth: Sequence[float], state: dict[str, Tensor]) -> "AutoencoderSystem":
        system = cls(cfg, normalization, depth)
        system.load_export_state(state)
        return system.eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "AutoencoderSystem":
        """Rebuild from a Lightning checkpoint of this system, or the codec of a latent one."""
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        hp = ckpt.get("hyper_parameters", {})
        if hp.get("kind") not in (KIND, LATENT_KIND):
            raise ValueError(f"{path}: not an autoencoder checkpoint (kind={hp.get('kind')!r}, expected "
                             f"{KIND!r} or {LATENT_KIND!r})")
        system = cls(hp["config"], hp["normalization"], hp["depth"])
        state = {k: v for k, v in ckpt["state_dict"].items() if k.startswith(STATE_PREFIX)}
        system.load_state_dict(state)
        return system.eval()


def _read_export(folder: Path) -> tuple[ExperimentConfig, Normalization, list[float], dict[str, Tensor]]:
    """An export folder: weights (safetensors), resolved config (YAML), normalization + depth (JSON)."""
    from safetensors.torch import load_file

    missing = [n for n in (EXPORT_WEIGHTS, EXPORT_CONFIG, EXPORT_NORMALIZATION) if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: not an export folder, missing {missing}")
    cfg = from_dict(ExperimentConfig, read_yaml(folder / EXPORT_CONFIG), str(folder / EXPORT_CONFIG))
    stats = json.loads((folder / EXPORT_NORMALIZATION).read_text())
    if "depth" not in stats:
        raise ValueError(f"{folder / EXPORT_NORMALIZATION}: no depth axis ('depth')")
    state = load_file(str(folder / EXPORT_WEIGHTS), device="cpu")
    return cfg, Normalization.from_dict(stats), [float(d) for d in stats["depth"]], state


def load_autoencoder(path: str | Path) -> tuple[Codec, AEConfig, Normalization, list[float]]:
    """A trained codec (eval mode) with the config, normalization and depth axis it was trained on.

    `path` is a Lightning checkpoint of `AutoencoderSystem` or of a latent system (read with
    weights_only=True) or an export folder of either (all keep the codec under `autoencoder.` keys).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"latent.ae_checkpoint: {path} does not exist")
    if path.is_dir():
        cfg, normalization, depth, state = _read_export(path)
        system = AutoencoderSystem.from_export(cfg, normalization, depth, state)
    else:
        system = AutoencoderSystem.from_checkpoint(path)
    return system.autoencoder.eval(), system.cfg.ae, system.normalization, system.depth


def autoencoder_state(autoencoder: torch.nn.Module) -> dict[str, Tensor]:
    """The AE's weights and buffers under `autoencoder.`: one key layout for AE and latent exports."""
    return {STATE_PREFIX + k: v.detach().cpu().contiguous() for k, v in autoencoder.state_dict().items()}


def load_autoencoder_state(autoencoder: torch.nn.Module, state: dict[str, Tensor]) -> None:
    """Load the `autoencoder.` keys of an export state (an error names what was found instead)."""
    weights = {k[len(STATE_PREFIX):]: v for k, v in state.items() if k.startswith(STATE_PREFIX)}
    if not weights:
        raise ValueError(f"export state has no {STATE_PREFIX!r} keys (got {sorted(state)[:5]}…)")
    autoencoder.load_state_dict(weights)
