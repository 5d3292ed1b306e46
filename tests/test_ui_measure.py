"""Measure tools: exact geometry, and real clicks in the 3D view of the sample project."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from qdt.render.overlay import horizontal_length, length_3d, polygon_area, polygon_perimeter
from tests.conftest import SAMPLE_PROJECT
from tests.test_ui_mainwindow import LOAD_TIMEOUT, close_window, open_window
from tests.test_ui_mainwindow import click_world as click


def test_measure_geometry_known_values():
    pts = [(534000.0, 3993000.0, 10.0), (534003.0, 3993004.0, 22.0)]
    assert horizontal_length(pts) == pytest.approx(5.0, abs=1e-9)
    assert length_3d(pts) == pytest.approx(13.0, abs=1e-9)
    square = [(534000.0, 3993000.0, 0.0), (534100.0, 3993000.0, 5.0), (534100.0, 3993050.0, 0.0),
              (534000.0, 3993050.0, 3.0)]
    assert polygon_area(square) == pytest.approx(5000.0, abs=1e-6)
    assert polygon_perimeter(square) == pytest.approx(300.0, abs=1e-9)
    assert polygon_area(square[:2]) == 0.0 and horizontal_length(square[:1]) == 0.0
    with pytest.raises(ValueError):
        length_3d([(0.0, 0.0, math.nan), (1.0, 1.0, 1.0)])


@pytest.fixture
def window(qtbot):
    win = open_window(qtbot)
    with qtbot.waitSignal(win.project_loaded, timeout=LOAD_TIMEOUT):
        win.open_project(SAMPLE_PROJECT)
    yield win
    close_window(win)


def top_down(window, cx, cy, half_height):
    """A parallel top-down view centred on world (cx, cy): every pick ray is vertical."""
    window.scene.set_camera_state({"position": [cx, cy, 1500.0], "focal_point": [cx, cy, 0.0],
                                   "view_up": [0.0, 1.0, 0.0], "parallel": True, "parallel_scale": half_height})
    window.view.render_image()


def test_measure_distance_between_two_known_points(window, qtbot):
    xmin, xmax, ymin, ymax, _, _ = window.scene.world_bounds()
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    top_down(window, cx, cy, 60.0)
    window.act_measure["distance"].trigger()
    assert window.measure.mode == "distance" and window.measure_dock.isVisible()
    a, b = (cx - 40.0, cy - 10.0, 0.0), (cx + 40.0, cy + 20.0, 0.0)  # 85.44 m apart on the map
    hits = [click(window, qtbot, p) for p in (a, b)]
    assert all(h is not None for h in hits)
    measured = window.measure.values
    metres_per_pixel = 2 * 60.0 / window.view.renderer.GetSize()[1]
    assert measured["horizontal"] == pytest.approx(math.hypot(80.0, 30.0), abs=2 * metres_per_pixel)
    dz = hits[1].world_xyz[2] - hits[0].world_xyz[2]
    assert measured["length_3d"] == pytest.approx(math.hypot(measured["horizontal"], dz), abs=1e-6)
    assert "水平距离 85." in window.measure_dock.label.text()
    assert "水平距离" in window.statusBar().currentMessage()
    # the measured line is drawn in the scene, and clicks measured instead of selecting
    overlay = window.measure.overlay
    assert overlay is not None and overlay.line_actor.GetMapper().GetInput().GetNumberOfLines() == 1
    assert all(not layer.selection for layer in window.project.layers)
    # a third point makes a polyline; Escape ends measuring and removes the line
    click(window, qtbot, (cx + 40.0, cy - 10.0, 0.0))
    assert window.measure.values["horizontal"] == pytest.approx(math.hypot(80, 30) + 30, abs=3 * metres_per_pixel)
    window.act_stop_measure.trigger()
    assert window.measure.mode is None and window.measure.overlay is None
    assert not window.act_measure["distance"].isChecked()


def test_measure_area_of_a_rectangle(window, qtbot):
    xmin, xmax, ymin, ymax, _, _ = window.scene.world_bounds()
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    top_down(window, cx, cy, 60.0)
    window.set_measure_mode("area")
    for dx, dy in ((-40, -30), (40, -30), (40, 30), (-40, 30)):
        click(window, qtbot, (cx + dx, cy + dy, 0.0))
    mpp = 2 * 60.0 / window.view.renderer.GetSize()[1]
    assert window.measure.values["area"] == pytest.approx(80 * 60, abs=(80 + 60) * 2 * mpp)
    assert window.measure.values["perimeter"] == pytest.approx(280, abs=8 * mpp)
    assert "水平面积" in window.measure_dock.label.text()


def test_measure_building_height_above_terrain(window, qtbot):
    buildings = next(layer for layer in window.project.layers if layer.name == "建筑")
    frame = buildings.frame
    fid = int(frame["height"].idxmax())
    point = frame.geometry.loc[fid].representative_point()
    top_down(window, point.x, point.y, 80.0)
    window.set_measure_mode("height")
    hit = click(window, qtbot, (point.x, point.y, 0.0))
    assert hit is not None and hit.layer is buildings and hit.fid == fid
    values = window.measure.values
    ground = window.scene.context.ground(np.array([point.x]), np.array([point.y]))[0]
    assert values["ground"] == pytest.approx(ground, abs=1e-6)
    # the roof is at the lowest ground under the footprint + the height attribute
    assert values["height"] == pytest.approx(float(frame.loc[fid, "height"]), abs=3.0)
    assert values["height"] <= float(frame.loc[fid, "height"]) + 1e-6
    assert "高出地面" in window.measure_dock.label.text()


def test_query_features_within_a_drawn_area(window, qtbot):
    """Select by location against a polygon drawn in the view (projected on the ground)."""
    import shapely

    xmin, xmax, ymin, ymax, _, _ = window.scene.world_bounds()
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    top_down(window, cx, cy, 150.0)
    window.set_measure_mode("area")
    assert not window.measure_dock.query_button.isEnabled()
    corners = ((-120, -90), (120, -90), (120, 90), (-120, 90))
    for dx, dy in corners:
        click(window, qtbot, (cx + dx, cy + dy, 0.0))
    assert window.measure_dock.query_button.isEnabled()
    drawn = window.measure.drawn_geometry()
    assert drawn.geom_type == "Polygon" and drawn.area == pytest.approx(window.measure.values["area"])
    lights = next(layer for layer in window.project.layers if layer.name == "路灯")
    handle = window.query_drawn_shape(lights)
    qtbot.waitUntil(lambda: handle.done, timeout=30_000)
    qtbot.waitUntil(lambda: bool(lights.selection), timeout=10_000)
    # the same answer computed independently with shapely on the layer's table
    frame = lights.frame
    expected = set(frame.index[shapely.intersects(frame.geometry.values, drawn)].astype(int))
    assert expected and set(lights.selection) == expected
    assert set(window.panels["results"].result_fids().tolist()) == expected


def test_status_bar_shows_the_ground_under_the_cursor_in_gauss_kruger_and_lon_lat(window, qtbot):
    import re

    from pyproj import Transformer
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    xmin, xmax, ymin, ymax, _, _ = window.scene.world_bounds()
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    top_down(window, cx, cy, 100.0)
    x, y, _ = window.scene.to_display(np.array([(cx + 20.0, cy - 15.0, 0.0)]))[0]
    widget = window.view.vtk_widget
    ratio = widget.devicePixelRatioF()
    pos = QPointF(round(x / ratio), round((widget.height() * ratio - 1 - y) / ratio))
    move = QMouseEvent(QEvent.Type.MouseMove, pos, QPointF(widget.mapToGlobal(pos)), Qt.MouseButton.NoButton,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.view.cursor_moved, timeout=30_000) as blocker:
        # a synthetic move: the real X pointer may already be there (then X sends no event)
        QApplication.sendEvent(widget, move)
    wx, wy, wz = blocker.args[0]
    mpp = 2 * 100.0 / window.view.renderer.GetSize()[1]
    assert wx == pytest.approx(cx + 20.0, abs=2 * mpp) and wy == pytest.approx(cy - 15.0, abs=2 * mpp)
    text = window.coord_label.text()
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+", text)]
    assert numbers[:3] == pytest.approx([wx, wy, wz], abs=0.006)
    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(wx, wy)
    assert numbers[3:5] == pytest.approx([lon, lat], abs=1e-6)
    assert 120.0 < lon < 121.0 and 36.0 < lat < 36.2  # Qingdao, east of the 120°E central meridian
