"""Export project layers as 3D Tiles 1.1 (``qdt export-tiles``): glb content with feature ids and attributes.

Layout of the output folder::

    tileset.json          asset 1.1, a quadtree of tiles with ``region`` volumes, refine ADD
    tiles/<level>_<x>_<y>.glb
        one node per layer (its name in ``extras``), triangles only, COLOR_0 from the view,
        ``EXT_mesh_features`` (``_FEATURE_ID_0`` = the feature's row in the layer's property
        table) and ``EXT_structural_metadata`` (one class per layer, one property table per
        layer and tile: the feature id ``fid`` and the attributes)

The geometry is the 3D view's own at full detail (buildings extruded, LOD2 models, poles,
pipes as tubes) — the same builders draw it — so a web twin shows what QDT shows. Draped
layers (roads, zones) and rasters are not exported: a 3D Tiles client drapes its own imagery.

Placement: project CRS (EPSG:4549) → longitude/latitude with pyproj; heights are written as
ellipsoidal heights unchanged (the 1985 height datum differs from the CGCS2000 ellipsoid by
the local geoid undulation, about 10 m at Qingdao, which no geoid model here can supply; the
tileset's ``asset.extras.qdt`` says so). Each glb's root node carries the tile centre in
Earth-centred coordinates (float64 in the JSON), its positions are float32 offsets from it
(a millimetre at a few km), turned to glTF's y-up as 3D Tiles requires.

The quadtree splits a tile while it holds more than ``max_features`` features (centroid
rule: a feature lives in one leaf); only leaves carry content. A tile's geometric error is
0 for leaves and a tenth of its diagonal for parents (it is refined once it is closer than
about fifteen of its own widths with a 16 px screen-space error).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from qdt.export.errors import ExportError
from qdt.export.gltf import _FLOAT, _UBYTE, _UINT, _Blob, _glb, _mapper_colours, _numpy, _triangulated
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

__all__ = ["TilesSummary", "export_tiles", "export_tiles_task", "layer_features"]

MAX_FEATURES_PER_TILE = 1500
MAX_DEPTH = 10
_IDENT = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # z-up (x, y, z) → glTF (x, z, -y)


@dataclass
class LayerFeatures:
    """A layer's triangles in the project CRS, each with its feature id, and the attribute table."""

    name: str
    class_id: str
    vertices: np.ndarray  # (n, 3) world
    triangles: np.ndarray  # (m, 3)
    triangle_fid: np.ndarray  # (m,)
    colours: np.ndarray  # (n, 3) uint8 per vertex
    table: pd.DataFrame  # index = fid
    centroids: dict[int, tuple[float, float]] = field(default_factory=dict)


@dataclass
class TilesSummary:
    """What :func:`export_tiles` wrote."""

    folder: Path
    tiles: int
    contents: int
    features: int
    triangles: int
    bytes: int
    seconds: float
    layers: list[str]


def _mesh_part_triangles(part: Any, mapper: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    from vtkmodules.vtkRenderingCore import vtkGlyph3DMapper

    if isinstance(mapper, vtkGlyph3DMapper):
        centres = part.polydata
        source = _triangulated(mapper.GetSource(0))
        if centres is None or centres.GetNumberOfPoints() == 0 or source is None or source.GetNumberOfPolys() == 0:
            return None
        template = _numpy(source.GetPoints().GetData()).astype(np.float64)
        tris = _numpy(source.GetPolys().GetConnectivityArray()).astype(np.int64).reshape(-1, 3)
        at = _numpy(centres.GetPoints().GetData()).astype(np.float64)
        scale = np.ones((len(at), 3))
        if mapper.GetScaling():
            from vtkmodules.vtkCommonDataModel import vtkDataObject

            info = mapper.GetInputArrayInformation(0)
            key = vtkDataObject.FIELD_NAME()
            name = info.Get(key) if info is not None and info.Has(key) else None
            values = centres.GetPointData().GetArray(name) if name else None
            if values is not None and mapper.GetScaleMode() == 2:
                scale = _numpy(values).reshape(len(at), -1)[:, :3].astype(np.float64)
        fid_array = centres.GetPointData().GetArray("fid")
        if fid_array is None:
            return None
        fids = _numpy(fid_array).astype(np.int64)
        k = len(template)
        points = (at[:, None, :] + template[None] * scale[:, None, :]).reshape(-1, 3)
        triangles = (tris[None] + (np.arange(len(at)) * k)[:, None, None]).reshape(-1, 3)
        rgb, _ = _mapper_colours(mapper, centres)
        colours = np.repeat(rgb if rgb is not None else np.full((len(at), 3), 200, np.uint8), k, axis=0)
        return points, triangles, np.repeat(fids, len(tris)), colours
    poly = mapper.GetInput()
    if poly is None or poly.GetNumberOfPolys() + poly.GetNumberOfStrips() == 0:
        return None
    source = _triangulated(poly)
    fid_array = source.GetCellData().GetArray("fid")
    if fid_array is None:
        return None
    skip = source.GetNumberOfVerts() + source.GetNumberOfLines()
    fids = _numpy(fid_array).astype(np.int64)[skip:skip + source.GetNumberOfPolys()]
    points = _numpy(source.GetPoints().GetData()).astype(np.float64)
    triangles = _numpy(source.GetPolys().GetConnectivityArray()).astype(np.int64).reshape(-1, 3)
    rgb, on_cells = _mapper_colours(mapper, source)
    if rgb is None:
        colour = np.array([round(c * 255) for c in part.actor.GetProperty().GetColor()], dtype=np.uint8)
        vertex_rgb = np.tile(colour, (len(points), 1))
    elif on_cells:
        vertex_rgb = np.zeros((len(points), 3), np.uint8)
        vertex_rgb[triangles.ravel()] = np.repeat(rgb[skip:skip + len(triangles)], 3, axis=0)
    else:
        vertex_rgb = rgb
    return points, triangles, fids, vertex_rgb


def layer_features(scene: Any, layer: Any) -> LayerFeatures | None:
    """The triangles of ``layer`` as the scene draws them at full detail, with feature ids and attributes."""
    visual = scene.visual(layer)
    if visual is None or visual.role in ("ground", "drape") or not visual.parts:
        return None
    pieces = []
    for part in visual.parts:
        if part.actor is None or part.actor.GetMapper() is None:
            continue
        got = _mesh_part_triangles(part, part.actor.GetMapper())
        if got is not None and len(got[1]):
            pieces.append(got)
    if not pieces:
        return None
    origin = scene.origin
    offset = np.array([origin.x, origin.y, origin.z])
    vertices, triangles, fids, colours = [], [], [], []
    base = 0
    for points, tris, tri_fid, rgb in pieces:
        keep = tri_fid >= 0
        vertices.append(points + offset)
        triangles.append(tris[keep] + base)
        fids.append(tri_fid[keep])
        colours.append(rgb)
        base += len(points)
    table = getattr(layer, "frame", None)
    if table is None:
        table = getattr(layer, "objects", None)
    if table is None:
        table = pd.DataFrame(index=pd.RangeIndex(int(max(f.max(initial=-1) for f in fids)) + 1))
    table = table.drop(columns=[c for c in table.columns if str(c) == "geometry"], errors="ignore")
    return LayerFeatures(layer.name, "", np.concatenate(vertices), np.concatenate(triangles), np.concatenate(fids),
                         np.concatenate(colours).astype(np.uint8), pd.DataFrame(table))


# ---------------------------------------------------------------- metadata


def _identifier(name: str, used: set[str], prefix: str) -> str:
    ident = name if _IDENT.match(name) else f"{prefix}_{len(used)}"
    while ident in used:
        ident = f"{ident}_"
    used.add(ident)
    return ident


def _property_schema(table: pd.DataFrame) -> tuple[dict[str, Any], dict[str, tuple[str, str, Any]]]:
    """Class properties (EXT_structural_metadata schema) and, per property id, (column, kind, values)."""
    properties: dict[str, Any] = {"fid": {"name": "fid", "type": "SCALAR", "componentType": "INT64",
                                          "description": "QDT feature id"}}
    columns: dict[str, tuple[str, str, Any]] = {"fid": ("fid", "INT64", None)}
    used = {"fid"}
    for column in table.columns:
        series = table[column]
        ident = _identifier(str(column), used, "p")
        dtype = series.dtype
        has_missing = bool(series.isna().any())
        if pd.api.types.is_bool_dtype(dtype) and not has_missing:
            properties[ident] = {"name": str(column), "type": "BOOLEAN"}
            kind = "BOOLEAN"
        elif pd.api.types.is_integer_dtype(dtype) and not has_missing:
            properties[ident] = {"name": str(column), "type": "SCALAR", "componentType": "INT64"}
            kind = "INT64"
        elif pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            properties[ident] = {"name": str(column), "type": "SCALAR", "componentType": "FLOAT64",
                                 "noData": -9999.0}  # missing values
            kind = "FLOAT64"
        else:
            properties[ident] = {"name": str(column), "type": "STRING"}
            kind = "STRING"
        columns[ident] = (str(column), kind, None)
    return properties, columns


def _table_views(blob: _Blob, table: pd.DataFrame, fids: np.ndarray,
                 columns: dict[str, tuple[str, str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rows = table.loc[fids] if len(table.columns) else pd.DataFrame(index=fids)
    for ident, (column, kind, _) in columns.items():
        if ident == "fid":
            values: Any = fids.astype(np.int64)
        else:
            values = rows[column]
        if kind == "INT64":
            out[ident] = {"values": _aligned_view(blob, np.asarray(values, dtype=np.int64).tobytes())}
        elif kind == "FLOAT64":
            data = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            data = np.where(np.isfinite(data), data, -9999.0)
            out[ident] = {"values": _aligned_view(blob, data.tobytes())}
        elif kind == "BOOLEAN":
            bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
            out[ident] = {"values": _aligned_view(blob, bits.tobytes())}
        else:
            texts = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]
            encoded = [t.encode("utf-8") for t in texts]
            offsets = np.zeros(len(encoded) + 1, dtype=np.uint32)
            offsets[1:] = np.cumsum([len(e) for e in encoded])
            out[ident] = {"values": _aligned_view(blob, b"".join(encoded)),
                          "stringOffsets": _aligned_view(blob, offsets.tobytes()), "stringOffsetType": "UINT32"}
    return out


def _aligned_view(blob: _Blob, payload: bytes) -> int:
    """A buffer view starting on 8 bytes (EXT_structural_metadata requires it for property values)."""
    blob.data.extend(b"\0" * (-len(blob.data) % 8))
    return blob.view(payload or b"\0")  # a buffer view is never empty (glTF: byteLength >= 1)


# ---------------------------------------------------------------- quadtree


@dataclass
class _Node:
    level: int
    x: int
    y: int
    bounds: tuple[float, float, float, float]
    members: dict[int, np.ndarray]  # layer index → fids in this tile
    children: list[_Node] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.members.values())


def _build_quadtree(layers: list[LayerFeatures], centroids: list[np.ndarray], fids: list[np.ndarray],
                    bounds: tuple[float, float, float, float], max_features: int) -> _Node:
    root = _Node(0, 0, 0, bounds, {i: np.arange(len(f)) for i, f in enumerate(fids)})
    stack = [root]
    while stack:
        node = stack.pop()
        if node.count <= max_features or node.level >= MAX_DEPTH:
            continue
        x0, y0, x1, y1 = node.bounds
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        for qy in (0, 1):
            for qx in (0, 1):
                members = {}
                for i, rows in node.members.items():
                    c = centroids[i][rows]
                    east = c[:, 0] >= mx
                    north = c[:, 1] >= my
                    mask = (east == bool(qx)) & (north == bool(qy))
                    if mask.any():
                        members[i] = rows[mask]
                if members:
                    child = _Node(node.level + 1, node.x * 2 + qx, node.y * 2 + qy,
                                  (mx if qx else x0, my if qy else y0, x1 if qx else mx, y1 if qy else my), members)
                    node.children.append(child)
                    stack.append(child)
        node.members = {}
    return root


# ---------------------------------------------------------------- writing


class _Placer:
    def __init__(self, crs: CRS) -> None:
        self.to_geo = Transformer.from_crs(crs, "EPSG:4979", always_xy=True)
        self.to_ecef = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)

    def lonlat(self, xyz: np.ndarray) -> np.ndarray:
        lon, lat = self.to_geo.transform(xyz[:, 0], xyz[:, 1])
        return np.stack([np.asarray(lon), np.asarray(lat), xyz[:, 2]], axis=1)

    def ecef(self, lonlath: np.ndarray) -> np.ndarray:
        x, y, z = self.to_ecef.transform(lonlath[:, 0], lonlath[:, 1], lonlath[:, 2])
        return np.stack([np.asarray(x), np.asarray(y), np.asarray(z)], axis=1)


def _write_glb(path: Path, pieces: list[tuple[LayerFeatures, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                              dict[str, Any], dict[str, tuple[str, str, Any]]]],
               centre: np.ndarray) -> tuple[int, int]:
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "QDT qdt.export.tiles3d"},
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "tile", "translation": [float(v) for v in _Y_UP @ centre], "children": []}],
        "meshes": [], "accessors": [], "bufferViews": [], "buffers": [],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0,
                                                "roughnessFactor": 0.9}, "doubleSided": True}],
    }
    blob = _Blob(doc)
    classes: dict[str, Any] = {}
    tables = []
    triangles_written = 0
    for layer, positions, tris, feature_of_vertex, colours, class_props, columns in pieces:
        fids_here = np.unique(feature_of_vertex)
        row_of = np.searchsorted(fids_here, feature_of_vertex)
        local = ((positions - centre) @ _Y_UP.T).astype(np.float32)
        rgba = np.empty((len(colours), 4), np.uint8)
        rgba[:, :3] = colours
        rgba[:, 3] = 255
        attributes = {"POSITION": blob.accessor(local, _FLOAT, "VEC3", bounds=True),
                      "COLOR_0": blob.accessor(rgba, _UBYTE, "VEC4", normalized=True),
                      "_FEATURE_ID_0": blob.accessor(row_of.astype(np.float32), _FLOAT, "SCALAR")}
        indices = blob.accessor(tris.ravel().astype(np.uint32), _UINT, "SCALAR", target=34963)
        table_index = len(tables)
        primitive = {"attributes": attributes, "indices": indices, "mode": 4, "material": 0,
                     "extensions": {"EXT_mesh_features": {"featureIds": [
                         {"featureCount": int(len(fids_here)), "attribute": 0, "propertyTable": table_index}]}}}
        doc["meshes"].append({"name": layer.name, "primitives": [primitive]})
        doc["nodes"].append({"name": layer.name, "mesh": len(doc["meshes"]) - 1, "extras": {"layer": layer.name}})
        doc["nodes"][0]["children"].append(len(doc["nodes"]) - 1)
        classes[layer.class_id] = {"name": layer.name, "properties": class_props}
        tables.append({"name": layer.name, "class": layer.class_id, "count": int(len(fids_here)),
                       "properties": _table_views(blob, layer.table, fids_here, columns)})
        triangles_written += len(tris)
    doc["extensions"] = {"EXT_structural_metadata": {"schema": {"id": "qdt", "classes": classes},
                                                     "propertyTables": tables}}
    doc["buffers"].append({"byteLength": len(blob.data) + (-len(blob.data) % 4)})
    data = _glb(doc, blob.data)
    path.write_bytes(data)
    return len(data), triangles_written


def export_tiles(layers: Any, out: str | os.PathLike[str], *, crs: str = "EPSG:4549", names: list[str] | None = None,
                 max_features: int = MAX_FEATURES_PER_TILE, progress: ProgressFn | None = None,
                 is_cancelled: CancelFn | None = None) -> TilesSummary:
    """Write the visible (or named) layers of ``layers`` as a 3D Tiles 1.1 tileset in folder ``out``.

    The folder is written whole into a temporary sibling and renamed into place, so a failed or
    cancelled export leaves no half tileset; an existing non-empty folder that is not a QDT
    tileset is refused.
    """
    from qdt.render.scene import Scene

    started = time.perf_counter()
    progress = progress or (lambda f, m: None)
    is_cancelled = is_cancelled or (lambda: False)
    target = Path(out)
    if not target.parent.is_dir():
        raise ExportError(f"cannot write '{target}': folder '{target.parent}' does not exist")
    if target.exists() and (not target.is_dir() or (any(target.iterdir())
                                                    and not (target / "tileset.json").exists())):
        raise ExportError(f"cannot write '{target}': it exists and is not a tileset folder QDT wrote")
    known = [layer.name for layer in layers]
    if names:
        missing = [n for n in names if n not in known]
        if missing:
            raise ExportError(f"no layer named {', '.join(repr(m) for m in missing)} (layers: {', '.join(known)})")
    progress(0.0, "正在构建三维场景…")
    # the scene of what is exported, plus the DEM its features stand on (no orthophoto, no other layers)
    from qdt.layers import LayerList, RasterLayer

    chosen = LayerList()
    for layer in layers:
        wanted = layer.name in names if names else layer.visible and not isinstance(layer, RasterLayer)
        if wanted or (isinstance(layer, RasterLayer) and layer.role == "dem"):
            chosen.append(layer)
    scene = Scene(chosen, lod=False)
    try:
        features: list[LayerFeatures] = []
        used: set[str] = set()
        for layer in chosen:
            if names and layer.name not in names:
                continue
            if not names and (not layer.visible or isinstance(layer, RasterLayer)):
                continue
            got = layer_features(scene, layer)
            if got is None:
                if names:
                    raise ExportError(f"layer '{layer.name}' has no 3D features to export (rasters and draped "
                                      f"layers are not written to 3D Tiles)")
                continue
            got.class_id = _identifier(f"layer_{len(features)}", used, "layer")
            features.append(got)
            check_cancel(is_cancelled)
    finally:
        scene.close()
    if not features:
        raise ExportError(f"cannot write '{target}': no layer with 3D features to export")
    progress(0.3, "正在划分瓦片…")
    placer = _Placer(CRS.from_user_input(crs))
    centroids, fid_lists = [], []
    for f in features:
        fids = np.unique(f.triangle_fid)
        centre = f.vertices[f.triangles[:, 0]][:, :2]
        order = np.argsort(f.triangle_fid, kind="stable")
        sorted_fid = f.triangle_fid[order]
        starts = np.searchsorted(sorted_fid, fids)
        sums = np.add.reduceat(centre[order], starts, axis=0)
        counts = np.diff(np.append(starts, len(sorted_fid)))
        centroids.append(sums / counts[:, None])
        fid_lists.append(fids)
    allc = np.concatenate(centroids)
    x0, y0 = allc.min(axis=0)
    x1, y1 = allc.max(axis=0)
    side = max(x1 - x0, y1 - y0, 1.0)
    root = _build_quadtree(features, centroids, fid_lists, (x0, y0, x0 + side, y0 + side), max_features)

    temp = Path(tempfile.mkdtemp(prefix=".qdt-tiles-", dir=target.parent))
    try:
        (temp / "tiles").mkdir()
        tri_order = [np.argsort(f.triangle_fid, kind="stable") for f in features]
        tri_sorted = [f.triangle_fid[o] for f, o in zip(features, tri_order, strict=True)]
        schemas = [_property_schema(f.table) for f in features]
        totals = {"tiles": 0, "contents": 0, "bytes": 0, "triangles": 0, "features": 0}
        leaves = [n for n in _walk(root) if not n.children]

        def write_node(node: _Node) -> dict[str, Any]:
            totals["tiles"] += 1
            if node.children:
                kids = [write_node(child) for child in node.children]
                regions = np.array([k["boundingVolume"]["region"] for k in kids])
                region = [float(regions[:, 0].min()), float(regions[:, 1].min()), float(regions[:, 2].max()),
                          float(regions[:, 3].max()), float(regions[:, 4].min()), float(regions[:, 5].max())]
                bx0, by0, bx1, by1 = node.bounds
                return {"boundingVolume": {"region": region}, "geometricError": float(math.hypot(bx1 - bx0, by1 - by0)
                                                                                      / 10.0),
                        "refine": "ADD", "children": kids}
            check_cancel(is_cancelled)
            pieces = []
            all_geo = []
            for i, rows in node.members.items():
                f = features[i]
                fids = fid_lists[i][rows]
                lo = np.searchsorted(tri_sorted[i], fids)
                hi = np.searchsorted(tri_sorted[i], fids, side="right")
                tri_idx = tri_order[i][np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])]
                tris = f.triangles[tri_idx]
                tri_fid = f.triangle_fid[tri_idx]
                # one vertex per (vertex, feature): a vertex carries one feature id
                pairs = np.stack([tris.ravel(), np.repeat(tri_fid, 3)], axis=1)
                unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
                geo = placer.lonlat(f.vertices[unique[:, 0]])
                all_geo.append(geo)
                pieces.append((f, geo, inverse.reshape(-1, 3), unique[:, 1], f.colours[unique[:, 0]], *schemas[i]))
                totals["features"] += len(fids)
            geo = np.concatenate(all_geo)
            mid = np.array([[(geo[:, 0].min() + geo[:, 0].max()) / 2, (geo[:, 1].min() + geo[:, 1].max()) / 2,
                             float(geo[:, 2].min())]])
            centre = placer.ecef(mid)[0]
            ecef_pieces = [(f, placer.ecef(g), t, fv, c, props, cols) for f, g, t, fv, c, props, cols in pieces]
            name = f"tiles/{node.level}_{node.x}_{node.y}.glb"
            size, tris_written = _write_glb(temp / name, ecef_pieces, centre)
            totals["contents"] += 1
            totals["bytes"] += size
            totals["triangles"] += tris_written
            progress(0.3 + 0.7 * totals["contents"] / max(len(leaves), 1), "正在写入瓦片…")
            lon, lat = np.radians(geo[:, 0]), np.radians(geo[:, 1])
            region = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()),
                      float(geo[:, 2].min()), float(geo[:, 2].max())]
            return {"boundingVolume": {"region": region}, "geometricError": 0.0, "refine": "ADD",
                    "content": {"uri": name}}

        root_tile = write_node(root)
        root_error = max(root_tile["geometricError"], 1.0)
        tileset = {"asset": {"version": "1.1", "generator": "QDT qdt export-tiles",
                             "extras": {"qdt": {"source_crs": crs, "layers": [f.name for f in features],
                                                "heights": "project heights written as ellipsoidal heights "
                                                           "(no geoid model applied)"}}},
                   "geometricError": root_error * 2, "root": root_tile}
        text = json.dumps(tileset, ensure_ascii=False, indent=1)
        (temp / "tileset.json").write_text(text, encoding="utf-8")
        totals["bytes"] += len(text.encode("utf-8"))
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            temp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            temp.rename(target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    progress(1.0, "导出完成")
    return TilesSummary(target, totals["tiles"], totals["contents"], totals["features"], totals["triangles"],
                        totals["bytes"], time.perf_counter() - started, [f.name for f in features])


def _walk(node: _Node) -> list[_Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out


def export_tiles_task(project: Any, out: str | os.PathLike[str], *, names: list[str] | None = None,
                      max_features: int = MAX_FEATURES_PER_TILE) -> Task:
    """:func:`export_tiles` of a project's layers as a task (its result: a :class:`TilesSummary`)."""
    def run(progress: ProgressFn, is_cancelled: CancelFn) -> TilesSummary:
        return export_tiles(project.layers, out, crs=project.crs, names=names, max_features=max_features,
                            progress=progress, is_cancelled=is_cancelled)

    return Task("正在导出 3D Tiles…", run)
