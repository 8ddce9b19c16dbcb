"""A fresh codec for training: the PCA fitted on the store's training split, and the AE started from it.

Issue 17: the learned autoencoder starts as the PCA of its width (`DepthBandAutoencoder.init_from_pca`),
and `ae.kind: pca` is that PCA alone. Both fit the same Gaussian (mean and covariance of the depth
columns, or of s x s blocks of them, by EM over missing levels: `depthdif/models/pca.py`) on a
fixed seeded subset of `ae.pca_fit_patches` training patches, so every rank of a distributed run,
and a rebuilt system, gets the same codec. Every width is a truncation of one fit, so the fit is
memoized per store and downsampling in this process (a study's trials and the run-input check
reuse it); the key includes the store's normalization, so a store rewritten in place is refitted.
"""

from __future__ import annotations

import numpy as np
import torch

from depthdif.config.schema import AEConfig
from depthdif.data.dataset import PatchDataset
from depthdif.models.autoencoder import Codec, DepthBandAutoencoder, build_codec
from depthdif.models.pca import GaussianFit, PCACodec, column_rows, fit_gaussian

FIT_SEED = 0  # the patch subset does not follow training.seed: one store, one PCA
MAX_FIT_ROWS = 200_000  # columns (or blocks) kept for the EM fit, a seeded subsample beyond that
_FITS: dict[tuple, GaussianFit] = {}


def store_fit(store: str, spatial_downsample: int, n_patches: int) -> GaussianFit:
    """Mean and covariance of the columns of `n_patches` training patches (memoized, see module doc)."""
    dataset = PatchDataset(store, "train")
    if len(dataset) == 0:
        raise ValueError(f"{store}: the train split is empty; the PCA codec has nothing to fit")
    key = (str(dataset.store_path), spatial_downsample, n_patches, len(dataset),
           tuple(np.round(dataset.normalization.depth_mean, 6)))
    if key not in _FITS:
        rng = np.random.default_rng(FIT_SEED)
        picks = np.sort(rng.permutation(len(dataset))[:n_patches])
        values, valid = [], []
        for i in picks.tolist():
            item = dataset[i]
            rows, ok = column_rows(item["y"][None], item["y_valid_mask"][None], spatial_downsample)
            values.append(rows)
            valid.append(ok)
        values, valid = torch.cat(values), torch.cat(valid)
        if values.shape[0] > MAX_FIT_ROWS:
            keep = torch.from_numpy(np.sort(rng.permutation(values.shape[0])[:MAX_FIT_ROWS]))
            values, valid = values[keep], valid[keep]
        _FITS.clear()  # one fit at a time is what a process needs; do not hoard covariances
        _FITS[key] = fit_gaussian(values, valid, tol=1e-5)
    return _FITS[key]


def fit_pca(ae_cfg: AEConfig, store: str, in_channels: int) -> PCACodec:
    """The PCA codec of `ae_cfg`'s width and downsampling, fitted on `store`'s training split."""
    fit = store_fit(store, ae_cfg.spatial_downsample, ae_cfg.pca_fit_patches)
    return PCACodec.from_fit(fit, in_channels, ae_cfg.latent_channels, ae_cfg.spatial_downsample)


def fresh_codec(ae_cfg: AEConfig, store: str, in_channels: int) -> Codec:
    """`ae.kind: pca` → the fitted PCA; `learned` → an AE equal to that PCA, ready to train."""
    codec = build_codec(ae_cfg, in_channels)  # checks ae.in_channels against the store first
    pca = fit_pca(ae_cfg, store, in_channels)
    if isinstance(codec, DepthBandAutoencoder):
        codec.init_from_pca(pca)
        return codec
    return pca
