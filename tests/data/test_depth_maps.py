"""`depthdif data info STORE --plot DIR`: the pictures of the ocean a store holds."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from depthdif.data import schema as S
from depthdif.data.depth_maps import LAND_RGB, colorize, png_bytes
from depthdif.data.store import OceanStore


def decode_png(data: bytes) -> np.ndarray:
    """Minimal reader for the 8-bit RGB, unfiltered PNGs png_bytes writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 3)


def test_png_round_trip_and_colours():
    values = np.array([[0.0, 1.0], [np.nan, 0.5]])
    background = np.zeros((2, 2, 3))
    background[:] = LAND_RGB
    rgb = colorize(values, 0.0, 1.0, background)
    np.testing.assert_array_equal(decode_png(png_bytes(rgb)), rgb)
    assert tuple(rgb[1, 0]) == LAND_RGB and tuple(rgb[0, 0]) != tuple(rgb[0, 1])


def test_cli_plot_writes_north_up_maps_of_y_x_and_eo(tiny_store, tmp_path, capsys):
    from depthdif.cli import main

    out = tmp_path / "maps"
    assert main(["data", "info", str(tiny_store), "--plot", str(out), "--step", "1"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "maps_t1.svg" in names and "eo_sst_t1.png" in names
    assert any(n.startswith("y_") for n in names) and any(n.startswith("x_") for n in names)
    page = (out / "maps_t1.svg").read_text()
    assert page.count("data:image/png;base64,") == len(names) - 1
    store = OceanStore.open(tiny_store)
    land = store.ds[S.LAND].values
    image = decode_png((out / "y_0m_t1.png").read_bytes())
    scale = image.shape[0] // land.shape[0]
    north_up = land[::-1].repeat(scale, 0).repeat(scale, 1)
    assert (image[north_up] == LAND_RGB).all() and not (image[~north_up] == LAND_RGB).all(axis=-1).any()
    assert main(["data", "info", str(tiny_store), "--plot", str(out), "--step", "99"]) == 2
    assert "time steps 0..3" in capsys.readouterr().err
