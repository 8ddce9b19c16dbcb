"""A model field's vertical coordinate (z-levels or terrain-following) and columns onto store levels.

z-levels: the vertical coordinate in metres (centimetres convert; `positive: up` or negative values
flip), one depth per level for every column.
Terrain-following levels (CF `ocean_s_coordinate_g1/g2` = ROMS Vtransform 1/2, and
`ocean_sigma_coordinate`), with the free surface zeta (0 when absent), bottom depth h, critical
depth hc and stretching C(s):
  Vtransform 1: z0 = hc s + (h - hc) C,        z = z0 + zeta (1 + z0 / h)
  Vtransform 2: z0 = (hc s + h C) / (hc + h),  z = zeta + (zeta + h) z0
  sigma:        z = zeta + sigma (h + zeta)
and the depth of a level is its distance below the free surface, zeta - z.
Columns go onto the store levels linearly between the bracketing model levels; a store level
shallower than the top model level takes the top value (the top cell sits in the mixed layer);
deeper than the deepest valid level it is invalid (no extrapolation into the sea floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .conventions import IngestError, attr, find_name

LEVEL_TOLERANCE_M = 0.01  # depths closer than this are the same level (float32 noise is ~1e-4 m)
S_STANDARD_NAMES = {"ocean_s_coordinate_g1": 1, "ocean_s_coordinate_g2": 2, "ocean_sigma_coordinate": 0}


@dataclass
class Vertical:
    """z-levels (`depths` (Dn,) m) or terrain-following (`terms` arrays, `transform` 0/1/2)."""

    depths: np.ndarray | None = None
    transform: int | None = None
    s: np.ndarray | None = None
    stretching: np.ndarray | None = None
    h: np.ndarray | None = None
    hc: float = 0.0
    zeta: xr.DataArray | None = None

    @property
    def terrain_following(self) -> bool:
        return self.transform is not None

    @property
    def max_depth(self) -> float:
        return float(np.nanmax(self.h) if self.terrain_following else np.nanmax(self.depths))

    def column_depths(self, zeta: np.ndarray | None) -> np.ndarray:
        """(Dn, H, W) depth of every level below the free surface (terrain-following only)."""
        h = self.h[None]
        eta = np.zeros_like(h) if zeta is None else np.asarray(zeta, float)[None]
        s, c = self.s[:, None, None], (self.stretching if self.stretching is not None else self.s)[:, None, None]
        if self.transform == 1:
            z0 = self.hc * s + (h - self.hc) * c
            z = z0 + eta * (1 + z0 / h)
        elif self.transform == 2:
            z0 = (self.hc * s + h * c) / (self.hc + h)
            z = eta + (eta + h) * z0
        else:
            z = eta + s * (h + eta)
        return eta - z


def vertical_of(ds: xr.Dataset, var: xr.DataArray, zdim: str, source: str | Path) -> Vertical:
    """Read the vertical coordinate of `var` along `zdim`."""
    coord = ds[zdim] if zdim in ds.variables else None
    standard = str(attr(coord.attrs, "standard_name", "")).lower() if coord is not None else ""
    if standard in S_STANDARD_NAMES or (coord is not None and attr(coord.attrs, "formula_terms")):
        return _terrain_following(ds, coord, standard, source)
    if coord is None:
        raise IngestError(source, f"{var.name}: the vertical dim {zdim!r} has no coordinate values (depths)")
    depths = np.asarray(coord.values, float)
    units = str(attr(coord.attrs, "units", "m")).strip().lower()
    if units in ("cm", "centimeter", "centimeters", "centimetre", "centimetres"):
        depths = depths / 100.0
    elif units not in ("m", "meter", "meters", "metre", "metres", ""):
        raise IngestError(source, f"{zdim}: vertical units {units!r}; expected metres (or cm)")
    if str(attr(coord.attrs, "positive", "down")).lower() == "up" or np.all(depths <= 0):
        depths = -depths
    return Vertical(depths=np.abs(depths))


def _terrain_following(ds: xr.Dataset, coord: xr.DataArray, standard: str, source: str | Path) -> Vertical:
    terms = _formula_terms(str(attr(coord.attrs, "formula_terms", "")))

    def values(term: str, names: list[str], required: bool = True):
        name = terms.get(term) or find_name(ds.variables, names)
        if name is None or name not in ds.variables:
            if required:
                raise IngestError(source, f"{coord.name}: terrain-following levels need {term!r} "
                                          f"(formula_terms or one of {names})")
            return None
        return ds[name]

    transform = int(np.asarray(ds["Vtransform"].values)) if "Vtransform" in ds.variables \
        else S_STANDARD_NAMES.get(standard, 1)
    if transform not in (0, 1, 2):
        raise IngestError(source, f"Vtransform {transform}: only ROMS Vtransform 1 and 2 are known")
    s = np.asarray(values("s" if transform else "sigma", [str(coord.name)]).values, float)
    stretching = values("C", ["Cs_r"], required=transform != 0)
    hc = values("depth_c", ["hc"], required=transform != 0)
    return Vertical(transform=transform, s=s, h=np.asarray(values("depth", ["h"]).values, float),
                    stretching=None if stretching is None else np.asarray(stretching.values, float),
                    hc=0.0 if hc is None else float(np.asarray(hc.values)),
                    zeta=values("eta", ["zeta"], required=False))


def _formula_terms(text: str) -> dict[str, str]:
    """'s: s_rho C: Cs_r eta: zeta' → {'s': 's_rho', 'C': 'Cs_r', 'eta': 'zeta'}."""
    words = text.replace(":", ": ").split()
    return {words[i].rstrip(":"): words[i + 1] for i in range(0, len(words) - 1, 2) if words[i].endswith(":")}


def columns_to_levels(values: np.ndarray, depth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(Dn, H, W) model columns at `depth` ((Dn,) or (Dn, H, W), m) → (D, H, W) on `levels`."""
    depth = np.broadcast_to(np.asarray(depth, float).reshape(depth.shape + (1,) * (3 - depth.ndim)), values.shape)
    order = np.argsort(depth, axis=0)
    depth = np.take_along_axis(depth, order, axis=0)
    values = np.take_along_axis(values.astype(np.float64), order, axis=0)
    valid = np.isfinite(values)
    # The deepest valid level of each column bounds the interpolation (no extrapolation downward).
    deepest = np.where(valid.any(axis=0), np.max(np.where(valid, depth, -np.inf), axis=0), -np.inf)
    out = np.full((len(levels), *values.shape[1:]), np.nan, dtype=np.float32)
    n = depth.shape[0]
    for i, level in enumerate(np.asarray(levels, float)):
        upper = np.clip((depth < level - LEVEL_TOLERANCE_M).sum(axis=0), 0, n - 1)[None]
        lower = np.clip(upper - 1, 0, n - 1)
        d_up, d_lo = (np.take_along_axis(depth, k, 0)[0] for k in (upper, lower))
        v_up, v_lo = (np.take_along_axis(values, k, 0)[0] for k in (upper, lower))
        snap = np.abs(d_up - level) <= LEVEL_TOLERANCE_M
        above_top = (level < d_up) & (upper[0] == 0)
        frac = np.clip((level - d_lo) / np.where(d_up > d_lo, d_up - d_lo, 1.0), 0.0, 1.0)
        value = np.where(snap | above_top, v_up, v_lo + frac * (v_up - v_lo))
        inside = level <= deepest + LEVEL_TOLERANCE_M
        out[i] = np.where(inside & np.isfinite(value), value, np.nan)
    return out
