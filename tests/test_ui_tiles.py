"""The window with the new 3D bases: a local 3D Tiles set anchored in Qingdao streams in, an IFC building
placed by its map conversion, both picked with a real click (IFC class, storey, property sets; the tile
content); a CityGML file added through the add-layer path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox

from tests.ifc_building import make_building
from tests.test_ui_mainwindow import click_world, close_window, load, open_window

DATA = Path(__file__).parent / "data"
TILESET = DATA / "3dtiles" / "1.1" / "MultipleContents" / "tileset.json"


def _inspector_values(window) -> list[str]:
    tree = window.inspector.tree
    return [tree.topLevelItem(i).text(1) for i in range(tree.topLevelItemCount())]


def _project(tmp_path: Path) -> Path:
    make_building(tmp_path / "b.ifc", millimetres=True, map_conversion=(534600.0, 3992250.0, 5.0))
    path = tmp_path / "bim.qdt"
    path.write_text(json.dumps({
        "format": "qdt-project", "version": 1, "name": "BIM 与 3D Tiles", "crs": "EPSG:4549",
        "layers": [{"name": "BIM", "kind": "citymodel", "source": "b.ifc"},
                   {"name": "样例瓦片", "kind": "tileset", "source": str(TILESET),
                    "anchor": [534620.0, 3992260.0, 5.0, 0.0]}]}, ensure_ascii=False))
    return path


def test_ifc_and_tileset_open_stream_and_pick_in_the_window(qtbot, tmp_path):
    window = open_window(qtbot)
    try:
        load(window, qtbot, _project(tmp_path))
        bim = next(layer for layer in window.project.layers if layer.name == "BIM")
        tiles = next(layer for layer in window.project.layers if layer.name == "样例瓦片")
        assert window.scene.visual(bim).parts and len(tiles.triangles) > 0
        assert window.tile_streaming.layers() == [tiles]
        # the streaming timer keeps the tileset loaded while the window lives; it never blocks
        qtbot.waitUntil(lambda: not tiles.streamer.busy, timeout=10_000)
        wall = int(bim.objects.index[bim.objects["name"] == "墙1"][0])
        assert window.fly_to_feature(bim, wall)
        window.view.render_image()
        xmin, xmax, ymin, ymax, zmin, zmax = window.scene.feature_bounds(bim, wall)
        hit = click_world(window, qtbot, (xmin + 2.0, ymin, (zmin + zmax) / 2))  # beside the door
        assert hit is not None and hit.layer is bim and hit.fid == wall
        texts = _inspector_values(window)
        assert "IfcWall" in texts and "一层" in texts and "REI90" in texts
        # the tile content, picked on its plane
        centre = tiles.vertices[tiles.triangles[len(tiles.triangles) // 2]].mean(axis=0)
        window.scene.set_camera({"position": list(centre + [0, -30, 40]), "focal_point": list(centre),
                                 "view_up": [0, 0, 1], "view_angle": 30.0})
        window.view.render_image()
        hit = click_world(window, qtbot, tuple(centre))
        assert hit is not None and hit.layer is tiles
        texts = _inspector_values(window)
        assert "planeTriangles.glb" in texts
    finally:
        close_window(window)
    assert tiles.streamer.closed


def test_citygml_added_through_the_add_layer_path(qtbot, tmp_path):
    window = open_window(qtbot)
    try:
        project = tmp_path / "jp.qdt"
        project.write_text(json.dumps({"format": "qdt-project", "version": 1, "name": "PLATEAU",
                                       "crs": "EPSG:6677", "layers": []}))
        load(window, qtbot, project)
        window.add_layer_files([DATA / "citygml" / "Issue32_13101-bldg-365.gml"], ask=False)  # a background task
        qtbot.waitUntil(lambda: len(window.project.layers) == 1, timeout=60_000)
        layer = window.project.layers[0]
        assert layer.feature_count == 1 and np.bincount(layer.triangle_semantic).size >= 4
        qtbot.waitUntil(lambda: window.scene.visual(layer) is not None, timeout=30_000)
    finally:
        close_window(window)


def test_tiles_refine_in_the_background_as_the_camera_comes_closer(qtbot, tmp_path):
    """TilesetWithDiscreteLOD (REPLACE): seen from afar the low dragon, close up the medium one streams in
    on the loader threads while the window keeps running (the high one is missing: reported once)."""
    project = tmp_path / "lod.qdt"
    project.write_text(json.dumps({"format": "qdt-project", "version": 1, "name": "LOD", "crs": "EPSG:32618",
                                   "layers": [{"name": "dragon", "kind": "tileset", "source": str(
                                       DATA / "3dtiles" / "1.0" / "TilesetWithDiscreteLOD" / "tileset.json")}]}))
    window = open_window(qtbot)
    try:
        load(window, qtbot, project)
        layer = window.project.layers[0]
        streamer = layer.streamer
        shown = {Path(p).name for p in streamer._published or ()}
        assert shown == {"dragon_low.b3dm"}
        low = len(layer.triangles)
        x0, y0, x1, y1 = layer.bounds
        z0, z1 = layer.z_range
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2])
        window.scene.set_camera({"position": list(centre + [0, -300, 150]), "focal_point": list(centre),
                                 "view_up": [0, 0, 1], "view_angle": 30.0})
        window.view.camera_changed.emit()
        qtbot.waitUntil(lambda: {Path(p).name for p in streamer._published or ()} == {"dragon_medium.b3dm"},
                        timeout=30_000)
        assert len(layer.triangles) > low
        assert sum("dragon_high.b3dm" in m for m in streamer.problems) == 1
    finally:
        close_window(window)


def test_set_anchor_from_the_layer_menu_moves_the_model_and_is_saved(qtbot, tmp_path):
    make_building(tmp_path / "local.ifc")
    project = tmp_path / "p.qdt"
    project.write_text(json.dumps({"format": "qdt-project", "version": 1, "name": "BIM", "crs": "EPSG:4549",
                                   "layers": [{"name": "BIM", "kind": "citymodel", "source": "local.ifc",
                                               "anchor": [534700.0, 3992300.0, 2.0]}]}))
    window = open_window(qtbot)
    try:
        load(window, qtbot, project)
        layer = window.project.layers[0]
        action = next(a for a in window.findChildren(QAction) if a.objectName() == "act_set_anchor")
        action.trigger()
        dialog = window.workbench.panels["anchor"].dialog
        qtbot.waitUntil(dialog.isVisible, timeout=5000)
        assert dialog.fields["x"].value() == 534700.0
        dialog.fields["x"].setValue(534750.0)
        dialog.fields["rotation"].setValue(90.0)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        x0, y0, x1, y1 = layer.bounds
        assert x1 == pytest.approx(534750.0 + 0.05, abs=0.06) and y1 == pytest.approx(3992310.0, abs=0.06)
        assert window.project.dirty
        window.save_project(tmp_path / "p2.qdt")
        saved = json.loads((tmp_path / "p2.qdt").read_text(encoding="utf-8"))
        assert saved["layers"][0]["anchor"] == [534750.0, 3992300.0, 2.0, 90.0]
    finally:
        close_window(window)
