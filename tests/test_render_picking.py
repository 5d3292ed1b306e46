"""Render bridge, tier 2: picking at the projected screen position of known features (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest

from qdt.layers import LayerList
from qdt.render import Scene, offscreen_window
from qdt.render.picking import ray_boxes, ray_cylinders
from qdt.render.visual import PickBoxes, PickCylinders
from tests.test_render_builders import full_scene, make_buildings, plane_height

TOWER_BASE = plane_height(533995, 3991995)


def framed_scene(layers, width=800, height=600):
    """A Scene of ``layers`` in an offscreen window, framed and drawn once; yields it, then closes both."""
    window = offscreen_window(width, height)
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.frame_all()
    window.Render()
    yield scene
    scene.close()
    window.RemoveRenderer(scene.renderer)
    window.Finalize()


@pytest.fixture
def scene():
    yield from framed_scene(full_scene())


def pick_world(scene: Scene, xyz: tuple[float, float, float]):
    x, y, _ = scene.to_display(np.array([xyz], dtype=np.float64))[0]
    return scene.pick(x, y)


def test_pick_roof_gives_fid_and_exact_gauss_kruger_position(scene):
    target = (534001.234, 3992002.345, TOWER_BASE + 30.0)  # on the tower's roof at E 534 001, N 3 992 002
    hit = pick_world(scene, target)
    assert hit is not None and hit.layer.name == "buildings" and hit.fid == 14
    assert hit.world_xyz.dtype == np.float64
    np.testing.assert_allclose(hit.world_xyz, target, atol=0.01)


def test_pick_wall_of_the_concave_building(scene):
    target = (534000.0, 3991950.0, plane_height(533980, 3991950) + 6.0)  # south wall of the L
    hit = pick_world(scene, target)
    assert (hit.layer.name, hit.fid) == ("buildings", 11)
    np.testing.assert_allclose(hit.world_xyz, target, atol=0.01)


@pytest.mark.parametrize("fid, x", [(100, 533960), (101, 533975), (102, 533990), (104, 534045)])
def test_pick_streetlight_pole(scene, fid, x):
    scene.fly_to_extent((x - 6, 3991984, x + 6, 3991996))
    scene.renderer.GetRenderWindow().Render()
    hit = pick_world(scene, (x, 3991990 - 0.12, plane_height(x, 3991990) + 4.0))  # the pole's south face
    assert (hit.layer.name, hit.fid) == ("lights", fid)
    # the hit lies on the 0.12 m pole surface
    assert np.hypot(hit.world_xyz[0] - x, hit.world_xyz[1] - 3991990) == pytest.approx(0.12, abs=0.005)


def test_pick_lamp_dot_from_afar(scene):
    top = (534030.0, 3991990.0, plane_height(534030, 3991990) + 10.0)
    x, y, _ = scene.to_display(np.array([top]))[0]
    hit = scene.pick(x + 2.0, y + 1.0)  # a near miss still hits the dot
    assert (hit.layer.name, hit.fid) == ("lights", 103)


def test_pick_smart_pole_equipment_box(scene):
    scene.fly_to_extent((534064, 3991984, 534076, 3991996))
    scene.renderer.GetRenderWindow().Render()
    hit = pick_world(scene, (534070.0, 3991990.0 - 0.32, plane_height(534070, 3991990) + 3.0))
    assert (hit.layer.name, hit.fid) == ("smart", 200)
    assert hit.world_xyz[1] == pytest.approx(3991990.0 - 0.32, abs=0.01)


def test_pick_terrain_zone_and_city_model(scene):
    ground = (533920.0, 3991920.0, plane_height(533920, 3991920))
    hit = pick_world(scene, ground)
    assert hit.layer.name == "dem" and hit.fid is None
    np.testing.assert_allclose(hit.world_xyz, ground, atol=0.01)

    zone = pick_world(scene, (533930.0, 3992060.0, plane_height(533930, 3992060) + 0.6))
    assert (zone.layer.name, zone.fid) == ("zones", 500)

    roof = pick_world(scene, (534073.0, 3992073.0, 28.0))
    assert (roof.layer.name, roof.fid) == ("landmarks", 7)
    np.testing.assert_allclose(roof.world_xyz, (534073.0, 3992073.0, 28.0), atol=0.01)


def test_translucent_ground_lets_pipes_be_picked(scene):
    layers = scene.layer_list
    pipe_top = (534000.0, 3992080.0, plane_height(534000, 3992080) - 1.5)  # depth 1.5 m to the top at mid-length
    hit = pick_world(scene, pipe_top)
    assert hit.layer.name == "dem"  # opaque ground hides it
    layers["dem"].opacity = 0.3
    hit = pick_world(scene, pipe_top)
    assert (hit.layer.name, hit.fid) == ("pipes", 300)
    np.testing.assert_allclose(hit.world_xyz, pipe_top, atol=0.02)  # the 12-sided tube is within 1 cm of the circle


def test_hidden_layers_and_sky_are_not_picked(scene):
    target = (534001.0, 3992002.0, TOWER_BASE + 30.0)
    scene.layer_list["buildings"].visible = False
    hit = pick_world(scene, target)
    assert hit.layer.name != "buildings"
    assert scene.pick(400, 599) is None  # sky at the top of the view


def test_pick_needs_a_render_window():
    layers = LayerList()
    layers.append(make_buildings())
    scene = Scene(layers)
    with pytest.raises(RuntimeError, match="render window"):
        scene.pick(10, 10)
    scene.close()


def test_analytic_glyph_intersections():
    cylinders = PickCylinders(centre=np.array([[0.0, 0.0], [5.0, 0.0]]), z0=np.zeros(2), z1=np.full(2, 10.0),
                              radius=np.array([1.0, 2.0]), fids=np.array([1, 2]))
    # along +x at z = 5: hits the first cylinder's side at x = -1
    t, row = ray_cylinders(np.array([-10.0, 0.0, 5.0]), np.array([1.0, 0.0, 0.0]), cylinders)
    assert (row, t) == (0, pytest.approx(9.0))
    # straight down onto the second: its top cap
    t, row = ray_cylinders(np.array([5.5, 0.5, 20.0]), np.array([0.0, 0.0, -1.0]), cylinders)
    assert (row, t) == (1, pytest.approx(10.0))
    t, row = ray_cylinders(np.array([-10.0, 0.0, 15.0]), np.array([1.0, 0.0, 0.0]), cylinders)
    assert row == -1 and t == np.inf
    boxes = PickBoxes(lo=np.array([[0.0, 0.0, 0.0]]), hi=np.array([[1.0, 2.0, 3.0]]), fids=np.array([9]))
    t, row = ray_boxes(np.array([-1.0, 1.0, 1.0]), np.array([2.0, 0.0, 0.0]), boxes)
    assert (row, t) == (0, pytest.approx(0.5))
    assert ray_boxes(np.array([-1.0, 5.0, 1.0]), np.array([1.0, 0.0, 0.0]), boxes)[1] == -1
