"""Render bridge, tier 2: the underground view (a scene display mode) and picking pipes through the ground."""

from __future__ import annotations

import numpy as np
import pytest

from qdt.render import Scene, offscreen_window, render_offscreen
from qdt.render.colours import PIPE_NETWORK_FALLBACK, UNDERGROUND_BOTTOM
from qdt.render.scene import UNDERGROUND_OPACITY
from tests.test_render_builders import full_scene, plane_height

PIPE_TOP = (534000.0, 3992080.0, float(plane_height(534000, 3992080)) - 1.5)  # pipe 300 (RQ), 1.5 m deep mid-way
CAMERA = {"position": [534000.0, 3992020.0, 60.0], "focal_point": [534000.0, 3992080.0, 0.0], "view_up": [0, 0, 1]}


@pytest.fixture
def scene():
    layers = full_scene()
    window = offscreen_window(800, 600)
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.set_camera_state(CAMERA)
    window.Render()
    yield scene
    scene.close()
    window.RemoveRenderer(scene.renderer)
    window.Finalize()


def pick_world(scene: Scene, xyz):
    x, y, _ = scene.to_display(np.array([xyz], dtype=np.float64))[0]
    return scene.pick(x, y)


def test_underground_view_fades_ground_and_buildings_without_touching_the_layers(scene):
    layers = scene.layer_list
    seen = []
    scene.events.underground.connect(lambda on: seen.append(on))
    scene.set_underground(True)
    assert scene.underground and seen == [True]
    for name, role in (("dem", "ground"), ("buildings", "building"), ("roads", "drape"), ("landmarks", "building")):
        visual = scene.visual(layers[name])
        assert visual.role == role
        part = visual.parts[0]
        assert part.actor.GetProperty().GetOpacity() == pytest.approx(UNDERGROUND_OPACITY[role] * part.opacity_factor)
        assert layers[name].opacity == 1.0  # a display mode, not a layer setting
    pipes = scene.visual(layers["pipes"])
    assert all(p.actor.GetProperty().GetOpacity() == 1.0 for p in pipes.parts)
    assert scene.renderer.GetBackground() == pytest.approx(UNDERGROUND_BOTTOM)
    # the layer's own opacity still applies on top of the mode
    layers["buildings"].opacity = 0.5
    part = scene.visual(layers["buildings"]).parts[0]
    assert part.actor.GetProperty().GetOpacity() == pytest.approx(0.5 * UNDERGROUND_OPACITY["building"])
    scene.set_underground(True)  # no change, no event
    scene.set_underground(False)
    assert seen == [True, False]
    assert part.actor.GetProperty().GetOpacity() == pytest.approx(0.5)
    assert scene.visual(layers["dem"]).parts[0].actor.GetProperty().GetOpacity() == 1.0


def test_pick_a_pipe_under_the_ground_in_the_underground_view(scene):
    hit = pick_world(scene, PIPE_TOP)
    assert hit.layer.name == "dem"  # normal view: the ground is in the way
    scene.set_underground(True)
    scene.renderer.GetRenderWindow().Render()
    hit = pick_world(scene, PIPE_TOP)
    assert (hit.layer.name, hit.fid) == ("pipes", 300)
    np.testing.assert_allclose(hit.world_xyz, PIPE_TOP, atol=0.02)
    # where no pipe is, the faded ground still answers
    ground = (533930.0, 3992000.0, float(plane_height(533930, 3992000)))
    hit = pick_world(scene, ground)
    assert hit.layer.name == "dem"
    np.testing.assert_allclose(hit.world_xyz, ground, atol=0.01)


def test_underground_snapshot_shows_the_pipe_through_the_ground():
    layers = full_scene()
    normal = render_offscreen(layers, 400, 300, camera=CAMERA)
    under = render_offscreen(layers, 400, 300, camera=CAMERA, underground=True)
    # where pipe 300 runs (a gas main, magenta by CJJ 61) the underground image turns magenta
    probe = Scene(layers)
    window = offscreen_window(400, 300)
    window.AddRenderer(probe.renderer)
    probe.set_camera_state(CAMERA)
    x, y, _ = probe.to_display(np.array([PIPE_TOP]))[0]
    probe.close()
    window.Finalize()
    row, col = int(round(300 - 1 - y)), int(round(x))
    magenta = np.array(PIPE_NETWORK_FALLBACK["RQ"], dtype=float)

    def distance(image: np.ndarray) -> float:
        patch = image[row - 1:row + 2, col - 1:col + 2].reshape(-1, 3).astype(float)
        return float(np.min(np.linalg.norm(patch - magenta, axis=1)))

    assert distance(under) < 0.6 * distance(normal)
    assert layers["dem"].opacity == 1.0


def test_pipe_drawn_as_a_line_is_picked_from_300_m(scene):
    """What is drawn is what is picked: from 300 m a DN150–DN1000 pipe is a 2 px line, far wider on
    screen than its radius; a click on the line, or 2 px beside it, picks the pipe."""
    import math

    layers = scene.layer_list
    pipes = layers["pipes"]
    scene.set_underground(True)
    fid = 300
    line = pipes.frame.geometry.loc[fid]
    mid = line.interpolate(0.5, normalized=True)
    target = np.array([mid.x, mid.y, PIPE_TOP[2]])
    # 300 m away, looking down at 35°
    eye = target + 300.0 * np.array([0.0, -math.cos(math.radians(35)), math.sin(math.radians(35))])
    scene.set_camera_state({"position": eye.tolist(), "focal_point": target.tolist(), "view_up": [0, 0, 1]})
    scene.renderer.GetRenderWindow().Render()
    x, y, _ = scene.to_display(np.array([target]))[0]
    for dx, dy in ((0, 0), (5, 1), (-5, 2)):
        hit = scene.pick(x + dx, y + dy)
        assert hit is not None and (hit.layer.name, hit.fid) == ("pipes", fid), (dx, dy, hit)
    hit = scene.pick(x, y - 2)  # pipe 301 runs under 300 less than a pixel away at this distance
    assert hit is not None and hit.layer.name == "pipes"
    # far off the line (30 px) the pipe is not picked
    hit = scene.pick(x, y + 30)
    assert hit is None or hit.layer.name != "pipes" or hit.fid != fid
