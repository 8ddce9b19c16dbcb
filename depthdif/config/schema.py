"""The typed configuration tree of an experiment (data, model, diffusion, training, …).

YAML files, `--set` overrides and study search spaces all use the dotted names of these
fields (e.g. `model.ambient_occlusion.further_drop_prob`). Ranges are checked at load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from .loader import bounded

EOChannel = Literal["sst", "sss", "adt"]


@dataclass
class DataConfig:
    """Which store to read and how to cut batches from its patch index."""

    store: str = "data/demo.zarr"
    eo_channels: list[EOChannel] = field(default_factory=lambda: ["sst"])
    batch_size: int = bounded(8, 1)
    # DataLoader worker processes per training process; None: one per CPU that process holds beyond
    # the one that trains, at most 4, and 0 for in_memory (depthdif/train/datamodule.py).
    num_workers: int | None = bounded(None, 0)
    # "chunks": shuffle chunk blocks and draw windows from a buffer of decoded chunks sized to
    # cache_mb (depthdif/data/chunk_sampler.py); "windows": a uniform permutation of the windows.
    shuffle: Literal["chunks", "windows"] = "chunks"
    # What is withheld from the input and scored (validation, `depthdif eval`, benchmarks):
    # "float" = whole Argo floats, each withheld with probability withheld_fraction (every profile
    # of a withheld float leaves every window of the split); "column" = withheld_fraction of each
    # window's observed columns (optimistic: other profiles of the same float stay in the input).
    withheld_mode: Literal["float", "column"] = "float"
    withheld_fraction: float = bounded(0.2, 0.0, 1.0, hi_open=True)
    withheld_seed: int = 1234
    # Validation windows scored by sampling: a seeded draw (withheld_seed) across the whole val
    # split among windows with an observed profile, the same in every epoch and every trial.
    val_subset: int = bounded(16, 1)
    # Per-process cache of decoded Zarr chunks of the training loaders (cache_mb * 2**20 bytes); 0 = off.
    cache_mb: int = bounded(512, 0)
    # The training loaders load the whole store into RAM in each reading process (small stores only).
    in_memory: bool = False

    def check(self) -> None:
        if not self.eo_channels:
            raise ValueError("eo_channels: at least one EO channel is required")
        if len(set(self.eo_channels)) != len(self.eo_channels):
            raise ValueError(f"eo_channels: duplicates in {self.eo_channels}")


@dataclass
class UNetConfig:
    """Conditional UNet denoiser; every skip connection is used."""

    base_channels: int = bounded(32, 4)
    channel_mults: list[int] = bounded([1, 2, 2], 1)
    num_res_blocks: int = bounded(1, 1, 4)
    attention_levels: list[int] = bounded([2], 0)  # indices into channel_mults
    attention_heads: int = bounded(4, 1)
    time_embed_dim: int = bounded(128, 8)
    dropout: float = bounded(0.0, 0.0, 1.0, hi_open=True)
    groups: int = bounded(8, 1)
    # Zero-initialised output convolution: an x0 network starts at "residual 0", i.e. exactly at
    # the background (model.background), or at the per-depth mean without one.
    zero_init_output: bool = True

    def check(self) -> None:
        if not self.channel_mults:
            raise ValueError("channel_mults: must not be empty")
        bad = [i for i in self.attention_levels if i >= len(self.channel_mults)]
        if bad:
            raise ValueError(f"attention_levels: {bad} not < len(channel_mults)={len(self.channel_mults)}")


@dataclass
class AmbientOcclusionConfig:
    """Seed 000: train on a further-corrupted mask Ã = B ⊙ A, score on S = A ⊙ Y."""

    enabled: bool = False
    further_drop_prob: float = bounded(0.25, 0.0, 1.0, hi_open=True)
    min_kept_observed_pixels: int = bounded(1, 0)
    shared_spatial_mask: bool = True
    apply_further_corruption_to_noisy_branch: bool = True
    require_x0_parameterization: bool = True


@dataclass
class ConditionConfig:
    """What the denoiser is conditioned on besides the sparse input and its per-depth mask."""

    include_eo: bool = True
    include_land_mask: bool = True
    # With a background: `innovation` feeds the profiles as (x - b)·A; `window` also feeds the EO and
    # the background minus their window means, so absolute values cannot name the place trained on
    # (README "background-residual models" has the figures). Default none: saved runs predate it.
    anomalies: Literal["none", "innovation", "window"] = "none"


BackgroundKind = Literal["none", "climatology", "eo_regression", "oi", "oi_eo"]


@dataclass
class ModelConfig:
    """The denoiser. Pixel or latent space is the trainer kind's choice (`depthdif train pixel|latent`,
    a study's `kind:`), not a config key."""

    RETIRED_KEYS: ClassVar[dict[str, str]] = {
        "model_type": "the trainer kind (`depthdif train pixel|latent`, a study's `kind:`) selects the model"}

    unet: UNetConfig = field(default_factory=UNetConfig)
    condition: ConditionConfig = field(default_factory=ConditionConfig)
    ambient_occlusion: AmbientOcclusionConfig = field(default_factory=AmbientOcclusionConfig)
    # The field the network corrects (depthdif/models/background.py): it diffuses the residual
    # from it and sees it as condition channels. Computed from exactly what the model is given;
    # its parameters are fitted on the train split (evaluation.baselines settings).
    background: BackgroundKind = "none"
    # Standard objective only: share of each window's profiles hidden from the background and the
    # condition at every training step (the target y stays dense), so the network learns how the
    # background errs where a profile is missing. The ambient objective's Ã plays this role.
    background_profile_drop: float = bounded(0.2, 0.0, 1.0, hi_open=True)
    # Ambient objective with a background: levels above the shallowest level any training profile
    # observed (the surface: Argo stops a few metres down) get no supervision, so their output
    # stays at the background. `shallowest_observed` carries that level's residual (°C) up to
    # them, as a mixed layer would (BENCHMARKS.md "skill" measures both); `background` does not.
    unobserved_top_levels: Literal["shallowest_observed", "background"] = "shallowest_observed"

    def check(self) -> None:
        if self.condition.anomalies != "none" and self.background == "none":
            raise ValueError(f"model.condition.anomalies: {self.condition.anomalies!r} are departures from the "
                             "background; set model.background (e.g. oi_eo) or anomalies: none")


@dataclass
class DiffusionConfig:
    timesteps: int = bounded(1000, 2)
    schedule: Literal["linear", "cosine"] = "cosine"
    beta_start: float = bounded(1e-4, 0.0, 1.0, lo_open=True, hi_open=True)
    beta_end: float = bounded(0.02, 0.0, 1.0, lo_open=True, hi_open=True)
    # What the network predicts: the clean sample, the noise, or v = √ᾱ ε − √(1−ᾱ) x0 (Salimans &
    # Ho 2022), which makes x0 = √ᾱ x_t − √(1−ᾱ) v lean on x_t at low noise (honest ensemble spread).
    parameterization: Literal["x0", "epsilon", "v"] = "x0"

    def check(self) -> None:
        if self.schedule == "linear" and self.beta_end <= self.beta_start:
            raise ValueError("beta_end must be > beta_start for the linear schedule")


@dataclass
class SamplingConfig:
    sampler: Literal["ddpm", "ddim"] = "ddim"
    steps: int = bounded(20, 1)
    eta: float = bounded(0.0, 0.0, 1.0)
    posterior_variance: Literal["beta", "beta_tilde"] = "beta_tilde"
    ensemble_size: int = bounded(1, 1)
    clip: float | None = bounded(None, 0.0, lo_open=True)  # no clipping by default
    # Ambient-trained models only: `fixed_mask` masks the noisy branch with one Ã per sample, as in
    # training (Daras et al. 2023); `dense` feeds x_t unmasked, which the network never saw.
    # fixed_mask is the default: it wins in BENCHMARKS.md ("pixel", "skill") with and without a background.
    ambient_mode: Literal["dense", "fixed_mask"] = "fixed_mask"
    # `validation`: samples pass through the residual gain and spread inflation fitted at each
    # validation on the withheld profiles (depthdif/models/calibration.py); `off`: raw samples.
    calibration: Literal["validation", "off"] = "validation"
    seed: int = 0


@dataclass
class EMAConfig:
    enabled: bool = True
    decay: float = bounded(0.999, 0.0, 1.0, hi_open=True)
    # The first warmup_steps updates copy the weights; then decay_n = min(decay, (1+n)/(10+n)),
    # n counted from the end of the copy phase (depthdif/diffusion/ema.py).
    warmup_steps: int = bounded(100, 0)


@dataclass
class DebugConfig:
    """Test-only hooks: crash or poison a run on purpose (recovery must be proven), trace shards.

    Never set in a real run; kept out of the `training` block so nobody tunes it by accident."""

    crash_at_step: int | None = bounded(None, 0)  # crash once at this global step
    nan_at_step: int | None = bounded(None, 0)  # fill rank 0's batch with NaN at this global step
    marker_dir: str | None = None  # where the "already crashed once" marker lives (None: run dir)
    crash_rank: int = bounded(0, 0)  # which worker rank crashes (ranks >= world size never crash)
    # Each rank appends the patch_ids it trains/validates on per epoch under this dir (shard proof).
    record_patch_ids_dir: str | None = None


@dataclass
class TrainingConfig:
    MOVED_KEYS: ClassVar[dict[str, str]] = {"fault_injection": "test-only fault injection is the `debug` block "
                                                                "(e.g. debug.crash_at_step)"}

    seed: int = 0
    lr: float = bounded(2e-4, 0.0, lo_open=True)
    weight_decay: float = bounded(0.0, 0.0)
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    # Random flips and quarter turns of each training batch (train/augment.py); none: as read.
    augment: Literal["none", "dihedral"] = "none"
    warmup_steps: int = bounded(0, 0)
    grad_clip: float | None = bounded(1.0, 0.0, lo_open=True)
    max_epochs: int = bounded(10, 1)
    limit_train_batches: int | None = bounded(None, 1)
    limit_val_batches: int | None = bounded(None, 1)
    val_every_n_epochs: int = bounded(1, 1)
    checkpoint_every_n_epochs: int = bounded(1, 1)
    checkpoints_to_keep: int = bounded(2, 1)  # newest kept (the latest is always kept)
    max_failures: int = bounded(0, 0)
    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = "32-true"
    # Fused AdamW, foreach gradient clipping and a foreach EMA update, one logging call per step;
    # false: the per-tensor reference path (same numbers to rounding; kept for comparison).
    fused_step: bool = True


@dataclass
class AELossConfig:
    recon_l1_weight: float = bounded(0.0, 0.0)
    recon_l2_weight: float = bounded(1.0, 0.0)
    masked_only: bool = True

    def check(self) -> None:
        if self.recon_l1_weight == 0 and self.recon_l2_weight == 0:
            raise ValueError("recon_l1_weight and recon_l2_weight cannot both be 0")


@dataclass
class AETrainingConfig:
    """AdamW with the LR halved when `val/ae_rmse` stalls; training stops when it stops improving."""

    lr: float = bounded(1e-3, 0.0, lo_open=True)
    batch_size: int = bounded(16, 1)
    max_epochs: int = bounded(100, 1)
    lr_patience: int = bounded(5, 1)  # validations without a new best before the LR halves
    patience: int | None = bounded(15, 1)  # validations without a new best before stopping; None: never


@dataclass
class AEConfig:
    """Seed 003: depth-band codec. `kind: learned` is the autoencoder (kernel_size 1 = per-column
    profile codec), started from the PCA of the store; `kind: pca` is that PCA alone (issue 17)."""

    kind: Literal["learned", "pca"] = "learned"
    kernel_size: Literal[1, 3] = 1
    in_channels: int | None = bounded(None, 1)  # None: taken from the store; else must match it
    latent_channels: int = bounded(12, 1)
    spatial_downsample: Literal[1, 2, 4] = 1
    encoder_hidden: list[int] = bounded([64, 96, 128], 1)
    decoder_hidden: list[int] = bounded([128, 96, 64], 1)
    # Training patches (a fixed seeded subset of the train split) the PCA is fitted on.
    pca_fit_patches: int = bounded(256, 1)
    loss: AELossConfig = field(default_factory=AELossConfig)
    training: AETrainingConfig = field(default_factory=AETrainingConfig)

    def check(self) -> None:
        if not self.encoder_hidden or not self.decoder_hidden:
            raise ValueError("encoder_hidden and decoder_hidden need at least one width each")


@dataclass
class LatentConfig:
    """Latent conditional diffusion on a (frozen by default) autoencoder."""

    # A Lightning checkpoint or an export folder of an AE (or of a latent run); read once, when a
    # run starts: the codec then travels inside the latent checkpoint and export. None: with
    # `ae.kind: pca` the PCA is fitted on the store; with `freeze: none` a fresh AE trains along.
    ae_checkpoint: str | None = None
    freeze: Literal["full", "partial", "none"] = "full"
    # Weight of the AE reconstruction loss added to the diffusion loss when freeze is not "full".
    recon_weight: float = bounded(1.0, 0.0)


@dataclass
class BaselinesConfig:
    """Classical baselines (IDW, OI, EO regression, OI on EO regression); distances in pixels."""

    idw_power: float = bounded(2.0, 0.0, lo_open=True)
    idw_max_neighbours: int = bounded(16, 1)
    # OI hyper-parameters are chosen per depth level by marginal likelihood over this grid.
    oi_length_scales_px: list[float] = bounded([1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0], 0.0, lo_open=True)
    oi_noise_ratios: list[float] = bounded([0.01, 0.03, 0.1, 0.3, 1.0], 0.0, lo_open=True)
    # Training patches read to fit baselines (a seeded subset when the split is larger).
    fit_max_samples: int = bounded(64, 1)
    fit_seed: int = 0

    def check(self) -> None:
        if not self.oi_length_scales_px or not self.oi_noise_ratios:
            raise ValueError("oi_length_scales_px and oi_noise_ratios must not be empty")


@dataclass
class EvaluationConfig:
    max_depth_m: float = bounded(2000.0, 0.0, lo_open=True)
    depth_bands_m: list[float] = bounded([0.0, 100.0, 500.0, 2000.0], 0.0)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)

    def check(self) -> None:
        edges = self.depth_bands_m
        if len(edges) < 2 or any(hi <= lo for lo, hi in zip(edges[:-1], edges[1:])):
            raise ValueError(f"depth_bands_m: need at least 2 strictly increasing edges, got {edges}")


@dataclass
class LoggingConfig:
    """Where a run's per-epoch metrics go besides metrics.jsonl and the CSV log (always written).

    tensorboard: `<run_dir>/tensorboard/` (`tensorboard --logdir` the run's or study's folder);
    mlflow: a local MLflow file store, no server (`pip install -e '.[mlflow]'`), by default
    `<run_dir>/../mlruns`, i.e. shared by the runs of one storage folder or one study."""

    backend: Literal["csv", "tensorboard", "mlflow"] = "csv"
    mlflow_tracking_uri: str | None = None  # e.g. file:///abs/path/mlruns; None: beside the run dirs
    mlflow_experiment: str | None = None  # None: the study's name for trials, else "depthdif"


@dataclass
class RayConfig:
    """How a training run is placed on Ray (local runtime unless an address is given)."""

    address: str | None = None
    num_workers: int = bounded(1, 0)  # 0: `depthdif train` trains in its own process, without Ray
    cpus_per_worker: float = bounded(1.0, 0.0, lo_open=True)
    gpus_per_worker: float = bounded(0.0, 0.0)
    storage_path: str = "runs"


@dataclass
class ExperimentConfig:
    """Everything one training run needs; written as resolved YAML into every run dir."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    ae: AEConfig = field(default_factory=AEConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    debug: DebugConfig = field(default_factory=DebugConfig)

    def check(self) -> None:
        amb = self.model.ambient_occlusion
        if amb.enabled and amb.require_x0_parameterization and self.diffusion.parameterization != "x0":
            raise ValueError(
                "model.ambient_occlusion.enabled with require_x0_parameterization needs "
                f"diffusion.parameterization: x0 (got {self.diffusion.parameterization!r})"
            )
