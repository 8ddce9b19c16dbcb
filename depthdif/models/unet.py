"""The conditional UNet denoiser: forward(x_t, t, cond) -> one output channel per diffused channel.

Its input is the noisy branch concatenated with the condition (see condition.py). Every skip
pushed by the encoder is popped by the decoder, and `decode` raises if one is left over:
upstream's ConvNeXt UNet pushed 4 skips and popped 3, silently dropping the full-resolution one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depthdif.config.schema import UNetConfig

from .layers import Downsample, ResBlock, SelfAttention, TimeEmbedding, Upsample, group_norm


class ResAttention(nn.Module):
    """A residual block, followed by self-attention at the configured (low) resolutions."""

    def __init__(self, in_ch: int, out_ch: int, cfg: UNetConfig, attention: bool):
        super().__init__()
        self.res = ResBlock(in_ch, out_ch, cfg.time_embed_dim, cfg.groups, cfg.dropout)
        self.attn = SelfAttention(out_ch, cfg.attention_heads, cfg.groups) if attention else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        return self.attn(self.res(x, emb))


class UNet(nn.Module):
    """ADM-style UNet: `num_res_blocks` per level going down, `num_res_blocks + 1` coming up."""

    def __init__(self, in_channels: int, cond_channels: int, out_channels: int, cfg: UNetConfig):
        super().__init__()
        self.in_channels, self.cond_channels, self.out_channels = in_channels, cond_channels, out_channels
        self.levels = len(cfg.channel_mults)
        ch = cfg.base_channels
        self.time = TimeEmbedding(cfg.base_channels, cfg.time_embed_dim)
        self.input_conv = nn.Conv2d(in_channels + cond_channels, ch, 3, padding=1)
        skips = [ch]
        self.down_blocks, self.downsamples = nn.ModuleList(), nn.ModuleList()
        for level, mult in enumerate(cfg.channel_mults):
            blocks = nn.ModuleList()
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResAttention(ch, cfg.base_channels * mult, cfg, level in cfg.attention_levels))
                ch = cfg.base_channels * mult
                skips.append(ch)
            self.down_blocks.append(blocks)
            last = level == self.levels - 1
            self.downsamples.append(nn.Identity() if last else Downsample(ch))
            if not last:
                skips.append(ch)
        self.middle = nn.ModuleList([ResAttention(ch, ch, cfg, True), ResAttention(ch, ch, cfg, False)])
        self.up_blocks, self.upsamples = nn.ModuleList(), nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mults))):
            blocks = nn.ModuleList()
            for _ in range(cfg.num_res_blocks + 1):
                out = cfg.base_channels * mult
                blocks.append(ResAttention(ch + skips.pop(), out, cfg, level in cfg.attention_levels))
                ch = out
            self.up_blocks.append(blocks)
            self.upsamples.append(Upsample(ch) if level > 0 else nn.Identity())
        assert not skips, "every encoder skip must have a decoder consumer"
        self.output = nn.Sequential(group_norm(ch, cfg.groups), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1))
        if cfg.zero_init_output:  # the untrained network predicts exactly 0 (see UNetConfig)
            nn.init.zeros_(self.output[-1].weight)
            nn.init.zeros_(self.output[-1].bias)

    @property
    def size_multiple(self) -> int:
        """H and W are padded up to a multiple of this (one halving per level below the first)."""
        return 2 ** (self.levels - 1)

    def encode(self, x: Tensor, emb: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Input conv and encoder: (bottleneck features, skips in push order)."""
        h = self.input_conv(x)
        skips = [h]
        for blocks, down in zip(self.down_blocks, self.downsamples):
            for block in blocks:
                h = block(h, emb)
                skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                skips.append(h)
        return h, skips

    def decode(self, h: Tensor, skips: list[Tensor], emb: Tensor) -> Tensor:
        """Middle, decoder and output head; consumes every skip (raises if one is left)."""
        skips = list(skips)
        for block in self.middle:
            h = block(h, emb)
        for blocks, up in zip(self.up_blocks, self.upsamples):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            h = up(h)
        if skips:
            raise RuntimeError(f"UNet.decode: {len(skips)} encoder skips were not used")
        return self.output(h)

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        """x_t: (B, C, H, W) noisy branch; t: (B,) training timesteps; cond: (B, C_cond, H, W)."""
        if x_t.shape[1] != self.in_channels or cond.shape[1] != self.cond_channels:
            raise ValueError(f"UNet: expected {self.in_channels} noisy + {self.cond_channels} condition "
                             f"channels, got {x_t.shape[1]} + {cond.shape[1]}")
        height, width = x_t.shape[-2:]
        m = self.size_multiple
        pad = (0, (-width) % m, 0, (-height) % m)
        x = F.pad(torch.cat([x_t, cond], dim=1), pad)
        emb = self.time(t)
        h, skips = self.encode(x, emb)
        return self.decode(h, skips, emb)[..., :height, :width]

