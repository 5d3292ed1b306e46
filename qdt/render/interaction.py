"""Map navigation for the 3D view, as planners know it from QGIS 3D and Google Earth (VTK only, no Qt).

Install it on any VTK render window interactor, e.g. the Qt view's
``QVTKRenderWindowInteractor``::

    from qdt.render.interaction import QdtInteractorStyle
    interactor.SetInteractorStyle(QdtInteractorStyle(scene))

Keep a reference to the style as long as the view lives. The gestures:

- **left drag**: pan; the ground point grabbed under the cursor stays under the cursor;
- **right drag** or **Ctrl + left drag**: orbit around the point under the cursor where the drag
  began (left/right turns the heading, up/down the pitch); the horizon stays level (no roll);
- **middle drag** (or **Shift + left drag**): tilt and turn around the point at the centre of the view;
- **wheel**: zoom towards the point under the cursor by :data:`ZOOM_FACTOR` a notch, so each
  step is proportional to the distance to what is under the cursor: metres near the ground,
  kilometres over the whole city;
- keys are swallowed (VTK's default keys would quit, switch to wireframe or stereo), except
  ``r`` (frame everything) and ``n`` (north up).

The camera stays above the point it turns around unless the scene is in the underground view,
where it may go below the ground to look at pipes from underneath. While a drag lasts the
scene is told it is interactive (frames skip FXAA); ``StartInteractionEvent`` and
``EndInteractionEvent`` are invoked when a drag starts and ends, and ``EndInteractionEvent`` after
a wheel step (VTK passes them on to the interactor), so a view can save the camera. Renders
are requested through ``scene.request_render`` (the Qt view coalesces them); without one (a
plain VTK window) the style renders the interactor's window itself.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera

from qdt.render.picking import pick_ray

if TYPE_CHECKING:
    from qdt.render.scene import Scene

ZOOM_FACTOR = 1.25  # distance to the target divides by this a wheel notch forward
MIN_TARGET_DISTANCE = 2.0  # m: zooming in stops this far from the point under the cursor
MAX_DISTANCE_FACTOR = 8.0  # zooming out stops at this many times the scene's size
ORBIT_DEGREES_PER_PIXEL = 0.3
MIN_PITCH = 1.0  # degrees below the horizon: the camera stays above what it orbits
MAX_PITCH = 89.5  # straight down would make "up" undefined
DRAG_THRESHOLD_PX = 3  # a press that moves less is a click (the view picks on it), not a drag
EVENTS = ("LeftButtonPressEvent", "LeftButtonReleaseEvent", "MiddleButtonPressEvent", "MiddleButtonReleaseEvent",
          "RightButtonPressEvent", "RightButtonReleaseEvent", "MouseMoveEvent", "MouseWheelForwardEvent",
          "MouseWheelBackwardEvent", "CharEvent", "KeyPressEvent")


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """3×3 rotation by ``angle`` radians about the unit ``axis`` (Rodrigues)."""
    x, y, z = axis / np.linalg.norm(axis)
    c, s = math.cos(angle), math.sin(angle)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + s * k + (1 - c) * (k @ k)


class QdtInteractorStyle(vtkInteractorStyleTrackballCamera):
    """Pan, orbit, tilt and zoom for a :class:`~qdt.render.scene.Scene` (see the module docstring).

    Parameters
    ----------
    scene
        The scene whose renderer the interactor's window shows.
    """

    def __init__(self, scene: Scene) -> None:
        super().__init__()
        self.scene = scene
        self._mode: str | None = None
        self._press: tuple[int, int] | None = None
        self._last: tuple[int, int] | None = None
        self._anchor: np.ndarray | None = None
        self._dragging = False
        for event in EVENTS:
            self.AddObserver(event, self._dispatch)

    # --- events ----------------------------------------------------------------------------------
    def _dispatch(self, _caller: object, event: str) -> None:
        interactor = self.GetInteractor()
        if interactor is None:
            return
        x, y = interactor.GetEventPosition()
        if event == "LeftButtonPressEvent":
            mode = "orbit" if interactor.GetControlKey() else "tilt" if interactor.GetShiftKey() else "pan"
            self._begin(mode, x, y)
        elif event == "RightButtonPressEvent":
            self._begin("orbit", x, y)
        elif event == "MiddleButtonPressEvent":
            self._begin("tilt", x, y)
        elif event.endswith("ReleaseEvent"):
            self._end()
        elif event == "MouseMoveEvent":
            self._move(x, y)
        elif event == "MouseWheelForwardEvent":
            self.zoom(x, y, ZOOM_FACTOR)
        elif event == "MouseWheelBackwardEvent":
            self.zoom(x, y, 1.0 / ZOOM_FACTOR)
        elif event == "CharEvent":
            key = interactor.GetKeyCode()
            if key in ("r", "R"):
                self.scene.frame_all()
                self._render()
            elif key in ("n", "N"):
                self.scene.reset_north_up()
                self._render()
        # KeyPressEvent: swallowed

    def _begin(self, mode: str, x: int, y: int) -> None:
        self._mode = mode
        self._press = self._last = (x, y)
        self._dragging = False
        if mode == "tilt":
            width, height = self.scene.renderer.GetSize()
            self._anchor = self.point_under(width / 2.0, height / 2.0)
        else:
            self._anchor = self.point_under(x, y)

    def _end(self) -> None:
        was_dragging = self._dragging
        self._mode = self._press = self._last = self._anchor = None
        self._dragging = False
        if was_dragging:
            self.scene.set_interactive(False)
            self._render()
            self._interaction_ended()

    def _move(self, x: int, y: int) -> None:
        if self._mode is None or self._last is None or self._press is None:
            return
        if not self._dragging:
            if max(abs(x - self._press[0]), abs(y - self._press[1])) < DRAG_THRESHOLD_PX:
                return
            self._dragging = True
            self.scene.set_interactive(True)
            self.InvokeEvent("StartInteractionEvent")
        lx, ly = self._last
        self._last = (x, y)
        if self._mode == "pan":
            self.pan_to(x, y)
        elif self._mode == "orbit":
            self.orbit(x - lx, y - ly)
        else:
            self.orbit(x - lx, y - ly)
        self._render()

    # --- the point under the cursor ---------------------------------------------------------------
    def point_under(self, x: float, y: float) -> np.ndarray:
        """Local point under display (x, y): the picked surface, else the ray's crossing of the
        horizontal plane through the focal point, else the focal point."""
        camera = self.scene.renderer.GetActiveCamera()
        focal = np.array(camera.GetFocalPoint(), dtype=np.float64)
        if self.scene.renderer.GetRenderWindow() is not None and self.scene.origin is not None:
            hit = self.scene.pick(x, y)
            if hit is not None:
                return np.asarray(hit.local_xyz, dtype=np.float64)
            crossing = self._plane_crossing(x, y, focal[2])
            if crossing is not None:
                return crossing
        return focal

    def _plane_crossing(self, x: float, y: float, z: float) -> np.ndarray | None:
        near, far = pick_ray(self.scene, x, y)
        direction = far - near
        if abs(direction[2]) < 1e-12:
            return None
        t = (z - near[2]) / direction[2]
        if t <= 0:
            return None
        return near + t * direction

    # --- camera moves (public so a UI or a test can drive them) ----------------------------------
    def pan_to(self, x: float, y: float) -> None:
        """Move the camera so the grabbed ground point lies under display (x, y) again."""
        if self._anchor is None:
            return
        target = self._plane_crossing(x, y, self._anchor[2])
        camera = self.scene.renderer.GetActiveCamera()
        position = np.array(camera.GetPosition())
        if target is None or np.linalg.norm(target - position) > 50.0 * max(abs(position[2] - target[2]), 1.0):
            return  # the cursor is at or above the horizon: no ground to drag
        shift = self._anchor - target
        shift[2] = 0.0
        camera.SetPosition(*(position + shift))
        camera.SetFocalPoint(*(np.array(camera.GetFocalPoint()) + shift))
        self.scene.renderer.ResetCameraClippingRange()

    def orbit(self, dx: float, dy: float, pivot: np.ndarray | None = None) -> None:
        """Turn the camera around ``pivot`` (default: the point grabbed at the press): ``dx`` pixels turn
        the heading, ``dy`` pixels the pitch (dragging up looks more from above). No roll; the pitch
        stays between :data:`MIN_PITCH` and :data:`MAX_PITCH` below the horizon, or down to
        −MAX_PITCH (from below the ground) in the underground view."""
        camera = self.scene.renderer.GetActiveCamera()
        pivot = self._anchor if pivot is None else np.asarray(pivot, dtype=np.float64)
        if pivot is None:
            pivot = np.array(camera.GetFocalPoint())
        position = np.array(camera.GetPosition(), dtype=np.float64)
        focal = np.array(camera.GetFocalPoint(), dtype=np.float64)
        # heading: about the vertical through the pivot
        turn = _rotation(np.array([0.0, 0.0, 1.0]), -math.radians(dx * ORBIT_DEGREES_PER_PIXEL))
        position = pivot + turn @ (position - pivot)
        focal = pivot + turn @ (focal - pivot)
        # pitch: about the horizontal axis across the view, clamped
        view = focal - position
        pitch = math.degrees(math.asin(max(-1.0, min(1.0, -view[2] / np.linalg.norm(view)))))
        low = -MAX_PITCH if self.scene.underground else MIN_PITCH
        wanted = min(max(pitch + dy * ORBIT_DEGREES_PER_PIXEL, low), MAX_PITCH)
        right = np.cross(view, [0.0, 0.0, 1.0])
        if np.linalg.norm(right) > 1e-9 and wanted != pitch:
            tilt = _rotation(right, -math.radians(wanted - pitch))
            position = pivot + tilt @ (position - pivot)
            focal = pivot + tilt @ (focal - pivot)
        camera.SetPosition(*position)
        camera.SetFocalPoint(*focal)
        camera.SetViewUp(0.0, 0.0, 1.0)
        camera.OrthogonalizeViewUp()
        self.scene.renderer.ResetCameraClippingRange()

    def zoom(self, x: float, y: float, factor: float) -> None:
        """Scale the camera's distances to the point under display (x, y) by 1/``factor`` (> 1: closer)."""
        renderer = self.scene.renderer
        camera = renderer.GetActiveCamera()
        target = self.point_under(x, y)
        position = np.array(camera.GetPosition(), dtype=np.float64)
        focal = np.array(camera.GetFocalPoint(), dtype=np.float64)
        distance = float(np.linalg.norm(position - target))
        scale = 1.0 / factor
        if factor > 1.0 and distance * scale < MIN_TARGET_DISTANCE:
            scale = MIN_TARGET_DISTANCE / max(distance, 1e-9)
            if scale >= 1.0:
                return
        bounds = renderer.ComputeVisiblePropBounds()
        size = max(bounds[1] - bounds[0], bounds[3] - bounds[2], 1.0) if math.isfinite(bounds[0]) else 1e4
        if factor < 1.0 and distance * scale > MAX_DISTANCE_FACTOR * size:
            return
        camera.SetPosition(*(target + (position - target) * scale))
        camera.SetFocalPoint(*(target + (focal - target) * scale))
        renderer.ResetCameraClippingRange()
        self._render()
        self._interaction_ended()

    # --- plumbing --------------------------------------------------------------------------------------
    def _render(self) -> None:
        from qdt.render.scene import _no_render

        if self.scene.request_render is not _no_render:
            self.scene.request_render()
            return
        interactor = self.GetInteractor()
        if interactor is not None and interactor.GetRenderWindow() is not None and interactor.GetEnabled():
            interactor.Render()

    def _interaction_ended(self) -> None:
        self.InvokeEvent("EndInteractionEvent")  # VTK passes a style's interaction events on to its interactor
