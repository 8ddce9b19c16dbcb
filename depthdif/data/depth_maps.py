"""Pictures of the ocean a store holds: depth maps of `y`, `x` and `eo` for one time step.

`depthdif data info STORE --plot DIR` writes one PNG per map (north up, land dark grey, sea floor
light grey, one colour scale per depth shared by y and x) and `maps_t{step}.svg`, a page that
lays them out with titles and colour bars. No plotting library: a PNG is a zlib stream of RGB
rows, and SVG embeds them as data URIs.
"""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import numpy as np

from depthdif.data import schema as S

DEFAULT_DEPTHS_M = (0.0, 100.0, 300.0, 1000.0, 2000.0)
LAND_RGB = (70, 70, 70)
FLOOR_RGB = (200, 200, 200)
UNOBSERVED_RGB = (235, 235, 235)
# A perceptual blue-to-yellow ramp (viridis anchors); values between are interpolated.
RAMP = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], float)
MIN_EDGE_PX = 256  # small grids are enlarged (nearest neighbour) so a pixel stays visible


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG (8-bit RGB, no filter)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def colorize(values: np.ndarray, lo: float, hi: float, background: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: finite values on the ramp, NaN cells from `background` (H, W, 3)."""
    t = np.clip((values - lo) / max(hi - lo, 1e-9), 0, 1) * (len(RAMP) - 1)
    i = np.clip(np.floor(np.nan_to_num(t)).astype(int), 0, len(RAMP) - 2)
    f = (np.nan_to_num(t) - i)[..., None]
    rgb = RAMP[i] * (1 - f) + RAMP[i + 1] * f
    return np.where(np.isfinite(values)[..., None], rgb, background).astype(np.uint8)


def _background(land: np.ndarray, floor: np.ndarray, sea_rgb=UNOBSERVED_RGB) -> np.ndarray:
    """Land dark, below the sea floor light grey, elsewhere `sea_rgb` (an unobserved cell of x)."""
    out = np.empty(land.shape + (3,))
    out[:] = sea_rgb
    out[floor] = FLOOR_RGB
    out[land] = LAND_RGB
    return out


def _display(rgb: np.ndarray) -> np.ndarray:
    """North up (row 0 is the southernmost latitude in a store), enlarged when small."""
    rgb = rgb[::-1]
    scale = max(1, int(np.ceil(MIN_EDGE_PX / max(rgb.shape[:2]))))
    return np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)


def _widen(valid: np.ndarray) -> np.ndarray:
    """Observed cells drawn 3x3 on large grids, so a 1% float coverage is visible."""
    if max(valid.shape) < 128:
        return valid
    out = valid.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out |= np.roll(np.roll(valid, dy, 0), dx, 1)
    return out


def maps_for_step(ds, step: int, depths_m=DEFAULT_DEPTHS_M) -> list[dict]:
    """The panels of one step: dicts with name, title, rgb, lo, hi, units (y and x per depth, eo)."""
    land = ds[S.LAND].values.astype(bool)
    at = lambda name, k: ds[name].isel(time=step, depth=k).values       # noqa: E731  (one map read)
    panels = []
    levels = sorted({int(np.argmin(np.abs(ds["depth"].values - z))) for z in depths_m})
    for k in levels:
        z = float(ds["depth"].values[k])
        y = at(S.Y, k) if S.Y in ds else None
        x = np.where(at(S.X_MASK, k), at(S.X, k), np.nan)
        floor = ~land & ~at(S.Y_MASK, k) if S.Y_MASK in ds else np.zeros_like(land)
        ref = y if y is not None and np.isfinite(y).any() else x
        lo, hi = np.nanpercentile(ref, [1, 99]) if np.isfinite(ref).any() else (0.0, 1.0)
        if y is not None:
            panels.append(dict(name=f"y_{z:.0f}m", title=f"y (target) at {z:.0f} m", lo=lo, hi=hi, units="degC",
                               rgb=colorize(y, lo, hi, _background(land, floor))))
        wide = _widen(np.isfinite(x))
        xs = np.where(wide, _spread(x, wide), np.nan)
        panels.append(dict(name=f"x_{z:.0f}m", title=f"x (Argo) at {z:.0f} m: {int(np.isfinite(x).sum())} cells",
                           lo=lo, hi=hi, units="degC", rgb=colorize(xs, lo, hi, _background(land, floor))))
    units_all = str(ds[S.EO].attrs.get("channel_units", "")).split(",")
    for c, channel in enumerate(ds["eo_channel"].values):
        pick = dict(time=step, eo_channel=c)
        eo = np.where(ds[S.EO_MASK].isel(pick).values, ds[S.EO].isel(pick).values, np.nan)
        lo, hi = np.nanpercentile(eo, [1, 99]) if np.isfinite(eo).any() else (0.0, 1.0)
        units = units_all[c] if c < len(units_all) else ""
        panels.append(dict(name=f"eo_{channel}", title=f"eo: {channel}", lo=lo, hi=hi, units=units,
                           rgb=colorize(eo, lo, hi, _background(land, np.zeros_like(land)))))
    return panels


def _spread(x: np.ndarray, wide: np.ndarray) -> np.ndarray:
    """Each widened cell takes the value of the observed cell it grew from."""
    out = x.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            moved = np.roll(np.roll(x, dy, 0), dx, 1)
            out = np.where(np.isnan(out) & wide, moved, out)
    return out


def _colorbar_svg(x: float, y: float, width: float, lo: float, hi: float, units: str) -> str:
    stops = "".join(f'<stop offset="{i / (len(RAMP) - 1):.2f}" stop-color="rgb{tuple(int(v) for v in c)}"/>'
                    for i, c in enumerate(RAMP))
    gid = f"g{abs(hash((x, y))) % 10**8}"
    return (f'<defs><linearGradient id="{gid}">{stops}</linearGradient></defs>'
            f'<rect x="{x}" y="{y}" width="{width}" height="10" fill="url(#{gid})"/>'
            f'<text x="{x}" y="{y + 24}">{lo:.2f}</text>'
            f'<text x="{x + width}" y="{y + 24}" text-anchor="end">{hi:.2f} {units}</text>')


def write_depth_maps(ds, out_dir: str | Path, step: int = 0, depths_m=DEFAULT_DEPTHS_M,
                     title: str = "") -> list[Path]:
    """Write the PNGs and the SVG page for one step; returns the written paths (page first)."""
    if not 0 <= step < ds.sizes["time"]:
        raise ValueError(f"--step {step}: the store has time steps 0..{ds.sizes['time'] - 1}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panels = maps_for_step(ds, step, depths_m)
    written, cells = [], []
    cols, edge, pad = 2, 300, 50
    for n, panel in enumerate(panels):
        image = _display(panel["rgb"])
        data = png_bytes(image)
        path = out / f"{panel['name']}_t{step}.png"
        path.write_bytes(data)
        written.append(path)
        px, py = pad + (n % cols) * (edge + pad), 60 + (n // cols) * (edge + 90)
        h = edge * image.shape[0] / image.shape[1]
        cells.append(f'<text x="{px}" y="{py - 8}">{panel["title"]}</text>'
                     f'<image x="{px}" y="{py}" width="{edge}" height="{h:.0f}" '
                     f'href="data:image/png;base64,{base64.b64encode(data).decode()}"/>'
                     + _colorbar_svg(px, py + h + 8, edge, panel["lo"], panel["hi"], panel["units"]))
    when = str(ds["time"].values[step])[:10]
    height = 60 + ((len(panels) + cols - 1) // cols) * (edge + 90)
    page = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{pad + cols * (edge + pad)}" height="{height}" '
            f'font-family="sans-serif" font-size="13"><rect width="100%" height="100%" fill="white"/>'
            f'<text x="{pad}" y="28" font-size="16">{title} step {step} ({when}); north up; land dark grey, '
            f'below the sea floor light grey</text>' + "".join(cells) + "</svg>")
    page_path = out / f"maps_t{step}.svg"
    page_path.write_text(page)
    return [page_path, *written]
