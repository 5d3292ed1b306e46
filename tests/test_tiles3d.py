"""3D Tiles: the CesiumGS samples read (1.0 and 1.1), placement in the project CRS, streaming, bad input,
``qdt info`` / ``qdt snapshot``, and ``qdt export-tiles`` read back by QDT and by an independent reader."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from qdt.cli.main import main
from qdt.io import LayerSource, ReadError, dataset_info, load_layer
from qdt.io.tiles3d import (
    TilesetError,
    ViewParams,
    ecef_to_geographic,
    enu_frame,
    open_tileset,
    read_content,
    select_tiles,
)
from qdt.io.tiles3d_layer import Placement
from qdt.layers import TilesetLayer
from tests.conftest import SAMPLE_PROJECT
from tests.gltf_validator import ROOT, validate

DATA = Path(__file__).parent / "data" / "3dtiles"
REQUEST_VOLUME = DATA / "1.0" / "TilesetWithRequestVolume" / "tileset.json"
DISCRETE_LOD = DATA / "1.0" / "TilesetWithDiscreteLOD" / "tileset.json"
IMPLICIT = DATA / "1.1" / "SparseImplicitQuadtree" / "tileset.json"
MULTIPLE = DATA / "1.1" / "MultipleContents" / "tileset.json"
BOXES = DATA / "1.1" / "BoundingBoxTests"


def test_request_volume_external_tileset_b3dm_batch_table_and_point_cloud():
    tileset = open_tileset(REQUEST_VOLUME)
    assert tileset.version == "1.0" and tileset.external_tilesets == 1
    assert len(tileset.tiles) == 9 and tileset.content_count == 6 and tileset.problems == []
    names = sorted(Path(p).name for t in tileset.tiles for p in t.contents)
    assert names == ["building.b3dm", "ll.b3dm", "lr.b3dm", "points.pnts", "ul.b3dm", "ur.b3dm"]
    for tile in tileset.tiles:
        for path in tile.contents:
            content = read_content(path, tile.transform)
            xyz = np.vstack([content.positions, content.points])
            lo, hi = tile.corners.min(axis=0), tile.corners.max(axis=0)
            # every vertex inside its tile's volume: transforms, RTC_CENTER and the y-up turn are right
            assert (xyz >= lo - 0.01).all() and (xyz <= hi + 0.01).all(), path
    city = next(t for t in tileset.tiles for p in t.contents if p.endswith("ll.b3dm"))
    content = read_content(next(p for p in city.contents), city.transform)
    assert len(content.properties) == 10 and {"id", "Longitude", "Latitude", "Height"} <= set(content.properties)
    # each building's batch-table position (radians) lies on the building read from the glTF
    geo = ecef_to_geographic(content.positions)
    for fid in range(10):
        verts = geo[np.unique(content.triangles[content.triangle_feature == fid])]
        lon, lat = np.degrees(content.properties.loc[fid, ["Longitude", "Latitude"]].astype(float))
        assert verts[:, 0].min() - 1e-5 <= lon <= verts[:, 0].max() + 1e-5
        assert verts[:, 1].min() - 1e-5 <= lat <= verts[:, 1].max() + 1e-5
    points = next(t for t in tileset.tiles for p in t.contents if p.endswith(".pnts"))
    cloud = read_content(points.contents[0], points.transform)
    assert len(cloud.points) == 125000 and cloud.point_colour is not None


def test_box_volumes_in_every_axis_order_hold_their_content():
    for folder in sorted(BOXES.iterdir()):
        if not folder.is_dir():
            continue
        tileset = open_tileset(folder / "tileset.json")
        tile = tileset.root
        content = read_content(tile.contents[0], tile.transform)
        lo, hi = content.positions.min(axis=0), content.positions.max(axis=0)
        expected = [float(v) for v in folder.name.replace("-", "_").split("_")]
        assert lo.tolist() == pytest.approx(expected[:3], abs=1e-6), folder.name
        assert hi.tolist() == pytest.approx(expected[3:], abs=1e-6), folder.name


def test_implicit_quadtree_with_subtrees_and_multiple_contents():
    tileset = open_tileset(IMPLICIT)
    assert tileset.version == "1.1" and tileset.is_local
    assert len(tileset.tiles) == 63 and tileset.content_count == 32
    levels = {t.key.split("/")[0] for t in tileset.tiles if t.contents}
    assert levels == {"5"}  # content only on the deepest available level of this sample
    leaf = next(t for t in tileset.tiles if t.contents)
    assert Path(leaf.contents[0]).exists()
    assert leaf.geometric_error == pytest.approx(32.0 / 2 ** 5)
    multiple = open_tileset(MULTIPLE)
    assert [Path(p).name for p in multiple.root.contents] == ["planeTriangles.glb", "planePoints.glb"]
    kinds = [read_content(p, multiple.root.transform) for p in multiple.root.contents]
    assert len(kinds[0].triangles) > 0 and len(kinds[1].points) > 0


def test_missing_dragon_is_reported_once_and_the_other_levels_show(tmp_path):
    result = load_layer(LayerSource(DISCRETE_LOD, crs=None), project_crs="EPSG:32618")
    layer = result.layer
    assert isinstance(layer, TilesetLayer)
    missing = [w for w in result.warnings if "dragon_high.b3dm" in w]
    assert len(missing) == 1 and "not found" in missing[0]
    assert len(layer.triangles) > 1000  # REPLACE keeps the medium dragon drawn where high is missing
    layer.streamer.update(None)
    assert layer.streamer.new_problems() == []  # not reported again
    layer.streamer.close()


def test_streaming_refines_by_screen_space_error_nearest_first_within_budget():
    tileset = open_tileset(DISCRETE_LOD)
    root = tileset.root
    far = root.sphere[0] * 1.5
    draw, wanted = select_tiles(root, ViewParams(tuple(far)), loaded=lambda t: False)
    assert draw == [] and [Path(p).name for p in wanted[0].contents] == ["dragon_low.b3dm"]
    near = root.sphere[0] + (root.sphere[0] / np.linalg.norm(root.sphere[0])) * 50.0
    loaded = {id(root)}
    draw, wanted = select_tiles(root, ViewParams(tuple(near)), loaded=lambda t: id(t) in loaded)
    assert draw == [root]  # children not loaded yet: the parent stays (no hole)
    assert [Path(p).name for p in wanted[0].contents] == ["dragon_medium.b3dm"]
    # a budget of nothing loads nothing more and says so
    layer = load_layer(LayerSource(REQUEST_VOLUME), project_crs="EPSG:32618").layer
    streamer = layer.streamer
    assert streamer.memory_used > 0 and not streamer.busy
    streamer.memory_budget = 0
    streamer.cache.clear()
    streamer.update(None)
    assert streamer.over_budget and streamer.memory_used == 0
    streamer.close()


def test_ecef_placement_in_epsg4549_to_the_centimetre():
    """A point at 五四广场 placed through ECEF lands where pyproj puts its longitude/latitude."""
    lon, lat, h = 120.3845, 36.0617, 12.5
    frame = enu_frame(lon, lat, h)
    offsets = np.array([[0.0, 0.0, 0.0], [250.0, -130.0, 40.0], [-800.0, 600.0, 3.0]])
    ecef = offsets @ frame[:3, :3].T + frame[:3, 3]
    placed = Placement(__import__("pyproj").CRS.from_epsg(4549), local=False)(ecef)
    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(lon, lat)
    assert placed[0, :2] == pytest.approx([x0, y0], abs=0.01) and placed[0, 2] == pytest.approx(h, abs=0.01)
    # east/north metres stay metres (grid convergence turns them by < 0.3° here, scale ~1.0000)
    assert np.linalg.norm(placed[1, :2] - placed[0, :2]) == pytest.approx(np.hypot(250, 130), rel=2e-4)


def test_bad_tilesets_give_one_clear_message(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    doc = json.loads(REQUEST_VOLUME.read_text())
    doc["root"]["children"][1]["content"]["uri"] = "../../secret.b3dm"
    (outside / "tileset.json").write_text(json.dumps(doc))
    with pytest.raises(TilesetError, match="outside the tileset's folder"):
        open_tileset(outside / "tileset.json")
    # a truncated b3dm: reported, the rest still loads
    copy = tmp_path / "rv"
    shutil.copytree(REQUEST_VOLUME.parent, copy)
    data = (copy / "city" / "ll.b3dm").read_bytes()
    (copy / "city" / "ll.b3dm").write_bytes(data[: len(data) // 2])
    with pytest.raises(TilesetError, match=r"ll\.b3dm.*truncated"):
        tile = next(t for t in open_tileset(copy / "tileset.json").tiles for p in t.contents if p.endswith("ll.b3dm"))
        read_content(tile.contents[0], tile.transform)
    result = load_layer(LayerSource(copy / "tileset.json"), project_crs="EPSG:32618")
    assert sum("ll.b3dm" in w for w in result.warnings) == 1
    assert len(result.layer.triangles) > 0
    result.layer.streamer.close()
    (tmp_path / "broken.json").write_text('{"asset": {"version": "1.0"}, "geometricError": 1, "root": ')
    with pytest.raises(ReadError):
        load_layer(LayerSource(tmp_path / "broken.json", kind="tileset"))
    # a tileset far outside EPSG:4549's zone: refused with where it is, not a crash
    with pytest.raises(ReadError, match="outside the area of use of EPSG:4549"):
        load_layer(LayerSource(REQUEST_VOLUME))


def test_qdt_info_prints_version_tiles_contents_error_and_bbox(capsys):
    assert main(["info", str(DISCRETE_LOD)]) == 0
    out = capsys.readouterr().out
    assert "3D Tiles 1.0  3 tiles  3 contents" in out and "geometric error 500.0" in out
    assert "dragon_high.b3dm" in out and "EPSG:4326" in out
    (info,) = dataset_info(REQUEST_VOLUME)
    assert info["external_tilesets"] == 1 and info["tiles"] == 9
    assert info["lonlat_bbox"][0] == pytest.approx(-75.614, abs=0.01)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiles") / "city"
    assert main(["export-tiles", str(SAMPLE_PROJECT), "--out", str(out), "--quiet", "--max-features", "150",
                 "--layers", "建筑", "地标建筑(LOD2)", "路灯"]) == 0
    return out


def test_export_tiles_is_a_quadtree_of_valid_glb(exported):
    doc = json.loads((exported / "tileset.json").read_text())
    assert doc["asset"]["version"] == "1.1" and "region" in doc["root"]["boundingVolume"]
    assert doc["root"]["children"] and doc["root"]["geometricError"] > 0
    glbs = sorted((exported / "tiles").glob("*.glb"))
    assert len(glbs) > 4
    reports = validate(*glbs)
    assert all(r["errors"] == 0 for r in reports), [r for r in reports if r["errors"]][:1]


def test_export_tiles_reads_back_in_qdt_within_a_centimetre(exported):
    from qdt.cli.snapshot import open_project_to_render
    from qdt.export.tiles3d import layer_features
    from qdt.render.scene import Scene

    project = open_project_to_render("test", SAMPLE_PROJECT)
    scene = Scene(project.layers, lod=False)
    try:
        original = layer_features(scene, project.layers["建筑"])
    finally:
        scene.close()
    result = load_layer(LayerSource(exported / "tileset.json"))
    layer = result.layer
    assert result.warnings == []
    objects = layer.objects
    buildings = objects[objects["content"].notna() & objects.get("height").notna()]
    assert len(objects) == 727 + 5 + 915  # every feature once
    # per building: its read-back vertices' extent equals the original's to 1 cm
    rows = objects.index[objects["fid"].notna()]
    checked = 0
    for fid in original.table.index[:60]:
        mine = original.vertices[np.unique(original.triangles[original.triangle_fid == fid])]
        match = objects[(objects["fid"] == fid) & objects["height"].notna()]
        if len(match) != 1:
            continue
        back = layer.vertices[np.unique(layer.triangles[layer.triangle_object == match.index[0]])]
        assert back.min(axis=0) == pytest.approx(mine.min(axis=0), abs=0.01)
        assert back.max(axis=0) == pytest.approx(mine.max(axis=0), abs=0.01)
        checked += 1
    assert checked >= 50 and len(rows) and len(buildings)
    assert objects.loc[match.index[0], "height"] == pytest.approx(float(original.table.loc[fid, "height"]))
    layer.streamer.close()


def test_export_tiles_reads_back_in_an_independent_reader(exported):
    run = subprocess.run(["node", str(ROOT / "tools" / "read_tiles.mjs"), str(exported / "tileset.json")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-500:]
    report = json.loads(run.stdout)
    doc = json.loads((exported / "tileset.json").read_text())
    assert report["outside_region"] == 0 and report["contents"] == len(list((exported / "tiles").glob("*.glb")))
    assert report["layers"] == {"建筑": 727, "地标建筑(LOD2)": 5, "路灯": 915}
    lon0, lat0, lon1, lat1 = (np.degrees(v) for v in doc["root"]["boundingVolume"]["region"][:4])
    assert 120.3 < report["lonlat_min"][0] and report["lonlat_max"][0] < 120.5  # Qingdao, Shinan
    assert lon0 - 1e-7 <= report["lonlat_min"][0] and report["lonlat_max"][1] <= lat1 + 1e-7


def test_export_tiles_user_errors(tmp_path, capsys):
    assert main(["export-tiles", str(SAMPLE_PROJECT), "--out", str(tmp_path / "x"), "--layers", "没有"]) == 2
    assert "no layer named '没有'" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert main(["export-tiles", str(SAMPLE_PROJECT), "--out", str(tmp_path / "taken"), "--layers", "建筑"]) == 2
    assert "not a tileset folder" in capsys.readouterr().err
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_snapshot_draws_a_tileset(tmp_path):
    project = tmp_path / "rv.qdt"
    project.write_text(json.dumps({"format": "qdt-project", "version": 1, "name": "3D Tiles", "crs": "EPSG:32618",
                                   "layers": [{"name": "样例", "kind": "tileset",
                                               "source": str(REQUEST_VOLUME)}]}))
    out = tmp_path / "rv.png"
    assert main(["snapshot", str(project), "--out", str(out), "--width", "400", "--height", "300",
                 "--no-overlays", "--quiet"]) == 0
    from PIL import Image

    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    sky = image[0, 0]
    drawn = (np.abs(image - sky).sum(axis=2) > 60).mean()
    assert drawn > 0.01  # the buildings are drawn, not an empty sky


def test_struct_header_of_written_glb_is_glb(exported):
    data = next((exported / "tiles").glob("*.glb")).read_bytes()
    assert data[:4] == b"glTF" and struct.unpack_from("<I", data, 8)[0] == len(data)


def _padded(data: bytes, pad: bytes = b" ") -> bytes:
    return data + pad * (-len(data) % 8)


def test_i3dm_instances_and_cmpt_wrapping(tmp_path):
    """i3dm (3D Tiles 1.0 instanced model) with positions, scale and a batch table, inside a cmpt."""
    glb = (DATA / "1.1" / "MultipleContents" / "planeTriangles.glb").read_bytes()
    glb = _padded(glb, b"\0")
    positions = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]], dtype=np.float32)
    feature_json = _padded(json.dumps({"INSTANCES_LENGTH": 2, "POSITION": {"byteOffset": 0},
                                       "SCALE": {"byteOffset": 24}, "RTC_CENTER": [10.0, 20.0, 30.0]}).encode())
    feature_bin = _padded(positions.tobytes() + np.array([1.0, 2.0], dtype=np.float32).tobytes(), b"\0")
    batch_json = _padded(json.dumps({"name": ["first", "second"]}).encode())
    body = feature_json + feature_bin + batch_json + glb
    header = struct.pack("<4s7I", b"i3dm", 1, 32 + len(body), len(feature_json), len(feature_bin),
                         len(batch_json), 0, 1)
    i3dm = header + body
    cmpt = struct.pack("<4sIII", b"cmpt", 1, 16 + len(i3dm), 1) + i3dm
    (tmp_path / "inst.cmpt").write_bytes(cmpt)
    content = read_content(str(tmp_path / "inst.cmpt"), np.eye(4))
    single = read_content(str(DATA / "1.1" / "MultipleContents" / "planeTriangles.glb"), np.eye(4))
    assert len(content.triangles) == 2 * len(single.triangles)
    assert list(content.properties["name"]) == ["first", "second"]
    first = content.positions[np.unique(content.triangles[content.triangle_feature == 0])]
    second = content.positions[np.unique(content.triangles[content.triangle_feature == 1])]
    span = single.positions.max(axis=0) - single.positions.min(axis=0)
    assert (first.max(axis=0) - first.min(axis=0)) == pytest.approx(span, abs=1e-6)
    assert (second.max(axis=0) - second.min(axis=0)) == pytest.approx(2 * span, abs=1e-6)  # SCALE 2
    assert first.min(axis=0) == pytest.approx(single.positions.min(axis=0) + [10, 20, 30], abs=1e-5)
    assert second.min(axis=0)[0] == pytest.approx(110 + 2 * single.positions.min(axis=0)[0], abs=1e-5)
