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

from qdt.export.errors import ExportError
from qdt.safe_output import atomic_output, input_files
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

__all__ = ["GltfSummary", "export_gltf", "export_gltf_task", "scene_meshes"]

_FLOAT, _UBYTE, _UINT = 5126, 5121, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_POINTS, _LINES, _TRIANGLES = 0, 1, 4
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
            if p.colours is not None:
                attributes["COLOR_0"] = blob.accessor(p.colours.astype(np.uint8), _UBYTE, "VEC3", normalized=True)
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
