"""AutoencoderSystem: Lightning glue around the depth-band autoencoder (seed 003).

The equations live in `depthdif/models/autoencoder.py`; this module only wires them to batches,
the optimizer, logging and (de)serialization.

Metrics, all in degC through the same `ReconstructionMetrics` the diffusion systems use:
- `train/loss`, `val/loss`: the configured reconstruction loss in normalized units;
- `val/ae_rmse`: RMSE of the reconstruction against `y` where `y_valid_mask`, pooled over the
  levels with depth ≤ `evaluation.max_depth_m` (the definition of `val/rmse_full`);
- `val/ae_rmse_depth/<k>` for every level k (NaN where a level has no valid pixel), and
  `val/ae_rmse_band/<lo-hi m>` for the evaluation depth bands.

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
from torch import Tensor

from depthdif.config.loader import from_dict, read_yaml, to_dict
from depthdif.config.schema import AEConfig, ExperimentConfig
from depthdif.data.normalization import Normalization
from depthdif.evaluation.metrics import ReconstructionMetrics
from depthdif.models.autoencoder import DepthBandAutoencoder, build_autoencoder, reconstruction_loss
from depthdif.train.optim_step import adamw, clip_step

KIND = "ae"
# Names inside an export folder, as depthdif/export.py writes them (a downstream layer, so the
# names are repeated here rather than imported); normalization.json also holds the depth axis.
EXPORT_WEIGHTS, EXPORT_CONFIG, EXPORT_NORMALIZATION = "weights.safetensors", "config.yaml", "normalization.json"
STATE_PREFIX = "autoencoder."


def as_config(cfg: ExperimentConfig | dict, source: str = "checkpoint hyper_parameters") -> ExperimentConfig:
    """Accept the typed config or its plain-dict form (from a checkpoint or export)."""
    return cfg if isinstance(cfg, ExperimentConfig) else from_dict(ExperimentConfig, cfg, source)


def as_normalization(normalization: Normalization | dict) -> Normalization:
    return normalization if isinstance(normalization, Normalization) else Normalization.from_dict(normalization)


class AutoencoderSystem(pl.LightningModule):
    """Trains `DepthBandAutoencoder` to reconstruct the dense target y on its valid pixels."""

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
        self.autoencoder = build_autoencoder(self.cfg.ae, len(self.depth))
        ev = self.cfg.evaluation
        self.val_metrics = ReconstructionMetrics(self.depth, self.normalization.depth_mean,
                                                 self.normalization.depth_std, ev.max_depth_m, ev.depth_bands_m)

    # --- what the trainer (worker) needs besides the module -------------------------------
    @property
    def batch_size(self) -> int:
        """The AE trains with its own batch size (`ae.training.batch_size`), not `data.batch_size`."""
        return self.cfg.ae.training.batch_size

    @property
    def max_epochs(self) -> int:
        return self.cfg.ae.training.max_epochs

    # --- steps ------------------------------------------------------------------------------
    def reconstruct(self, batch: dict) -> Tensor:
        """Normalized reconstruction (B, D, H, W) of `y`; invalid entries are zeroed on input."""
        return self.autoencoder(batch["y"], batch["y_valid_mask"])

    def loss(self, batch: dict, reconstruction: Tensor) -> Tensor:
        """Recon loss vs y ⊙ Y: over Y when `masked_only`, else over every pixel (target 0 = mean)."""
        loss_cfg = self.cfg.ae.loss
        valid = batch["y_valid_mask"]
        mask = valid if loss_cfg.masked_only else None
        return reconstruction_loss(reconstruction, batch["y"] * valid, mask,
                                   l1_weight=loss_cfg.recon_l1_weight, l2_weight=loss_cfg.recon_l2_weight)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss = self.loss(batch, self.reconstruct(batch))
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["y"].shape[0], sync_dist=True,
                 on_step=False, on_epoch=True)  # the epoch mean, not the last batch
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        reconstruction = self.reconstruct(batch)
        loss = self.loss(batch, reconstruction)
        self.log("val/loss", loss, prog_bar=True, batch_size=batch["y"].shape[0], sync_dist=True)
        self.val_metrics.update(reconstruction, batch, torch.zeros_like(batch["x_valid_mask"]))

    def on_validation_epoch_end(self) -> None:
        results = self.val_metrics.compute()
        self.val_metrics.reset()
        logged = {"val/ae_rmse": results["rmse_full"]}
        for key, value in results.items():
            if key.startswith("rmse_depth/"):
                logged["val/ae_" + key] = value
            elif key.startswith("rmse_full_band/"):
                logged["val/ae_rmse_band/" + key.split("/", 1)[1]] = value
        self.log_dict(logged, sync_dist=False)  # already reduced across ranks by torchmetrics

    def configure_optimizers(self) -> torch.optim.Optimizer:
        tr = self.cfg.training
        return adamw(self.autoencoder.parameters(), lr=self.cfg.ae.training.lr, weight_decay=tr.weight_decay,
                     fused_step=tr.fused_step, precision=tr.precision)

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
        """Rebuild from a Lightning checkpoint written while training this system."""
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        hp = ckpt.get("hyper_parameters", {})
        if hp.get("kind") != KIND:
            raise ValueError(f"{path}: not an autoencoder checkpoint (kind={hp.get('kind')!r}, expected {KIND!r})")
        system = cls(hp["config"], hp["normalization"], hp["depth"])
        system.load_state_dict(ckpt["state_dict"])
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


def load_autoencoder(path: str | Path) -> tuple[DepthBandAutoencoder, AEConfig, Normalization, list[float]]:
    """A trained AE (eval mode) with the config, normalization and depth axis it was trained on.

    `path` is a Lightning checkpoint of `AutoencoderSystem` (read with weights_only=True) or an
    export folder of the AE or of a latent system (both keep the AE under `autoencoder.` keys).
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
