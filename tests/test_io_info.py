"""dataset_info / list_layers: metadata only, matching what GDAL (pyogrio, rasterio) reports."""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio
import pytest
import rasterio

from qdt.io import ReadError, dataset_info, list_layers

DATA = Path(__file__).parent / "data"


def test_geopackage_info_matches_ogrinfo_counts_and_extent():
    infos = dataset_info(DATA / "simple_sewer_features.gpkg")
    assert [(i["name"], i["count"]) for i in infos] == [("s_manhole", 69), ("foul_sewer", 82),
                                                        ("surface_water_sewer", 21)]  # SOURCES.md
    for info in infos:
        with pytest.warns(UserWarning, match="Measured"):
            reference = pyogrio.read_info(DATA / "simple_sewer_features.gpkg", layer=info["name"],
                                          force_feature_count=True, force_total_bounds=True)
        assert info["kind"] == "vector"
        assert info["count"] == reference["features"]
        assert info["crs"] == "EPSG:27700"
        assert info["bbox"] == pytest.approx(list(reference["total_bounds"]))
        assert info["geometry_type"] == reference["geometry_type"]
        assert [f["name"] for f in info["fields"]] == list(reference["fields"])
    # SOURCES.md: extent 389586.75, 262882.00 → 390065.80, 263548.40
    assert infos[0]["bbox"] == pytest.approx([389586.75, 262882.0, 390065.8, 263548.4])


@pytest.mark.parametrize(("name", "size", "crs", "role"), [
    ("lyon3_dem_10m.tif", [352, 169, 1], "EPSG:3946", "dem"),
    ("RGB.byte.tif", [791, 718, 3], "EPSG:32618", "ortho"),
])
def test_raster_info_matches_rasterio(name, size, crs, role):
    (info,) = dataset_info(DATA / name)
    with rasterio.open(DATA / name) as src:
        bounds = list(src.bounds)
        nodata = src.nodata
    assert info["kind"] == "raster" and info["count"] == size[2]  # bands
    assert info["size"] == size and info["crs"] == crs and info["role"] == role
    assert info["bbox"] == pytest.approx(bounds)
    assert info["nodata"] == nodata
    assert info["name"] == Path(name).stem


def test_geojson_info_and_list_layers(tmp_path):
    path = tmp_path / "pts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"名称": "栈桥"},
         "geometry": {"type": "Point", "coordinates": [120.32, 36.06]}},
        {"type": "Feature", "properties": {"名称": "五四广场"},
         "geometry": {"type": "Point", "coordinates": [120.38, 36.07]}}]}, ensure_ascii=False), encoding="utf-8")
    (info,) = dataset_info(path)
    assert info["count"] == 2 and info["crs"] == "EPSG:4326" and info["geometry_type"] == "Point"
    assert info["bbox"] == pytest.approx([120.32, 36.06, 120.38, 36.07])
    assert info["fields"] == [{"name": "名称", "type": "object"}]
    assert list_layers(path) == ["pts"]


def test_list_layers_of_single_layer_formats():
    assert list_layers(DATA / "delft.json") == ["delft"]
    assert list_layers(DATA / "RGB.byte.tif") == ["RGB.byte"]


def test_info_on_bad_files_is_one_line(tmp_path):
    cut = tmp_path / "cut.gpkg"
    cut.write_bytes((DATA / "simple_sewer_features.gpkg").read_bytes()[:50_000])
    with pytest.raises(ReadError, match=r"^cannot read 'cut.gpkg': file is not a GeoPackage or is corrupt \("):
        dataset_info(cut)
    with pytest.raises(ReadError, match=r"^cannot read 'gone.tif': file not found$"):
        dataset_info(tmp_path / "gone.tif")
