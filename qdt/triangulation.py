"""Triangulating many planar polygons with holes at once: QDT's one triangulation.

Used by the render bridge for footprints and roofs (:func:`qdt.render.geometry.triangulate_polygons`)
and by the CityJSON reader for 3D surfaces projected on their planes
(:func:`qdt.io.cityjson.triangulate`). It sits below both packages (numpy and mapbox-earcut only).

Convex polygons without holes (most footprints and wall quads) are fanned in bulk; concave ones
without holes whose fan from the first reflex vertex turns left everywhere (L, T, U shapes) too;
only the rest go through earcut, one polygon (with its holes) per call, because earcut
triangulates one polygon per call.
"""

from __future__ import annotations

from collections.abc import Callable

import mapbox_earcut
import numpy as np

#: Polygons earcut handles between two calls of ``check`` (a cancel check while reading).
CHECK_EVERY = 2000


def triangulate_rings(xy: np.ndarray, ring_lengths: np.ndarray, polygon_rings: np.ndarray,
                      check: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Triangles covering planar polygons (holes left open).

    Parameters
    ----------
    xy
        (n, 2) float64 vertices of every ring, concatenated, without closing repeats.
    ring_lengths
        (r,) vertices per ring, in ``xy`` order.
    polygon_rings
        (p,) rings per polygon, in ring order; each polygon's first ring is its exterior.
    check
        Called every :data:`CHECK_EVERY` earcut calls (may raise to stop, e.g. on cancel).

    Returns
    -------
    triangles, triangle_polygon
        (t, 3) int64 rows of ``xy``, counter-clockwise in ``xy``'s plane, and the polygon of
        each triangle. Polygons with fewer than 3 vertices give none.
    """
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    ring_open = np.asarray(ring_lengths, dtype=np.int64)
    poly_rings = np.asarray(polygon_rings, dtype=np.int64)
    n_poly = len(poly_rings)
    if len(xy) == 0 or n_poly == 0:
        return np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64)
    ring_polygon = np.repeat(np.arange(n_poly), poly_rings)
    poly_open = np.bincount(ring_polygon, weights=ring_open, minlength=n_poly).astype(np.int64)
    poly_open_end = np.cumsum(poly_open)
    poly_open_start = poly_open_end - poly_open
    ring_open_start = np.cumsum(ring_open) - ring_open
    exterior = np.zeros(len(ring_open), dtype=bool)
    exterior[(np.cumsum(poly_rings) - poly_rings)[poly_rings > 0]] = True

    # turn direction at each vertex: all left turns (or straight) ⇒ convex ring
    nxt_pos = np.arange(len(xy)) + 1
    nonempty = ring_open > 0
    nxt_pos[(ring_open_start + ring_open - 1)[nonempty]] = ring_open_start[nonempty]
    nxt = xy[nxt_pos] - xy
    prev_pos = np.arange(len(xy)) - 1
    first_of_ring = ring_open_start[nonempty]
    prev_pos[first_of_ring] = first_of_ring + ring_open[nonempty] - 1
    prv = nxt[prev_pos]
    cross = prv[:, 0] * nxt[:, 1] - prv[:, 1] * nxt[:, 0]
    scale = np.hypot(prv[:, 0], prv[:, 1]) * np.hypot(nxt[:, 0], nxt[:, 1])
    left = cross >= -1e-9 * np.maximum(scale, 1e-12)
    ring_convex = np.logical_and.reduceat(left.astype(np.int8), np.minimum(ring_open_start, len(xy) - 1)) > 0
    ring_convex &= ring_open >= 3
    fan = (poly_rings == 1) & (poly_open >= 3)
    fan[ring_polygon[exterior]] &= ring_convex[exterior]

    # convex: fan (s, s+j, s+j+1) for j = 1 .. k-2, all polygons at once
    fan_polys = np.flatnonzero(fan)
    fan_counts = poly_open[fan_polys] - 2
    fan_poly_of_tri = np.repeat(fan_polys, fan_counts)
    j = np.arange(fan_counts.sum()) - np.repeat(np.cumsum(fan_counts) - fan_counts, fan_counts) + 1
    s = poly_open_start[fan_poly_of_tri]
    fan_tris = np.stack([s, s + j, s + j + 1], axis=1)

    # concave without holes (L, T, U shapes): a fan from the first reflex vertex is a triangulation
    # whenever all its triangles turn left (their signed areas then add up to the polygon's
    # winding number, so they cannot overlap); true for every polygon with one reflex vertex
    concave = np.flatnonzero(~fan & (poly_rings == 1) & (poly_open >= 4))
    if concave.size:
        k = poly_open[concave]
        start = poly_open_start[concave]
        first_reflex = np.full(n_poly, -1, dtype=np.int64)
        pos = np.flatnonzero(~left)
        poly_of_vertex = np.repeat(np.arange(n_poly), poly_open)
        order = pos[::-1]
        first_reflex[poly_of_vertex[order]] = order - poly_open_start[poly_of_vertex[order]]
        apex = np.maximum(first_reflex[concave], 0)
        counts = k - 2
        tri_poly_c = np.repeat(concave, counts)
        jj = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        kk, ss, aa = np.repeat(k, counts), np.repeat(start, counts), np.repeat(apex, counts)
        cand = np.stack([ss + aa, ss + (aa + jj) % kk, ss + (aa + jj + 1) % kk], axis=1)
        pa, pb, pc = xy[cand[:, 0]], xy[cand[:, 1]], xy[cand[:, 2]]
        area = (pb[:, 0] - pa[:, 0]) * (pc[:, 1] - pa[:, 1]) - (pb[:, 1] - pa[:, 1]) * (pc[:, 0] - pa[:, 0])
        size = np.maximum(np.abs(pb - pa).max(axis=1), np.abs(pc - pa).max(axis=1)) ** 2
        bad = np.bincount(tri_poly_c, weights=area < -1e-9 * size, minlength=n_poly) > 0
        good_tri = ~bad[tri_poly_c]
        fan_tris = np.concatenate([fan_tris, cand[good_tri]])
        fan_poly_of_tri = np.concatenate([fan_poly_of_tri, tri_poly_c[good_tri]])
        fan[concave[~bad[concave]]] = True

    # the rest: earcut, one polygon (with its holes) per call
    others = np.flatnonzero(~fan & (poly_open >= 3))
    ring_end_in_poly = (np.cumsum(ring_open) - poly_open_start[ring_polygon]).astype(np.uint32)
    poly_ring_end = np.cumsum(poly_rings)
    poly_ring_start = poly_ring_end - poly_rings
    pieces: list[np.ndarray] = []
    piece_polys: list[int] = []
    earcut = mapbox_earcut.triangulate_float64
    for count, (p, os_, oe, rs, re_) in enumerate(zip(others.tolist(), poly_open_start[others].tolist(),
                                                      poly_open_end[others].tolist(), poly_ring_start[others].tolist(),
                                                      poly_ring_end[others].tolist(), strict=True)):
        if check is not None and count % CHECK_EVERY == 0:
            check()
        idx = earcut(xy[os_:oe], ring_end_in_poly[rs:re_])
        if idx.size:
            pieces.append(idx.astype(np.int64) + os_)
            piece_polys.append(p)
    if pieces:
        lens = np.array([len(x) // 3 for x in pieces], dtype=np.int64)
        ear_tris = np.concatenate(pieces).reshape(-1, 3)
        ear_poly = np.repeat(np.array(piece_polys, dtype=np.int64), lens)
    else:
        ear_tris = np.empty((0, 3), dtype=np.int64)
        ear_poly = np.empty(0, dtype=np.int64)
    tris = np.concatenate([fan_tris.astype(np.int64), ear_tris])
    tri_poly = np.concatenate([fan_poly_of_tri.astype(np.int64), ear_poly])
    # earcut's winding follows the input; make every triangle counter-clockwise
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    cw = area2 < 0
    tris[cw] = tris[cw][:, [0, 2, 1]]
    return tris, tri_poly
