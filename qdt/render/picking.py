"""Picking: display point → (layer, feature id, exact world position).

Meshes (buildings, terrain, pipes, drapes, city models) are ray-cast by ``vtkCellPicker``
in double precision against the local float32 geometry; the cell's ``fid`` comes from the
part's cell-fid array. Glyph layers are intersected analytically and vectorised (vertical
cylinders and boxes exactly matching the glyph pieces, lamp dots within a few pixels),
because the cell picker does not see glyph instances. The nearest hit along the ray wins;
its local position plus the scene origin (float64) is the world position.

Layers at opacity below :data:`SEE_THROUGH_OPACITY` are skipped first, so a user who made
the ground translucent picks the pipes beneath it; they are picked only when nothing else is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkStaticCellLocator
from vtkmodules.vtkRenderingCore import vtkCellPicker

from qdt.layers import Layer
from qdt.render.visual import LayerVisual, PickBoxes, PickCylinders, PickSprites, VisualPart

if TYPE_CHECKING:
    from qdt.render.scene import Scene

SEE_THROUGH_OPACITY = 0.5
LOCATOR_MIN_CELLS = 20000  # meshes above this get a cell locator for picking (built on first pick)


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

def ray_cylinders(origin: np.ndarray, direction: np.ndarray, cyl: PickCylinders) -> tuple[float, int]:
    """Smallest ray parameter t ≥ 0 hitting any vertical cylinder (side or caps) and its row; (inf, -1) if none."""
    ox, oy, oz = origin
    dx, dy, dz = direction
    px, py = ox - cyl.centre[:, 0], oy - cyl.centre[:, 1]
    r2 = cyl.radius ** 2
    candidates = np.full(len(r2), np.inf)
    a = dx * dx + dy * dy
    if a > 1e-18:
        b = 2.0 * (px * dx + py * dy)
        c = px * px + py * py - r2
        disc = b * b - 4.0 * a * c
        ok = disc >= 0
        t_side = (-b - np.sqrt(np.where(ok, disc, 0.0))) / (2.0 * a)
        z = oz + t_side * dz
        side = ok & (t_side >= 0) & (z >= cyl.z0) & (z <= cyl.z1)
        candidates = np.where(side, t_side, candidates)
    if abs(dz) > 1e-18:
        for plane in (cyl.z1, cyl.z0):
            t_cap = (plane - oz) / dz
            qx, qy = px + t_cap * dx, py + t_cap * dy
            cap = (t_cap >= 0) & (qx * qx + qy * qy <= r2)
            candidates = np.where(cap & (t_cap < candidates), t_cap, candidates)
    if candidates.size == 0:
        return np.inf, -1
    row = int(np.argmin(candidates))
    return float(candidates[row]), row if np.isfinite(candidates[row]) else -1


def ray_boxes(origin: np.ndarray, direction: np.ndarray, boxes: PickBoxes) -> tuple[float, int]:
    """Smallest entry parameter t ≥ 0 into any axis-aligned box and its row; (inf, -1) if none."""
    safe = np.where(np.abs(direction) < 1e-18, 1e-18, direction)
    t_lo = (boxes.lo - origin) / safe
    t_hi = (boxes.hi - origin) / safe
    t_enter = np.minimum(t_lo, t_hi).max(axis=1)
    t_exit = np.maximum(t_lo, t_hi).min(axis=1)
    hit = (t_exit >= t_enter) & (t_enter >= 0)
    candidates = np.where(hit, t_enter, np.inf)
    if candidates.size == 0:
        return np.inf, -1
    row = int(np.argmin(candidates))
    return float(candidates[row]), row if np.isfinite(candidates[row]) else -1


def _sprites(scene: Scene, x: float, y: float, origin: np.ndarray, direction: np.ndarray,
             sprites: PickSprites) -> tuple[float, int]:
    display = _local_to_display(scene, sprites.position)
    d2 = (display[:, 0] - x) ** 2 + (display[:, 1] - y) ** 2
    near = np.flatnonzero(np.nan_to_num(d2, nan=np.inf) <= sprites.radius_px ** 2)
    if near.size == 0:
        return np.inf, -1
    t = (sprites.position[near] - origin) @ direction / float(direction @ direction)
    best = int(np.argmin(t))
    return float(t[best]), int(near[best])


# --- the pick --------------------------------------------------------------------------------------

def _locator(part: VisualPart) -> vtkStaticCellLocator | None:
    if part.polydata is None or part.polydata.GetNumberOfCells() < LOCATOR_MIN_CELLS:
        return None
    if part.locator is None:
        locator = vtkStaticCellLocator()
        locator.SetDataSet(part.polydata)
        locator.BuildLocator()
        part.locator = locator
    return part.locator  # type: ignore[return-value]


def _candidates(scene: Scene, see_through: bool) -> list[LayerVisual]:
    out = []
    for visual in scene.visuals.values():
        layer = visual.layer
        if not layer.visible or layer.opacity <= 0.0:
            continue
        if (layer.opacity < SEE_THROUGH_OPACITY) != see_through:
            continue
        out.append(visual)
    return out


def _pick_pass(scene: Scene, x: float, y: float, visuals: list[LayerVisual], origin: np.ndarray,
               direction: np.ndarray) -> tuple[float, Layer, int | None, np.ndarray] | None:
    best: tuple[float, Layer, int | None, np.ndarray] | None = None
    norm2 = float(direction @ direction)

    parts: dict[object, tuple[LayerVisual, VisualPart]] = {}
    picker = vtkCellPicker()
    picker.SetTolerance(1e-6)
    picker.PickFromListOn()
    for visual in visuals:
        for part in visual.parts:
            if part.pick_cells and part.polydata is not None and part.polydata.GetNumberOfCells():
                picker.AddPickList(part.actor)
                parts[part.actor] = (visual, part)
                locator = _locator(part)
                if locator is not None:
                    picker.AddLocator(locator)
    if parts and picker.Pick(float(x), float(y), 0.0, scene.renderer):
        hit = parts.get(picker.GetActor())
        if hit is not None:
            visual, part = hit
            local = np.array(picker.GetPickPosition(), dtype=np.float64)
            cell = picker.GetCellId()
            fid = int(part.cell_fids[cell]) if part.cell_fids is not None and 0 <= cell < len(part.cell_fids) else None
            t = float((local - origin) @ direction) / norm2
            best = (t, visual.layer, fid, local)

    for visual in visuals:
        for shapes, intersect in ((visual.cylinders, ray_cylinders), (visual.boxes, ray_boxes)):
            for shape in shapes:
                t, row = intersect(origin, direction, shape)
                if row >= 0 and (best is None or t < best[0]):
                    best = (t, visual.layer, int(shape.fids[row]), origin + t * direction)
        for sprite in visual.sprites:
            t, row = _sprites(scene, x, y, origin, direction, sprite)
            if row >= 0 and (best is None or t < best[0]):
                best = (t, visual.layer, int(sprite.fids[row]), sprite.position[row].astype(np.float64))
    return best


def pick(scene: Scene, x: float, y: float) -> PickResult | None:
    """The nearest feature under display point (x, y), or None.

    ``x``, ``y`` are VTK display coordinates: pixels from the bottom-left of the render
    window (a Qt widget flips y: ``y = height - 1 - qt_y``, times the device pixel ratio);
    fractions are allowed and honoured exactly.
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
