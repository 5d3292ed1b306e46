"""Camera helpers: oblique overview, fly to an extent, north up, and a saveable camera state.

Azimuths are degrees from south towards east of the camera's position around its focal
point (0: the camera stands south of the scene looking north, so north is up on screen);
pitch is the angle of the view below the horizontal (90: straight down).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from vtkmodules.vtkRenderingCore import vtkRenderer

from qdt.crs import SceneOrigin

DEFAULT_PITCH = 45.0


def _valid(bounds: tuple[float, ...]) -> bool:
    return len(bounds) == 6 and all(math.isfinite(b) for b in bounds) and bounds[0] <= bounds[1]


def look_at_bounds(renderer: vtkRenderer, bounds: tuple[float, ...], azimuth: float | None = 0.0,
                   pitch: float | None = DEFAULT_PITCH) -> bool:
    """Point the camera at local ``bounds`` from ``azimuth``/``pitch`` and fit them in view.

    ``None`` keeps the current direction. Returns False (camera untouched) for empty bounds.
    """
    if not _valid(bounds):
        return False
    camera = renderer.GetActiveCamera()
    centre = np.array([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, (bounds[4] + bounds[5]) / 2])
    if azimuth is None or pitch is None:
        direction = np.array(camera.GetPosition()) - np.array(camera.GetFocalPoint())
        if not np.linalg.norm(direction) > 0:
            direction = _direction(0.0, DEFAULT_PITCH)
        else:
            direction = direction / np.linalg.norm(direction)
    else:
        direction = _direction(azimuth, pitch)
    camera.SetFocalPoint(*centre)
    camera.SetPosition(*(centre + direction))
    camera.SetViewUp(*_view_up(direction))
    width, height = renderer.GetSize()
    if width > 0 and height > 0 and not camera.GetParallelProjection():
        distance = _fit_distance(np.asarray(bounds, dtype=float), centre, direction, np.array(camera.GetViewUp()),
                                 camera.GetViewAngle(), width / height)
        camera.SetPosition(*(centre + direction * distance))
    else:  # no window yet: VTK's bounding-sphere fit
        renderer.ResetCamera(*bounds)
    renderer.ResetCameraClippingRange()
    return True


def _fit_distance(bounds: np.ndarray, centre: np.ndarray, direction: np.ndarray, view_up: np.ndarray,
                  view_angle: float, aspect: float, margin: float = 1.06) -> float:
    """Smallest camera distance from ``centre`` along ``direction`` that shows all 8 corners of ``bounds``."""
    forward = -direction
    up = view_up - forward * (view_up @ forward)
    up /= np.linalg.norm(up)
    right = np.cross(forward, up)
    tan_v = math.tan(math.radians(view_angle) / 2) / margin
    tan_h = tan_v * aspect
    corners = np.array(np.meshgrid(bounds[0:2], bounds[2:4], bounds[4:6])).reshape(3, -1).T - centre
    need = np.maximum(np.abs(corners @ right) / tan_h, np.abs(corners @ up) / tan_v) - corners @ forward
    return float(max(need.max(), 1.0))


def _direction(azimuth: float, pitch: float) -> np.ndarray:
    """Unit vector from the focal point to the camera."""
    az, el = math.radians(azimuth), math.radians(min(max(pitch, 1.0), 89.9))
    return np.array([math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])


def _view_up(direction: np.ndarray) -> tuple[float, float, float]:
    # straight down, "up" on screen is north; otherwise the world's vertical
    return (0.0, 1.0, 0.0) if abs(direction[2]) > 0.999 else (0.0, 0.0, 1.0)


def reset_north_up(renderer: vtkRenderer) -> None:
    """Swing the camera around its focal point to due south, keeping distance and pitch."""
    camera = renderer.GetActiveCamera()
    focal = np.array(camera.GetFocalPoint())
    offset = np.array(camera.GetPosition()) - focal
    horizontal = math.hypot(offset[0], offset[1])
    camera.SetPosition(focal[0], focal[1] - horizontal, focal[2] + offset[2])
    camera.SetViewUp(*_view_up(np.array([0.0, -horizontal, offset[2]]) / max(np.linalg.norm(offset), 1e-12)))
    renderer.ResetCameraClippingRange()


def camera_state(renderer: vtkRenderer, origin: SceneOrigin) -> dict[str, Any]:
    """The camera in world coordinates (EPSG:4549 + height), JSON-ready for the project file."""
    camera = renderer.GetActiveCamera()
    to_world = origin.to_world
    return {
        "position": [float(v) for v in to_world(np.array([camera.GetPosition()]))[0]],
        "focal_point": [float(v) for v in to_world(np.array([camera.GetFocalPoint()]))[0]],
        "view_up": [float(v) for v in camera.GetViewUp()],
        "view_angle": float(camera.GetViewAngle()),
        "parallel": bool(camera.GetParallelProjection()),
        "parallel_scale": float(camera.GetParallelScale()),
    }


def set_camera_state(renderer: vtkRenderer, origin: SceneOrigin, state: Any) -> None:
    """Apply a :func:`camera_state` dict (or an object whose ``to_dict()`` gives one); raises
    ValueError naming the bad key. Only ``position`` and ``focal_point`` are required."""
    def vector(key: str) -> np.ndarray:
        try:
            value = np.asarray(state[key], dtype=np.float64)
        except KeyError:
            raise ValueError(f"camera state: missing {key!r}") from None
        except (TypeError, ValueError):
            raise ValueError(f"camera state: {key!r} is not a list of numbers: {state[key]!r}") from None
        if value.shape != (3,) or not np.isfinite(value).all():
            raise ValueError(f"camera state: {key!r} must be 3 finite numbers, got {state[key]!r}")
        return value

    if hasattr(state, "to_dict"):  # qdt.project.Camera and friends
        state = state.to_dict()
    if not isinstance(state, dict):
        raise ValueError(f"camera state must be a mapping, got {type(state).__name__}")
    position, focal = vector("position"), vector("focal_point")
    up = vector("view_up") if state.get("view_up") is not None else np.array([0.0, 0.0, 1.0])
    if np.allclose(position, focal):
        raise ValueError("camera state: 'position' and 'focal_point' coincide")
    camera = renderer.GetActiveCamera()
    # camera positions stay float64 (SceneOrigin.to_local would round them to float32)
    camera.SetPosition(*(position - [origin.x, origin.y, origin.z]))
    camera.SetFocalPoint(*(focal - [origin.x, origin.y, origin.z]))
    camera.SetViewUp(*up)
    camera.SetViewAngle(float(state.get("view_angle", 30.0)))
    camera.SetParallelProjection(bool(state.get("parallel", False)))
    if "parallel_scale" in state:
        camera.SetParallelScale(float(state["parallel_scale"]))
    camera.OrthogonalizeViewUp()
    renderer.ResetCameraClippingRange()
