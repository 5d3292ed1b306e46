"""Measure tools: distance (horizontal and 3D), area, and height of a building above the terrain.

Each click in the 3D view is picked with ``scene.pick`` (exact world coordinates, EPSG:4549 +
1985 heights) and added to the measurement; the line is drawn in the scene by
:class:`qdt.render.overlay.MeasureOverlay`; the result shows in the measure panel and the
status bar. Escape or the 清除 button starts again; choosing no tool ends measuring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from qdt.render.overlay import MeasureOverlay, horizontal_length, length_3d, polygon_area, polygon_perimeter
from qdt.ui.i18n import tr

MODES = ("distance", "area", "height")


def format_length(metres: float) -> str:
    return f"{metres / 1000:.3f} km" if metres >= 10_000 else f"{metres:.2f} m"


def format_area(m2: float) -> str:
    return f"{m2 / 1e6:.4f} km²" if m2 >= 1e6 else f"{m2:.1f} m²"


class MeasureTool(QObject):
    """The measuring state of a workbench's 3D view. ``mode`` is None or one of :data:`MODES`.

    Signals: ``result(str)`` with the formatted result after every click or reset.
    Attributes after a measurement: ``points`` (n, 3) world, ``values`` (dict of numbers:
    ``horizontal``/``length_3d`` for distance, ``area``/``perimeter`` for area,
    ``height``/``top``/``ground`` for height).
    """

    result = Signal(str)

    def __init__(self, bench: Any) -> None:
        super().__init__(bench)
        self.bench = bench
        self.mode: str | None = None
        self.points = np.empty((0, 3))
        self.values: dict[str, float] = {}
        self.overlay: MeasureOverlay | None = None

    @property
    def active(self) -> bool:
        return self.mode is not None

    def drawn_geometry(self) -> shapely.Geometry | None:
        """The measured shape projected on the ground (x, y in EPSG:4549) for a spatial query:
        a polygon in area mode (3+ points), a polyline in distance mode (2+ points), else None."""
        xy = self.points[:, :2]
        if self.mode == "area" and len(xy) >= 3:
            polygon = shapely.make_valid(shapely.Polygon(xy))
            return polygon if not polygon.is_empty and polygon.area > 0 else None
        if self.mode == "distance" and len(xy) >= 2:
            return shapely.LineString(xy)
        return None

    def set_mode(self, mode: str | None) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown measure mode {mode!r}")
        self.mode = mode
        self.reset()
        if mode is None:
            self._drop_overlay()

    def reset(self) -> None:
        self.points = np.empty((0, 3))
        self.values = {}
        if self.overlay is not None:
            self.overlay.clear()
            self.bench.request_render()
        self.result.emit(self._prompt() if self.mode else "")

    def _prompt(self) -> str:
        return {"distance": tr("依次单击各点测量距离；Esc 重新开始"),
                "area": tr("依次单击多边形各顶点测量面积；Esc 重新开始"),
                "height": tr("单击建筑测量其高出地面的高度")}[self.mode]

    def _ensure_overlay(self) -> MeasureOverlay | None:
        scene = self.bench.scene
        if scene is None:
            return None
        overlay = self.overlay
        if overlay is None or overlay.renderer is not scene.renderer or overlay.origin is not scene.origin:
            self._drop_overlay()
            self.overlay = MeasureOverlay(scene.renderer, scene.origin)
        return self.overlay

    def _drop_overlay(self) -> None:
        if self.overlay is not None:
            self.overlay.close()
            self.overlay = None
            self.bench.request_render()

    def add_pick(self, pick: Any) -> None:
        """Add a PickResult (None: a click on the sky, ignored)."""
        if pick is None or self.mode is None:
            return
        if self.mode == "height":
            self._measure_height(pick)
        else:
            self.add_point(pick.world_xyz)

    def add_point(self, world_xyz: Any) -> None:
        """Add a world point to a distance or area measurement."""
        self.points = np.vstack([self.points, np.asarray(world_xyz, dtype=np.float64).reshape(1, 3)])
        self._update()

    def _update(self) -> None:
        pts = self.points
        if self.mode == "distance":
            self.values = {"horizontal": horizontal_length(pts), "length_3d": length_3d(pts)}
            text = (tr("水平距离") + f" {format_length(self.values['horizontal'])}  ·  "
                    + tr("空间距离") + f" {format_length(self.values['length_3d'])}"
                    + (f"  ·  {len(pts) - 1} " + tr("段") if len(pts) > 2 else ""))
        else:
            self.values = {"area": polygon_area(pts), "perimeter": polygon_perimeter(pts)}
            text = (tr("水平面积") + f" {format_area(self.values['area'])}  ·  "
                    + tr("周长") + f" {format_length(self.values['perimeter'])}")
        overlay = self._ensure_overlay()
        if overlay is not None:
            overlay.set_points(pts, closed=self.mode == "area")
            self.bench.request_render()
        self.result.emit(text)

    def _measure_height(self, pick: Any) -> None:
        scene = self.bench.scene
        x, y, z = (float(v) for v in pick.world_xyz)
        context = scene.context if scene is not None else None
        ground = float(context.ground(np.array([x]), np.array([y]), default=np.nan)[0]) if context else float("nan")
        top = z
        name = ""
        if pick.fid is not None:
            try:
                top = float(scene.feature_bounds(pick.layer, pick.fid)[5])
                name = f"{pick.layer.name} {pick.fid}："
            except KeyError:
                pass
        if not np.isfinite(ground):
            self.values = {}
            self.result.emit(tr("此处没有地形高程，无法测量高度"))
            return
        self.values = {"height": top - ground, "top": top, "ground": ground}
        self.points = np.array([[x, y, ground], [x, y, top]])
        overlay = self._ensure_overlay()
        if overlay is not None:
            overlay.set_points(self.points)
            self.bench.request_render()
        self.result.emit(f"{name}" + tr("高出地面") + f" {top - ground:.2f} m  ("
                         + tr("顶部") + f" {top:.2f} m，" + tr("地面") + f" {ground:.2f} m)")


class MeasureDock(QDockWidget):
    """A small panel with the measure result and a clear button."""

    def __init__(self, tool: MeasureTool, parent: QWidget | None = None) -> None:
        super().__init__(tr("测量"), parent)
        self.setObjectName("MeasureDock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 4, 6, 4)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.label, 1)
        self.clear_button = QToolButton()
        self.clear_button.setText(tr("清除"))
        self.clear_button.clicked.connect(tool.reset)
        row.addWidget(self.clear_button)
        # QGIS "select by location" against a shape drawn in the view (the query issue's drawn geometry)
        self.query_button = QToolButton()
        self.query_button.setText(tr("查询图形范围内要素…"))
        self.query_button.setToolTip(tr("选择与所画多边形或折线（投影到地面）相交的要素"))
        self.query_button.setEnabled(False)
        row.addWidget(self.query_button)
        tool.result.connect(lambda _text: self.query_button.setEnabled(tool.drawn_geometry() is not None))
        layout.addLayout(row)
        self.setWidget(body)
        tool.result.connect(self.label.setText)
