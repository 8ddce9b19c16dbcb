"""Dense model fields in many conventions: CMEMS GLORYS, NEMO (y/x + nav_lat), ROMS s-levels,
kelvin reanalyses on 0..360 longitudes, and the real files in ../shared/data/model_fields."""

from __future__ import annotations

import numpy as np
import pytest
from ingest_writers import days_since, ocean_temperature, write_glorys, write_netcdf

from depthdif.data import schema as S
from depthdif.data.index import SplitSpec
from depthdif.data.ingest import IngestError, IngestSpec, build_dataset, ingest, open_model
from depthdif.data.ingest.model_vertical import Vertical, columns_to_levels
from depthdif.data.store import OceanStore

LAT = np.arange(30.0, 34.0, 0.25)
LON = np.arange(-20.0, -16.0, 0.25)
DEPTH = np.array([0.494, 5.078, 47.373, 318.127])
TIMES = np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")
ALL_TRAIN = SplitSpec(val_fraction=0.0, test_fraction=0.0)


def test_glorys_packed_values_land_and_time_order(tmp_path):
    land = np.zeros((LAT.size, LON.size), bool)
    land[:3, :3] = True
    second = write_glorys(tmp_path / "b.nc", LAT, LON, DEPTH, TIMES[1:], land=land, floor_level=3)
    first = write_glorys(tmp_path / "a.nc", LAT, LON, DEPTH, TIMES[:1], land=land, floor_level=3, units="K",
                         values=write_glorys(tmp_path / "tmp.nc", LAT, LON, DEPTH, TIMES[:1]) + 273.15)
    field = open_model([tmp_path / "b.nc", tmp_path / "a.nc"])
    assert (field.times == TIMES).all() and field.kind == "potential" and not field.where.curvilinear
    np.testing.assert_allclose(field.vertical.depths, DEPTH, rtol=1e-6)
    y0, y1 = field.read(0), field.read(1)
    valid = np.isfinite(second[0])
    assert (np.isfinite(y1) == valid).all()
    np.testing.assert_allclose(y1[valid], second[0][valid], atol=1e-3)  # int16 packing step < 0.001
    np.testing.assert_allclose(y0[valid], first[0][valid] - 273.15, atol=2e-3)  # kelvin → °C


def test_wrong_units_missing_variable_and_different_grids_name_the_file(tmp_path):
    write_glorys(tmp_path / "k.nc", LAT, LON, DEPTH, TIMES[:1], units="degC",
                 values=write_glorys(tmp_path / "tmp.nc", LAT, LON, DEPTH, TIMES[:1]) + 273.15)
    with pytest.raises(IngestError, match=r"k\.nc: wrong units: thetao declares 'degC' .*looks like kelvin"):
        open_model([tmp_path / "k.nc"]).read(0)
    write_netcdf(tmp_path / "so.nc", {"depth": 2, "lat": 2, "lon": 2},
                 {"so": (("depth", "lat", "lon"), np.full((2, 2, 2), 35.0), {"standard_name": "sea_water_salinity"})})
    with pytest.raises(IngestError, match=r"so\.nc: missing variable thetao"):
        open_model([tmp_path / "so.nc"])
    write_glorys(tmp_path / "a.nc", LAT, LON, DEPTH, TIMES[:1])
    write_glorys(tmp_path / "b.nc", LAT + 0.1, LON, DEPTH, TIMES[1:])
    with pytest.raises(IngestError, match=r"b\.nc: mismatched grids"):
        open_model([tmp_path / "a.nc", tmp_path / "b.nc"])
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        open_model([tmp_path / "missing.nc"])


def test_model_var_chooses_among_several_temperatures(tmp_path):
    values = np.stack([ocean_temperature(DEPTH, LAT, LON)])
    write_netcdf(tmp_path / "two.nc", {"time": 1, "depth": DEPTH.size, "lat": LAT.size, "lon": LON.size}, {
        "time": (("time",), days_since(TIMES[:1]), {"units": "days since 1950-01-01"}),
        "depth": (("depth",), DEPTH, {"units": "m", "positive": "down"}),
        "lat": (("lat",), LAT, {"units": "degrees_north"}), "lon": (("lon",), LON, {"units": "degrees_east"}),
        "t_an": (("time", "depth", "lat", "lon"), values + 1.0, {"units": "degC"}),
        "t_mn": (("time", "depth", "lat", "lon"), values, {"units": "degC"})})
    with pytest.raises(IngestError, match="missing variable thetao"):
        open_model([tmp_path / "two.nc"])
    np.testing.assert_allclose(open_model([tmp_path / "two.nc"], chosen="t_mn").read(0), values[0], atol=1e-5)


def nemo_file(path, lat2d, lon2d, depth, values, mask_land=None):
    """NEMO-style: dims (time_counter, deptht, y, x), 2-D nav_lat/nav_lon, votemper, no 1-D lat/lon."""
    t, _, h, w = values.shape
    write_netcdf(path, {"time_counter": t, "deptht": depth.size, "y": h, "x": w}, {
        "time_counter": (("time_counter",), np.arange(t) * 86400.0 + 86400.0 / 2,
                         {"units": "seconds since 2015-01-01 00:00:00", "calendar": "noleap"}),
        "deptht": (("deptht",), depth, {"units": "m", "positive": "down"}),
        "nav_lat": (("y", "x"), lat2d, {"units": "degrees_north"}),
        "nav_lon": (("y", "x"), lon2d, {"units": "degrees_east"}),
        "votemper": (("time_counter", "deptht", "y", "x"), values, {"units": "degC"})})


def test_nemo_rotated_grid_is_regridded_never_taken_as_degrees(tmp_path):
    """A rotated curvilinear grid (dims y/x hold only indices): regridded onto a regular grid whose
    values match the analytic field; the old behaviour read the indices 0..N as degrees."""
    jj, ii = np.meshgrid(np.arange(24), np.arange(28), indexing="ij")
    lat2d = 40.0 + 0.1 * jj + 0.03 * ii
    lon2d = 10.0 + 0.12 * ii - 0.04 * jj
    depth = np.array([1.0, 10.0, 100.0])
    truth = np.stack([ocean_temperature(depth, lat2d[:, 0], lon2d[0, :]) for _ in range(2)])
    analytic = lambda la, lo: 15.0 + 0.5 * (la - 40.0) - 0.3 * (lo - 10.0)  # noqa: E731
    truth[:, 0] = analytic(lat2d, lon2d)
    nemo_file(tmp_path / "nemo.nc", lat2d, lon2d, depth, truth)
    ds, _, provenance = build_dataset(IngestSpec(glorys=[str(tmp_path / "nemo.nc")], patch_size=8,
                                                 grid="41,42.5,10.5,12.5,0.1"))
    assert provenance["model_regridding"] == "NeighbourWeights"
    assert ds["lat"].values.min() >= 41.0 and ds["lon"].values.max() <= 12.5 + 1e-9
    top = ds[S.Y].values[0, 0]
    lat, lon = np.meshgrid(ds["lat"].values, ds["lon"].values, indexing="ij")
    ok = np.isfinite(top)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(top[ok], analytic(lat, lon)[ok], atol=0.02)
    assert str(ds["time"].values[0])[:13] == "2015-01-01T12"  # noleap calendar decoded


def test_nemo_with_index_only_coordinates_is_refused(tmp_path):
    values = np.full((1, 2, 4, 4), 10.0)
    write_netcdf(tmp_path / "bare.nc", {"time_counter": 1, "deptht": 2, "y": 4, "x": 4}, {
        "time_counter": (("time_counter",), [0.0], {"units": "days since 2015-01-01"}),
        "deptht": (("deptht",), [1.0, 10.0], {"units": "m"}),
        "votemper": (("time_counter", "deptht", "y", "x"), values, {"units": "degC"})})
    with pytest.raises(IngestError, match=r"bare\.nc: votemper: no latitude/longitude.*never taken as degrees"):
        open_model([tmp_path / "bare.nc"])


def roms_file(path, vtransform: int, h: np.ndarray, temp, hc: float = 20.0):
    """A ROMS-style file: temp(ocean_time, s_rho, eta_rho, xi_rho), lat_rho/lon_rho, h, hc, Cs_r."""
    n = temp.shape[1]
    s = (np.arange(n) - n + 0.5) / n
    cs = s ** 3  # any monotone stretching in [-1, 0]
    eta, xi = h.shape
    lat2d, lon2d = np.meshgrid(60.0 + 0.05 * np.arange(eta), 5.0 + 0.1 * np.arange(xi), indexing="ij")
    write_netcdf(path, {"ocean_time": temp.shape[0], "s_rho": n, "eta_rho": eta, "xi_rho": xi}, {
        "ocean_time": (("ocean_time",), [0.0], {"units": "seconds since 2016-02-02 12:00:00"}),
        "s_rho": (("s_rho",), s, {"standard_name": f"ocean_s_coordinate_g{vtransform}",
                                   "formula_terms": "s: s_rho C: Cs_r eta: zeta depth: h depth_c: hc"}),
        "Cs_r": (("s_rho",), cs, {}), "hc": ((), hc, {}), "Vtransform": ((), vtransform, {}),
        "h": (("eta_rho", "xi_rho"), h, {"units": "meter"}),
        "lat_rho": (("eta_rho", "xi_rho"), lat2d, {"units": "degree_north", "standard_name": "latitude"}),
        "lon_rho": (("eta_rho", "xi_rho"), lon2d, {"units": "degree_east", "standard_name": "longitude"}),
        "mask_rho": (("eta_rho", "xi_rho"), (h > 15).astype(float), {"flag_meanings": "land water"}),
        "temp": (("ocean_time", "s_rho", "eta_rho", "xi_rho"), temp,
                 {"units": "Celsius", "long_name": "potential temperature"})}, fmt="NETCDF3_CLASSIC")


@pytest.mark.parametrize("vtransform", [1, 2])
def test_roms_s_levels_become_depths(tmp_path, vtransform):
    """T = 20 - 0.01 z on every s-level: after the transform the store levels read T(level)."""
    h = np.full((12, 14), 400.0)
    h[:, :2] = 10.0  # land (mask_rho 0)
    n = 30
    v = Vertical(transform=vtransform, s=(np.arange(n) - n + 0.5) / n, stretching=((np.arange(n) - n + 0.5) / n) ** 3,
                 h=h, hc=20.0)
    depth = v.column_depths(None)
    roms_file(tmp_path / f"roms{vtransform}.nc", vtransform, h, (20.0 - 0.01 * depth)[None])
    field = open_model([tmp_path / f"roms{vtransform}.nc"])
    assert field.vertical.transform == vtransform and not field.where.curvilinear  # 2-D but regular: collapsed
    levels = np.array([5.0, 50.0, 200.0, 380.0, 500.0])
    out = field.read(0, levels)
    ocean = out[:, :, 5]
    np.testing.assert_allclose(ocean[:4], (20.0 - 0.01 * levels[:4])[:, None] * np.ones((1, 12)), atol=1e-6)
    assert np.isnan(ocean[4]).all()        # 500 m is below the 400 m sea floor
    assert np.isnan(out[:, :, :2]).all()   # mask_rho 0: land
    if vtransform == 2:                    # Vtransform 2 with hc: z0 = (hc s + h C)/(hc + h)
        z0 = (20.0 * v.s[0] + 400.0 * v.stretching[0]) / 420.0
        assert depth[0, 0, 5] == pytest.approx(-400.0 * z0)


def test_columns_snap_levels_and_extend_only_upward():
    values = np.array([10.0, 8.0, np.nan])[:, None, None]
    out = columns_to_levels(values, np.array([5.0, 15.0, 25.0]), np.array([1.0, 5.0 + 1e-4, 10.0, 15.0, 20.0]))
    np.testing.assert_allclose(out[:4, 0, 0], [10.0, 10.0, 9.0, 8.0])
    assert np.isnan(out[4, 0, 0])


def test_kelvin_reanalysis_on_0_360_longitudes_is_contiguous(tmp_path):
    """atlantic_profiles-like: theta(depth, lat, lon) K, lon [0.5, 325.5 ... 355.5], scalar time."""
    lon = np.array([0.5, 325.5, 330.5, 335.5, 340.5, 345.5, 350.5, 355.5])
    lat = np.linspace(-9.8, -1.5, 6)
    depth = np.array([5.0, 15.0, 25.0])
    theta = ocean_temperature(depth, lat, np.mod(lon + 180, 360) - 180) + 273.15
    write_netcdf(tmp_path / "k.nc", {"depth": 3, "lat": 6, "lon": 8}, {
        "depth": (("depth",), depth, {"units": "m", "positive": "down", "axis": "Z"}),
        "lat": (("lat",), lat, {"units": "degrees", "standard_name": "latitude"}),
        "lon": (("lon",), lon, {"units": "degrees", "standard_name": "longitude"}),
        "time": ((), 67539.0, {"units": "days since 1800-01-01", "standard_name": "time"}),
        "theta": (("depth", "lat", "lon"), theta, {"standard_name": "sea_water_potential_temperature", "units": "K",
                                                   "coordinates": "time"})})
    ds, _, _ = build_dataset(IngestSpec(glorys=[str(tmp_path / "k.nc")], patch_size=4))
    assert ds["lon"].values.tolist() == [-34.5, -29.5, -24.5, -19.5, -14.5, -9.5, -4.5, 0.5]
    assert str(ds["time"].values[0])[:10] == "1984-12-01"
    expected = ocean_temperature(depth, lat, ds["lon"].values)
    np.testing.assert_allclose(ds[S.Y].values[0], expected, atol=1e-4)


def test_real_model_fields_ingest_and_regrid(shared_data, tmp_path):
    """The ROMS Nordic-4km subset (curvilinear, Vtransform 2) and the kelvin GODAS-like reanalysis."""
    nordic = shared_data / "model_fields" / "Nordic_subset.nc"
    out = ingest(IngestSpec(glorys=[str(nordic)], eo_from_glorys=True, patch_size=16), tmp_path / "nordic.zarr",
                 progress=False, split=ALL_TRAIN)
    store = OceanStore.open(out)
    y, ok = store.ds[S.Y].values, store.ds[S.Y_MASK].values
    assert y.shape[0] == 3 and store.depth.max() < 400 and ok[:, 0].sum() > 400
    assert 0.5 < np.nanmin(y) and np.nanmax(y) < 8.5   # the file's own range, 0.73..8.24 °C
    assert store.ds[S.EO_MASK].values.any() and store.ds[S.Y].attrs["temperature_kind"] == "potential"
    atlantic = shared_data / "model_fields" / "atlantic_profiles_iris.nc"
    ds, _, _ = build_dataset(IngestSpec(glorys=[str(atlantic)], patch_size=4))
    assert ds["lon"].values[0] == pytest.approx(-34.5) and ds["lon"].values[-1] == pytest.approx(0.5)
    assert 15 < np.nanmax(ds[S.Y].values) < 30 and np.nanmin(ds[S.Y].values) > 0  # kelvin converted
