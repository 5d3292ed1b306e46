"""Scene export: the .glb loads with pygltflib, one node per visible layer, origin recorded, geometry in place."""

from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest

from qdt.cli.main import main
from qdt.export import ExportError
from qdt.export.gltf import export_gltf
from qdt.project import open_project
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture(scope="module")
def project():
    project = open_project(SAMPLE_PROJECT)
    for name in ("数字高程模型", "网格"):  # the two big meshes: keep the tests quick
        project.layers[name].visible = False
    return project


def _accessor_array(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    blob = gltf.binary_blob()
    dtype = {5126: np.float32, 5121: np.uint8, 5125: np.uint32}[accessor.componentType]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[accessor.type]
    start = view.byteOffset + (accessor.byteOffset or 0)
    return np.frombuffer(blob, dtype=dtype, count=accessor.count * width, offset=start).reshape(accessor.count, width)


def test_glb_loads_with_one_node_per_visible_layer(tmp_path, project):
    summary = export_gltf(project.layers, tmp_path / "scene.glb", crs=project.crs, height_datum=project.height_datum)
    gltf = pygltflib.GLTF2().load(str(summary.path))
    visible = [layer.name for layer in project.layers if layer.visible and layer.name not in ("正射影像", "杆载设备")]
    names = [node.name for node in gltf.nodes]
    assert names[0] == "qdt_scene"
    assert names[1:] == visible
    assert len(gltf.nodes) == 1 + len(visible) == summary.node_count
    assert gltf.nodes[0].children == list(range(1, len(gltf.nodes)))
    extras = gltf.nodes[0].extras["qdt"]
    assert extras["crs"] == "EPSG:4549" and extras["height_datum"] == "EPSG:5737"
    assert extras["origin"] == pytest.approx(list(summary.origin))
    # the buildings' vertices lie over their footprints (local = world - origin)
    buildings = project.layers["建筑"]
    mesh = gltf.meshes[gltf.nodes[names.index("建筑")].mesh]
    positions = _accessor_array(gltf, mesh.primitives[0].attributes.POSITION)
    x0, y0, x1, y1 = buildings.bounds
    ox, oy, _ = summary.origin
    assert positions[:, 0].min() == pytest.approx(x0 - ox, abs=0.5)
    assert positions[:, 1].max() == pytest.approx(y1 - oy, abs=0.5)
    assert positions[:, 2].max() == pytest.approx(buildings.frame["height"].max(), abs=30)  # roofs on the ground
    colours = _accessor_array(gltf, mesh.primitives[0].attributes.COLOR_0)[:, :3]
    assert len(np.unique(colours, axis=0)) >= 5  # the graduated style's classes
    assert summary.triangle_count > 10000


def test_hidden_layer_leaves_the_file_and_selection_colour_is_kept(tmp_path, project):
    pipes = project.layers["地下管线"]
    lights = project.layers["路灯"]
    pipes.visible = False
    lights.selection = lights.fids.tolist()
    try:
        summary = export_gltf(project.layers, tmp_path / "s.glb")
    finally:
        pipes.visible = True
        lights.selection = []
    gltf = pygltflib.GLTF2().load(str(summary.path))
    names = [node.name for node in gltf.nodes]
    assert "地下管线" not in names and "路灯" in names
    mesh = gltf.meshes[gltf.nodes[names.index("路灯")].mesh]
    colours = np.concatenate([_accessor_array(gltf, p.attributes.COLOR_0)[:, :3] for p in mesh.primitives
                              if p.attributes.COLOR_0 is not None])
    assert (colours == [255, 255, 0]).all(axis=1).mean() > 0.9  # all selected: highlight yellow


def test_glb_container_is_valid(tmp_path, project):
    summary = export_gltf(project.layers, tmp_path / "c.glb")
    raw = summary.path.read_bytes()
    assert raw[:4] == b"glTF" and int.from_bytes(raw[4:8], "little") == 2
    assert int.from_bytes(raw[8:12], "little") == len(raw)
    length = int.from_bytes(raw[12:16], "little")
    doc = json.loads(raw[20:20 + length])
    for accessor in doc["accessors"]:
        view = doc["bufferViews"][accessor["bufferView"]]
        assert view["byteOffset"] % 4 == 0
    for mesh in doc["meshes"]:
        for primitive in mesh["primitives"]:
            assert "min" in doc["accessors"][primitive["attributes"]["POSITION"]]


def test_errors_and_cli(tmp_path, capsys):
    from qdt.layers import LayerList

    with pytest.raises(ExportError, match="no visible layer"):
        export_gltf(LayerList(), tmp_path / "empty.glb")
    with pytest.raises(ExportError, match=r"\.glb"):
        export_gltf(LayerList(), tmp_path / "scene.gltf")
    out = tmp_path / "cli.glb"
    assert main(["export-scene", str(SAMPLE_PROJECT), "--out", str(out), "--quiet"]) == 0
    assert "origin" in capsys.readouterr().out
    gltf = pygltflib.GLTF2().load(str(out))
    assert gltf.textures and gltf.images  # the orthophoto drapes the terrain
    assert main(["export-scene", str(SAMPLE_PROJECT), "--out", str(tmp_path / "x.obj")]) == 2


def test_sample_export_is_small_valid_and_keeps_its_layers(tmp_path):
    """Issue 14 item 11: the whole sample (terrain, zones, everything) under 40 MB, one node per layer,
    no Khronos validator error; the terrain is a TIN within the stated tolerance of the DEM."""
    from qdt.export.gltf import TERRAIN_TOLERANCE_M, terrain_tin
    from qdt.render.geometry import terrain_grid
    from tests.gltf_validator import validate

    project = open_project(SAMPLE_PROJECT)
    summary = export_gltf(project.layers, tmp_path / "sample.glb", crs=project.crs)
    size = summary.path.stat().st_size
    assert size < 40 * 1024 * 1024, f"{size / 1e6:.1f} MB"
    gltf = pygltflib.GLTF2().load(str(summary.path))
    drawn = [layer.name for layer in project.layers if layer.visible and layer.name not in ("正射影像", "杆载设备")]
    assert [node.name for node in gltf.nodes] == ["qdt_scene", *drawn]
    (report,) = validate(summary.path)
    assert report["errors"] == 0, report["messages"][:5]
    # the terrain: far fewer vertices than the grid, every grid vertex within the tolerance
    dem = project.layers["数字高程模型"]
    grid = terrain_grid(dem)
    points, triangles, _ = terrain_tin(grid)
    assert len(points) < grid.z.size / 50
    rng = np.random.default_rng(7)
    rows, cols = grid.shape
    pick = rng.integers(0, rows * cols, 3000)
    z = grid.z.ravel()[pick]
    xy = np.stack([grid.x.ravel()[pick], grid.y.ravel()[pick]], axis=1)
    a, b, c = (points[triangles[:, k]] for k in range(3))
    det = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    l1 = ((b[:, 1] - c[:, 1])[None] * (xy[:, :1] - c[None, :, 0]) + (c[:, 0] - b[:, 0])[None]
          * (xy[:, 1:] - c[None, :, 1])) / det[None]
    l2 = ((c[:, 1] - a[:, 1])[None] * (xy[:, :1] - c[None, :, 0]) + (a[:, 0] - c[:, 0])[None]
          * (xy[:, 1:] - c[None, :, 1])) / det[None]
    l3 = 1 - l1 - l2
    inside = (l1 >= -1e-9) & (l2 >= -1e-9) & (l3 >= -1e-9)
    found = inside.any(axis=1) & np.isfinite(z)
    tri = inside.argmax(axis=1)[found]
    k = np.flatnonzero(found)
    surface = l1[k, tri] * a[tri, 2] + l2[k, tri] * b[tri, 2] + l3[k, tri] * c[tri, 2]
    assert found.sum() > 1500
    assert np.abs(surface - z[found]).max() <= TERRAIN_TOLERANCE_M + 1e-3
