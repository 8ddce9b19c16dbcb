"""The data contract: store variable names, batch keys and the GLORYS depth axis.

Everything downstream (models, baselines, evaluation, Ray workers) reads these names
instead of spelling strings, so a rename is one edit.
"""

from __future__ import annotations

import numpy as np

# The 50 GLORYS12 depth levels in metres (CMEMS GLOBAL_MULTIYEAR_PHY_001_030).
GLORYS_DEPTHS_M = np.array([
    0.494, 1.541, 2.646, 3.819, 5.078, 6.441, 7.93, 9.573, 11.405, 13.468,
    15.81, 18.495, 21.599, 25.211, 29.444, 34.434, 40.344, 47.373, 55.764, 65.808,
    77.853, 92.326, 109.729, 130.666, 155.851, 186.126, 222.475, 266.04, 318.127, 380.213,
    453.938, 541.089, 643.567, 763.333, 902.339, 1062.44, 1245.291, 1452.251, 1684.284, 1941.893,
    2225.078, 2533.336, 2865.703, 3220.82, 3597.032, 3992.484, 4405.224, 4833.291, 5274.784, 5727.917,
], dtype=np.float64)

# --- gridded store (xarray / Zarr) -------------------------------------------------------
DIMS_3D = ("time", "depth", "lat", "lon")
DIMS_EO = ("time", "eo_channel", "lat", "lon")
DIMS_2D = ("lat", "lon")
Y, X, X_MASK, Y_MASK = "y", "x", "x_valid_mask", "y_valid_mask"
EO, EO_MASK, LAND = "eo", "eo_valid_mask", "land_mask"
STORE_VARIABLES = (Y, X, X_MASK, Y_MASK, EO, EO_MASK, LAND)

# Files kept inside the store directory next to the Zarr arrays.
PATCH_INDEX_FILE = "patch_index.parquet"
PROFILES_FILE = "profiles.parquet"
NORMALIZATION_FILE = "normalization.json"
CONFIG_FILE = "config.yaml"
COMPLETE_MARKER = ".depthdif_complete"

# --- batch contract (torch Dataset item; a batch adds a leading B dim) ---------------------
# Fields are normalized per depth level (x, y) or per EO channel (eo); 0 where invalid.
# Masks are float32 0/1. land_mask is 1 on LAND (not ocean) and has shape (1, H, W).
BATCH_FIELDS = ("x", "y", "eo", "eo_valid_mask", "x_valid_mask", "y_valid_mask", "land_mask")
# float_ids (K, H, W) int64: stable ids of the Argo floats whose profiles were binned into each
# cell (up to K per cell, K fixed per store; -1 = none); whole-float withholding reads it
# (depthdif/data/float_ids.py, depthdif/evaluation/withheld.py).
BATCH_META = ("depth", "patch_id", "lat", "lon", "time", "float_ids")
SPLITS = ("train", "val", "test")
