"""Overview map: the camera's view footprint on the ground (geometry checked by hand-made cases),
the district drawn, the footprint following the 3D camera, click-to-move."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from qdt.ui.overview import camera_footprint, view_footprint
from tests.test_ui_attribute_table import close_window, open_sample_window, wait_until


def test_footprint_of_a_camera_looking_straight_down():
    # 90° vertical view angle, aspect 2, 100 m above the ground: half-height 100 m, half-width 200 m
    corners = view_footprint((10.0, 20.0, 100.0), (10.0, 20.0, 0.0), (0.0, 1.0, 0.0), 90.0, 2.0)
    np.testing.assert_allclose(corners, [[-190, -80], [210, -80], [210, 120], [-190, 120]], atol=1e-9)


def test_footprint_of_a_tilted_camera_is_a_trapezoid_wider_far_away():
    # looking north, 45° down, from 100 m: the bottom image edge meets the ground nearer than the top
    corners = view_footprint((0.0, -100.0, 100.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), 30.0, 1.0)
    near, far = corners[:2], corners[2:]
    assert near[:, 1].max() < 0 < far[:, 1].min()
    assert (far[0, 0] - far[1, 0]) > (near[1, 0] - near[0, 0]) > 0  # far edge wider
    # bottom-centre ray at 45° + 15° below horizontal meets the ground at y = -100 + 100 / tan(60°)
    assert math.isclose(near[:, 1].mean(), -100 + 100 / math.tan(math.radians(60)), rel_tol=1e-9)
    np.testing.assert_allclose(corners[:, 0], [-corners[1, 0], corners[1, 0], -corners[3, 0], corners[3, 0]])


def test_rays_above_the_horizon_are_cut_at_the_far_distance():
    # looking level: the upper corners never reach the ground
    corners = view_footprint((0.0, 0.0, 50.0), (0.0, 100.0, 50.0), (0.0, 0.0, 1.0), 40.0, 1.5,
                             ground_z=0.0, far=1000.0)
    assert np.all(np.hypot(*corners.T) <= 1000.0 + 1e-6)
    assert np.allclose(np.hypot(*corners[2:].T), 1000.0)


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("overview"))
    yield win
    close_window(win)


def test_overview_shows_district_and_camera_footprint(window):
    dock = window.panels["overview"]
    assert dock.isVisible()
    zones = window.project.layers["网格"]
    x, y = dock.map.zones.getData()
    assert np.isfinite(x).sum() == sum(len(shapely.get_coordinates(shapely.get_exterior_ring(p)))
                                       for g in zones.geometry for p in shapely.get_parts(g))
    assert np.allclose(dock.map.footprint_xy, camera_footprint(window.scene, window.view.width()
                                                                / window.view.height()))
    # fly to a streetlight: the footprint follows (camera observer) and shrinks around it
    lights = window.project.layers["路灯"]
    fid = int(lights.frame.index[12])
    before = shapely.Polygon(dock.map.footprint_xy).area
    window.fly_to_feature(lights, fid)
    assert wait_until(lambda: shapely.Polygon(dock.map.footprint_xy).area < before / 4, 10)
    assert shapely.Polygon(dock.map.footprint_xy).contains(lights.frame.geometry.loc[fid])


def test_click_on_the_overview_moves_the_camera_there(window, qtbot):
    from PySide6.QtCore import QPoint, Qt

    dock = window.panels["overview"]
    b = dock.map.district_bounds
    target = (b[0] + 0.3 * (b[2] - b[0]), b[1] + 0.7 * (b[3] - b[1]))
    height_before = window.scene.camera_state()["position"][2]
    scene_pos = dock.map.click_world(*target)
    view_pos = dock.map.mapFromScene(scene_pos)
    qtbot.mouseClick(dock.map.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(view_pos.x(), view_pos.y()))
    assert wait_until(lambda: np.allclose(window.scene.camera_state()["focal_point"][:2], target,
                                          atol=0.02 * (b[2] - b[0])), 5)
    assert math.isclose(window.scene.camera_state()["position"][2], height_before, rel_tol=1e-9)
    assert shapely.Polygon(dock.map.footprint_xy).contains(shapely.Point(target))
