"""Render bridge, tier 2: the map navigation style driven by synthetic events on an offscreen window."""

from __future__ import annotations

import numpy as np
import pytest
from vtkmodules.vtkRenderingCore import vtkRenderWindowInteractor

from qdt.render import Scene, offscreen_window
from qdt.render.interaction import MAX_PITCH, MIN_PITCH, ZOOM_FACTOR, QdtInteractorStyle
from tests.test_render_builders import full_scene, plane_height

W, H = 640, 480


@pytest.fixture
def view():
    layers = full_scene()
    window = offscreen_window(W, H)
    scene = Scene(layers)
    window.AddRenderer(scene.renderer)
    scene.frame_all()
    window.Render()
    interactor = vtkRenderWindowInteractor()
    interactor.SetRenderWindow(window)
    style = QdtInteractorStyle(scene)
    interactor.SetInteractorStyle(style)
    yield scene, interactor, style
    interactor.SetInteractorStyle(None)
    scene.close()
    window.RemoveRenderer(scene.renderer)
    window.Finalize()


def send(interactor, event: str, x: float, y: float, ctrl: bool = False, shift: bool = False) -> None:
    interactor.SetEventInformation(int(x), int(y), int(ctrl), int(shift))
    interactor.InvokeEvent(event)


def drag(interactor, button: str, start: tuple[int, int], end: tuple[int, int], steps: int = 5, ctrl=False) -> None:
    send(interactor, f"{button}ButtonPressEvent", *start, ctrl=ctrl)
    for k in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * k / steps
        y = start[1] + (end[1] - start[1]) * k / steps
        send(interactor, "MouseMoveEvent", x, y, ctrl=ctrl)
    send(interactor, f"{button}ButtonReleaseEvent", *end, ctrl=ctrl)


def camera(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cam = scene.renderer.GetActiveCamera()
    return np.array(cam.GetPosition()), np.array(cam.GetFocalPoint()), np.array(cam.GetViewUp())


def look_down(scene: Scene, height: float, pitch: float = 60.0) -> None:
    x, y = 533930.0, 3991930.0  # open ground in the south-west of the test DEM
    ground = float(plane_height(x, y))
    back = height / np.tan(np.radians(pitch))
    scene.set_camera_state({"position": [x, y - back, ground + height], "focal_point": [x, y, ground],
                            "view_up": [0, 0, 1]})
    scene.renderer.GetRenderWindow().Render()


def test_wheel_step_is_proportional_to_the_distance_to_the_ground(view):
    scene, interactor, _ = view
    steps = []
    for height in (20.0, 200.0):
        look_down(scene, height)
        before = camera(scene)[0]
        send(interactor, "MouseWheelForwardEvent", W / 2, H / 2)
        steps.append(np.linalg.norm(camera(scene)[0] - before))
    assert steps[1] / steps[0] == pytest.approx(10.0, rel=0.15)
    # one notch forward and one back return to the start
    look_down(scene, 100.0)
    start = camera(scene)[0]
    send(interactor, "MouseWheelForwardEvent", W / 2, H / 2)
    send(interactor, "MouseWheelBackwardEvent", W / 2, H / 2)
    np.testing.assert_allclose(camera(scene)[0], start, atol=1e-3 * np.linalg.norm(start))
    assert ZOOM_FACTOR > 1


def test_wheel_zooms_towards_the_point_under_the_cursor(view):
    scene, interactor, style = view
    look_down(scene, 150.0)
    x, y = 500.0, 150.0
    target = style.point_under(x, y)
    o = scene.origin
    world = target + [o.x, o.y, o.z]
    send(interactor, "MouseWheelForwardEvent", x, y)
    scene.renderer.GetRenderWindow().Render()
    np.testing.assert_allclose(scene.to_display(world[None])[0, :2], (x, y), atol=0.5)


def test_left_drag_pans_the_grabbed_ground_point_along_with_the_cursor(view):
    scene, interactor, style = view
    look_down(scene, 120.0)
    start, end = (300, 200), (380, 260)
    grabbed = style.point_under(*start)
    o = scene.origin
    focal_before = camera(scene)[1]
    drag(interactor, "Left", start, end)
    scene.renderer.GetRenderWindow().Render()
    world = grabbed + [o.x, o.y, o.z]
    np.testing.assert_allclose(scene.to_display(world[None])[0, :2], end, atol=0.5)
    moved = camera(scene)[1] - focal_before
    assert moved[2] == pytest.approx(0.0, abs=1e-9) and np.linalg.norm(moved) > 1.0
    assert not scene.interactive  # the drag is over: full quality again


def test_orbit_keeps_the_horizon_level_and_the_camera_above_the_pivot(view):
    scene, interactor, _ = view
    look_down(scene, 100.0)
    for ctrl, button, end in ((False, "Right", (600, 240)), (True, "Left", (320, 470)), (False, "Right", (100, 0))):
        drag(interactor, button, (320, 240), end, ctrl=ctrl)
        position, focal, up = camera(scene)
        view_dir = (focal - position) / np.linalg.norm(focal - position)
        assert up[2] >= 0
        assert np.cross(view_dir, up)[2] == pytest.approx(0.0, abs=1e-9)  # no roll
        pitch = np.degrees(np.arcsin(-view_dir[2]))
        assert MIN_PITCH - 1e-6 <= pitch <= MAX_PITCH + 1e-6


def test_orbit_turns_around_the_point_under_the_cursor(view):
    scene, interactor, style = view
    look_down(scene, 100.0)
    pivot = style.point_under(320, 240)
    distance = np.linalg.norm(camera(scene)[0] - pivot)
    drag(interactor, "Right", (320, 240), (420, 240))
    position = camera(scene)[0]
    assert np.linalg.norm(position - pivot) == pytest.approx(distance, rel=1e-6)
    o = scene.origin
    scene.renderer.GetRenderWindow().Render()
    np.testing.assert_allclose(scene.to_display((pivot + [o.x, o.y, o.z])[None])[0, :2], (320, 240), atol=1.0)


def test_camera_goes_below_the_ground_only_in_the_underground_view(view):
    scene, interactor, _ = view
    look_down(scene, 50.0, pitch=10.0)
    drag(interactor, "Middle", (320, 240), (320, 0))  # drag down: look up from below
    assert camera(scene)[0][2] > camera(scene)[1][2]  # still looking down at the centre
    scene.set_underground(True)
    drag(interactor, "Middle", (320, 240), (320, 0))
    position, focal, up = camera(scene)
    assert position[2] < focal[2] and up[2] > 0  # looking up at the pipes from below the ground


def test_a_click_is_not_a_drag_and_keys_are_swallowed(view):
    scene, interactor, _ = view
    before = camera(scene)
    send(interactor, "LeftButtonPressEvent", 320, 240)
    send(interactor, "MouseMoveEvent", 321, 240)
    assert not scene.interactive
    send(interactor, "LeftButtonReleaseEvent", 321, 240)
    for key in "qew3":
        interactor.SetKeyCode(key)
        interactor.InvokeEvent("CharEvent")
    np.testing.assert_array_equal(camera(scene)[0], before[0])
    scene.renderer.GetActiveCamera().Azimuth(40)
    interactor.SetKeyCode("n")
    interactor.InvokeEvent("CharEvent")
    offset = camera(scene)[0] - camera(scene)[1]
    assert abs(offset[0]) < 1e-6 and offset[1] < 0  # north up again


def test_end_of_a_drag_is_announced_on_the_interactor(view):
    scene, interactor, _ = view
    ended = []
    interactor.AddObserver("EndInteractionEvent", lambda *_: ended.append(True))
    drag(interactor, "Left", (300, 200), (340, 220))
    assert ended == [True]
    send(interactor, "MouseWheelForwardEvent", 320, 240)
    assert len(ended) == 2
