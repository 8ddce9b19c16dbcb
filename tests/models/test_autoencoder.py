"""DepthBandAutoencoder: shapes per downsample, band-only locality, PCA start, masked loss, config checks."""

from __future__ import annotations

import pytest
import torch

from depthdif.config.schema import AEConfig
from depthdif.models.autoencoder import DepthBandAutoencoder, build_codec, reconstruction_loss
from depthdif.models.pca import PCACodec, column_rows, fit_gaussian

TINY = dict(encoder_hidden=[8, 8], decoder_hidden=[8, 8])


@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize("downsample", [1, 2, 4])
def test_shapes_for_each_downsample(kernel_size, downsample):
    ae = DepthBandAutoencoder(8, 3, kernel_size=kernel_size, spatial_downsample=downsample, **TINY)
    field = torch.randn(2, 8, 16, 16)
    z = ae.encode(field)
    assert z.shape == (2, 3, 16 // downsample, 16 // downsample)
    assert ae.decode(z).shape == (2, 8, 16, 16)
    assert ae(field).shape == field.shape


def test_kernel_1_is_a_per_column_codec():
    """Changing one column changes the reconstruction of that column only."""
    torch.manual_seed(0)
    ae = DepthBandAutoencoder(8, 3, kernel_size=1, **TINY).eval()
    field = torch.randn(1, 8, 6, 6)
    changed = field.clone()
    changed[0, :, 2, 3] += 5.0
    diff = (ae(changed) - ae(field)).abs().sum(dim=1)[0]
    assert diff[2, 3] > 0
    diff[2, 3] = 0
    assert torch.count_nonzero(diff) == 0


def test_kernel_3_is_spatial():
    torch.manual_seed(0)
    ae = DepthBandAutoencoder(8, 3, kernel_size=3, **TINY).eval()
    field = torch.randn(1, 8, 8, 8)
    changed = field.clone()
    changed[0, :, 4, 4] += 5.0
    diff = (ae(changed) - ae(field)).abs().sum(dim=1)[0]
    assert diff[4, 5] > 0 and diff[3, 4] > 0


def test_invalid_entries_never_reach_the_encoder():
    ae = DepthBandAutoencoder(8, 3, **TINY).eval()
    field, mask = torch.randn(2, 8, 4, 4), (torch.rand(2, 8, 4, 4) > 0.5).float()
    garbage = field + (1 - mask) * 100.0
    assert torch.equal(ae.encode(field, mask), ae.encode(garbage, mask))


def test_masked_loss_ignores_invalid_entries_and_matches_hand_value():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, 0.0], [3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # errors on the mask: 1, 2, 0 → L1 mean 1, MSE mean 5/3
    loss = reconstruction_loss(pred, target, mask, l1_weight=2.0, l2_weight=0.5)
    assert loss.item() == pytest.approx(2.0 * 1.0 + 0.5 * 5 / 3)
    target2 = target.clone()
    target2[1, 1] = -7.0
    assert reconstruction_loss(pred, target2, mask, l1_weight=2.0, l2_weight=0.5) == loss
    unmasked = reconstruction_loss(pred, target2, None, l1_weight=2.0, l2_weight=0.5)
    assert unmasked != loss


def test_empty_mask_loss_is_zero_and_backpropagates():
    pred = torch.randn(3, requires_grad=True)
    loss = reconstruction_loss(pred, torch.zeros(3), torch.zeros(3), l1_weight=1.0, l2_weight=1.0)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(pred.grad).all()


def test_channel_mismatch_error_names_both_numbers():
    cfg = AEConfig(in_channels=50, encoder_hidden=[8], decoder_hidden=[8])
    with pytest.raises(ValueError, match=r"ae.in_channels=50.*8 depth levels"):
        build_codec(cfg, in_channels=8)
    ae = build_codec(AEConfig(latent_channels=3, encoder_hidden=[8], decoder_hidden=[8]), in_channels=8)
    assert ae.in_channels == 8
    with pytest.raises(ValueError, match=r"\(B, 8, H, W\).*\(2, 50, 16, 16\)"):
        ae.encode(torch.zeros(2, 50, 16, 16))


def test_config_kind_picks_the_codec():
    pca = build_codec(AEConfig(kind="pca", latent_channels=3, spatial_downsample=2), in_channels=8)
    assert isinstance(pca, PCACodec) and (pca.latent_channels, pca.spatial_downsample) == (3, 2)
    assert pca.encoder_parts == () and not list(pca.parameters())  # nothing to train
    assert isinstance(build_codec(AEConfig(latent_channels=3), in_channels=8), DepthBandAutoencoder)


def fitted_pca(downsample: int, width: int = 3) -> tuple[PCACodec, torch.Tensor, torch.Tensor]:
    """A PCA fitted on smooth random fields with a sea floor (partial columns), and those fields."""
    g = torch.Generator().manual_seed(0)
    profiles = torch.randn(16, 4, 1, 1, generator=g)
    shapes = torch.linspace(0, 1, 8).reshape(1, 1, 8, 1, 1) ** torch.arange(1, 5).reshape(1, 4, 1, 1, 1)
    field = (profiles.unsqueeze(2) * shapes).sum(dim=1) + 0.1 * torch.randn(16, 8, 8, 8, generator=g)
    floor = torch.randint(3, 9, (16, 1, 8, 8), generator=g)
    mask = (torch.arange(8).reshape(1, 8, 1, 1) < floor).float()
    fit = fit_gaussian(*column_rows(field, mask, downsample))
    return PCACodec.from_fit(fit, 8, width, spatial_downsample=downsample), field, mask


@pytest.mark.parametrize("kernel_size,downsample", [(1, 1), (3, 1), (1, 2), (3, 4)])
def test_pca_initialised_ae_equals_the_pca(kernel_size, downsample):
    """Linear paths = whitened EOFs, residual paths zeroed: the same codes and reconstructions."""
    pca, field, mask = fitted_pca(downsample)
    torch.manual_seed(0)
    ae = DepthBandAutoencoder(8, 3, kernel_size=kernel_size, spatial_downsample=downsample, **TINY)
    ae.init_from_pca(pca)
    ae.eval()
    assert torch.allclose(ae.encode(field, mask), pca.encode(field, mask), atol=1e-4)
    assert torch.allclose(ae(field, mask), pca(field, mask), atol=1e-4)
    z = torch.randn(2, 3, 8 // downsample, 8 // downsample)
    assert torch.allclose(ae.decode(z), pca.decode(z), atol=1e-4)
    ae.train()
    ae.encode(field, mask)  # the running statistics start at the whitened scores' 0 / 1
    assert ae.latent_std.sub(1).abs().max() < 0.2 and int(ae.latent_batches_seen) == 2


def test_pca_initialisation_needs_a_matching_codec():
    pca, _, _ = fitted_pca(1, width=2)
    with pytest.raises(ValueError, match=r"does not fit this AE"):
        DepthBandAutoencoder(8, 3, **TINY).init_from_pca(pca)


def test_indivisible_patch_size_is_rejected():
    ae = DepthBandAutoencoder(8, 3, spatial_downsample=4, **TINY)
    with pytest.raises(ValueError, match="spatial_downsample=4"):
        ae.encode(torch.zeros(1, 8, 10, 10))


def test_latents_are_standardized_with_training_statistics():
    """Train-mode encodes track latent stats; eval-mode `encode` standardizes, `decode` undoes it."""
    torch.manual_seed(0)
    ae = DepthBandAutoencoder(8, 4, **TINY)
    data = torch.randn(64, 8, 4, 4) * 3 + 2
    with torch.no_grad():
        ae.encode_raw(data)  # the first batch sets the statistics
    ae.eval()
    z = ae.encode(data)
    assert z.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (z.std(dim=(0, 2, 3), correction=0) - 1).abs().max() < 1e-3
    assert torch.allclose(ae.decode(z), ae(data), atol=1e-5)
    frozen = ae.latent_mean.clone()
    ae.encode(data * 2)  # eval mode: statistics stay fixed
    assert torch.equal(ae.latent_mean, frozen)


def test_config_rejects_empty_hidden_widths():
    from depthdif.config.loader import ConfigError, from_dict
    from depthdif.config.schema import ExperimentConfig

    with pytest.raises(ConfigError, match=r"x.yaml: ae: encoder_hidden and decoder_hidden"):
        from_dict(ExperimentConfig, {"ae": {"decoder_hidden": []}}, "x.yaml")
