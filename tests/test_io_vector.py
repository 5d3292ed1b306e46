"""Vector reading: real GeoPackage against pyogrio, CRS landing in EPSG:4549, DBF encodings,
geometry repair, feature requests and every bad-input message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from qdt.io import FeatureRequest, LayerSource, ReadError, list_layers, load_layer
from qdt.layers.vector import VectorLayer

DATA = Path(__file__).parent / "data"
SEWER = DATA / "simple_sewer_features.gpkg"
SEWER_LAYERS = {"s_manhole": 69, "foul_sewer": 82, "surface_water_sewer": 21}  # SOURCES.md
QINGDAO_LONLAT = [(120.38, 36.07), (120.3912, 36.0631), (120.4437, 36.0825), (120.3305, 36.1011)]


def _read_reference(layer: str) -> gpd.GeoDataFrame:
    with pytest.warns(UserWarning, match="Measured"):
        return pyogrio.read_dataframe(SEWER, layer=layer, fid_as_index=True)


# --- the real GeoPackage --------------------------------------------------------------

@pytest.mark.parametrize("layer_name", sorted(SEWER_LAYERS))
def test_geopackage_layers_match_pyogrio_in_their_own_crs(layer_name):
    result = load_layer(LayerSource(SEWER, layer=layer_name), project_crs="EPSG:27700")
    layer = result.layer
    reference = _read_reference(layer_name)
    assert isinstance(layer, VectorLayer)
    assert layer.feature_count == SEWER_LAYERS[layer_name] == len(reference)
    assert layer.frame.index.name == "fid"
    np.testing.assert_array_equal(layer.fids, reference.index.to_numpy())  # the GeoPackage fid
    assert shapely.equals_exact(layer.geometry, reference.geometry.to_numpy(), tolerance=0).all()
    assert any("Measured (M) geometry types are not supported" in w for w in result.warnings)
    assert layer.metadata["source_crs"] == "EPSG:27700"


def test_geopackage_is_transformed_into_the_project_crs_like_pyproj():
    layer = load_layer(LayerSource(SEWER, layer="s_manhole")).layer
    reference = _read_reference("s_manhole")
    xyz = shapely.get_coordinates(reference.geometry.to_numpy(), include_z=True)
    ex, ey = Transformer.from_crs("EPSG:27700", "EPSG:4549", always_xy=True).transform(xyz[:, 0], xyz[:, 1])
    got = shapely.get_coordinates(layer.geometry, include_z=True)
    np.testing.assert_allclose(got[:, 0], ex, atol=1e-6)
    np.testing.assert_allclose(got[:, 1], ey, atol=1e-6)
    np.testing.assert_array_equal(got[:, 2], xyz[:, 2])
    assert layer.crs.to_epsg() == 4549


def test_list_layers_and_unknown_layer_and_unnamed_layer():
    assert list_layers(SEWER) == ["s_manhole", "foul_sewer", "surface_water_sewer"]
    with pytest.raises(ReadError, match=r"^layer 'foo' not found in 'simple_sewer_features.gpkg' "
                                        r"\(available: s_manhole, foul_sewer, surface_water_sewer\)$"):
        load_layer(LayerSource(SEWER, layer="foo"))
    with pytest.raises(ReadError, match=r"'simple_sewer_features.gpkg' has 3 layers \(s_manhole, foul_sewer, "
                                        r"surface_water_sewer\); name the one to read"):
        load_layer(LayerSource(SEWER))


def test_feature_request_fids_columns_bbox_and_no_geometry():
    src = LayerSource(SEWER, layer="s_manhole")
    some = load_layer(src, project_crs="EPSG:27700", request=FeatureRequest(fids=(3, 5), columns=("function",))).layer
    assert list(some.fids) == [3, 5]
    assert some.columns == ["function"]
    bare = load_layer(src, request=FeatureRequest(no_geometry=True)).layer
    assert bare.feature_count == 69 and bare.frame.geometry.isna().all()
    # a bbox given in the project CRS selects the features inside it (transformed to the file's CRS)
    full = load_layer(src).layer
    xy = shapely.get_coordinates(full.geometry)
    box = (xy[:, 0].min() - 1, xy[:, 1].min() - 1, np.median(xy[:, 0]), np.median(xy[:, 1]))
    inside = (xy[:, 0] <= box[2]) & (xy[:, 1] <= box[3])
    clipped = load_layer(src, request=FeatureRequest(bbox=box, bbox_crs="EPSG:4549")).layer
    assert 0 < clipped.feature_count < 69
    assert set(full.fids[inside]) <= set(clipped.fids)
    with pytest.raises(ReadError, match=r"^layer 's_manhole' in 'simple_sewer_features.gpkg' has no feature with "
                                        r"fid 999$"):
        load_layer(src, request=FeatureRequest(fids=(3, 999)))
    with pytest.raises(ReadError, match=r"field 'nope' not found in layer 's_manhole'"):
        load_layer(src, request=FeatureRequest(columns=("nope",)))


# --- CRS landing in EPSG:4549 ---------------------------------------------------------

def _qingdao_points() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.array(QINGDAO_LONLAT).T
    return Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(lon, lat)


def test_wgs84_geojson_lands_where_pyproj_puts_it(tmp_path):
    features = [{"type": "Feature", "properties": {"name": f"点{i}"}, "geometry": {"type": "Point", "coordinates": p}}
                for i, p in enumerate(QINGDAO_LONLAT)]
    path = tmp_path / "qingdao.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    layer = load_layer(LayerSource(path)).layer
    ex, ey = _qingdao_points()
    got = shapely.get_coordinates(layer.geometry)
    assert np.abs(got[:, 0] - ex).max() < 0.05 and np.abs(got[:, 1] - ey).max() < 0.05
    # the check point of CIM.md
    assert got[0] == pytest.approx([534231.97, 3993376.68], abs=0.01)
    assert list(layer.frame["name"]) == ["点0", "点1", "点2", "点3"]


def test_plain_json_extension_is_sniffed_as_geojson(tmp_path):
    path = tmp_path / "points.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [120.38, 36.07]}}]}))
    layer = load_layer(LayerSource(path)).layer
    assert isinstance(layer, VectorLayer) and layer.feature_count == 1


@pytest.mark.parametrize("epsg", [4490, 4326])
def test_geographic_cgcs2000_and_wgs84_geopackages_land_correctly(tmp_path, epsg):
    lon, lat = np.array(QINGDAO_LONLAT).T
    gpd.GeoDataFrame({"n": range(len(lon))}, geometry=shapely.points(lon, lat), crs=f"EPSG:{epsg}").to_file(
        tmp_path / "geo.gpkg", layer="pts")
    got = shapely.get_coordinates(load_layer(LayerSource(tmp_path / "geo.gpkg")).layer.geometry)
    ex, ey = _qingdao_points()
    assert np.abs(got[:, 0] - ex).max() < 0.05 and np.abs(got[:, 1] - ey).max() < 0.05


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_zone_prefixed_gauss_kruger_lands_with_the_prefix_removed(tmp_path, suffix):
    ex, ey = _qingdao_points()
    frame = gpd.GeoDataFrame({"n": range(len(ex))}, geometry=shapely.points(ex + 40_000_000, ey), crs="EPSG:4528")
    frame.to_file(tmp_path / f"zone{suffix}")
    got = shapely.get_coordinates(load_layer(LayerSource(tmp_path / f"zone{suffix}")).layer.geometry)
    np.testing.assert_allclose(got[:, 0], ex, atol=1e-6)
    np.testing.assert_allclose(got[:, 1], ey, atol=1e-6)


def _points_shapefile(path: Path, encoding: str = "UTF-8", crs: str | None = "EPSG:4549", **columns) -> Path:
    ex, ey = _qingdao_points()
    frame = gpd.GeoDataFrame(columns or {"n": list(range(len(ex)))}, geometry=shapely.points(ex, ey), crs=crs)
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    return path


def test_shapefile_without_prj_is_refused_unless_declared(tmp_path):
    path = _points_shapefile(tmp_path / "roads.shp")
    os.remove(tmp_path / "roads.prj")
    with pytest.raises(ReadError, match=r"^layer 'roads' in 'roads.shp' has no coordinate reference system "
                                        r"\(no .prj file\); declare the layer's CRS to load it$"):
        load_layer(LayerSource(path))
    result = load_layer(LayerSource(path, crs="EPSG:4549"))
    assert result.layer.crs.to_epsg() == 4549 and result.layer.feature_count == 4


def test_declared_crs_overriding_the_files_is_reported(tmp_path):
    path = _points_shapefile(tmp_path / "pts.shp")
    result = load_layer(LayerSource(path, crs="EPSG:4528"))
    assert any("declared CRS EPSG:4528 replaces the data's EPSG:4549" in w for w in result.warnings)
    # eastings near 534 000 m read as zone-prefixed (false easting 40 500 000) lie far outside the zone
    assert any("4 feature(s) could not be transformed to EPSG:4549 (fid 0, 1, 2, 3)" in w for w in result.warnings)


def test_local_coordinates_declared_as_the_project_crs_are_flagged(tmp_path):
    # a city's local grid (x, y of a few km) declared as EPSG:4549 lands near the equator
    frame = gpd.GeoDataFrame({"n": [1, 2]}, geometry=shapely.points([(1200.0, 3400.0), (1800.0, 3900.0)]))
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(tmp_path / "local.gpkg", layer="local")
    result = load_layer(LayerSource(tmp_path / "local.gpkg", crs="EPSG:4549"))
    assert "layer 'local' in 'local.gpkg': lies outside the area of use of EPSG:4549 (118.50°E–121.50°E, " \
           "24.43°N–53.33°N), at 115.53°E 0.03°N; check its CRS" in result.warnings
    with pytest.raises(ReadError, match="has no coordinate reference system"):
        load_layer(LayerSource(tmp_path / "local.gpkg"))
    inside = load_layer(LayerSource(_points_shapefile(tmp_path / "ok.shp")))
    assert not any("area of use" in w for w in inside.warnings)


# --- DBF encodings --------------------------------------------------------------------

NAMES = ["中山路", "香港中路", "五四广场", "栈桥"]


def test_gbk_dbf_without_cpg_is_detected_and_reported(tmp_path):
    kinds = ["主干路", "主干路", "广场", "景点"]
    path = _points_shapefile(tmp_path / "gbk.shp", encoding="GBK", 名称=NAMES, kind=kinds)
    os.remove(tmp_path / "gbk.cpg")
    assert (tmp_path / "gbk.dbf").read_bytes()[29] == 0  # no language driver id either
    result = load_layer(LayerSource(path))
    assert list(result.layer.frame["名称"]) == NAMES
    assert list(result.layer.frame["kind"]) == kinds
    assert "gbk.dbf: no .cpg file and the text is not UTF-8; read it as GBK (GB18030)" in result.warnings


def test_cpg_file_is_honoured_without_a_warning(tmp_path):
    path = _points_shapefile(tmp_path / "withcpg.shp", encoding="GBK", name=NAMES)
    assert (tmp_path / "withcpg.cpg").read_text().strip() == "GBK"
    result = load_layer(LayerSource(path))
    assert list(result.layer.frame["name"]) == NAMES
    assert not any("cpg" in w for w in result.warnings)


def test_utf8_dbf_without_cpg_is_read_as_utf8(tmp_path):
    path = _points_shapefile(tmp_path / "u8.shp", encoding="UTF-8", name=NAMES)
    os.remove(tmp_path / "u8.cpg")
    result = load_layer(LayerSource(path))
    assert list(result.layer.frame["name"]) == NAMES
    assert result.warnings == []


# --- geometry repair ------------------------------------------------------------------

def test_bow_tie_is_repaired_and_reported_with_its_fid(tmp_path):
    bow_tie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    frame = gpd.GeoDataFrame({"name": ["ok", "bow", "none"]},
                             geometry=[shapely.box(0, 0, 1, 1), bow_tie, None], crs="EPSG:4549")
    frame.to_file(tmp_path / "parcels.gpkg", layer="parcels")
    result = load_layer(LayerSource(tmp_path / "parcels.gpkg"))
    layer = result.layer
    assert list(layer.fids) == [1, 2, 3]  # nothing dropped
    repaired = layer.frame.geometry.loc[2]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon" and repaired.area == pytest.approx(2.0)
    assert any(w.startswith("layer 'parcels' in 'parcels.gpkg': 1 invalid geometry repaired with make_valid (fid 2;")
               for w in result.warnings)
    assert "layer 'parcels' in 'parcels.gpkg': 1 feature(s) without geometry (fid 3)" in result.warnings


def test_repair_warning_caps_the_fid_list(tmp_path):
    bow_tie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    shapes = [shapely.affinity.translate(bow_tie, i * 10) for i in range(25)]
    frame = gpd.GeoDataFrame({"n": range(25)}, geometry=shapes, crs="EPSG:4549")
    frame.to_file(tmp_path / "many.gpkg", layer="many")
    result = load_layer(LayerSource(tmp_path / "many.gpkg"))
    line = next(w for w in result.warnings if "repaired" in w)
    assert "25 invalid geometries" in line and "(+15 more)" in line
    assert shapely.is_valid(result.layer.geometry).all()


# --- bad input ------------------------------------------------------------------------

def test_truncated_geopackage_gives_one_clear_line(tmp_path):
    path = tmp_path / "cut.gpkg"
    path.write_bytes(SEWER.read_bytes()[: SEWER.stat().st_size // 2])
    with pytest.raises(ReadError) as info:
        load_layer(LayerSource(path, layer="s_manhole"))
    message = str(info.value)
    assert message.startswith("cannot read 'cut.gpkg': file is not a GeoPackage or is corrupt (")
    assert "\n" not in message and "malformed" in message


def test_text_file_named_gpkg_and_missing_file(tmp_path):
    fake = tmp_path / "fake.gpkg"
    fake.write_text("not a database")
    with pytest.raises(ReadError, match=r"^cannot read 'fake.gpkg': file is not a GeoPackage or is corrupt \("):
        load_layer(LayerSource(fake))
    with pytest.raises(ReadError, match=r"^cannot read 'absent.gpkg': file not found$"):
        load_layer(LayerSource(tmp_path / "absent.gpkg"))


def test_attribute_table_without_geometry_loads(tmp_path):
    path = tmp_path / "tables.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"pole_code": ["P1", "P2"], "power_w": [30.0, 45.0]}), path,
                            layer="devices", driver="GPKG")
    result = load_layer(LayerSource(path, layer="devices"))
    assert result.layer.feature_count == 2 and result.layer.frame.geometry.isna().all()
    assert not any("without geometry" in w for w in result.warnings)


# --- catalogue mapping ----------------------------------------------------------------

def _buildings(tmp_path: Path, heights: list[object]) -> Path:
    ex, ey = _qingdao_points()
    frame = gpd.GeoDataFrame({"name": ["楼A", "楼B", "楼C", "楼D"], "Height": heights},
                             geometry=[shapely.box(x, y, x + 10, y + 10) for x, y in zip(ex, ey, strict=True)],
                             crs="EPSG:4549")
    path = tmp_path / "city.gpkg"
    frame.to_file(path, layer="buildings")
    return path


def test_feature_class_maps_columns_and_sets_category_and_level(tmp_path):
    from qdt.cim import catalogue

    path = _buildings(tmp_path, [12.5, 30.0, 8.0, 100.0])
    result = load_layer(LayerSource(path, layer="buildings", feature_class="building"))
    layer = result.layer
    cls = catalogue().feature_class("building")
    assert "height" in layer.columns and "Height" not in layer.columns
    assert layer.frame["height"].tolist() == [12.5, 30.0, 8.0, 100.0]
    assert layer.feature_class == "building"
    assert layer.metadata["category"] == cls.category and layer.metadata["level"] == cls.level


def test_text_height_field_gives_a_message_naming_the_field(tmp_path):
    path = _buildings(tmp_path, ["12.5", "abc", "8", "三十"])
    result = load_layer(LayerSource(path, layer="buildings", feature_class="building"))
    frame = result.layer.frame
    assert frame.loc[1, "height"] == pytest.approx(12.5) and pd.isna(frame.loc[2, "height"])
    problems = [w for w in result.warnings if "'height'" in w]
    assert any("'abc'" in w and "buildings" in w and "2" in w for w in problems)
    assert any("'三十'" in w for w in problems)


def test_unknown_feature_class_is_refused(tmp_path):
    path = _buildings(tmp_path, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ReadError, match=r"layer 'buildings' in 'city.gpkg': unknown feature class 'spaceship'"):
        load_layer(LayerSource(path, layer="buildings", feature_class="spaceship"))
