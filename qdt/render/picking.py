"""Picking: display point → (layer, feature id, exact world position).

Meshes (buildings, terrain, drapes, city models; pipes of an untiled scene) are ray-cast in
double precision against the local float32 geometry through a ``vtkCellTreeLocator`` per
part (tiles whose box the ray misses are skipped, the others tried nearest first); the cell's
``fid`` comes from the part's cell-fid array. Glyph layers and tiled pipes are intersected
analytically and vectorised (vertical cylinders and boxes exactly matching the glyph pieces,
pipe segments as cylinders of their true radius, lamp dots within a few pixels), in groups
rejected by their boxes first, because glyph instances and level-of-detail lines are not the
true shapes. The nearest hit along the ray wins; its local position plus the scene origin
(float64) is the world position.

Layers at opacity below :data:`SEE_THROUGH_OPACITY` are skipped first, so a user who made
the ground translucent picks the pipes beneath it; they are picked only when nothing else is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from vtkmodules.vtkCommonCore import reference
from vtkmodules.vtkCommonDataModel import vtkCellTreeLocator

from qdt.layers import Layer
from qdt.render.heightfield import ray_heightfield
from qdt.render.tiles import group_boxes, ray_box_entry, rows_of_groups
from qdt.render.visual import (
    SEE_THROUGH_ROLES,
    LayerVisual,
    PickBoxes,
    PickCylinders,
    PickSprites,
    PickTubes,
    VisualPart,
)

if TYPE_CHECKING:
    from qdt.render.scene import Scene

SEE_THROUGH_OPACITY = 0.5
MESH_TOLERANCE = 1e-9  # parametric tolerance of the triangle intersections
YIELD_DISTANCE = 1.5  # m along the ray: drapes lie 0.3–0.6 m above the ground they cover
SHAPE_GROUP = 128  # analytic shapes are tested in groups of about this many, rejected by their boxes first


@dataclass(frozen=True)
class PickResult:
    """A picked feature.

    Attributes
    ----------
    layer
        The layer hit.
    fid
        Feature id, or None for a surface without features (terrain, orthophoto).
    world_xyz
        (3,) float64 position of the hit in EPSG:4549 metres and 1985 height.
    local_xyz
        The same position in scene-local coordinates.
    distance
        Distance (m) from the camera's near plane along the pick ray.
    """

    layer: Layer
    fid: int | None
    world_xyz: np.ndarray
    local_xyz: np.ndarray
    distance: float


def _require_window(scene: Scene) -> None:
    if scene.renderer.GetRenderWindow() is None:
        raise RuntimeError("cannot pick: the scene's renderer is not in a render window")


def pick_ray(scene: Scene, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """Local points on the near and far clipping planes under display point (x, y)."""
    renderer = scene.renderer
    ends = []
    for depth in (0.0, 1.0):
        renderer.SetDisplayPoint(float(x), float(y), depth)
        renderer.DisplayToWorld()
        hx, hy, hz, hw = renderer.GetWorldPoint()
        ends.append(np.array([hx, hy, hz]) / (hw if hw else 1.0))
    return ends[0], ends[1]


def world_to_display(scene: Scene, world_xyz: np.ndarray) -> np.ndarray:
    """World (n, 3) float64 → display (n, 3): pixels from the bottom-left corner and depth 0..1."""
    _require_window(scene)
    origin = scene.origin
    local = np.atleast_2d(np.asarray(world_xyz, dtype=np.float64)) - ([origin.x, origin.y, origin.z] if origin else 0.0)
    return _local_to_display(scene, local)


def _local_to_display(scene: Scene, local: np.ndarray) -> np.ndarray:
    renderer = scene.renderer
    camera = renderer.GetActiveCamera()
    matrix = camera.GetCompositeProjectionTransformMatrix(renderer.GetTiledAspectRatio(), -1.0, 1.0)
    m = np.array([[matrix.GetElement(i, j) for j in range(4)] for i in range(4)])
    homogeneous = np.column_stack([local, np.ones(len(local))]) @ m.T
    w = homogeneous[:, 3:4]
    ndc = homogeneous[:, :3] / np.where(w == 0, 1e-300, w)
    width, height = renderer.GetSize()
    ox, oy = renderer.GetOrigin()
    out = np.empty((len(local), 3))
    out[:, 0] = ox + (ndc[:, 0] + 1.0) * 0.5 * width
    out[:, 1] = oy + (ndc[:, 1] + 1.0) * 0.5 * height
    out[:, 2] = (ndc[:, 2] + 1.0) * 0.5
    out[w[:, 0] <= 0] = np.nan  # behind the camera
    return out


# --- analytic glyph intersections (vectorised over instances) -----------------------------------------

def _cylinder_t(origin: np.ndarray, direction: np.ndarray, centre: np.ndarray, z0: np.ndarray, z1: np.ndarray,
                radius: np.ndarray) -> np.ndarray:
    """Entry parameter t ≥ 0 of the ray into each vertical cylinder (side or caps); inf where it misses."""
    ox, oy, oz = origin
    dx, dy, dz = direction
    px, py = ox - centre[:, 0], oy - centre[:, 1]
    r2 = radius ** 2
    candidates = np.full(len(r2), np.inf)
    a = dx * dx + dy * dy
    if a > 1e-18:
        b = 2.0 * (px * dx + py * dy)
        c = px * px + py * py - r2
        disc = b * b - 4.0 * a * c
        ok = disc >= 0
        t_side = (-b - np.sqrt(np.where(ok, disc, 0.0))) / (2.0 * a)
        z = oz + t_side * dz
        side = ok & (t_side >= 0) & (z >= z0) & (z <= z1)
        candidates = np.where(side, t_side, candidates)
    if abs(dz) > 1e-18:
        for plane in (z1, z0):
            t_cap = (plane - oz) / dz
            qx, qy = px + t_cap * dx, py + t_cap * dy
            cap = (t_cap >= 0) & (qx * qx + qy * qy <= r2)
            candidates = np.where(cap & (t_cap < candidates), t_cap, candidates)
    return candidates


def _box_t(origin: np.ndarray, direction: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    safe = np.where(np.abs(direction) < 1e-18, 1e-18, direction)
    t_lo = (lo - origin) / safe
    t_hi = (hi - origin) / safe
    t_enter = np.minimum(t_lo, t_hi).max(axis=1)
    t_exit = np.maximum(t_lo, t_hi).min(axis=1)
    return np.where((t_exit >= t_enter) & (t_enter >= 0), t_enter, np.inf)


def _tube_t(origin: np.ndarray, direction: np.ndarray, a: np.ndarray, b: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Entry parameter t ≥ 0 of the ray into each finite cylinder around segment a→b (no end caps)."""
    axis = b - a
    length = np.linalg.norm(axis, axis=1)
    u = axis / np.maximum(length, 1e-12)[:, None]
    w = origin - a
    du = u @ direction
    wu = (w * u).sum(axis=1)
    d_perp = direction[None, :] - du[:, None] * u
    w_perp = w - wu[:, None] * u
    qa = (d_perp * d_perp).sum(axis=1)
    qb = 2.0 * (w_perp * d_perp).sum(axis=1)
    qc = (w_perp * w_perp).sum(axis=1) - radius ** 2
    disc = qb * qb - 4.0 * qa * qc
    ok = (disc >= 0) & (qa > 1e-18)
    t = (-qb - np.sqrt(np.where(ok, disc, 0.0))) / (2.0 * np.where(qa > 1e-18, qa, 1.0))
    s = wu + t * du
    hit = ok & (t >= 0) & (s >= 0) & (s <= length)
    return np.where(hit, t, np.inf)


def _fat_tube_t(origin: np.ndarray, direction: np.ndarray, a: np.ndarray, b: np.ndarray, radius: np.ndarray,
                mpp_per_metre: float, min_px: float) -> np.ndarray:
    """Ray parameter where the ray passes within the drawn width of each segment: the true radius or
    ``min_px`` pixels at the distance of the closest approach, whichever is wider; inf where it misses.

    Closest approach of the ray ``origin + t·direction`` (t ≥ 0) and the segment a→b, clamped to
    both; the returned t is the ray's point of closest approach (orders hits along the ray).
    """
    axis = b - a
    ee = np.maximum((axis * axis).sum(axis=1), 1e-18)
    dd = float(direction @ direction)
    w = origin - a
    de = axis @ direction
    we = (w * axis).sum(axis=1)
    wd = w @ direction
    denom = dd * ee - de * de
    parallel = denom <= 1e-12 * dd * ee
    s = np.where(parallel, 0.0, (dd * we - de * wd) / np.where(parallel, 1.0, denom))
    s = np.clip(s, 0.0, 1.0)
    t = np.maximum(((a + s[:, None] * axis - origin) @ direction) / dd, 0.0)
    s = np.clip(((w + t[:, None] * direction) * axis).sum(axis=1) / ee, 0.0, 1.0)  # back onto the segment
    gap = origin + t[:, None] * direction - (a + s[:, None] * axis)
    distance = np.sqrt((gap * gap).sum(axis=1))
    reach = np.maximum(radius, min_px * mpp_per_metre * t * np.sqrt(dd))
    return np.where(distance <= reach, t, np.inf)


def _nearest(candidates: np.ndarray) -> tuple[float, int]:
    if candidates.size == 0:
        return np.inf, -1
    row = int(np.argmin(candidates))
    return float(candidates[row]), row if np.isfinite(candidates[row]) else -1


def ray_cylinders(origin: np.ndarray, direction: np.ndarray, cyl: PickCylinders) -> tuple[float, int]:
    """Smallest ray parameter t ≥ 0 hitting any vertical cylinder (side or caps) and its row; (inf, -1) if none."""
    return _nearest(_cylinder_t(origin, direction, cyl.centre, cyl.z0, cyl.z1, cyl.radius))


def ray_boxes(origin: np.ndarray, direction: np.ndarray, boxes: PickBoxes) -> tuple[float, int]:
    """Smallest entry parameter t ≥ 0 into any axis-aligned box and its row; (inf, -1) if none."""
    return _nearest(_box_t(origin, direction, boxes.lo, boxes.hi))


def ray_tubes(origin: np.ndarray, direction: np.ndarray, tubes: PickTubes) -> tuple[float, int]:
    """Smallest ray parameter t ≥ 0 hitting any tube segment's side and its row; (inf, -1) if none."""
    return _nearest(_tube_t(origin, direction, *tubes.ends()))


def _index(shape: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Groups of nearby instances with their boxes (built on first use, kept on the shape)."""
    if shape._index is None:  # type: ignore[attr-defined]
        lo, hi = shape.extent()  # type: ignore[attr-defined]
        shape._index = group_boxes(lo, hi, SHAPE_GROUP)  # type: ignore[attr-defined]
    return shape._index  # type: ignore[attr-defined, return-value]


def _rows_on_ray(shape: object, origin: np.ndarray, direction: np.ndarray,
                 margin_per_metre: float = 0.0) -> np.ndarray:
    """Rows of the groups whose box the ray meets; boxes grow by ``margin_per_metre`` × their farthest
    distance from the ray's origin (shapes picked within a number of pixels)."""
    order, start, lo, hi = _index(shape)
    if margin_per_metre > 0 and len(lo):
        far = np.sqrt((np.maximum(np.abs(lo - origin), np.abs(hi - origin)) ** 2).sum(axis=1))
        margin = (margin_per_metre * far)[:, None]
        lo, hi = lo - margin, hi + margin
    groups = np.flatnonzero(np.isfinite(ray_box_entry(origin, direction, lo, hi)))
    return rows_of_groups(order, start, groups)


def _shape_hit(shape: object, origin: np.ndarray, direction: np.ndarray,
               scene: Scene | None = None) -> tuple[float, int]:
    """Nearest hit of the ray on an analytic shape set: (t, row) or (inf, -1)."""
    min_px = float(getattr(shape, "min_px", 0.0)) if scene is not None else 0.0
    mpp = _mpp_per_metre(scene) if min_px > 0 else 0.0
    rows = _rows_on_ray(shape, origin, direction, min_px * mpp)
    if rows.size == 0:
        return np.inf, -1
    if isinstance(shape, PickCylinders):
        t = _cylinder_t(origin, direction, shape.centre[rows], shape.z0[rows], shape.z1[rows], shape.radius[rows])
    elif isinstance(shape, PickBoxes):
        t = _box_t(origin, direction, shape.lo[rows], shape.hi[rows])
    elif min_px > 0:  # the true surface where the ray meets it, else within the drawn line's width
        ends = shape.ends(rows)
        t = _tube_t(origin, direction, *ends)
        t = np.where(np.isfinite(t), t, _fat_tube_t(origin, direction, *ends, mpp, min_px))
    else:
        t = _tube_t(origin, direction, *shape.ends(rows))
    best, i = _nearest(t)
    return best, int(rows[i]) if i >= 0 else -1


def _sprites(scene: Scene, x: float, y: float, origin: np.ndarray, direction: np.ndarray,
             sprites: PickSprites) -> tuple[float, int]:
    """The nearest drawn dot within ``radius_px`` of (x, y): screen test of groups, then of dots."""
    order, start, lo, hi = _index(sprites)
    if len(lo) == 0:
        return np.inf, -1
    corners = np.stack([np.where(np.array(bits, dtype=bool), hi, lo) for bits in
                        ((0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 1), (1, 1, 1))], 1)
    screen = _local_to_display(scene, corners.reshape(-1, 3)).reshape(len(lo), 8, 3)
    behind = np.isnan(screen[:, :, 0]).any(axis=1)
    r = sprites.radius_px
    sx = np.where(behind[:, None], 0.0, screen[:, :, 0])
    sy = np.where(behind[:, None], 0.0, screen[:, :, 1])
    inside = ((sx.min(axis=1) - r <= x) & (sx.max(axis=1) + r >= x)
              & (sy.min(axis=1) - r <= y) & (sy.max(axis=1) + r >= y))
    rows = rows_of_groups(order, start, np.flatnonzero(inside | behind))
    if rows.size == 0:
        return np.inf, -1
    position = sprites.position[rows]
    display = _local_to_display(scene, position)
    d2 = (display[:, 0] - x) ** 2 + (display[:, 1] - y) ** 2
    near = np.nan_to_num(d2, nan=np.inf) <= r ** 2
    if math.isfinite(sprites.max_mpp):  # only dots the level of detail draws
        distance = np.linalg.norm(position - _eye(scene), axis=1)
        near &= distance * _mpp_per_metre(scene) <= sprites.max_mpp
    near = np.flatnonzero(near)
    if near.size == 0:
        return np.inf, -1
    t = (position[near] - origin) @ direction / float(direction @ direction)
    best = int(np.argmin(t))
    return float(t[best]), int(rows[near[best]])


def _eye(scene: Scene) -> np.ndarray:
    return np.array(scene.renderer.GetActiveCamera().GetPosition(), dtype=np.float64)


def _mpp_per_metre(scene: Scene) -> float:
    camera = scene.renderer.GetActiveCamera()
    height = max(scene.renderer.GetSize()[1], 1)
    if camera.GetParallelProjection():
        return 2.0 * camera.GetParallelScale() / height / max(camera.GetDistance(), 1e-9)
    return 2.0 * math.tan(math.radians(camera.GetViewAngle()) / 2.0) / height


# --- the pick --------------------------------------------------------------------------------------

def _locator(part: VisualPart) -> vtkCellTreeLocator:
    """The part's cell locator, built on its first pick: a cell tree takes ~27 bytes a triangle where
    vtkStaticCellLocator takes ~80 (and twice the time to build, a few ms a tile)."""
    if part.locator is None:
        locator = vtkCellTreeLocator()
        locator.SetCacheCellBounds(False)  # bounds are recomputed for the few cells a ray meets
        locator.SetDataSet(part.polydata)
        locator.BuildLocator()
        part.locator = locator
    return part.locator  # type: ignore[return-value]


def _see_through(visual: LayerVisual, underground: bool) -> bool:
    """Picked only when nothing else is: translucent layers, and the ground, buildings and drapes in the
    underground view."""
    if underground and visual.role in SEE_THROUGH_ROLES:
        return True
    return visual.layer.opacity * visual.display_opacity < SEE_THROUGH_OPACITY


def _candidates(scene: Scene, see_through: bool) -> list[LayerVisual]:
    out = []
    underground = bool(getattr(scene, "underground", False))
    for visual in scene.visuals.values():
        layer = visual.layer
        if not layer.visible or layer.opacity <= 0.0 or not visual.display_shown:
            continue
        if _see_through(visual, underground) != see_through:
            continue
        out.append(visual)
    return out


def _mesh_hit(parts: list[VisualPart], origin: np.ndarray,
              direction: np.ndarray) -> tuple[float, VisualPart, int, np.ndarray] | None:
    """Nearest triangle hit among mesh parts: boxes first (nearest entry first), then each part's locator."""
    if not parts:
        return None
    bounds = np.array([part.bounds() for part in parts])
    entry = ray_box_entry(origin, direction, bounds[:, 0::2], bounds[:, 1::2])
    best = None
    p2 = origin + direction
    for i in np.argsort(entry, kind="stable").tolist():
        if not np.isfinite(entry[i]) or (best is not None and entry[i] > best[0]):
            break
        part = parts[i]
        t, xyz, pcoords = reference(0.0), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        sub_id, cell_id = reference(0), reference(0)
        if _locator(part).IntersectWithLine(origin, p2, MESH_TOLERANCE, t, xyz, pcoords, sub_id, cell_id):
            if best is None or float(t) < best[0]:
                best = (float(t), part, int(cell_id), np.array(xyz, dtype=np.float64))
    return best


def _rank(visual: LayerVisual, part: VisualPart | None) -> int:
    """Who wins among hits close together along the ray (lower wins): features, then opaque drapes
    (roads), then translucent fills (zones), then the ground."""
    if visual.role == "ground":
        return 3
    if visual.role == "drape":
        return 2 if part is not None and part.opacity_factor < 1.0 else 1
    return 0


def _visual_hit(scene: Scene, x: float, y: float, visual: LayerVisual, origin: np.ndarray,
                direction: np.ndarray) -> tuple[float, int, int | None, np.ndarray] | None:
    """The visual's nearest hit: (t, rank, fid, local position) or None."""
    best: tuple[float, int, int | None, np.ndarray] | None = None
    meshes = [part for part in visual.parts
              if part.pick_cells and part.polydata is not None and part.polydata.GetNumberOfCells()]
    hit = _mesh_hit(meshes, origin, direction)
    if hit is not None:
        t, part, cell, local = hit
        fids = part.cell_fids
        fid = int(fids[cell]) if fids is not None and 0 <= cell < len(fids) else None
        best = (t, _rank(visual, part), fid, local)
    rank = _rank(visual, None)
    for field in visual.heightfields:
        t, i, j = ray_heightfield(field, origin, direction)
        if i >= 0 and (best is None or t < best[0]):
            fid = None
            if field.cell_row is not None and field.fids is not None:
                fid = int(field.fids[field.cell_row[i, j]])
            best = (t, rank + field.rank_offset, fid, origin + t * direction)
    for shape in (*visual.cylinders, *visual.boxes, *visual.tubes):
        t, row = _shape_hit(shape, origin, direction, scene)
        if row >= 0 and (best is None or t < best[0]):
            best = (t, rank, int(shape.fids[row]), origin + t * direction)
    for sprite in visual.sprites:
        t, row = _sprites(scene, x, y, origin, direction, sprite)
        if row >= 0 and (best is None or t < best[0]):
            best = (t, rank, int(sprite.fids[row]), sprite.position[row].astype(np.float64))
    return best


def _pick_pass(scene: Scene, x: float, y: float, visuals: list[LayerVisual], origin: np.ndarray,
               direction: np.ndarray) -> tuple[float, Layer, int | None, np.ndarray] | None:
    """The nearest hit, except that a hit of a lower rank (:func:`_rank`) at most :data:`YIELD_DISTANCE`
    metres behind it wins: a manhole cover under a road ribbon, a road under a zone's fill."""
    hits = []
    for visual in visuals:
        hit = _visual_hit(scene, x, y, visual, origin, direction)
        if hit is not None:
            hits.append((hit, visual.layer))
    if not hits:
        return None
    hits.sort(key=lambda h: h[0][0])
    (t0, rank0, fid0, local0), layer0 = hits[0]
    best = (t0, rank0, layer0, fid0, local0)
    length = float(np.sqrt(direction @ direction))
    for (t, rank, fid, local), layer in hits[1:]:
        if (t - t0) * length > YIELD_DISTANCE:
            break
        if rank < best[1]:
            best = (t, rank, layer, fid, local)
    return best[0], best[2], best[3], best[4]


def pick(scene: Scene, x: float, y: float) -> PickResult | None:
    """The nearest feature under display point (x, y), or None.

    ``x``, ``y`` are VTK display coordinates: pixels from the bottom-left of the render
    window (a Qt widget flips y: ``y = height - 1 - qt_y``, times the device pixel ratio);
    fractions are allowed and honoured exactly.

    Picking sees the full-detail geometry of every drawn layer whatever its level of detail
    (tiles hidden by distance, glyphs outside the near set) except lamp dots, which are
    picked only where they are drawn. In the underground view, and for layers more
    transparent than :data:`SEE_THROUGH_OPACITY`, the ground, buildings and drapes are
    picked only when nothing else is under the cursor.
    """
    _require_window(scene)
    if scene.origin is None:
        return None
    near, far = pick_ray(scene, x, y)
    direction = far - near
    best = _pick_pass(scene, x, y, _candidates(scene, False), near, direction)
    if best is None:
        best = _pick_pass(scene, x, y, _candidates(scene, True), near, direction)
    if best is None:
        return None
    t, layer, fid, local = best
    o = scene.origin
    world = np.array([local[0] + o.x, local[1] + o.y, local[2] + o.z], dtype=np.float64)
    return PickResult(layer=layer, fid=fid, world_xyz=world, local_xyz=np.asarray(local, dtype=np.float64),
                      distance=float(t * np.sqrt(direction @ direction)))
