"""Export the visible 3D scene to binary glTF 2.0 (.glb) for other tools (Blender, Cesium, three.js).

The geometry is the scene's own: every visible layer's polydata as the 3D view draws it
(``Scene(lod=False)``: full detail), glyph layers (poles, manholes) instanced here from their
template, vertex colours from the colour buffers (selection highlight included), opacity as
material alpha, the orthophoto as the terrain's texture.

Layout of the file::

    scene 0
      node "qdt_scene"   rotation z-up → y-up (glTF is y-up); extras: crs, origin, height datum
        node <layer name> × one per visible layer with geometry (mesh: one primitive per part)

Coordinates are local metres, ``world - origin`` (the origin, in the project CRS, is in the
root node's and the asset's ``extras.qdt.origin``), so float32 keeps centimetres.
Triangles are written unindexed (cell colours need their own vertices); lines and points
as glTF LINES and POINTS.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from qdt.export.errors import ExportError
from qdt.safe_output import atomic_output, input_files
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

__all__ = ["GltfSummary", "export_gltf", "export_gltf_task", "scene_meshes"]

_FLOAT, _UBYTE, _UINT = 5126, 5121, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_POINTS, _LINES, _TRIANGLES = 0, 1, 4
# Stated tolerance of the exported terrain: every DEM grid vertex within 0.25 m (vertically) of the
# exported surface (the view draws the full grid; the sample's 2 m DEM becomes ~1 800 vertices).
TERRAIN_TOLERANCE_M = 0.25
TERRAIN_CREASE_DEG = 30.0  # TIN faces meeting at a sharper angle get their own vertex normals
_Z_UP_TO_Y_UP = [-math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)]  # -90° about x: (x, y, z) → (x, z, -y)


@dataclass
class Primitive:
    """One glTF primitive: unindexed vertices of one mode, with colours and optional normals/texture."""

    mode: int
    positions: np.ndarray  # (n, 3) float32 local
    colours: np.ndarray | None = None  # (n, 3) uint8
    normals: np.ndarray | None = None  # (n, 3) float32
    uv: np.ndarray | None = None  # (n, 2) float32, glTF convention (v down)
    texture_png: bytes | None = None
    opacity: float = 1.0
    base_colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    indices: np.ndarray | None = None  # (m,) uint32 into the vertices; None: unindexed


@dataclass
class LayerMesh:
    name: str
    layer_id: str
    primitives: list[Primitive] = field(default_factory=list)


@dataclass
class GltfSummary:
    """What :func:`export_gltf` wrote: the file, the layer nodes, counts and the origin."""

    path: Path
    layers: list[str]
    node_count: int
    triangle_count: int
    origin: tuple[float, float, float]


def _numpy(array: Any) -> np.ndarray:
    from qdt.render.arrays import from_vtk

    return np.asarray(from_vtk(array))


def _cells(cell_array: Any) -> tuple[np.ndarray, np.ndarray]:
    return _numpy(cell_array.GetOffsetsArray()).astype(np.int64), _numpy(cell_array.GetConnectivityArray())


def _mapper_colours(mapper: Any, poly: Any) -> tuple[np.ndarray | None, bool]:
    """The mapper's direct RGB colours and whether they are per cell."""
    if not mapper.GetScalarVisibility():
        return None, False
    name = mapper.GetArrayName()
    on_cells = mapper.GetScalarMode() in (2, 4)  # VTK_SCALAR_MODE_USE_CELL_DATA / _CELL_FIELD_DATA
    data = poly.GetCellData() if on_cells else poly.GetPointData()
    array = data.GetArray(name) if name else data.GetScalars()
    if array is None or array.GetNumberOfComponents() < 3:
        return None, on_cells
    values = _numpy(array)
    if values.dtype != np.uint8:
        values = np.clip(values, 0, 255).astype(np.uint8)
    return values[:, :3], on_cells


def _texture_png(actor: Any) -> bytes | None:
    texture = actor.GetTexture()
    if texture is None or texture.GetInput() is None:
        return None
    from PIL import Image

    from qdt.render.arrays import image_to_numpy

    image = image_to_numpy(texture.GetInput())  # top-down
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image[..., :3])).save(buffer, "PNG")
    return buffer.getvalue()


def _triangulated(poly: Any) -> Any:
    offsets = _numpy(poly.GetPolys().GetOffsetsArray())
    if poly.GetNumberOfStrips() == 0 and (offsets.size < 2 or np.all(np.diff(offsets) == 3)):
        return poly
    from vtkmodules.vtkFiltersCore import vtkTriangleFilter

    tri = vtkTriangleFilter()
    tri.SetInputData(poly)
    tri.PassLinesOff()
    tri.PassVertsOff()
    tri.Update()
    return tri.GetOutput()


def _glyph_primitive(part: Any, mapper: Any, colour: tuple[float, float, float], opacity: float) -> Primitive | None:
    """Instances of a vtkGlyph3DMapper's template at its centres (scaled per axis like the mapper)."""
    source = _triangulated(mapper.GetSource(0))
    centres = part.polydata
    if source is None or centres is None or centres.GetNumberOfPoints() == 0 or source.GetNumberOfPolys() == 0:
        return None
    if source.GetPointData().GetNormals() is None:
        from vtkmodules.vtkFiltersCore import vtkPolyDataNormals

        normals_filter = vtkPolyDataNormals()
        normals_filter.SetInputData(source)
        normals_filter.SplittingOn()  # sharp edges (box corners) get their own vertices
        normals_filter.Update()
        source = normals_filter.GetOutput()
    template = _numpy(source.GetPoints().GetData()).astype(np.float64)
    template_normals = _numpy(source.GetPointData().GetNormals()).astype(np.float64)
    _, conn = _cells(source.GetPolys())
    tris = conn.reshape(-1, 3)
    at = _numpy(centres.GetPoints().GetData()).astype(np.float64)
    scale = np.ones((len(at), 3))
    if mapper.GetScaling():
        from vtkmodules.vtkCommonDataModel import vtkDataObject

        info = mapper.GetInputArrayInformation(0)  # vtkGlyph3DMapper::SCALE
        key = vtkDataObject.FIELD_NAME()
        name = info.Get(key) if info is not None and info.Has(key) else None
        values = centres.GetPointData().GetArray(name) if name else None
        if values is not None and mapper.GetScaleMode() == 2:  # SCALE_BY_COMPONENTS
            scale = _numpy(values).reshape(len(at), -1)[:, :3].astype(np.float64)
    k = len(template)
    positions = (at[:, None, :] + template[None, :, :] * scale[:, None, :]).reshape(-1, 3)
    # normals of a scaled shape: scale by the inverse, renormalise
    normals = (template_normals[None, :, :] / np.where(scale == 0, 1.0, scale)[:, None, :]).reshape(-1, 3)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    indices = (tris.ravel()[None, :] + (np.arange(len(at)) * k)[:, None]).ravel()
    rgb, _ = _mapper_colours(mapper, centres)
    colours = None if rgb is None else np.repeat(rgb, k, axis=0)
    return Primitive(_TRIANGLES, positions.astype(np.float32), colours, normals.astype(np.float32),
                     opacity=opacity, base_colour=colour, indices=indices.astype(np.uint32))


def _flat_normals(positions: np.ndarray) -> np.ndarray:
    tri = positions.reshape(-1, 3, 3).astype(np.float64)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = np.divide(normal, length, out=np.tile([0.0, 0.0, 1.0], (len(normal), 1)), where=length > 0)
    return np.repeat(normal, 3, axis=0).astype(np.float32)


def _mesh_primitives(part: Any, mapper: Any, colour: tuple[float, float, float], opacity: float,
                     texture: bytes | None) -> list[Primitive]:
    poly = mapper.GetInput()
    if poly is None or poly.GetNumberOfPoints() == 0:
        return []
    points = _numpy(poly.GetPoints().GetData()).astype(np.float32)
    rgb, on_cells = _mapper_colours(mapper, poly)
    out = []
    # cells are ordered verts, lines, polys, strips in VTK's cell ids
    cell_base = 0
    for kind, cells in (("verts", poly.GetVerts()), ("lines", poly.GetLines())):
        n = cells.GetNumberOfCells()
        if n:
            offsets, conn = _cells(cells)
            counts = np.diff(offsets)
            if kind == "verts":
                vid = conn
                cell_of = np.repeat(np.arange(n), counts)
                mode = _POINTS
            else:  # polylines → segments
                seg = np.ones(max(len(conn) - 1, 0), dtype=bool)
                seg[offsets[1:-1] - 1] = False  # no segment from one polyline's last vertex to the next's first
                starts = np.flatnonzero(seg)
                vid = np.stack([conn[starts], conn[starts + 1]], axis=1).ravel()
                cell_of = np.repeat(np.repeat(np.arange(n), counts)[starts], 2)
                mode = _LINES
            colours = None
            if rgb is not None:
                colours = rgb[cell_base + cell_of] if on_cells else rgb[vid]
            out.append(Primitive(mode, points[vid], colours, opacity=opacity, base_colour=colour))
        cell_base += n
    if poly.GetNumberOfPolys() or poly.GetNumberOfStrips():
        source = poly
        if poly.GetNumberOfStrips() or np.any(np.diff(_numpy(poly.GetPolys().GetOffsetsArray())) != 3):
            source = _triangulated(poly)  # keeps cell data per triangle
            rgb, on_cells = _mapper_colours(mapper, source) if rgb is not None else (None, on_cells)
            points = _numpy(source.GetPoints().GetData()).astype(np.float32)
            cell_base = source.GetNumberOfVerts() + source.GetNumberOfLines()
        _, conn = _cells(source.GetPolys())
        tris = conn.reshape(-1, 3)
        ntri = len(tris)
        normals_array = source.GetPointData().GetNormals()
        normals = _numpy(normals_array).astype(np.float32) if normals_array is not None else None
        tcoords = source.GetPointData().GetTCoords()
        uv = None
        if texture is not None and tcoords is not None:
            uv = _numpy(tcoords).astype(np.float32).copy()
            uv[:, 1] = 1.0 - uv[:, 1]  # glTF's v runs down the image
        point_rgb = rgb
        if rgb is not None and on_cells:
            # cell colours become vertex colours when every vertex's cells share one colour (a vertex
            # belongs to one feature), so the mesh stays indexed; else each triangle gets its own vertices
            cell_rgb = rgb[cell_base:cell_base + ntri]
            point_rgb = np.zeros((len(points), 3), dtype=np.uint8)
            point_rgb[tris.ravel()] = np.repeat(cell_rgb, 3, axis=0)
            if not np.array_equal(point_rgb[tris.ravel()], np.repeat(cell_rgb, 3, axis=0)):
                point_rgb = None
        if normals is not None and (rgb is None or point_rgb is not None):
            out.append(Primitive(_TRIANGLES, points, point_rgb, normals, uv, texture if uv is not None else None,
                                 opacity, colour, indices=tris.ravel().astype(np.uint32)))
        else:
            vid = tris.ravel()
            colours = None
            if rgb is not None:
                colours = np.repeat(rgb[cell_base:cell_base + ntri], 3, axis=0) if on_cells else rgb[vid]
            out.append(Primitive(_TRIANGLES, points[vid], colours, _flat_normals(points[vid]),
                                 None if uv is None else uv[vid], texture if uv is not None else None,
                                 opacity, colour))
    return out


def terrain_tin(grid: Any, tolerance: float = TERRAIN_TOLERANCE_M) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The DEM grid as a TIN within ``tolerance`` metres (vertically) of every grid vertex.

    VTK's ``vtkGreedyTerrainDecimation`` (Garland & Heckbert's greedy insertion: the vertex of
    largest error goes in until every vertex is within the absolute error). Nodata takes the
    height of its nearest valid pixel for the insertion, then triangles whose centre is over
    nodata are dropped. Returns ``(points (n, 3) world,
    triangles (m, 3) counter-clockwise from above, grid vertex id of each point)``, or None for a
    rotated grid.
    """
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersHybrid import vtkGreedyTerrainDecimation

    from qdt.render.arrays import from_vtk, to_vtk

    rows, cols = grid.shape
    if rows < 2 or cols < 2:
        return None
    dx, dy = grid.x[0, 1] - grid.x[0, 0], grid.y[1, 0] - grid.y[0, 0]
    if abs(grid.y[0, 1] - grid.y[0, 0]) > 1e-6 * abs(dx) or abs(grid.x[1, 0] - grid.x[0, 0]) > 1e-6 * abs(dy) \
            or dx <= 0:
        return None
    z = grid.z[::-1] if dy < 0 else grid.z
    y0 = grid.y[-1, 0] if dy < 0 else grid.y[0, 0]
    finite = np.isfinite(z)
    if not finite.any():
        return None
    filled = z
    if not finite.all():  # nodata takes its nearest height: no false cliff for the error to follow
        from scipy.ndimage import distance_transform_edt

        nearest = distance_transform_edt(~finite, return_distances=False, return_indices=True)
        filled = z[nearest[0], nearest[1]]
    filled = np.asarray(filled, dtype=np.float32)
    image = vtkImageData()
    image.SetDimensions(cols, rows, 1)
    image.SetOrigin(0.0, 0.0, 0.0)  # local to the grid: float32 keeps centimetres
    image.SetSpacing(float(dx), float(abs(dy)), 1.0)
    values = np.ascontiguousarray(filled.ravel())
    image.GetPointData().SetScalars(to_vtk(values, "z"))
    greedy = vtkGreedyTerrainDecimation()
    greedy.SetInputData(image)
    greedy.SetErrorMeasureToAbsoluteError()
    greedy.SetAbsoluteError(float(tolerance))
    greedy.BoundaryVertexDeletionOn()
    greedy.Update()
    out = greedy.GetOutput()
    first = np.asarray(from_vtk(out.GetPoints().GetData()), dtype=np.float64)
    image_ids = (np.clip(np.rint(first[:, 1] / abs(dy)).astype(np.int64), 0, rows - 1) * cols
                 + np.clip(np.rint(first[:, 0] / dx).astype(np.int64), 0, cols - 1))
    # greedy insertion's bound is not strict near the edges: check every grid vertex against the
    # triangulation and insert the worst vertex of each triangle that misses, until none does
    from scipy.spatial import Delaunay

    gx, gy = np.meshgrid(np.arange(cols) * float(dx), np.arange(rows) * float(abs(dy)))
    xy_all = np.stack([gx.ravel(), gy.ravel()], axis=1)
    z_all = filled.ravel().astype(np.float64)
    chosen = np.unique(np.concatenate([image_ids, [0, cols - 1, (rows - 1) * cols, rows * cols - 1]]))
    for _ in range(100):
        tin = Delaunay(xy_all[chosen])
        simplex = tin.find_simplex(xy_all)
        transform = tin.transform[simplex]
        bary = np.einsum("nij,nj->ni", transform[:, :2], xy_all - transform[:, 2])
        weights = np.column_stack([bary, 1.0 - bary.sum(axis=1)])
        surface = (weights * z_all[chosen][tin.simplices[simplex]]).sum(axis=1)
        error = np.abs(surface - z_all)
        error[simplex < 0] = np.inf
        bad = error > tolerance
        if not bad.any():
            break
        order = np.lexsort((-error[bad], simplex[bad]))
        worst = np.flatnonzero(bad)[order]
        first_of = np.r_[True, simplex[worst][1:] != simplex[worst][:-1]]
        chosen = np.union1d(chosen, worst[first_of])
    triangles = tin.simplices.astype(np.int64)
    image_ids = chosen
    points = np.column_stack([xy_all[chosen], z_all[chosen]])
    centre = points[triangles].mean(axis=1)
    col = np.clip(np.rint(centre[:, 0] / dx).astype(np.int64), 0, cols - 1)
    row = np.clip(np.rint(centre[:, 1] / abs(dy)).astype(np.int64), 0, rows - 1)
    triangles = triangles[finite[row, col]]
    image_row = image_ids // cols
    grid_row = rows - 1 - image_row if dy < 0 else image_row
    grid_ids = grid_row * cols + image_ids % cols
    points[:, 0] += grid.x[0, 0]
    points[:, 1] += y0
    a, b, c = (points[triangles[:, k], :2] for k in range(3))
    clockwise = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]) < 0
    triangles[clockwise] = triangles[clockwise][:, ::-1]
    return points, triangles, grid_ids


def _simplified(scene: Any, layer: Any, visual: Any, primitives: list[Primitive]) -> list[Primitive]:
    """The terrain as a TIN within :data:`TERRAIN_TOLERANCE_M`; zone drapes cut to that TIN.

    The view draws the DEM at full grid resolution and zone fills as its cells: a glTF of that
    is mostly terrain triangles. The export writes the TIN instead (orthophoto texture and tints
    kept), and each zone fill as the zone polygon cut by the TIN's triangles, lying on them
    (+ the view's lift); zone outlines are the view's own.
    """
    context = scene.context
    if context is None or context.dem is None:
        return primitives
    is_ground = visual.role == "ground" and layer is context.dem
    is_zone = visual.role == "drape" and getattr(layer, "geometry", None) is not None and \
        getattr(layer, "feature_class", None) not in ("road",) and any(p.mode == _TRIANGLES for p in primitives) \
        and bool(np.isin(shapely.get_type_id(layer.geometry), (3, 6)).all())
    if not (is_ground or is_zone):
        return primitives
    tin = _scene_tin(scene, context)
    if tin is None:
        return primitives
    points, triangles, grid_ids = tin
    if is_ground:
        return [_tin_ground(scene, context, p, points, triangles, grid_ids) if p.mode == _TRIANGLES else p
                for p in primitives]
    return _zone_fill(scene, layer, points, triangles, primitives)


def _scene_tin(scene: Any, context: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    cache = context._cache
    key = ("export_tin", id(context.dem), TERRAIN_TOLERANCE_M)
    if key not in cache:
        cache[key] = terrain_tin(context.terrain_grid(), TERRAIN_TOLERANCE_M)
    return cache[key]


def _tin_ground(scene: Any, context: Any, full: Primitive, points: np.ndarray, triangles: np.ndarray,
                grid_ids: np.ndarray) -> Primitive:
    from qdt.render.builders.terrain import ortho_texture
    from qdt.render.colours import hypsometric
    from qdt.render.geometry import grid_normals

    origin = scene.origin
    local = (points - np.array([origin.x, origin.y, origin.z])).astype(np.float32)
    colours = np.full((len(points), 3), 255, dtype=np.uint8)
    uv = None
    inside = np.zeros(len(points), dtype=bool)
    if context.ortho is not None and full.texture_png is not None:
        _, tcoords, inside = ortho_texture(context.ortho, points[:, 0], points[:, 1])
        uv = np.asarray(tcoords, dtype=np.float32).copy()
        uv[:, 1] = 1.0 - uv[:, 1]  # glTF's v runs down the image
    colours[~inside] = hypsometric(points[~inside, 2])
    # the grid's own gradient where the ground is smooth; along breaks (a sea wall) the TIN's faces
    # get split normals, else one steep vertex normal darkens the long triangles that meet there
    normals = grid_normals(context.terrain_grid())[grid_ids]
    local, colours, normals, uv, triangles = _split_normals(local, triangles, colours, normals, uv)
    return Primitive(_TRIANGLES, local, colours, normals, uv, full.texture_png if uv is not None else None,
                     full.opacity, full.base_colour, triangles.ravel().astype(np.uint32))


def _split_normals(local: np.ndarray, triangles: np.ndarray, colours: np.ndarray, normals: np.ndarray,
                   uv: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Vertex normals of the TIN split at creases over :data:`TERRAIN_CREASE_DEG` (vtkPolyDataNormals);
    vertices that are not split keep ``normals`` (the DEM gradient)."""
    from vtkmodules.vtkFiltersCore import vtkPolyDataNormals

    from qdt.render.arrays import from_vtk, make_polydata

    ids = np.arange(len(local), dtype=np.int64)
    point_data = {"colours": colours, "source_id": ids}
    if uv is not None:
        point_data["uv"] = uv
    poly = make_polydata(local, polys=triangles, point_data=point_data)
    normals_filter = vtkPolyDataNormals()
    normals_filter.SetInputData(poly)
    normals_filter.SplittingOn()
    normals_filter.SetFeatureAngle(TERRAIN_CREASE_DEG)
    normals_filter.ConsistencyOff()
    normals_filter.Update()
    out = normals_filter.GetOutput()
    data = out.GetPointData()
    source = np.asarray(from_vtk(data.GetArray("source_id")), dtype=np.int64)
    split = np.bincount(source, minlength=len(local)) > 1
    new_normals = np.asarray(from_vtk(data.GetNormals()), dtype=np.float32)
    out_normals = np.where(split[source][:, None], new_normals, normals[source]).astype(np.float32)
    out_uv = None if uv is None else np.asarray(from_vtk(data.GetArray("uv")), dtype=np.float32).copy()
    return (np.asarray(from_vtk(out.GetPoints().GetData()), dtype=np.float32).copy(),
            np.asarray(from_vtk(data.GetArray("colours")), dtype=np.uint8).copy(), out_normals, out_uv,
            np.asarray(from_vtk(out.GetPolys().GetConnectivityArray()), dtype=np.int64).reshape(-1, 3).copy())


def _zone_fill(scene: Any, layer: Any, points: np.ndarray, triangles: np.ndarray,
               primitives: list[Primitive]) -> list[Primitive]:
    """Zone polygons cut by the TIN's triangles, each piece on its triangle's plane (+ the view's lift)."""
    from qdt.render.builders.lines import ZONE_LIFT, _colours
    from qdt.render.colours import ZONE_DEFAULT
    from qdt.render.geometry import explode, polygon_rings, triangulate_polygons

    fills = [p for p in primitives if p.mode == _TRIANGLES]
    parts, part_row = explode(layer.geometry, (3,))
    tri_xy = points[triangles][:, :, :2]
    tri_polys = shapely.polygons(np.concatenate([tri_xy, tri_xy[:, :1]], axis=1))
    tree = shapely.STRtree(tri_polys)
    zone_idx, tri_idx = tree.query(parts, predicate="intersects")
    pieces = shapely.intersection(parts[zone_idx], tri_polys[tri_idx], grid_size=None)
    flat, flat_of = shapely.get_parts(pieces, return_index=True)
    keep = (shapely.get_type_id(flat) == 3) & (shapely.area(flat) > 1e-4)
    flat, flat_of = flat[keep], flat_of[keep]
    if len(flat) == 0:
        return [p for p in primitives if p.mode != _TRIANGLES]
    origin = scene.origin
    rings = polygon_rings(flat, (origin.x, origin.y))
    tris, tri_piece = triangulate_polygons(rings)
    used, local_tris = np.unique(tris, return_inverse=True)
    xy = rings.xy[used] + np.array([origin.x, origin.y])
    # the TIN triangle each vertex lies on: the one its piece was cut from (vertex → first piece using it)
    vertex_piece = np.zeros(len(used), dtype=np.int64)
    vertex_piece[local_tris.reshape(-1, 3)] = np.repeat(tri_piece, 3).reshape(-1, 3)
    on = tri_idx[flat_of[vertex_piece]]
    p0, p1, p2 = (points[triangles[on, k]] for k in range(3))
    normal = np.cross(p1 - p0, p2 - p0)
    nz = np.where(np.abs(normal[:, 2]) < 1e-12, 1e-12, normal[:, 2])
    z = p0[:, 2] - (normal[:, 0] * (xy[:, 0] - p0[:, 0]) + normal[:, 1] * (xy[:, 1] - p0[:, 1])) / nz
    positions = np.stack([xy[:, 0] - origin.x, xy[:, 1] - origin.y, z + ZONE_LIFT - origin.z], axis=1)
    row = part_row[zone_idx[flat_of[vertex_piece]]]
    colours = np.ascontiguousarray(_colours(layer, ZONE_DEFAULT)[row]).astype(np.uint8)
    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (len(positions), 1))
    template = fills[0]
    fill = Primitive(_TRIANGLES, positions.astype(np.float32), colours, normals, opacity=template.opacity,
                     base_colour=template.base_colour, indices=local_tris.ravel().astype(np.uint32))
    return [p for p in primitives if p.mode != _TRIANGLES] + [fill]


def scene_meshes(scene: Any) -> list[LayerMesh]:
    """The visible geometry of a :class:`qdt.render.Scene`, one :class:`LayerMesh` per layer drawn."""
    from vtkmodules.vtkRenderingCore import vtkGlyph3DMapper

    meshes = []
    for layer in scene.layer_list:
        visual = scene.visual(layer)
        if visual is None or not visual.shown:
            continue
        mesh = LayerMesh(layer.name, layer.id)
        for part in visual.parts:
            actor = part.actor
            if not actor.GetVisibility():
                continue
            prop = actor.GetProperty()
            opacity = float(prop.GetOpacity())
            if opacity <= 0.0:
                continue
            colour = tuple(float(c) for c in prop.GetColor())
            mapper = actor.GetMapper()
            if isinstance(mapper, vtkGlyph3DMapper):
                primitive = _glyph_primitive(part, mapper, colour, opacity)
                mesh.primitives.extend([primitive] if primitive is not None else [])
            elif mapper is not None:
                mesh.primitives.extend(_mesh_primitives(part, mapper, colour, opacity, _texture_png(actor)))
        mesh.primitives = _simplified(scene, layer, visual, mesh.primitives)
        mesh.primitives = [p for p in mesh.primitives if len(p.positions)]
        if mesh.primitives:
            meshes.append(mesh)
    return meshes


class _Blob:
    """The binary chunk: appends 4-byte-aligned buffer views and accessors to the glTF JSON."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.data = bytearray()

    def view(self, payload: bytes, target: int | None = None) -> int:
        self.data.extend(b"\0" * (-len(self.data) % 4))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(payload)}
        if target is not None:
            view["target"] = target
        self.data.extend(payload)
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, values: np.ndarray, component: int, kind: str, *, normalized: bool = False,
                 bounds: bool = False, target: int = _ARRAY_BUFFER) -> int:
        values = np.ascontiguousarray(values)
        accessor: dict[str, Any] = {"bufferView": self.view(values.tobytes(), target),
                                    "componentType": component, "count": int(len(values)), "type": kind}
        if normalized:
            accessor["normalized"] = True
        if bounds:  # required for POSITION
            accessor["min"] = [float(v) for v in values.min(axis=0)]
            accessor["max"] = [float(v) for v in values.max(axis=0)]
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1


def _material(doc: dict[str, Any], blob: _Blob, primitive: Primitive, textures: dict[bytes, int]) -> int:
    pbr: dict[str, Any] = {"baseColorFactor": [*primitive.base_colour, primitive.opacity] if primitive.colours is None
                           else [1.0, 1.0, 1.0, primitive.opacity], "metallicFactor": 0.0, "roughnessFactor": 0.9}
    if primitive.texture_png is not None:
        if primitive.texture_png not in textures:
            image = blob.view(primitive.texture_png)
            doc["images"].append({"bufferView": image, "mimeType": "image/png"})
            doc["textures"].append({"source": len(doc["images"]) - 1, "sampler": 0})
            textures[primitive.texture_png] = len(doc["textures"]) - 1
        pbr["baseColorTexture"] = {"index": textures[primitive.texture_png]}
    material: dict[str, Any] = {"pbrMetallicRoughness": pbr, "doubleSided": True}
    if primitive.opacity < 1.0:
        material["alphaMode"] = "BLEND"
    doc["materials"].append(material)
    return len(doc["materials"]) - 1


def _glb(doc: dict[str, Any], binary: bytes) -> bytes:
    """GLB container (glTF 2.0 §4.4): header, JSON chunk (space-padded), BIN chunk (zero-padded)."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary = bytes(binary) + b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join([b"glTF", (2).to_bytes(4, "little"), total.to_bytes(4, "little"),
                     len(text).to_bytes(4, "little"), b"JSON", text,
                     len(binary).to_bytes(4, "little"), b"BIN\0", binary])


def write_glb(meshes: list[LayerMesh], path: str | os.PathLike[str], *, origin: tuple[float, float, float],
              crs: str, height_datum: str | None = None, inputs: Any = ()) -> GltfSummary:
    """Write ``meshes`` as one .glb (see the module docstring for the layout); refuses a ``path``
    that is one of ``inputs`` and replaces an existing file atomically."""
    target = Path(path)
    if target.suffix.lower() != ".glb":
        raise ExportError(f"cannot write '{target}': a scene export must end in .glb")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write '{target}': folder '{target.parent}' does not exist")
    if not meshes:
        raise ExportError(f"cannot write '{target}': no visible layer has 3D geometry to export")
    qdt_info = {"crs": crs, "height_datum": height_datum, "origin": [float(v) for v in origin],
                "units": "metre", "up": "z (rotated to glTF's y-up by the root node)"}
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "QDT qdt.export.gltf", "extras": {"qdt": qdt_info}},
        "scene": 0, "scenes": [{"name": "QDT", "nodes": [0]}],
        "nodes": [{"name": "qdt_scene", "rotation": _Z_UP_TO_Y_UP, "children": [], "extras": {"qdt": qdt_info}}],
        "meshes": [], "accessors": [], "bufferViews": [], "materials": [], "images": [], "textures": [],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "buffers": [],
    }
    blob = _Blob(doc)
    textures: dict[bytes, int] = {}
    triangles = 0
    for mesh in meshes:
        prims = []
        for p in mesh.primitives:
            attributes = {"POSITION": blob.accessor(p.positions.astype(np.float32), _FLOAT, "VEC3", bounds=True)}
            if p.normals is not None:
                attributes["NORMAL"] = blob.accessor(p.normals.astype(np.float32), _FLOAT, "VEC3")
            if p.colours is not None:  # RGBA: a vertex attribute's element must fill whole 4 bytes (glTF §3.6.2.4)
                rgba = np.empty((len(p.colours), 4), dtype=np.uint8)
                rgba[:, :3] = p.colours
                rgba[:, 3] = 255
                attributes["COLOR_0"] = blob.accessor(rgba, _UBYTE, "VEC4", normalized=True)
            if p.uv is not None:
                attributes["TEXCOORD_0"] = blob.accessor(p.uv.astype(np.float32), _FLOAT, "VEC2")
            prim = {"attributes": attributes, "mode": p.mode, "material": _material(doc, blob, p, textures)}
            if p.indices is not None:
                prim["indices"] = blob.accessor(p.indices.astype(np.uint32), _UINT, "SCALAR",
                                                target=_ELEMENT_ARRAY_BUFFER)
            prims.append(prim)
            if p.mode == _TRIANGLES:
                triangles += (len(p.positions) if p.indices is None else len(p.indices)) // 3
        doc["meshes"].append({"name": mesh.name, "primitives": prims})
        doc["nodes"].append({"name": mesh.name, "mesh": len(doc["meshes"]) - 1, "extras": {"layer_id": mesh.layer_id}})
        doc["nodes"][0]["children"].append(len(doc["nodes"]) - 1)
    doc["buffers"].append({"byteLength": len(blob.data) + (-len(blob.data) % 4)})
    for key in ("images", "textures"):
        if not doc[key]:
            del doc[key]
    if "textures" not in doc:
        del doc["samplers"]
    with atomic_output(target, inputs=inputs, error=ExportError) as temp:
        temp.write_bytes(_glb(doc, blob.data))
    return GltfSummary(target, [m.name for m in meshes], len(doc["nodes"]), triangles, tuple(origin))  # type: ignore


def export_gltf(layers: Any, path: str | os.PathLike[str], *, crs: str = "EPSG:4549", height_datum: str | None = None,
                underground: bool = False, progress: ProgressFn | None = None,
                is_cancelled: CancelFn | None = None, inputs: Any = ()) -> GltfSummary:
    """Build the 3D scene of ``layers`` (full detail) and write its visible geometry to ``path`` (.glb)."""
    from qdt.render.scene import Scene

    progress = progress or (lambda f, m: None)
    is_cancelled = is_cancelled or (lambda: False)
    progress(0.0, "正在构建三维场景…")
    scene = Scene(layers, lod=False)
    try:
        scene.set_underground(underground)
        check_cancel(is_cancelled)
        progress(0.5, "正在收集几何…")
        meshes = scene_meshes(scene)
        origin = scene.origin
        check_cancel(is_cancelled)
        progress(0.8, "正在写入 glTF…")
        summary = write_glb(meshes, path, origin=(origin.x, origin.y, origin.z) if origin else (0.0, 0.0, 0.0),
                            crs=crs, height_datum=height_datum, inputs=input_files(layers, *inputs))
        progress(1.0, "导出完成")
        return summary
    finally:
        scene.close()


def export_gltf_task(project: Any, path: str | os.PathLike[str], *, underground: bool = False) -> Task:
    """:func:`export_gltf` of a project's layers as a task (its result: a :class:`GltfSummary`)."""
    def run(progress: ProgressFn, is_cancelled: CancelFn) -> GltfSummary:
        return export_gltf(project.layers, path, crs=project.crs, height_datum=getattr(project, "height_datum", None),
                           underground=underground, progress=progress, is_cancelled=is_cancelled,
                           inputs=[getattr(project, "path", None)])

    return Task("正在导出三维场景…", run)
