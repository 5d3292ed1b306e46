"""Detail drawn only near the camera: glyph instances of facilities and tubes of pipes.

A city has hundreds of thousands of lights, manholes and pipe segments; drawn in full they take
seconds a frame in software OpenGL, yet beyond a few hundred metres a 0.24 m pole is under a
pixel. A :class:`NearSet` keeps the full per-feature arrays and, before each frame (called by
:class:`qdt.render.lod.LodManager`), puts into its actor only the features whose box is within
the view frustum and near enough that a pixel there is at most ``max_mpp`` metres. Farther
features are drawn by the layer's coarse tiled parts (dots, lines) or not at all.

Picking never depends on what a near set holds: it intersects the analytic shapes of every
feature (:mod:`qdt.render.picking`).
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData

from qdt.render.arrays import make_polydata
from qdt.render.colours import HIGHLIGHT
from qdt.render.geometry import tube
from qdt.render.tiles import group_boxes, point_box_distance, rows_of_groups
from qdt.render.visual import VisualPart

MAX_NEAR_FEATURES = 20000  # the nearest ones win beyond this, so a huge window cannot stall a frame


def boxes_in_frustum(planes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(n,) True for boxes not entirely outside any of the inward-facing ``planes`` (k, 4)."""
    inside = np.ones(len(lo), dtype=bool)
    for a, b, c, d in planes:
        normal = np.array([a, b, c])
        corner = np.where(normal > 0, hi, lo)  # the corner farthest along the plane normal
        inside &= corner @ normal + d >= 0
    return inside


class NearSet:
    """Features near the camera, chosen per frame; subclasses fill their actors with them.

    Parameters
    ----------
    lo, hi
        (n, 3) local box of each feature.
    max_mpp
        Detail is drawn where a pixel is at most this many metres.
    parts
        The VisualParts whose inputs the set replaces (they belong to the layer's visual too).
    fids
        (n,) feature id of each row.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, max_mpp: float, parts: list[VisualPart],
                 fids: np.ndarray) -> None:
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        self.max_mpp = float(max_mpp)
        self.parts = parts
        self.fids = np.asarray(fids, dtype=np.int64)
        self.rows = np.empty(0, dtype=np.int64)
        self.selected = np.empty(0, dtype=np.int64)
        self._coarse = self._coarse_boxes()

    def _coarse_boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return group_boxes(self.lo, self.hi, 256)

    def select(self, eye: np.ndarray, mpp_per_metre: float, planes: np.ndarray | None) -> np.ndarray:
        """Rows to draw for a camera at local ``eye`` whose pixel is ``mpp_per_metre`` × distance metres."""
        order, start, box_lo, box_hi = self._coarse
        if len(box_lo) == 0 or mpp_per_metre <= 0:
            return np.empty(0, dtype=np.int64)
        reach = self.max_mpp / mpp_per_metre
        near_boxes = np.flatnonzero(point_box_distance(eye, box_lo, box_hi) <= reach)
        if near_boxes.size == 0:
            return np.empty(0, dtype=np.int64)
        candidates = rows_of_groups(order, start, near_boxes)
        distance = point_box_distance(eye, self.lo[candidates], self.hi[candidates])
        keep = distance <= reach
        if planes is not None:
            keep &= boxes_in_frustum(planes, self.lo[candidates], self.hi[candidates])
        rows, distance = candidates[keep], distance[keep]
        if len(rows) > MAX_NEAR_FEATURES:
            rows = rows[np.argpartition(distance, MAX_NEAR_FEATURES)[:MAX_NEAR_FEATURES]]
        return np.sort(rows)

    def update(self, eye: np.ndarray, mpp_per_metre: float, planes: np.ndarray | None) -> bool:
        """Refill the actors for this camera; True when what they draw changed."""
        rows = self.select(eye, mpp_per_metre, planes)
        if np.array_equal(rows, self.rows):
            return False
        self.rows = rows
        self.rebuild()
        return True

    def set_selection(self, selected: np.ndarray) -> None:
        """Remember the selected fids: rebuilt instances are highlighted from then on."""
        self.selected = np.asarray(selected, dtype=np.int64)

    def clear(self) -> None:
        if self.rows.size:
            self.rows = np.empty(0, dtype=np.int64)
            self.rebuild()

    def rows_of(self, fids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, which): the set's rows of the sorted unique ``fids`` and the index in ``fids`` of each."""
        if not hasattr(self, "_fid_order"):
            self._fid_order = np.argsort(self.fids, kind="stable")
        ordered = self.fids[self._fid_order]
        lo = np.searchsorted(ordered, fids, side="left")
        counts = np.searchsorted(ordered, fids, side="right") - lo
        which = np.repeat(np.arange(len(fids)), counts)
        first = np.repeat(lo - np.cumsum(counts) + counts, counts)
        return self._fid_order[first + np.arange(counts.sum())], which

    def recolour(self, fids: np.ndarray, colours: np.ndarray) -> bool:
        """New feature colours (k, 3) for sorted unique ``fids``: the full per-feature arrays are
        updated, and the actors refilled when some of these features are drawn now."""
        rows, which = self.rows_of(fids)
        if rows.size == 0:
            return False
        for array in self._styled_colours():
            array[rows] = colours[which]
        if np.isin(rows, self.rows).any():
            self.rebuild()
            return True
        return False

    def _styled_colours(self) -> list[np.ndarray]:
        """The (n, 3) per-feature colour arrays that follow the style (subclasses)."""
        return []

    def _colours(self, base: np.ndarray, fids: np.ndarray) -> np.ndarray:
        colours = np.ascontiguousarray(base, dtype=np.uint8)
        if self.selected.size:
            colours[np.isin(fids, self.selected)] = HIGHLIGHT
        return colours

    def rebuild(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _set_input(part: VisualPart, poly: vtkPolyData, colours: np.ndarray, base: np.ndarray, fids: np.ndarray,
               on_cells: bool) -> None:
    mapper = part.actor.GetMapper()
    mapper.SetInputData(poly)
    data = poly.GetCellData() if on_cells else poly.GetPointData()
    part.polydata = poly
    part.colours = colours
    part.colour_array = data.GetArray("colours")
    part.base_colours = base
    part.colour_fids = fids
    part._bounds = None


class GlyphNear(NearSet):
    """Instances of each glyph piece (and the lamp dots) of a point layer for the near rows.

    ``pieces`` holds, per part, the full per-feature arrays (shared between pieces where equal):
    ``xy`` (n, 2) and ``z`` (n,) float32 (the piece's base, or the dot), ``colours`` (n, 3)
    uint8 and, for glyph pieces, ``height`` (n,) float32 (the template's z scale); ``styled``
    (optional, True) marks the colour arrays that follow the style (the others are constant).
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, max_mpp: float, parts: list[VisualPart], fids: np.ndarray,
                 pieces: list[dict[str, np.ndarray]]) -> None:
        super().__init__(lo, hi, max_mpp, parts, fids)
        self.pieces = pieces

    def _styled_colours(self) -> list[np.ndarray]:
        unique: dict[int, np.ndarray] = {}
        for piece in self.pieces:
            if piece.get("styled") is not None and piece["styled"] is not False:
                unique[id(piece["colours"])] = piece["colours"]
        return list(unique.values())

    def rebuild(self) -> None:
        rows = self.rows
        fids = self.fids[rows]
        for part, piece in zip(self.parts, self.pieces, strict=True):
            base = np.ascontiguousarray(piece["colours"][rows], dtype=np.uint8)
            colours = self._colours(base.copy(), fids)
            point_data = {"fid": fids, "colours": colours}
            centres = np.column_stack([piece["xy"][rows], piece["z"][rows]])
            verts = None
            if "height" in piece:
                scale = np.ones((len(rows), 3), dtype=np.float32)
                scale[:, 2] = piece["height"][rows]
                point_data["scale"] = scale
            else:
                verts = np.arange(len(rows)).reshape(-1, 1)
            poly = make_polydata(centres, verts=verts, point_data=point_data)
            _set_input(part, poly, colours, base, fids, on_cells=False)


class TubeNear(NearSet):
    """Tubes (real diameter, smooth shading) of the pipes near the camera.

    ``centre`` (v, 3), ``line`` (v,), ``radius`` (v,) are the densified centre-line vertices
    ordered by feature row, ``row_start`` (n + 1,) where each row's vertices begin;
    ``row_colours`` (n, 3) uint8.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, max_mpp: float, parts: list[VisualPart], fids: np.ndarray,
                 centre: np.ndarray, line: np.ndarray, radius: np.ndarray, row_start: np.ndarray,
                 row_colours: np.ndarray, sides: int) -> None:
        super().__init__(lo, hi, max_mpp, parts, fids)
        self.centre, self.line, self.radius = centre, line, radius
        self.row_start, self.row_colours, self.sides = row_start, row_colours, sides

    def _styled_colours(self) -> list[np.ndarray]:
        return [self.row_colours]

    def rebuild(self) -> None:
        rows = self.rows
        counts = self.row_start[rows + 1] - self.row_start[rows]
        first = np.repeat(self.row_start[rows] - np.cumsum(counts) + counts, counts)
        vertex = first + np.arange(counts.sum())
        vertex_row = np.repeat(rows, counts)
        points, normals, triangles, tri_vertex = tube(self.centre[vertex].astype(np.float64), self.line[vertex],
                                                      self.radius[vertex].astype(np.float64), self.sides)
        cell_row = vertex_row[tri_vertex]
        fids = self.fids[cell_row]
        base = self.row_colours[cell_row]
        colours = self._colours(base.copy(), fids)
        poly = make_polydata(points.astype(np.float32), polys=triangles, normals=normals.astype(np.float32),
                             cell_data={"fid": fids, "colours": colours})
        part = self.parts[0]
        _set_input(part, poly, colours, base, fids, on_cells=True)
        part.cell_fids = None  # picked analytically (PickTubes), like the far lines
