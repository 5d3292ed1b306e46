"""Measurement geometry and its overlay in the scene (no Qt).

The measures are computed in the project CRS (EPSG:4549 metres, 1985 heights) from exact pick
positions: horizontal length is the length of the polyline projected on the map plane, 3D length
follows the heights too, area is the horizontal (planimetric) area of the polygon, as in
QGIS's measure tool with a projected CRS (no ellipsoidal correction: Gauss-Krüger scale error
within a 3° zone is below 1.4e-4 near the zone edge, 0.4 mm per 10 m here near the central meridian).

:class:`MeasureOverlay` draws the measured line (and its vertices) on top of the scene so it
stays readable through buildings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer

from qdt.crs import SceneOrigin

OVERLAY_COLOUR = (1.0, 0.84, 0.0)  # amber: distinct from every CJJ 61 pipe colour and the sky


def _as_points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(pts).all():
        raise ValueError("measure points must be finite")
    return pts


def horizontal_length(points: Sequence[Sequence[float]] | np.ndarray) -> float:
    """Length (m) of the polyline through ``points`` (n, 3) projected on the map plane."""
    pts = _as_points(points)
    return float(np.hypot(*np.diff(pts[:, :2], axis=0).T).sum()) if len(pts) > 1 else 0.0


def length_3d(points: Sequence[Sequence[float]] | np.ndarray) -> float:
    """Length (m) of the polyline through ``points`` (n, 3) in space."""
    pts = _as_points(points)
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()) if len(pts) > 1 else 0.0


def polygon_area(points: Sequence[Sequence[float]] | np.ndarray) -> float:
    """Horizontal area (m²) of the polygon through ``points`` (closed implicitly; shoelace formula)."""
    pts = _as_points(points)
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0] - pts[0, 0], pts[:, 1] - pts[0, 1]  # relative to the first vertex: no cancellation
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def polygon_perimeter(points: Sequence[Sequence[float]] | np.ndarray) -> float:
    """Horizontal perimeter (m) of the closed polygon through ``points``."""
    pts = _as_points(points)
    if len(pts) < 2:
        return 0.0
    return horizontal_length(np.vstack([pts, pts[:1]]))


class MeasureOverlay:
    """A polyline with marked vertices drawn over the scene in ``renderer``.

    Points are world coordinates; ``origin`` turns them into the scene's local frame in
    float64 before VTK sees them. :meth:`close` removes the actors.
    """

    def __init__(self, renderer: vtkRenderer, origin: SceneOrigin | None) -> None:
        self.renderer = renderer
        self.origin = origin or SceneOrigin()
        self.points = np.empty((0, 3), dtype=np.float64)
        self.closed = False
        self.polydata = vtkPolyData()
        self.line_actor = self._actor(line=True)
        self.vertex_actor = self._actor(line=False)
        for actor in (self.line_actor, self.vertex_actor):
            renderer.AddActor(actor)

    def _actor(self, *, line: bool) -> vtkActor:
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(self.polydata)
        # draw over the surfaces in front of the measured points (the line would hide inside roofs)
        mapper.SetResolveCoincidentTopologyToPolygonOffset()
        mapper.SetRelativeCoincidentTopologyLineOffsetParameters(0, -66000)
        mapper.SetRelativeCoincidentTopologyPointOffsetParameter(-66000)
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.PickableOff()
        prop = actor.GetProperty()
        prop.SetColor(*OVERLAY_COLOUR)
        prop.LightingOff()
        if line:
            prop.SetRepresentationToWireframe()
            prop.SetLineWidth(3.0)
        else:
            prop.SetRepresentationToPoints()
            prop.SetPointSize(9.0)
            prop.RenderPointsAsSpheresOn()
            prop.SetColor(1.0, 1.0, 1.0)
        return actor

    @property
    def actors(self) -> list[vtkActor]:
        return [self.line_actor, self.vertex_actor]

    def set_points(self, world_xyz: Sequence[Sequence[float]] | np.ndarray, closed: bool = False) -> None:
        """Show the polyline through ``world_xyz`` (n, 3); ``closed`` joins the last point to the first."""
        self.points = _as_points(world_xyz)
        self.closed = bool(closed)
        n = len(self.points)
        o = self.origin
        local = self.points - np.array([o.x, o.y, o.z])  # float64: VTK keeps double points as given
        pts = vtkPoints()
        pts.SetDataTypeToDouble()
        pts.SetNumberOfPoints(n)
        for i, p in enumerate(local):  # a handful of clicked points, not features
            pts.SetPoint(i, *p)
        lines = vtkCellArray()
        if n > 1:
            ids = list(range(n)) + ([0] if self.closed and n > 2 else [])
            lines.InsertNextCell(len(ids))
            for i in ids:
                lines.InsertCellPoint(i)
        verts = vtkCellArray()
        for i in range(n):
            verts.InsertNextCell(1)
            verts.InsertCellPoint(i)
        self.polydata.SetPoints(pts)
        self.polydata.SetLines(lines)
        self.polydata.SetVerts(verts)
        self.polydata.Modified()
        # the line actor draws lines only, the vertex actor the vertices only
        self.line_actor.GetMapper().SetInputData(_only(self.polydata, lines=True))
        self.vertex_actor.GetMapper().SetInputData(_only(self.polydata, lines=False))

    def clear(self) -> None:
        self.set_points(np.empty((0, 3)))

    def close(self) -> None:
        for actor in self.actors:
            self.renderer.RemoveActor(actor)


def _only(poly: vtkPolyData, *, lines: bool) -> vtkPolyData:
    out = vtkPolyData()
    out.SetPoints(poly.GetPoints())
    if lines:
        out.SetLines(poly.GetLines())
    else:
        out.SetVerts(poly.GetVerts())
    return out
