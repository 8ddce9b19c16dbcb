"""Depth-band autoencoder (seed 003): compress a D-level temperature stack to a few latent channels.

Two flavours share one class (DEPTHDIF.md, "Autoencoder and latent diffusion"):
- `kernel_size=1` (default): every layer is a 1x1 convolution, so the codec acts on one water
  column at a time: a truly band-only profile codec, unlike upstream's 3x3 "band-only" AE
  (UPSTREAM.md §3.1) whose end-to-end receptive field is 13x13.
- `kernel_size=3`: the spatial variant (3x3 convolutions in the nonlinear paths, zero padding).

PCA first, then a nonlinear correction (issue 17): each direction is a linear path plus a
nonlinear residual path, z = W_e ỹ + b_e + E(ỹ) and y = W_d z + b_d + D(z). `init_from_pca` sets
the linear paths to the whitened EOFs of a fitted `PCACodec` and zeroes the last layer of E and D,
so a fresh AE *is* the PCA code at its width and training can only move it from there. The linear
paths act on whole columns: with `spatial_downsample` s, on the D·s² values of an s x s block
(`pixel_unshuffle`), so they start as the block PCA; the nonlinear encoder starts with a learned
s x s patch embedding (kernel = stride = s) and the decoder ends with its transpose.

Input rule for invalid pixels (land, below the sea floor): the encoder sees ỹ, the field with its
invalid entries replaced by the gappy-EOF estimate of the AE's own PCA (`PCACodec.gap_fill`, from the
valid entries only), so a partial column enters as a plausible full column instead of per-depth
means, and whatever a batch holds in invalid entries never reaches the network. Before
`init_from_pca` (an unfitted AE, e.g. one about to receive a checkpoint's weights) the fill is the
per-depth mean, 0 in normalized units.

Latent scale: diffusion assumes data of roughly unit variance. While the AE trains (module in train
mode) it keeps running per-channel mean/std of the raw codes (`latent_mean`, `latent_std`, momentum
`STATS_MOMENTUM`; whitened EOF scores start them at 0 / 1). The reconstruction path (`forward`)
never uses them; `encode` returns standardized latents (z - mean) / std and `decode` undoes it,
which is what latent diffusion sees.
"""

from __future__ import annotations

import torch
from torch import nn

from depthdif.config.schema import AEConfig
from depthdif.models.pca import SUPPORTED_DOWNSAMPLE, PCACodec, from_columns, to_columns

SUPPORTED_KERNELS = (1, 3)
STATS_MOMENTUM = 0.1  # weight of the newest batch in the running latent statistics


def _conv(c_in: int, c_out: int, kernel_size: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2)


def _encoder(in_channels: int, hidden: list[int], latent_channels: int, kernel_size: int,
             downsample: int) -> nn.Sequential:
    """Conv + GELU per hidden width (the first one strided when downsampling), then 1x1 → latent."""
    first = (nn.Conv2d(in_channels, hidden[0], downsample, stride=downsample) if downsample > 1
             else _conv(in_channels, hidden[0], kernel_size))
    layers: list[nn.Module] = [first, nn.GELU()]
    for c_in, c_out in zip(hidden[:-1], hidden[1:]):
        layers += [_conv(c_in, c_out, kernel_size), nn.GELU()]
    layers.append(nn.Conv2d(hidden[-1], latent_channels, 1))
    return nn.Sequential(*layers)


def _decoder(latent_channels: int, hidden: list[int], out_channels: int, kernel_size: int,
             downsample: int) -> nn.Sequential:
    """Conv + GELU per hidden width, then 1x1 → levels (or the transposed patch embedding)."""
    layers: list[nn.Module] = [_conv(latent_channels, hidden[0], kernel_size), nn.GELU()]
    for c_in, c_out in zip(hidden[:-1], hidden[1:]):
        layers += [_conv(c_in, c_out, kernel_size), nn.GELU()]
    last = (nn.ConvTranspose2d(hidden[-1], out_channels, downsample, stride=downsample) if downsample > 1
            else nn.Conv2d(hidden[-1], out_channels, 1))
    layers.append(last)
    return nn.Sequential(*layers)


class DepthBandAutoencoder(nn.Module):
    """`encode(field, mask) -> z` of shape (B, L, H/s, W/s); `decode(z) -> field` (B, D, H, W)."""

    def __init__(self, in_channels: int, latent_channels: int = 12, *, kernel_size: int = 1,
                 spatial_downsample: int = 1, encoder_hidden: list[int] | None = None,
                 decoder_hidden: list[int] | None = None):
        super().__init__()
        if kernel_size not in SUPPORTED_KERNELS:
            raise ValueError(f"kernel_size must be one of {list(SUPPORTED_KERNELS)}, got {kernel_size}")
        s = spatial_downsample
        self.pca = PCACodec(in_channels, latent_channels, spatial_downsample=s)  # also checks s
        encoder_hidden = list(encoder_hidden or [64, 96, 128])
        decoder_hidden = list(decoder_hidden or [128, 96, 64])
        self.in_channels, self.latent_channels = in_channels, latent_channels
        self.kernel_size, self.spatial_downsample = kernel_size, s
        self.encoder = _encoder(in_channels, encoder_hidden, latent_channels, kernel_size, s)
        self.decoder = _decoder(latent_channels, decoder_hidden, in_channels, kernel_size, s)
        self.encoder_linear = nn.Conv2d(in_channels * s * s, latent_channels, 1)
        self.decoder_linear = nn.Conv2d(latent_channels, in_channels * s * s, 1)
        self.register_buffer("latent_mean", torch.zeros(latent_channels))
        self.register_buffer("latent_std", torch.ones(latent_channels))
        self.register_buffer("latent_batches_seen", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def init_from_pca(self, pca: PCACodec) -> None:
        """Become `pca` exactly: linear paths = whitened EOFs, residual paths' last layers = 0."""
        if (pca.in_channels, pca.latent_channels, pca.spatial_downsample) != (
                self.in_channels, self.latent_channels, self.spatial_downsample):
            raise ValueError(f"PCA codec ({pca.in_channels} levels, {pca.latent_channels} channels, s="
                             f"{pca.spatial_downsample}) does not fit this AE ({self.in_channels}, "
                             f"{self.latent_channels}, s={self.spatial_downsample})")
        self.pca.load_state_dict(pca.state_dict())
        scale = pca.variances.sqrt()
        encode = pca.components.T / scale[:, None]  # (L, F): z = Λ^(-1/2) Bᵀ (y - μ)
        self.encoder_linear.weight.copy_(encode[:, :, None, None])
        self.encoder_linear.bias.copy_(-encode @ pca.mean)
        self.decoder_linear.weight.copy_((pca.components * scale)[:, :, None, None])
        self.decoder_linear.bias.copy_(pca.mean)
        for last in (self.encoder[-1], self.decoder[-1]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.latent_mean.zero_()
        self.latent_std.fill_(1.0)
        self.latent_batches_seen.fill_(1)  # running statistics continue from the whitened scores

    @property
    def encoder_parts(self) -> tuple[nn.Module, ...]:
        """Modules that map a field to its code (what `latent.freeze: partial` keeps frozen)."""
        return (self.encoder, self.encoder_linear)

    @property
    def decoder_parts(self) -> tuple[nn.Module, ...]:
        return (self.decoder, self.decoder_linear)

    def check_input(self, field: torch.Tensor) -> None:
        """Fail early, naming both numbers, when the level count or grid does not fit."""
        self.pca.check_input(field)

    def encode_raw(self, field: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Unscaled codes (B, L, H/s, W/s); in train mode this also updates the latent statistics."""
        with torch.no_grad():  # the fill is input preparation: nothing upstream of it trains
            filled = self.pca.gap_fill(field, mask)
        z = self.encoder(filled) + self.encoder_linear(to_columns(filled, self.spatial_downsample))
        if self.training:
            self._track_statistics(z.detach())
        return z
    @torch.no_grad()
    def _track_statistics(self, z: torch.Tensor) -> None:
        mean = z.mean(dim=(0, 2, 3))
        std = z.std(dim=(0, 2, 3), correction=0).clamp_min(1e-6)
        m = 1.0 if int(self.latent_batches_seen) == 0 else STATS_MOMENTUM
        self.latent_mean.lerp_(mean, m)
        self.latent_std.lerp_(std, m)
        self.latent_batches_seen += 1

    def _scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.latent_mean.reshape(1, -1, 1, 1), self.latent_std.reshape(1, -1, 1, 1)

    def encode(self, field: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized depth field (B, D, H, W) → standardized latent (B, L, H/s, W/s)."""
        mean, std = self._scale()
        return (self.encode_raw(field, mask) - mean) / std

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Standardized latent (B, L, h, w) → normalized depth field (B, D, h*s, w*s), all levels."""
        if z.ndim != 4 or z.shape[1] != self.latent_channels:
            raise ValueError(f"decoder expects (B, {self.latent_channels}, h, w) latents, "
                             f"got shape {tuple(z.shape)}")
        mean, std = self._scale()
        return self._decode_raw(z * std + mean)

    def _decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) + from_columns(self.decoder_linear(z), self.spatial_downsample)

    def forward(self, field: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction; independent of the latent statistics (they cancel out)."""
        return self._decode_raw(self.encode_raw(field, mask))


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, *,
                        l1_weight: float, l2_weight: float) -> torch.Tensor:
    """w1·L1 + w2·MSE averaged over `mask` (all entries when None).

    An empty mask gives an exact 0 that still back-propagates (no NaN from 0/0).
    """
    err = pred - target
    if mask is None:
        mask = torch.ones_like(err)
    mask = mask.to(err.dtype)
    count = mask.sum().clamp_min(1.0)
    loss = err.new_zeros(())
    if l1_weight:
        loss = loss + l1_weight * (err.abs() * mask).sum() / count
    if l2_weight:
        loss = loss + l2_weight * (err.square() * mask).sum() / count
    return loss


Codec = DepthBandAutoencoder | PCACodec  # what latent diffusion encodes with (same interface)


def build_codec(ae_cfg: AEConfig, in_channels: int) -> Codec:
    """The (unfitted) codec an `AEConfig` describes, for a store with `in_channels` depth levels.

    `ae_cfg.in_channels` None means "take it from the store"; any other value must match. The
    weights come from a fit (`depthdif/train/codec.py`) or a checkpoint.
    """
    if ae_cfg.in_channels is not None and ae_cfg.in_channels != in_channels:
        raise ValueError(f"ae.in_channels={ae_cfg.in_channels} does not match the store's "
                         f"{in_channels} depth levels (set ae.in_channels to {in_channels} or leave it null)")
    if ae_cfg.kind == "pca":
        return PCACodec(in_channels, ae_cfg.latent_channels, spatial_downsample=ae_cfg.spatial_downsample)
    return DepthBandAutoencoder(in_channels, ae_cfg.latent_channels, kernel_size=ae_cfg.kernel_size,
                                spatial_downsample=ae_cfg.spatial_downsample,
                                encoder_hidden=ae_cfg.encoder_hidden, decoder_hidden=ae_cfg.decoder_hidden)
