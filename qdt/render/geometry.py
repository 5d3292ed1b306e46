"""Vectorised mesh geometry for the builders: numpy in, numpy out, no VTK.

Everything here works on whole layers at once (flat coordinate arrays with an index array
saying which ring / line / feature each row belongs to). Polygons are triangulated by
:mod:`qdt.triangulation` (shared with the CityJSON reader).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from qdt.layers import RasterLayer
from qdt.triangulation import triangulate_rings

MAX_TERRAIN_SIDE = 1000  # vertices along the longer side of the terrain mesh


# --- features → parts ---------------------------------------------------------------------------

def explode(geometries: np.ndarray, type_ids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Single parts of ``geometries`` whose shapely type id is in ``type_ids``.

    Returns ``(parts, feature_row)``: the parts and the row of the feature each came from.
    Multi-geometries and collections are split; empty and other-typed parts are dropped.
    """
    geometries = np.asarray(geometries, dtype=object)
    parts, rows = shapely.get_parts(geometries, return_index=True)
    # collections may hold multi-geometries: one more level
    multi = np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))
    if multi.any():
        sub, sub_rows = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        rows = np.concatenate([rows[~multi], rows[multi][sub_rows]])
    keep = np.isin(shapely.get_type_id(parts), type_ids) & ~shapely.is_empty(parts)
    return parts[keep], rows[keep].astype(np.int64)


def point_coords_of(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) coordinates (z NaN where absent) of every point of Points / MultiPoints and the feature
    row of each: ``explode(geometries, (0,))`` without a shapely geometry per point."""
    geometries = np.asarray(geometries, dtype=object)
    types = shapely.get_type_id(geometries)
    if np.isin(types[types >= 0], (0, 4)).all():
        coords, rows = shapely.get_coordinates(geometries, include_z=True, return_index=True)
        return coords, rows.astype(np.int64)
    points, rows = explode(geometries, (0,))
    return shapely.get_coordinates(points, include_z=True), rows


# --- polygons -------------------------------------------------------------------------------------

@dataclass
class PolygonRings:
    """The rings of many polygons as flat arrays (local XY, closed rings).

    ``xy`` (n, 2) float64 holds each ring's coordinates including the closing repeat;
    ``coord_ring`` (n,) the ring of each row; ``ring_polygon`` (r,) the polygon of each ring
    (exterior first, then holes); ``ring_start``/``ring_end`` (r,) its rows in ``xy``.
    Exteriors run counter-clockwise and holes clockwise (seen from above).
    """

    xy: np.ndarray
    coord_ring: np.ndarray
    ring_polygon: np.ndarray
    ring_start: np.ndarray
    ring_end: np.ndarray
    n_polygons: int

    @property
    def coord_polygon(self) -> np.ndarray:
        return self.ring_polygon[self.coord_ring]

    @property
    def exterior(self) -> np.ndarray:
        """(r,) True for each polygon's first (outer) ring."""
        first = np.ones(len(self.ring_polygon), dtype=bool)
        first[1:] = self.ring_polygon[1:] != self.ring_polygon[:-1]
        return first


def polygon_rings(polygons: np.ndarray, origin_xy: tuple[float, float]) -> PolygonRings:
    """Rings of single ``polygons`` in local coordinates (world minus ``origin_xy``, float64)."""
    polygons = shapely.orient_polygons(np.asarray(polygons, dtype=object), exterior_cw=False)
    rings, ring_polygon = shapely.get_rings(polygons, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    xy = coords - np.asarray(origin_xy, dtype=np.float64)
    counts = np.bincount(coord_ring, minlength=len(rings))
    ring_end = np.cumsum(counts)
    return PolygonRings(xy=np.ascontiguousarray(xy), coord_ring=coord_ring.astype(np.int64),
                        ring_polygon=ring_polygon.astype(np.int64), ring_start=ring_end - counts,
                        ring_end=ring_end, n_polygons=len(polygons))


def _ragged(geometries: np.ndarray, wanted: tuple[int, ...]) -> tuple[int, np.ndarray, tuple] | None:
    """``shapely.to_ragged_array`` of the geometries when all are of the ``wanted`` type ids (or
    missing/empty), else None (collections, mixed kinds: the callers fall back to :func:`explode`)."""
    geometries = np.asarray(geometries, dtype=object)
    types = shapely.get_type_id(geometries)
    present = types[(types >= 0) & ~shapely.is_empty(geometries)]
    if present.size == 0 or not np.isin(present, wanted).all():
        return None
    try:
        kind, coords, offsets = shapely.to_ragged_array(geometries, include_z=False)
    except ValueError:
        return None
    return int(kind), np.asarray(coords, dtype=np.float64), tuple(np.asarray(o, dtype=np.int64) for o in offsets)


def polygon_rings_of(geometries: np.ndarray, origin_xy: tuple[float, float]) -> tuple[PolygonRings, np.ndarray]:
    """Rings of every polygon of ``geometries`` (Polygons / MultiPolygons) and the feature row of each polygon.

    Same rings as ``polygon_rings(*explode(geometries, (3,)))`` (exteriors counter-clockwise,
    holes clockwise, local coordinates) without making a shapely geometry per part: features
    that are one ring (most footprints) come straight from ``shapely.get_coordinates``, the
    others (holes, several parts) from ``shapely.to_ragged_array``.
    """
    geometries = np.asarray(geometries, dtype=object)
    types = shapely.get_type_id(geometries)
    if not np.isin(types[types >= 0], (3, 6)).all():
        parts, part_row = explode(geometries, (3,))
        return polygon_rings(parts, origin_xy), part_row
    coords, index = shapely.get_coordinates(geometries, return_index=True)
    n = len(geometries)
    counts = np.bincount(index, minlength=n)
    ends = np.cumsum(counts)
    starts = ends - counts
    first = coords[starts[index]] if len(coords) else coords
    same_as_first = (coords == first).all(axis=1)
    matches = np.bincount(index, weights=same_as_first, minlength=n)
    closed = np.zeros(n, dtype=bool)
    nonempty = counts > 0
    closed[nonempty] = same_as_first[ends[nonempty] - 1]
    simple = nonempty & closed & (matches == 2) & (counts >= 4)  # one closed ring, its start seen once more
    rows_simple = np.flatnonzero(simple)
    keep = simple[index]
    xy_parts = [coords[keep] - np.asarray(origin_xy, dtype=np.float64)]
    ring_counts = [counts[rows_simple]]
    ring_polygon = [np.arange(len(rows_simple))]
    part_rows = [rows_simple]
    others = np.flatnonzero(nonempty & ~simple)
    if others.size:
        ragged = _ragged(geometries[others], (3, 6))
        if ragged is None:
            parts, part_row = explode(geometries[others], (3,))
            sub = polygon_rings(parts, origin_xy)
            sub_counts, sub_polygon, sub_rows = sub.ring_end - sub.ring_start, sub.ring_polygon, others[part_row]
            xy_parts.append(sub.xy)
        else:
            kind, sub_coords, offsets = ragged
            ring_offsets, polygon_offsets = offsets[0], offsets[1]
            polygon_row = (np.repeat(np.arange(len(offsets[2]) - 1), np.diff(offsets[2])) if kind == 6
                           else np.arange(len(polygon_offsets) - 1))
            rings_per_polygon = np.diff(polygon_offsets)
            has_rings = rings_per_polygon > 0
            renumber = np.cumsum(has_rings) - 1
            sub_polygon = renumber[np.repeat(np.arange(len(rings_per_polygon)), rings_per_polygon)]
            sub_counts = np.diff(ring_offsets)
            sub_rows = others[polygon_row[has_rings]]
            xy_parts.append(sub_coords - np.asarray(origin_xy, dtype=np.float64))
        ring_counts.append(sub_counts)
        ring_polygon.append(sub_polygon + len(rows_simple))
        part_rows.append(sub_rows)
    xy = np.concatenate(xy_parts)
    ring_count = np.concatenate(ring_counts).astype(np.int64)
    ring_poly = np.concatenate(ring_polygon).astype(np.int64)
    ring_end = np.cumsum(ring_count)
    ring_start = ring_end - ring_count
    coord_ring = np.repeat(np.arange(len(ring_count)), ring_count)
    # orientation by the shoelace sum of each ring (closed: the last point repeats the first)
    if len(xy) > 1:
        cross = xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]
        cross = np.where(coord_ring[:-1] == coord_ring[1:], cross, 0.0)
        area2 = np.bincount(coord_ring[:-1], weights=cross, minlength=len(ring_count))
    else:
        area2 = np.zeros(len(ring_count))
    exterior = np.ones(len(ring_count), dtype=bool)
    exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    flip = np.where(exterior, area2 < 0, area2 > 0)
    if flip.any():
        order = np.arange(len(xy))
        rev = flip[coord_ring]
        order[rev] = ring_start[coord_ring[rev]] + ring_end[coord_ring[rev]] - 1 - order[rev]
        xy = xy[order]
    part_row = np.concatenate(part_rows).astype(np.int64)
    return PolygonRings(xy=np.ascontiguousarray(xy), coord_ring=coord_ring, ring_polygon=ring_poly,
                        ring_start=ring_start, ring_end=ring_end, n_polygons=len(part_row)), part_row


def triangulate_polygons(rings: PolygonRings) -> tuple[np.ndarray, np.ndarray]:
    """Triangles covering each polygon (holes left open).

    Returns ``(triangles, triangle_polygon)``: (t, 3) int64 rows of ``rings.xy`` and the
    polygon of each triangle, counter-clockwise seen from above (see
    :func:`qdt.triangulation.triangulate_rings`, which does the work).
    """
    n_coords = len(rings.xy)
    if n_coords == 0:
        return np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64)
    is_closing = np.zeros(n_coords, dtype=bool)
    is_closing[rings.ring_end - 1] = True
    open_idx = np.flatnonzero(~is_closing)  # polygon vertices without the closing repeats
    ring_open = (rings.ring_end - rings.ring_start - 1).astype(np.int64)
    poly_rings = np.bincount(rings.ring_polygon, minlength=rings.n_polygons)
    tris, tri_poly = triangulate_rings(rings.xy[open_idx], ring_open, poly_rings)
    return open_idx[tris], tri_poly


# --- lines ---------------------------------------------------------------------------------------

@dataclass
class LineVertices:
    """Vertices of many lines: world ``xy`` (n, 2) float64, ``line`` (n,) part index, and the
    fraction ``t`` (n,) of the part's length at each vertex (0 at the start, 1 at the end)."""

    xy: np.ndarray
    line: np.ndarray
    t: np.ndarray

    @property
    def same_next(self) -> np.ndarray:
        """(n-1,) True where vertex i and i+1 belong to the same line (a segment)."""
        return self.line[:-1] == self.line[1:]


def line_vertices(lines: np.ndarray, max_segment: float | None = None) -> LineVertices:
    """Flatten single LineStrings (repeated points removed, optionally densified)."""
    lines = shapely.remove_repeated_points(np.asarray(lines, dtype=object), tolerance=1e-3)
    if max_segment:
        lines = shapely.segmentize(lines, max_segment)
    coords, line = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(line, minlength=len(lines))
    keep = counts[line] >= 2
    coords, line = coords[keep], line[keep].astype(np.int64)
    seg = np.zeros(len(coords))
    if len(coords) > 1:
        d = np.hypot(*(coords[1:] - coords[:-1]).T)
        seg[1:] = np.where(line[1:] == line[:-1], d, 0.0)
    run = np.cumsum(seg)
    starts = np.ones(len(line), dtype=bool)
    starts[1:] = line[1:] != line[:-1]
    start_run = np.maximum.accumulate(np.where(starts, run, 0.0))  # run at each line's first vertex
    along = run - start_run
    total = np.zeros(len(lines))
    np.maximum.at(total, line, along)
    t = np.divide(along, total[line], out=np.zeros_like(along), where=total[line] > 0)
    return LineVertices(xy=coords[:, :2].astype(np.float64), line=line, t=t)


def line_vertices_of(geometries: np.ndarray, max_segment: float | None = None) -> tuple[LineVertices, np.ndarray]:
    """Vertices of every line of ``geometries`` (LineStrings / MultiLineStrings) and the feature row of each line.

    Same as ``line_vertices(*explode(geometries, (1, 2)))`` without intermediate shapely
    geometries: repeated points (within 1 mm of the previous) dropped, lines of fewer than two
    points dropped, and segments longer than ``max_segment`` split evenly.
    """
    ragged = _ragged(geometries, (1, 5))
    if ragged is None:
        lines, rows = explode(geometries, (1, 2))
        return line_vertices(lines, max_segment), rows
    kind, coords, offsets = ragged
    counts = np.diff(offsets[0])
    n_lines = len(counts)
    if kind == 5:
        line_row = np.repeat(np.arange(len(offsets[1]) - 1), np.diff(offsets[1]))
    else:
        line_row = np.arange(n_lines)
    line = np.repeat(np.arange(n_lines, dtype=np.int32), counts)
    # segment lengths from each vertex to the next of its line (0 at a line's last vertex)
    same = line[1:] == line[:-1]
    step = np.zeros(len(coords))
    if len(coords) > 1:
        delta = coords[1:] - coords[:-1]
        step[:-1] = np.where(same, np.hypot(delta[:, 0], delta[:, 1]), 0.0)
    repeated = np.zeros(len(coords), dtype=bool)
    repeated[1:] = same & (step[:-1] <= 1e-3)
    if repeated.any():  # drop points within 1 mm of the previous one, then measure again
        coords, line = coords[~repeated], line[~repeated]
        same = line[1:] == line[:-1]
        step = np.zeros(len(coords))
        if len(coords) > 1:
            delta = coords[1:] - coords[:-1]
            step[:-1] = np.where(same, np.hypot(delta[:, 0], delta[:, 1]), 0.0)
    counts = np.bincount(line, minlength=n_lines)
    if (counts == 1).any():  # lines reduced to one point: gone
        keep = counts[line] >= 2
        coords, line, step = coords[keep], line[keep], step[keep]
        counts = np.bincount(line, minlength=n_lines)
    # distance along its line at each vertex, and each line's length
    run = np.cumsum(step)
    first = np.flatnonzero(np.diff(line, prepend=-1)) if len(line) else np.empty(0, np.int64)
    start_run = np.repeat(run[first] - step[first], np.diff(np.append(first, len(line))))
    along = run - step - start_run
    used = line[first]
    total = np.zeros(n_lines)
    last = np.append(first[1:], len(line)) - 1
    total[used] = along[last]
    if max_segment and len(coords) > 1:
        pieces = np.maximum(np.ceil(step / max_segment), 1).astype(np.int64)
        pieces[step == 0] = 1  # a line's last vertex emits only itself
        source = np.repeat(np.arange(len(coords)), pieces)
        k = np.arange(len(source)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        frac = k / pieces[source]
        nxt = np.minimum(source + 1, len(coords) - 1)
        coords = coords[source] + (coords[nxt] - coords[source]) * frac[:, None]
        along = along[source] + frac * step[source]
        line = line[source]
    renumber = np.full(n_lines, -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    lengths = total[line]
    t = np.divide(along, lengths, out=np.zeros_like(along), where=lengths > 0)
    return LineVertices(xy=coords, line=renumber[line], t=t), line_row[used].astype(np.int64)


def ribbon(xy: np.ndarray, z: np.ndarray, line: np.ndarray, half_width: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                              np.ndarray]:
    """A flat strip of ``2 * half_width`` along each line (mitred joints).

    Parameters are per vertex: local ``xy`` (n, 2), ``z`` (n,), ``line`` (n,), ``half_width`` (n,).
    Returns ``(points (2n, 3) float64, triangles (t, 3) int64, triangle_vertex (t,))`` where
    point 2i is left of vertex i, 2i+1 right, and ``triangle_vertex`` is the segment's first vertex.
    """
    n = len(xy)
    if n < 2:
        return np.empty((0, 3)), np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64)
    same = line[:-1] == line[1:]
    seg = xy[1:] - xy[:-1]
    length = np.hypot(seg[:, 0], seg[:, 1])
    direction = seg / np.maximum(length, 1e-12)[:, None]
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    out_n = np.zeros((n, 2))
    in_n = np.zeros((n, 2))
    out_n[:-1][same] = normal[same]
    in_n[1:][same] = normal[same]
    avg = out_n + in_n
    avg_len = np.hypot(avg[:, 0], avg[:, 1])
    ref = np.where((np.abs(out_n).sum(axis=1) > 0)[:, None], out_n, in_n)
    avg = np.where((avg_len > 1e-9)[:, None], avg / np.maximum(avg_len, 1e-12)[:, None], ref)
    miter = 1.0 / np.clip((avg * ref).sum(axis=1), 0.35, 1.0)
    offset = avg * (half_width * miter)[:, None]
    points = np.empty((2 * n, 3))
    points[0::2, :2] = xy + offset
    points[1::2, :2] = xy - offset
    points[0::2, 2] = z
    points[1::2, 2] = z
    i = np.flatnonzero(same)
    li, ri = 2 * i, 2 * i + 1
    triangles = np.concatenate([np.stack([li, ri, ri + 2], axis=1), np.stack([li, ri + 2, li + 2], axis=1)])
    return points, triangles.astype(np.int64), np.concatenate([i, i])


def tube(centre: np.ndarray, line: np.ndarray, radius: np.ndarray, sides: int = 12) -> tuple[np.ndarray, np.ndarray,
                                                                                              np.ndarray, np.ndarray]:
    """A closed-round tube mesh along 3D polylines with a per-vertex radius.

    Parameters
    ----------
    centre
        (n, 3) local centre-line vertices.
    line
        (n,) line index; consecutive vertices of one line form a segment.
    radius
        (n,) tube radius at each vertex (m).

    Returns
    -------
    points (n*sides, 3), normals (n*sides, 3) unit radial, triangles (t, 3) int64 (outward,
    counter-clockwise), triangle_vertex (t,) the segment's first vertex.
    """
    n = len(centre)
    same = line[:-1] == line[1:] if n > 1 else np.zeros(0, dtype=bool)
    seg = centre[1:] - centre[:-1]
    seg_len = np.linalg.norm(seg, axis=1) if n > 1 else np.zeros(0)
    seg_dir = seg / np.maximum(seg_len, 1e-12)[:, None]
    tangent = np.zeros((n, 3))
    tangent[:-1][same] += seg_dir[same]
    tangent[1:][same] += seg_dir[same]
    t_len = np.linalg.norm(tangent, axis=1)
    tangent = np.where((t_len > 1e-9)[:, None], tangent / np.maximum(t_len, 1e-12)[:, None], [1.0, 0.0, 0.0])
    side = np.cross(tangent, [0.0, 0.0, 1.0])
    s_len = np.linalg.norm(side, axis=1)
    side = np.where((s_len > 1e-6)[:, None], side / np.maximum(s_len, 1e-12)[:, None], [1.0, 0.0, 0.0])
    up = np.cross(side, tangent)
    angle = np.linspace(0.0, 2.0 * math.pi, sides, endpoint=False)
    cos, sin = np.cos(angle), np.sin(angle)
    normals = side[:, None, :] * cos[None, :, None] + up[:, None, :] * sin[None, :, None]  # (n, sides, 3)
    points = centre[:, None, :] + normals * radius[:, None, None]
    i = np.flatnonzero(same)
    k = np.arange(sides)
    a = (i[:, None] * sides + k[None, :]).ravel()
    b = (i[:, None] * sides + (k[None, :] + 1) % sides).ravel()
    a2, b2 = a + sides, b + sides
    triangles = np.concatenate([np.stack([a, a2, b2], axis=1), np.stack([a, b2, b], axis=1)])
    tri_vertex = np.concatenate([np.repeat(i, sides), np.repeat(i, sides)])
    return points.reshape(-1, 3), normals.reshape(-1, 3), triangles.astype(np.int64), tri_vertex


# --- terrain ---------------------------------------------------------------------------------------

@dataclass
class TerrainGrid:
    """A DEM decimated to at most :data:`MAX_TERRAIN_SIDE` vertices a side.

    ``x``, ``y`` (rows, cols) world coordinates of the vertices (pixel centres of the sampled
    pixels), ``z`` heights with NaN for nodata, ``valid`` (rows-1, cols-1) cells whose four
    corners all have data.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    valid: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape  # type: ignore[return-value]

    def cell_quads(self) -> np.ndarray:
        """(c, 4) vertex ids (row-major) of the valid cells, counter-clockwise seen from above.

        Counter-clockwise matters: VTK flips the normals of back faces when lighting.
        """
        rows, cols = self.shape
        r, c = np.nonzero(self.valid)
        v00 = r * cols + c
        quads = np.stack([v00, v00 + 1, v00 + cols + 1, v00 + cols], axis=1).astype(np.int64)
        if rows > 1 and cols > 1:
            east = (self.x[0, 1] - self.x[0, 0], self.y[0, 1] - self.y[0, 0])
            down = (self.x[1, 0] - self.x[0, 0], self.y[1, 0] - self.y[0, 0])
            if east[0] * down[1] - east[1] * down[0] < 0:  # rows run south (north-up raster): clockwise
                quads = quads[:, ::-1]
        return quads


def _stride_indices(n: int, step: int) -> np.ndarray:
    idx = np.arange(0, n, step)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    return idx


def terrain_grid(dem: RasterLayer, max_side: int = MAX_TERRAIN_SIDE) -> TerrainGrid:
    """Sample the DEM at pixel centres every ``step`` pixels (last row and column always kept)."""
    rows, cols = dem.shape
    step = max(1, math.ceil((max(rows, cols) - 1) / (max_side - 1)))
    ri = _stride_indices(rows, step)
    ci = _stride_indices(cols, step)
    z = dem.data[0][np.ix_(ri, ci)].astype(np.float64)
    z[dem.mask[np.ix_(ri, ci)] | ~np.isfinite(z)] = np.nan
    a, b, c, d, e, f = dem.transform
    cc, rr = np.meshgrid(ci + 0.5, ri + 0.5)
    x = a * cc + b * rr + c
    y = d * cc + e * rr + f
    ok = np.isfinite(z)
    valid = ok[:-1, :-1] & ok[:-1, 1:] & ok[1:, :-1] & ok[1:, 1:]
    return TerrainGrid(x=x, y=y, z=z, valid=valid)


def grid_normals(grid: TerrainGrid) -> np.ndarray:
    """(rows*cols, 3) float32 unit normals from the height gradient (nodata as the mean height)."""
    z = grid.z
    filled = np.where(np.isfinite(z), z, np.nanmean(z) if np.isfinite(z).any() else 0.0)
    rows, cols = z.shape
    if rows < 2 or cols < 2:
        out = np.zeros((rows * cols, 3), dtype=np.float32)
        out[:, 2] = 1
        return out
    # derivatives along the grid axes, then to x/y through the grid's own spacing
    dz_dc = np.gradient(filled, axis=1)
    dz_dr = np.gradient(filled, axis=0)
    dx_dc, dy_dc = np.gradient(grid.x, axis=1), np.gradient(grid.y, axis=1)
    dx_dr, dy_dr = np.gradient(grid.x, axis=0), np.gradient(grid.y, axis=0)
    # the cross product of the two tangents, written out (np.cross is several times slower)
    n = np.empty(z.shape + (3,), dtype=np.float64)
    n[..., 0] = dy_dc * dz_dr - dz_dc * dy_dr
    n[..., 1] = dz_dc * dx_dr - dx_dc * dz_dr
    n[..., 2] = dx_dc * dy_dr - dy_dc * dx_dr
    n *= np.sign(n[..., 2:3] + 1e-30)  # point up whatever the raster's row direction
    n /= np.sqrt((n * n).sum(axis=-1, keepdims=True))
    return n.reshape(-1, 3).astype(np.float32)


# --- glyph templates -------------------------------------------------------------------------------

def cylinder_template(radius: float, z0: float, z1: float, sides: int = 16) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray]:
    """A capped vertical cylinder on the z axis: ``(points, normals, triangles)``."""
    angle = np.linspace(0.0, 2.0 * math.pi, sides, endpoint=False)
    ring = np.stack([np.cos(angle), np.sin(angle), np.zeros(sides)], axis=1)
    bottom = ring * [radius, radius, 0] + [0, 0, z0]
    top = ring * [radius, radius, 0] + [0, 0, z1]
    k = np.arange(sides)
    k1 = (k + 1) % sides
    side_pts = np.concatenate([bottom, top])
    side_nrm = np.concatenate([ring, ring])
    side_tri = np.concatenate([np.stack([k, k1, k1 + sides], 1), np.stack([k, k1 + sides, k + sides], 1)])
    # caps: own points so the flat normals do not blend with the sides
    cap_pts = np.concatenate([[[0, 0, z0]], bottom, [[0, 0, z1]], top])
    cap_nrm = np.concatenate([np.tile([0, 0, -1.0], (sides + 1, 1)), np.tile([0, 0, 1.0], (sides + 1, 1))])
    base = 2 * sides
    cap_tri = np.concatenate([np.stack([np.zeros(sides, int), k1 + 1, k + 1], 1) + base,
                              np.stack([np.zeros(sides, int), k + 1, k1 + 1], 1) + base + sides + 1])
    return (np.concatenate([side_pts, cap_pts]), np.concatenate([side_nrm, cap_nrm]),
            np.concatenate([side_tri, cap_tri]).astype(np.int64))


_BOX_FACES = [  # (normal, 4 corner selectors as (x from hi?, y from hi?, z from hi?)) counter-clockwise from outside
    ((-1, 0, 0), [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)]),
    ((1, 0, 0), [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)]),
    ((0, -1, 0), [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)]),
    ((0, 1, 0), [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)]),
    ((0, 0, -1), [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)]),
    ((0, 0, 1), [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]),
]


def box_template(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray]:
    """An axis-aligned box: ``(points (24, 3), normals (24, 3), triangles (12, 3))``."""
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    points, normals, tris = [], [], []
    for f, (normal, corners) in enumerate(_BOX_FACES):
        for sel in corners:
            points.append(np.where(np.array(sel, dtype=bool), hi_a, lo_a))
            normals.append(normal)
        tris += [[4 * f, 4 * f + 1, 4 * f + 2], [4 * f, 4 * f + 2, 4 * f + 3]]
    return np.array(points), np.array(normals, dtype=float), np.array(tris, dtype=np.int64)


def merge_templates(*parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate several ``(points, normals, triangles)`` meshes into one."""
    points, normals, tris, base = [], [], [], 0
    for p, n, t in parts:
        points.append(p)
        normals.append(n)
        tris.append(t + base)
        base += len(p)
    return np.concatenate(points), np.concatenate(normals), np.concatenate(tris)
