"""Overview map (pyqtgraph): the district's footprint, the 3D camera's view footprint on the
ground, and click-to-move.

:func:`view_footprint` intersects the four corner rays of the camera's view frustum with the
horizontal plane through the focal point; rays that do not reach the ground (above the
horizon) are cut at a far distance, so a tilted view gives the familiar trapezoid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
import shapely
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QPolygonF
from PySide6.QtWidgets import QDockWidget, QGraphicsPolygonItem, QLabel, QVBoxLayout, QWidget

from qdt.ui.i18n import tr


def view_footprint(position: Any, focal_point: Any, view_up: Any, view_angle_deg: float, aspect: float,
                   ground_z: float | None = None, far: float | None = None) -> np.ndarray:
    """The (4, 2) x, y corners of what a perspective camera sees on the plane ``z = ground_z``.

    Coordinates in, coordinates out (world or local, as given). Corners: bottom-left,
    bottom-right, top-right, top-left of the image. ``far`` caps the distance along the
    ground (default: 10 × the camera's height above the plane, at least 2 km).
    """
    p = np.asarray(position, dtype=np.float64)
    f = np.asarray(focal_point, dtype=np.float64)
    gz = float(f[2]) if ground_z is None else float(ground_z)
    forward = f - p
    forward /= np.linalg.norm(forward)
    up = np.asarray(view_up, dtype=np.float64)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-12:  # looking straight along view-up: pick any right
        right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    hh = math.tan(math.radians(view_angle_deg) / 2)
    hw = hh * float(aspect)
    height = max(p[2] - gz, 1.0)
    far = max(10 * height, 2000.0) if far is None else float(far)
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        d = forward + sx * hw * right + sy * hh * up
        horizontal = math.hypot(d[0], d[1])
        if d[2] < -1e-9 and p[2] > gz:
            t = (gz - p[2]) / d[2]
            if t * horizontal <= far:
                corners.append(p[:2] + t * d[:2])
                continue
        if horizontal < 1e-12:
            corners.append(p[:2].copy())
        else:
            corners.append(p[:2] + far * d[:2] / horizontal)
    return np.array(corners)


def camera_footprint(scene: Any, aspect: float | None = None) -> np.ndarray:
    """World x, y corners of the scene camera's footprint (see :func:`view_footprint`)."""
    camera = scene.renderer.GetActiveCamera()
    o = scene.origin
    ox, oy, oz = (o.x, o.y, o.z) if o is not None else (0.0, 0.0, 0.0)
    if aspect is None:
        w, h = scene.renderer.GetSize()
        aspect = w / h if w > 0 and h > 0 else 1.5
    local = view_footprint(camera.GetPosition(), camera.GetFocalPoint(), camera.GetViewUp(),
                           camera.GetViewAngle(), aspect)
    return local + np.array([ox, oy])


def _outline_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of polygon exterior rings (or lines) separated by NaN, for one pyqtgraph curve."""
    geoms = geoms[~shapely.is_missing(geoms)]
    if len(geoms) == 0:
        return np.empty(0), np.empty(0)
    parts = shapely.get_parts(geoms)
    polys = shapely.get_type_id(parts) == 3
    rings = np.where(polys, shapely.get_exterior_ring(np.where(polys, parts, None)), parts)
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if len(coords) == 0:
        return np.empty(0), np.empty(0)
    breaks = np.flatnonzero(np.diff(index)) + 1
    xy = np.insert(coords, breaks, np.nan, axis=0)
    return xy[:, 0], xy[:, 1]


class OverviewWidget(pg.PlotWidget):
    """The map. Signal ``move_requested(float x, float y)``: the user clicked there (world x, y)."""

    move_requested = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setAspectLocked(True)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.getPlotItem().showGrid(x=False, y=False)
        for axis in ("left", "bottom"):
            self.getPlotItem().hideAxis(axis)
        self.buildings = pg.PlotDataItem(pen=pg.mkPen(170, 170, 170, width=1), connect="finite")
        self.zones = pg.PlotDataItem(pen=pg.mkPen(60, 90, 160, width=1.5), connect="finite")
        self.extent = pg.PlotDataItem(pen=pg.mkPen(40, 40, 40, width=2, style=Qt.PenStyle.DashLine))
        self.footprint = QGraphicsPolygonItem()
        pen = pg.mkPen(220, 40, 40, width=2)
        pen.setCosmetic(True)  # width in pixels whatever the map scale
        self.footprint.setPen(pen)
        self.footprint.setBrush(pg.mkBrush(220, 40, 40, 45))
        self.eye = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(220, 40, 40), pen=pg.mkPen("w"))
        for item in (self.buildings, self.zones, self.extent, self.footprint, self.eye):
            self.addItem(item)
        self.footprint_xy = np.empty((0, 2))
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_district(self, layers: Any) -> None:
        """Draw the district: zone and building outlines, and the extent of all layers."""
        from qdt.layers import VectorLayer

        zones, buildings = [], []
        for layer in layers:
            if not isinstance(layer, VectorLayer) or not layer.has_geometry:
                continue
            fc = getattr(layer, "feature_class", None)
            if fc == "zone":
                zones.append(layer.geometry)
            elif fc == "building":
                buildings.append(layer.geometry)
        self.zones.setData(*_outline_xy(np.concatenate(zones) if zones else np.empty(0, dtype=object)))
        self.buildings.setData(*_outline_xy(np.concatenate(buildings) if buildings else np.empty(0, dtype=object)))
        b = layers.bounds if hasattr(layers, "bounds") else (math.nan,) * 4
        if all(math.isfinite(v) for v in b):
            self.extent.setData([b[0], b[2], b[2], b[0], b[0]], [b[1], b[1], b[3], b[3], b[1]])
            self.district_bounds = b
            self.setRange(xRange=(b[0], b[2]), yRange=(b[1], b[3]), padding=0.15)

    def set_footprint(self, corners: np.ndarray, eye_xy: Any = None) -> None:
        self.footprint_xy = np.asarray(corners, dtype=np.float64)
        self.footprint.setPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in self.footprint_xy]))
        if eye_xy is not None:
            self.eye.setData([float(eye_xy[0])], [float(eye_xy[1])])

    def _clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.move_requested.emit(float(point.x()), float(point.y()))

    def click_world(self, x: float, y: float) -> QPointF:
        """Scene position of world (x, y) (for tests that click the map)."""
        return self.getPlotItem().vb.mapViewToScene(QPointF(x, y))


class OverviewDock(QDockWidget):
    """The overview map following the workbench's camera; a click moves the camera there."""

    def __init__(self, bench: Any) -> None:
        super().__init__(tr("鹰眼图"), bench.dialog_parent)
        self.setObjectName("OverviewDock")
        self.bench = bench
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        self.map = OverviewWidget(body)
        self.map.setMinimumSize(200, 160)
        self.hint = QLabel(tr("红框为三维视图的地面范围，单击移动视点"), body)
        self.hint.setStyleSheet("color: #666;")
        layout.addWidget(self.map, 1)
        layout.addWidget(self.hint)
        self.setWidget(body)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)  # coalesce camera events while the user drags
        self._timer.timeout.connect(self.update_footprint)
        self.map.move_requested.connect(self.move_camera_to)
        self._camera: Any = None
        self._observer = 0
        bench.camera_changed.connect(self._timer.start)

    def set_project(self, project: Any) -> None:
        self.map.set_district(project.layers)
        self._observe_camera()
        self.update_footprint()

    def _observe_camera(self) -> None:
        # every camera change (navigation, fly-to, bookmarks) reaches the map, coalesced by the timer
        if self._camera is not None:
            self._camera.RemoveObserver(self._observer)
            self._camera = None
        scene = self.bench.scene
        if scene is None:
            return
        self._camera = scene.renderer.GetActiveCamera()
        self._observer = self._camera.AddObserver("ModifiedEvent", lambda *_: self._timer.start())

    def update_footprint(self) -> None:
        scene = self.bench.scene
        if scene is None or scene.origin is None:
            return
        view = self.bench.view
        aspect = view.width() / view.height() if view is not None and view.height() > 0 else None
        corners = camera_footprint(scene, aspect)
        cam = scene.renderer.GetActiveCamera()
        eye = np.array(cam.GetPosition()[:2]) + [scene.origin.x, scene.origin.y]
        self.map.set_footprint(corners, eye)

    def move_camera_to(self, x: float, y: float) -> None:
        """Shift the camera so its focal point is above world (x, y); direction and height kept."""
        scene = self.bench.scene
        if scene is None or scene.origin is None:
            return
        state = scene.camera_state()
        fx, fy = state["focal_point"][:2]
        dx, dy = x - fx, y - fy
        state["position"] = [state["position"][0] + dx, state["position"][1] + dy, state["position"][2]]
        state["focal_point"] = [fx + dx, fy + dy, state["focal_point"][2]]
        scene.set_camera_state(state)
        self.bench.request_render()
        self.bench.notify_camera_moved()
        self.update_footprint()
