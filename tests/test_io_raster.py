"""GeoTIFF reading: values against rasterio, roles, nodata holes, decimation, windows,
reprojection into the project CRS and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from qdt.io import FeatureRequest, LayerSource, ReadError, load_layer
from qdt.layers.raster import RasterLayer

DATA = Path(__file__).parent / "data"
DEM = DATA / "lyon3_dem_10m.tif"
RGB = DATA / "RGB.byte.tif"


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    # rasterio.transform.from_origin multiplies Affines with "*", which affine 3 deprecates
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def test_lyon_dem_matches_rasterio_in_its_own_crs():
    result = load_layer(LayerSource(DEM), project_crs="EPSG:3946")
    layer = result.layer
    with rasterio.open(DEM) as src:
        expected = src.read(1)
        transform = tuple(src.transform)[:6]
    assert isinstance(layer, RasterLayer)
    assert layer.role == "dem" and layer.data.dtype == np.float32
    assert layer.shape == (169, 352) and layer.full_shape == (169, 352)
    np.testing.assert_array_equal(layer.data[0], expected.astype(np.float32))
    assert layer.transform == pytest.approx(transform)
    assert not layer.mask.any()                          # no nodata in this file
    assert layer.value_range == (160.0, 295.0)           # SOURCES.md
    assert layer.metadata["category"] == "时空基础" and layer.metadata["level"] == "CIM1"
    assert result.warnings == []


def test_orthophoto_nodata_becomes_the_mask():
    layer = load_layer(LayerSource(RGB), project_crs="EPSG:32618").layer
    with rasterio.open(RGB) as src:
        expected = src.read()
        valid = src.dataset_mask() > 0
    assert layer.role == "ortho" and layer.data.dtype == np.uint8 and layer.data.shape == (3, 718, 791)
    np.testing.assert_array_equal(layer.data, expected)
    np.testing.assert_array_equal(layer.mask, ~valid)
    assert 0.2 < layer.mask.mean() < 0.5                 # the black collar around the scene


def test_declared_role_wins_over_the_guess():
    assert load_layer(LayerSource(DEM, role="image"), project_crs="EPSG:3946").layer.role == "image"
    with pytest.raises(ReadError, match=r"'lyon3_dem_10m.tif': unknown raster role 'height'"):
        load_layer(LayerSource(DEM, role="height"), project_crs="EPSG:3946")


def test_big_raster_is_read_decimated_keeping_full_shape_and_extent():
    result = load_layer(LayerSource(RGB), project_crs="EPSG:32618", request=FeatureRequest(max_raster_size=200))
    layer = result.layer
    assert max(layer.shape) == 200 and layer.full_shape == (718, 791)
    with rasterio.open(RGB) as src:
        b = src.bounds
    assert layer.bounds == pytest.approx((b.left, b.bottom, b.right, b.top))
    assert any("read at 1/3.96 resolution (200×182 of 791×718 pixels)" in w for w in result.warnings)


def test_bbox_reads_a_window():
    with rasterio.open(DEM) as src:
        t = src.transform
        full = src.read(1)
    box = (t.c + 100 * t.a, t.f + 60 * t.e, t.c + 150 * t.a, t.f + 20 * t.e)  # cols 100..150, rows 20..60
    layer = load_layer(LayerSource(DEM), project_crs="EPSG:3946", request=FeatureRequest(bbox=box)).layer
    assert layer.shape == (40, 50)
    np.testing.assert_array_equal(layer.data[0], full[20:60, 100:150])
    with pytest.raises(ReadError, match="the requested area does not overlap the raster"):
        load_layer(LayerSource(DEM), project_crs="EPSG:3946", request=FeatureRequest(bbox=(0, 0, 10, 10)))


def _dem_with_holes(path: Path, crs: str | None, origin=(40_534_000.0, 3_994_000.0)) -> np.ndarray:
    heights = (np.arange(300 * 400, dtype=np.float32).reshape(300, 400) / 100.0)
    heights[100:120, 50:70] = -9999.0
    heights[0, :] = -9999.0
    heights[200, 10] = np.nan
    with rasterio.open(path, "w", driver="GTiff", width=400, height=300, count=1, dtype="float32", crs=crs,
                       transform=from_origin(*origin, 5.0, 5.0), nodata=-9999.0) as dst:
        dst.write(heights, 1)
    return heights


def test_dem_with_nodata_holes_in_zone_prefixed_crs(tmp_path):
    heights = _dem_with_holes(tmp_path / "holes.tif", "EPSG:4528")
    result = load_layer(LayerSource(tmp_path / "holes.tif"))
    layer = result.layer
    assert layer.crs.to_epsg() == 4549
    # EPSG:4528 → 4549 is the 40 000 000 m zone prefix, so the grid lands 40 000 km west
    assert layer.bounds == pytest.approx((534_000.0, 3_992_500.0, 536_000.0, 3_994_000.0), abs=1e-6)
    assert layer.mask.sum() == 400 + 20 * 20 + 1          # first row, the hole, the NaN pixel
    assert np.isnan(layer.data[0][layer.mask]).all()      # NaN-safe: no -9999 left to average
    assert np.isfinite(layer.data[0][~layer.mask]).all()
    # bilinear sample at a pixel centre returns the stored height; inside the hole it is NaN
    x, y = 534_000 + 200 * 5 + 2.5, 3_994_000 - 150 * 5 - 2.5
    assert layer.sample(np.array([x]), np.array([y]))[0] == pytest.approx(heights[150, 200])
    assert np.isnan(layer.sample(np.array([534_000 + 60 * 5 + 2.5]), np.array([3_994_000 - 110 * 5 - 2.5]))[0])
    assert any("reprojected from EPSG:4528 to EPSG:4549" in w for w in result.warnings)


def test_raster_without_crs_is_refused_unless_declared(tmp_path):
    _dem_with_holes(tmp_path / "nocrs.tif", None, origin=(534_000.0, 3_994_000.0))
    with pytest.raises(ReadError, match=r"^raster 'nocrs.tif' has no coordinate reference system; "
                                        r"declare the layer's CRS to load it$"):
        load_layer(LayerSource(tmp_path / "nocrs.tif"))
    layer = load_layer(LayerSource(tmp_path / "nocrs.tif", crs="EPSG:4549")).layer
    assert layer.bounds == pytest.approx((534_000.0, 3_992_500.0, 536_000.0, 3_994_000.0))


def test_reprojection_puts_pixels_where_pyproj_puts_them(tmp_path):
    # a WGS84 DEM whose height is a function of longitude/latitude, warped into EPSG:4549
    lon0, lat0, step = 120.30, 36.12, 0.0005
    rows, cols = 160, 240
    lon = lon0 + (np.arange(cols) + 0.5) * step
    lat = lat0 - (np.arange(rows) + 0.5) * step
    heights = (1000 * (lon[None, :] - lon0) + 2000 * (lat0 - lat[:, None])).astype(np.float32)
    with rasterio.open(tmp_path / "wgs.tif", "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(lon0, lat0, step, step), nodata=-9999.0) as dst:
        dst.write(heights, 1)
    layer = load_layer(LayerSource(tmp_path / "wgs.tif")).layer
    probe_lon, probe_lat = np.array([120.33, 120.36, 120.38]), np.array([36.09, 36.07, 36.10])
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(probe_lon, probe_lat)
    expected = 1000 * (probe_lon - lon0) + 2000 * (lat0 - probe_lat)
    # the field changes ~0.09 m of height per metre on the ground; 2 m of tolerance is ~20 m on the ground
    np.testing.assert_allclose(layer.sample(x, y), expected, atol=2.0)
    assert layer.mask.any() and not layer.mask.all()     # the warped grid has empty corners


def test_corrupt_and_missing_geotiff(tmp_path):
    cut = tmp_path / "cut.tif"
    cut.write_bytes(RGB.read_bytes()[:4000])
    with pytest.raises(ReadError) as info:
        load_layer(LayerSource(cut), project_crs="EPSG:32618")
    assert str(info.value).startswith("cannot read 'cut.tif': file is not a GeoTIFF or is corrupt (")
    assert "\n" not in str(info.value)
    with pytest.raises(ReadError, match=r"^cannot read 'none.tif': file not found$"):
        load_layer(LayerSource(tmp_path / "none.tif"))
