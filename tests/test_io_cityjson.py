"""CityJSON reader: the real files' counts and bboxes (SOURCES.md), LOD choice, semantics,
triangulation, CRS handling and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from qdt.io import FeatureRequest, LayerSource, ReadError, dataset_info, load_layer
from qdt.layers.citymodel import SEMANTIC_CODES, CityModelLayer
from qdt.tasks import Cancelled

DATA = Path(__file__).parent / "data"

# (file, CRS to load in so coordinates stay as stored, type counts, bbox xy, z range) from SOURCES.md
REAL_FILES = [
    ("delft.json", "EPSG:7415", {"Building": 160, "Road": 143, "PlantCover": 126, "LandUse": 81,
                                 "GenericCityObject": 54, "Bridge": 3, "WaterBody": 3},
     (84616.47, 447423.00, 85140.84, 447750.64), (-0.45, 16.85)),
    ("zurich_subset_lod2.json", "EPSG:2056", {"Building": 49, "BuildingPart": 161},
     (2678219.19, 1243078.72, 2687404.73, 1253037.77), (395.79, 620.90)),
    ("multi_lod.json", "EPSG:7415", {"Building": 10},
     (153301.40, 414163.47, 153776.28, 414688.44), (4.21, 13.99)),
    ("rotterdam_subset_v1.0.json", "EPSG:7415", {"Building": 16},
     (90454.19, 435614.88, 91002.42, 436048.22), (0.00, 18.29)),
]


def _load(name: str, project_crs: str, **kw) -> CityModelLayer:
    declared = "EPSG:7415" if name == "multi_lod.json" else None
    result = load_layer(LayerSource(DATA / name, crs=declared, **kw), project_crs=project_crs)
    assert isinstance(result.layer, CityModelLayer)
    return result.layer


@pytest.mark.parametrize(("name", "crs", "types", "bbox", "zrange"), REAL_FILES, ids=[r[0] for r in REAL_FILES])
def test_real_files_load_with_counts_and_bboxes_from_sources(name, crs, types, bbox, zrange):
    layer = _load(name, crs)
    assert layer.objects["type"].value_counts().to_dict() == types
    assert layer.bounds == pytest.approx(bbox, abs=0.006)
    assert layer.z_range == pytest.approx(zrange, abs=0.006)
    assert len(layer.triangles) > 0
    assert layer.triangles.max() < len(layer.vertices)
    assert layer.triangle_object.shape == layer.triangle_semantic.shape == (len(layer.triangles),)
    assert set(np.unique(layer.triangle_object)) <= set(layer.objects.index)


@pytest.mark.parametrize(("name", "crs", "types", "bbox", "zrange"), REAL_FILES, ids=[r[0] for r in REAL_FILES])
def test_dataset_info_reports_header_counts_and_bbox_without_triangulating(name, crs, types, bbox, zrange):
    (info,) = dataset_info(DATA / name)
    assert info["kind"] == "citymodel"
    assert info["count"] == sum(types.values())
    assert info["types"] == types
    assert info["bbox"] == pytest.approx(bbox, abs=0.006)
    assert info["crs"] == (None if name == "multi_lod.json" else crs)


def test_versions_are_reported():
    versions = {name: dataset_info(DATA / name)[0]["version"] for name, *_ in REAL_FILES}
    assert versions == {"delft.json": "2.0", "zurich_subset_lod2.json": "1.1", "multi_lod.json": "2.0",
                        "rotterdam_subset_v1.0.json": "1.0"}


def test_multi_lod_without_crs_is_refused_naming_the_file():
    with pytest.raises(ReadError, match=r"city model 'multi_lod.json' has no coordinate reference system"):
        load_layer(LayerSource(DATA / "multi_lod.json"))


def test_zurich_parts_keep_their_parent_and_buildings_have_no_geometry():
    layer = _load("zurich_subset_lod2.json", "EPSG:2056")
    objects = layer.objects
    parts = objects[objects["type"] == "BuildingPart"]
    buildings = objects[objects["type"] == "Building"]
    assert parts["parent"].notna().all()
    assert set(parts["parent"]) <= set(buildings["object_id"])
    assert buildings["lod"].isna().all() and (parts["lod"] == "2").all()
    # every triangle belongs to a part; every part has triangles
    assert set(objects.loc[np.unique(layer.triangle_object), "type"]) == {"BuildingPart"}
    assert len(np.unique(layer.triangle_object)) == 161


def test_highest_lod_by_default_and_a_chosen_lod_on_request():
    top = _load("multi_lod.json", "EPSG:7415")
    assert set(top.objects["lod"]) == {"2.2"}
    assert top.metadata["level"] == "CIM3"
    lod12 = _load("multi_lod.json", "EPSG:7415", lod="1.2")
    assert set(lod12.objects["lod"]) == {"1.2"}
    assert lod12.metadata["level"] == "CIM2"
    assert len(lod12.triangles) < len(top.triangles)
    # LOD 1.2 blocks have no semantics in this file, LOD 2.2 has roofs, walls and grounds
    assert set(np.unique(lod12.triangle_semantic)) == {SEMANTIC_CODES["unknown"]}
    assert {SEMANTIC_CODES["RoofSurface"], SEMANTIC_CODES["WallSurface"],
            SEMANTIC_CODES["GroundSurface"]} <= set(np.unique(top.triangle_semantic))
    # "2" picks the LOD 2.x geometry when there is no plain "2"
    assert set(_load("multi_lod.json", "EPSG:7415", lod="2").objects["lod"]) == {"2.2"}


def test_missing_lod_is_reported():
    result = load_layer(LayerSource(DATA / "multi_lod.json", crs="EPSG:7415", lod="3"), project_crs="EPSG:7415")
    assert len(result.layer.triangles) == 0
    assert any("10 city object(s) have no LOD 3 geometry" in w for w in result.warnings)


def test_semantics_per_triangle_follow_the_surfaces():
    layer = _load("rotterdam_subset_v1.0.json", "EPSG:7415")
    v, t, sem = layer.vertices, layer.triangles, layer.triangle_semantic
    normal = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    walls = sem == SEMANTIC_CODES["WallSurface"]
    grounds = sem == SEMANTIC_CODES["GroundSurface"]
    roofs = sem == SEMANTIC_CODES["RoofSurface"]
    assert walls.sum() > 0 and grounds.sum() > 0 and roofs.sum() > 0
    assert np.abs(normal[walls, 2]).max() < 0.1       # walls are vertical
    assert np.abs(normal[grounds, 2]).min() > 0.99    # grounds are horizontal
    assert normal[roofs, 2].min() > 0                 # roofs face up (wound like their surface)


def test_delft_solids_are_closed_and_wound_outwards():
    layer = _load("delft.json", "EPSG:7415")
    v = layer.vertices - layer.vertices.mean(axis=0)
    t = layer.triangles
    signed = np.einsum("ij,ij->i", v[t[:, 0]], np.cross(v[t[:, 1]], v[t[:, 2]])) / 6.0
    volume = np.bincount(layer.triangle_object, signed, minlength=len(layer.objects))
    buildings = (layer.objects["type"] == "Building").to_numpy()
    assert (volume[buildings] > 0).all()


def test_attributes_are_flattened_into_columns():
    layer = _load("rotterdam_subset_v1.0.json", "EPSG:7415")
    assert list(layer.objects.columns[:4]) == ["object_id", "type", "lod", "parent"]
    assert (layer.objects["bron_tex"] == "UltraCAM-X 10cm juni 2008").all()
    # multi_lod has an attribute called "fid": it must not clash with the index
    assert "attr_fid" in _load("multi_lod.json", "EPSG:7415").objects.columns


def test_missing_textures_are_ignored_with_a_warning():
    result = load_layer(LayerSource(DATA / "rotterdam_subset_v1.0.json"), project_crs="EPSG:7415")
    assert any("74 of 74 texture image(s) are missing" in w for w in result.warnings)


def test_transform_into_project_crs_matches_pyproj_and_keeps_z():
    local = _load("delft.json", "EPSG:7415")
    projected = _load("delft.json", "EPSG:4549")
    expect_x, expect_y = Transformer.from_crs("EPSG:28992", "EPSG:4549", always_xy=True).transform(
        local.vertices[:, 0], local.vertices[:, 1])
    np.testing.assert_allclose(projected.vertices[:, 0], expect_x, atol=1e-6)
    np.testing.assert_allclose(projected.vertices[:, 1], expect_y, atol=1e-6)
    np.testing.assert_array_equal(projected.vertices[:, 2], local.vertices[:, 2])
    assert projected.crs.to_epsg() == 4549
    assert projected.metadata["source_crs"] == "EPSG:7415"


def _write_cityjson(path: Path, vertices, boundaries, *, crs="https://www.opengis.net/def/crs/EPSG/0/4528",
                    gtype="MultiSurface", semantics=None, transform=None) -> Path:
    geometry = {"type": gtype, "lod": "2", "boundaries": boundaries}
    if semantics:
        geometry["semantics"] = semantics
    doc = {"type": "CityJSON", "version": "2.0", "CityObjects": {"B1": {"type": "Building", "geometry": [geometry],
                                                                        "attributes": {"name": "测试楼"}}},
           "vertices": vertices, "metadata": {"referenceSystem": crs}}
    if transform:
        doc["transform"] = transform
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_zone_prefixed_gauss_kruger_lands_without_the_prefix(tmp_path):
    # integer vertices × scale + translate, in EPSG:4528 (false easting 40 500 000)
    path = _write_cityjson(tmp_path / "qd.city.json", [[0, 0, 0], [10000, 0, 0], [10000, 10000, 5000]],
                           [[[0, 1, 2]]], transform={"scale": [0.001, 0.001, 0.001],
                                                     "translate": [40534231.97, 3993376.68, 10.0]})
    layer = load_layer(LayerSource(path)).layer
    np.testing.assert_allclose(layer.vertices, [[534231.97, 3993376.68, 10.0], [534241.97, 3993376.68, 10.0],
                                                [534241.97, 3993386.68, 15.0]], atol=1e-6)
    assert layer.objects.loc[0, "name"] == "测试楼"


def test_surface_with_a_hole_is_triangulated_to_its_area(tmp_path):
    square = [[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0]]
    hole = [[4, 4, 0], [4, 6, 0], [6, 6, 0], [6, 4, 0]]
    # tilted plane z = x (so the 2D projection matters); area scales by sqrt(2)
    verts = [[x, y, x] for x, y, _ in square + hole]
    path = _write_cityjson(tmp_path / "hole.json", verts, [[[0, 1, 2, 3], [4, 5, 6, 7]]], crs="EPSG:4549",
                           semantics={"surfaces": [{"type": "RoofSurface"}], "values": [0]})
    layer = load_layer(LayerSource(path)).layer
    v, t = layer.vertices, layer.triangles
    area = 0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)
    assert area.sum() == pytest.approx(96 * np.sqrt(2))
    assert (layer.triangle_semantic == SEMANTIC_CODES["RoofSurface"]).all()
    normal = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    assert (normal @ np.array([-1.0, 0.0, 1.0]) > 0).all()  # counter-clockwise seen from above


def test_concave_quad_is_not_fanned_across_its_outside(tmp_path):
    # an arrow-head quad: fanning from vertex 0 would cover area outside the polygon
    verts = [[0, 0, 0], [2, 1, 0], [4, 0, 0], [2, 4, 0]]
    path = _write_cityjson(tmp_path / "arrow.json", verts, [[[2, 3, 0, 1]]], crs="EPSG:4549")
    layer = load_layer(LayerSource(path)).layer
    v, t = layer.vertices, layer.triangles
    area = 0.5 * np.abs(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])[:, 2])
    assert area.sum() == pytest.approx(6.0)


def test_broken_vertex_index_names_the_file_and_object(tmp_path):
    path = _write_cityjson(tmp_path / "broken.json", [[0, 0, 0], [1, 0, 0], [1, 1, 0]], [[[0, 1, 7]]],
                           crs="EPSG:4549")
    with pytest.raises(ReadError, match=r"^'broken.json': city object 'B1' refers to vertex 7 but the file has only "
                                        r"3 vertices$"):
        load_layer(LayerSource(path))


def test_not_cityjson_and_unsupported_version_are_refused(tmp_path):
    bad = tmp_path / "bad.city.json"
    bad.write_text("{\"type\": \"CityJSON\", \"version\": \"0.9\", \"CityObjects\": {}}")
    with pytest.raises(ReadError, match=r"'bad.city.json': CityJSON version '0.9' is not supported"):
        load_layer(LayerSource(bad, crs="EPSG:4549"))
    cut = tmp_path / "cut.city.json"
    cut.write_bytes((DATA / "multi_lod.json").read_bytes()[:5000])
    with pytest.raises(ReadError, match=r"^cannot read 'cut.city.json': not valid JSON"):
        load_layer(LayerSource(cut, crs="EPSG:7415"))


def test_request_fids_bbox_and_no_geometry(tmp_path):
    full = _load("rotterdam_subset_v1.0.json", "EPSG:7415")
    some = load_layer(LayerSource(DATA / "rotterdam_subset_v1.0.json"), project_crs="EPSG:7415",
                      request=FeatureRequest(fids=(2, 5))).layer
    assert list(some.objects.index) == [2, 5]
    assert set(np.unique(some.triangle_object)) == {2, 5}
    assert list(some.objects["object_id"]) == list(full.objects.loc[[2, 5], "object_id"])
    # a bbox around object 5's triangles selects it (and maybe neighbours), not everything
    xy = full.vertices[full.triangles[full.triangle_object == 5].ravel(), :2]
    box = (*xy.min(axis=0), *xy.max(axis=0))
    near = load_layer(LayerSource(DATA / "rotterdam_subset_v1.0.json"), project_crs="EPSG:7415",
                      request=FeatureRequest(bbox=box)).layer
    assert 5 in set(near.objects.index) and len(near.objects) < len(full.objects)
    bare = load_layer(LayerSource(DATA / "rotterdam_subset_v1.0.json"), project_crs="EPSG:7415",
                      request=FeatureRequest(no_geometry=True)).layer
    assert len(bare.triangles) == 0 and len(bare.objects) == 16


def test_cancel_stops_the_read():
    with pytest.raises(Cancelled):
        load_layer(LayerSource(DATA / "delft.json"), is_cancelled=lambda: True)


def test_progress_is_reported_up_to_one():
    seen: list[float] = []
    load_layer(LayerSource(DATA / "zurich_subset_lod2.json"), progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
