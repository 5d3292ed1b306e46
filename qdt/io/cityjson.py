"""CityJSON reader (versions 1.0, 1.1, 2.0) → one triangle mesh per file.

Vertices are integers × ``transform.scale`` + ``transform.translate`` when a transform is
present. For each city object one geometry is taken: the highest LOD, or the LOD asked for.
Surfaces (with holes) are triangulated on the surface's best-fit plane (Newell normal) by
:mod:`qdt.triangulation` (shared with the render bridge): convex surfaces — most walls and LOD1
faces — are fanned in bulk with numpy, only the rest go through earcut one surface at a time.
Triangles keep the winding of their surface (outward for valid solids) and its semantic code.

Every CityObject becomes a row of ``objects`` (parents without geometry too, so a file's
Building count is its row count by type); a BuildingPart keeps its own row with ``parent``.
"""

from __future__ import annotations

import json
import mmap
import os
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from qdt.crs import CRSProblem, crs_label, parse_crs, same_crs, transformer
from qdt.io.base import FeatureRequest, LayerInfo, LayerSource, LoadResult, ReadContext, Reader, SourceData
from qdt.io.errors import ReadError, display_name
from qdt.io.registry import register_reader
from qdt.io.vector import note_outside_area, resolve_crs
from qdt.layers.citymodel import SEMANTIC_CODES, CityModelLayer
from qdt.triangulation import triangulate_rings

VERSIONS = ("1.0", "1.1", "2.0")
#: Largest CityJSON file read as one document (parsed JSON takes several times its size in memory).
MAX_CITYJSON_BYTES = 4 * 2**30
SURFACE_TYPES = ("MultiSurface", "CompositeSurface")
SOLID_TYPES = ("Solid",)
MULTI_SOLID_TYPES = ("MultiSolid", "CompositeSolid")
GEOMETRY_TYPES = SURFACE_TYPES + SOLID_TYPES + MULTI_SOLID_TYPES
RESERVED_COLUMNS = ("object_id", "type", "lod", "parent", "fid")


def sniff_cityjson(path: str) -> bool:
    """True when the file is a CityJSON document (its "CityObjects" member may come anywhere)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
            if b'"CityObjects"' in head or b'"CityJSON"' in head:
                return True
            if len(head) < 65536:
                return False
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return mm.find(b'"CityObjects"') >= 0
    except (OSError, ValueError):
        return False


def lod_text(value: Any) -> str | None:
    """CityJSON 1.0 writes LOD as a number (2, 1.3); later versions as text ("2.2")."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return str(value)


def _lod_key(lod: str | None) -> float:
    try:
        return float(lod) if lod is not None else -1.0
    except ValueError:
        return -1.0


def choose_geometry(geometries: list[dict[str, Any]], lod: str | None) -> dict[str, Any] | None:
    """The geometry to show: the highest LOD, or the requested one ("2" also matches "2.x")."""
    usable = [g for g in geometries if g.get("type") in GEOMETRY_TYPES]
    if not usable:
        return None
    if lod is None:
        return max(usable, key=lambda g: _lod_key(lod_text(g.get("lod"))))
    exact = [g for g in usable if lod_text(g.get("lod")) == lod]
    if exact:
        return exact[0]
    if "." not in lod:
        near = [g for g in usable if (lod_text(g.get("lod")) or "").split(".")[0] == lod]
        if near:
            return max(near, key=lambda g: _lod_key(lod_text(g.get("lod"))))
    return None


def _flatten_attributes(attrs: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (attrs or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten_attributes(value, name + "."))
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value
    return out


def _load_json(path: str) -> dict[str, Any]:
    """The CityJSON document, refused with one line when it is not a regular file of a size JSON
    parsing can hold (``json.load`` needs several times the file in memory: a symlink to
    ``/dev/zero`` would read until MemoryError), not JSON, nested too deeply, or not CityJSON."""
    try:
        if not os.path.isfile(path):
            if not os.path.exists(path):
                raise FileNotFoundError(path)
            raise ReadError(f"cannot read {display_name(path)!r}: not a regular file (a device, folder or pipe)")
        size = os.path.getsize(path)
        if size > MAX_CITYJSON_BYTES:
            raise ReadError(f"cannot read {display_name(path)!r}: {size / 2**30:.1f} GiB is beyond the "
                            f"{MAX_CITYJSON_BYTES // 2**30} GiB QDT reads as one CityJSON document; "
                            "split it into tiles (cjio subset) first")
        with open(path, "rb") as fh:
            doc = json.load(fh)
    except FileNotFoundError as exc:
        raise ReadError(f"cannot read {display_name(path)!r}: file not found") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReadError(f"cannot read {display_name(path)!r}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise ReadError(f"cannot read {display_name(path)!r}: not CityJSON (its JSON is nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("type") != "CityJSON":
        raise ReadError(f"cannot read {display_name(path)!r}: not a CityJSON file (no \"type\": \"CityJSON\")")
    version = doc.get("version", "")
    version = version if isinstance(version, str) else repr(version)  # JSON true is not "1.0"
    if version not in VERSIONS:
        raise ReadError(f"cannot read {display_name(path)!r}: CityJSON version {version!r} is not supported "
                        f"(supported: {', '.join(VERSIONS)})")
    if not isinstance(doc.get("CityObjects"), dict):
        raise ReadError(f"cannot read {display_name(path)!r}: \"CityObjects\" is missing or not an object")
    return doc


def _vertices(doc: dict[str, Any], path: str) -> np.ndarray:
    raw = doc.get("vertices", [])
    try:
        verts = np.asarray(raw, dtype=np.float64).reshape(-1, 3) if len(raw) else np.zeros((0, 3))
    except (ValueError, TypeError) as exc:
        raise ReadError(f"cannot read {display_name(path)!r}: \"vertices\" is not a list of [x, y, z]") from exc
    transform = doc.get("transform")
    if transform:
        scale = _transform_part(transform, "scale", path)
        translate = _transform_part(transform, "translate", path)
        if not np.all(scale != 0):
            raise ReadError(f"cannot read {display_name(path)!r}: \"transform\".\"scale\" {scale.tolist()} has "
                            "a zero: every vertex would collapse onto one plane")
        verts = verts * scale + translate
    return verts


def _transform_part(transform: Any, key: str, path: str) -> np.ndarray:
    """``transform.scale``/``translate`` as 3 finite numbers (CityJSON 2.0 §2.2), else ReadError."""
    value = transform.get(key) if isinstance(transform, dict) else None
    ok = (isinstance(value, list) and len(value) == 3
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    if not ok or not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
        raise ReadError(f"cannot read {display_name(path)!r}: \"transform\".\"{key}\" must be three numbers, "
                        f"not {value!r:.60}")
    return np.asarray(value, dtype=np.float64)


def _check_indices(indices: list[Any], path: str) -> None:
    """Vertex indices must be JSON integers: "7" or 1.5 is a broken file, not index 7 or 1."""
    if not indices:
        return
    try:
        kind = np.asarray(indices).dtype.kind  # a "7" makes the array text, a 1.5 float
    except (ValueError, TypeError):
        kind = "O"
    if kind not in "iu":
        bad = next((v for v in indices if type(v) is not int), indices[0])
        raise ReadError(f"cannot read {display_name(path)!r}: vertex index {bad!r} in \"boundaries\" is not a "
                        "whole number")


def _reference_system(doc: dict[str, Any]) -> tuple[CRS | None, str | None]:
    """(CRS, problem) from metadata.referenceSystem (URL, URN or v1.0 "urn:ogc:def:crs:EPSG::7415")."""
    ref = (doc.get("metadata") or {}).get("referenceSystem")
    if not ref:
        return None, "no metadata.referenceSystem"
    try:
        return parse_crs(ref), None
    except CRSProblem:
        return None, f"unrecognised referenceSystem {ref!r}"


class _Flat:
    """Boundaries of the chosen geometries as flat arrays (one entry per ring / surface)."""

    def __init__(self) -> None:
        self.ring_vertices: list[int] = []
        self.ring_lengths: list[int] = []
        self.surface_rings: list[int] = []
        self.surface_object: list[int] = []
        self.surface_semantic: list[int] = []

    def add_surface(self, rings: list[list[int]], row: int, code: int) -> None:
        for ring in rings:
            self.ring_vertices.extend(ring)
            self.ring_lengths.append(len(ring))
        self.surface_rings.append(len(rings))
        self.surface_object.append(row)
        self.surface_semantic.append(code)

    def add_geometry(self, geom: dict[str, Any], row: int) -> None:
        gtype = geom["type"]
        boundaries = geom.get("boundaries") or []
        semantics = geom.get("semantics") or {}
        codes = [SEMANTIC_CODES.get(s.get("type"), 0) for s in semantics.get("surfaces", [])]
        values = semantics.get("values")

        def code_at(*path: int) -> int:
            v: Any = values
            for i in path:
                if not isinstance(v, list) or i >= len(v):
                    return 0
                v = v[i]
            return codes[v] if isinstance(v, int) and 0 <= v < len(codes) else 0

        if gtype in SURFACE_TYPES:
            for i, surface in enumerate(boundaries):
                self.add_surface(surface, row, code_at(i))
        elif gtype in SOLID_TYPES:
            for s, shell in enumerate(boundaries):
                for i, surface in enumerate(shell):
                    self.add_surface(surface, row, code_at(s, i))
        else:
            for k, solid in enumerate(boundaries):
                for s, shell in enumerate(solid):
                    for i, surface in enumerate(shell):
                        self.add_surface(surface, row, code_at(k, s, i))


def triangulate(points: np.ndarray, ring_vertices: np.ndarray, ring_lengths: np.ndarray,
                surface_rings: np.ndarray, context: ReadContext | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Triangulate planar surfaces given as rings of vertex indices.

    Parameters
    ----------
    points
        (n, 3) coordinates.
    ring_vertices
        Vertex indices of all rings, concatenated (no repeated closing vertex).
    ring_lengths
        Vertices per ring; the first ring of each surface is its exterior.
    surface_rings
        Rings per surface.

    Returns
    -------
    triangles
        (m, 3) vertex indices, wound like their surface.
    triangle_surface
        (m,) surface index of each triangle.
    degenerate
        Number of surfaces without area (skipped).
    """
    n_surfaces = len(surface_rings)
    if n_surfaces == 0 or len(ring_vertices) == 0:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64), 0
    ring_start = np.concatenate([[0], np.cumsum(ring_lengths)[:-1]]).astype(np.int64)
    surface_first_ring = np.concatenate([[0], np.cumsum(surface_rings)[:-1]]).astype(np.int64)
    ring_surface = np.repeat(np.arange(n_surfaces), surface_rings)
    pos_ring = np.repeat(np.arange(len(ring_lengths)), ring_lengths)
    pos_surface = ring_surface[pos_ring]

    # coordinates relative to each surface's first vertex keep Newell sums precise at
    # Gauss-Krüger magnitudes (a 1e-16 relative error on 4e6 m would swamp small faces)
    p = points[ring_vertices]
    p = p - p[ring_start[surface_first_ring]][pos_surface]
    nxt = np.arange(len(p)) + 1
    ends = ring_start + ring_lengths - 1
    nonempty = ring_lengths > 0
    nxt[ends[nonempty]] = ring_start[nonempty]
    q = p[nxt]
    terms = np.stack([(p[:, 1] - q[:, 1]) * (p[:, 2] + q[:, 2]),
                      (p[:, 2] - q[:, 2]) * (p[:, 0] + q[:, 0]),
                      (p[:, 0] - q[:, 0]) * (p[:, 1] + q[:, 1])], axis=1)
    ring_normal = np.zeros((len(ring_lengths), 3))
    ring_normal[nonempty] = np.add.reduceat(terms, ring_start[nonempty], axis=0)
    normal = ring_normal[surface_first_ring]  # the exterior ring fixes the plane and the winding
    length = np.linalg.norm(normal, axis=1)
    exterior_len = ring_lengths[surface_first_ring]
    ok = (length > 1e-12) & (exterior_len >= 3)
    unit = np.divide(normal, length[:, None], out=np.zeros_like(normal), where=length[:, None] > 0)
    helper = np.where(np.abs(unit[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(helper, unit)
    u /= np.maximum(np.linalg.norm(u, axis=1), 1e-300)[:, None]
    v = np.cross(unit, u)
    uv = np.stack([np.einsum("ij,ij->i", p, u[pos_surface]), np.einsum("ij,ij->i", p, v[pos_surface])], axis=1)

    # the surfaces with an area, in their planes (u, v): exteriors run counter-clockwise there
    kept = np.flatnonzero(ok)
    ring_kept = ok[ring_surface]
    position_kept = np.flatnonzero(ring_kept[pos_ring])
    local, local_surface = triangulate_rings(uv[position_kept], ring_lengths[ring_kept], surface_rings[ok],
                                             check=context.check if context is not None else None)
    positions = position_kept[local]
    tri_surface = kept[local_surface]
    a, b, c = p[positions[:, 0]], p[positions[:, 1]], p[positions[:, 2]]
    cross = np.cross(b - a, c - a)
    # a fan over collinear vertices leaves slivers without area: no normal, nothing to draw
    size = np.maximum(np.einsum("ij,ij->i", b - a, b - a), np.einsum("ij,ij->i", c - a, c - a))
    solid = np.linalg.norm(cross, axis=1) > 1e-9 * size
    positions, tri_surface, cross = positions[solid], tri_surface[solid], cross[solid]
    # keep each triangle's winding consistent with its surface normal
    flip = np.einsum("ij,ij->i", cross, normal[tri_surface]) < 0
    positions[flip] = positions[flip][:, [0, 2, 1]]
    return ring_vertices[positions], tri_surface, int((~ok).sum())


@register_reader("citymodel", ("*.city.json", "*.cityjson", "*.json"), name="CityJSON", sniff=sniff_cityjson)
class CityJSONReader(Reader):
    def layer_names(self, path: str) -> list[str]:
        base = os.path.basename(path)
        for suffix in (".city.json", ".cityjson", ".json"):
            if base.lower().endswith(suffix):
                return [base[: -len(suffix)]]
        return [os.path.splitext(base)[0]]

    def info(self, path: str) -> list[LayerInfo]:
        doc = _load_json(path)
        verts = _vertices(doc, path)
        crs, problem = _reference_system(doc)
        objects = doc["CityObjects"]
        types: dict[str, int] = {}
        lods: set[str] = set()
        for obj in objects.values():
            types[obj.get("type", "?")] = types.get(obj.get("type", "?"), 0) + 1
            for g in obj.get("geometry") or []:
                lods.add(lod_text(g.get("lod")) or "?")
        if len(verts):
            mn, mx = verts.min(axis=0), verts.max(axis=0)
            bbox = [float(mn[0]), float(mn[1]), float(mx[0]), float(mx[1])]
            zrange = [float(mn[2]), float(mx[2])]
        else:
            bbox, zrange = None, None
        extra = {"version": doc["version"], "types": dict(sorted(types.items())),
                 "lods": sorted(lods, key=_lod_key), "vertices": int(len(verts)), "zrange": zrange}
        if problem:
            extra["crs_problem"] = problem
        return [LayerInfo(name=self.layer_names(path)[0], kind="citymodel", crs=crs, bbox=bbox, count=len(objects),
                          geometry_type="TIN", fields=[], extra=extra)]

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        name = self.layer_names(path)[0]
        if layer is not None and layer != name:
            raise ReadError(f"layer {layer!r} not found in {display_name(path)!r} (available: {name})")
        context.report(0.05, f"parsing {display_name(path)}")
        doc = _load_json(path)
        context.check()
        verts = _vertices(doc, path)
        crs, problem = _reference_system(doc)
        notes: list[str] = []
        lod = lod_text(context.lod) if context.lod is not None else None

        ids = list(doc["CityObjects"].keys())
        records: list[dict[str, Any]] = []
        flat = _Flat()
        instances = 0
        missing_lod = 0
        textured = False
        wanted = set(request.fids) if request.fids is not None else None
        for row, (oid, obj) in enumerate(doc["CityObjects"].items()):
            parents = obj.get("parents") or []
            geometries = obj.get("geometry") or []
            instances += sum(1 for g in geometries if g.get("type") == "GeometryInstance")
            geom = choose_geometry(geometries, lod)
            if lod is not None and geom is None and geometries:
                missing_lod += 1
            attrs = _flatten_attributes(obj.get("attributes"))
            record = {f"attr_{k}" if k in RESERVED_COLUMNS else k: v for k, v in attrs.items()}
            record.update(object_id=oid, type=obj.get("type"), parent=parents[0] if parents else None,
                          lod=lod_text(geom.get("lod")) if geom else None)
            records.append(record)
            if geom is None or request.no_geometry or (wanted is not None and row not in wanted):
                continue
            textured = textured or "texture" in geom
            try:
                flat.add_geometry(geom, row)
            except (TypeError, KeyError, AttributeError) as exc:
                raise ReadError(f"{display_name(path)!r}: city object {oid!r} has malformed boundaries "
                                f"({type(exc).__name__})") from exc
        context.report(0.3, "triangulating")

        _check_indices(flat.ring_vertices, path)
        ring_vertices = np.asarray(flat.ring_vertices, dtype=np.int64)
        ring_lengths = np.asarray(flat.ring_lengths, dtype=np.int64)
        surface_rings = np.asarray(flat.surface_rings, dtype=np.int64)
        surface_object = np.asarray(flat.surface_object, dtype=np.int64)
        surface_semantic = np.asarray(flat.surface_semantic, dtype=np.uint8)
        bad = (ring_vertices < 0) | (ring_vertices >= len(verts))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            ring = int(np.searchsorted(np.cumsum(ring_lengths), pos, side="right"))
            surface = int(np.searchsorted(np.cumsum(surface_rings), ring, side="right"))
            oid = ids[int(surface_object[surface])]
            raise ReadError(f"{display_name(path)!r}: city object {oid!r} refers to vertex {int(ring_vertices[pos])} "
                            f"but the file has only {len(verts)} vertices")

        if request.bbox is not None and len(surface_rings):
            surface_object, surface_semantic, ring_vertices, ring_lengths, surface_rings = _filter_bbox(
                request, crs, verts, ring_vertices, ring_lengths, surface_rings, surface_object, surface_semantic)

        triangles, tri_surface, degenerate = triangulate(verts, ring_vertices, ring_lengths, surface_rings, context)
        if degenerate:
            notes.append(f"{display_name(path)}: {degenerate} surface(s) without area skipped")
        if instances:
            notes.append(f"{display_name(path)}: {instances} GeometryInstance (template) geometries are not "
                         "supported and were skipped")
        if missing_lod:
            notes.append(f"{display_name(path)}: {missing_lod} city object(s) have no LOD {lod} geometry")
        if textured:
            notes.extend(_texture_notes(doc, path))

        used, inverse = np.unique(triangles, return_inverse=True)
        vertices = verts[used]
        triangles = inverse.reshape(-1, 3).astype(np.int64)
        triangle_object = surface_object[tri_surface] if len(tri_surface) else np.zeros(0, np.int64)
        triangle_semantic = surface_semantic[tri_surface] if len(tri_surface) else np.zeros(0, np.uint8)

        objects = pd.DataFrame.from_records(records)
        leading = ["object_id", "type", "lod", "parent"]
        attribute_columns = [c for c in objects.columns if c not in leading]
        if request.columns is not None:
            attribute_columns = [c for c in attribute_columns if c in set(request.columns)]
        objects = objects[leading + attribute_columns]
        objects.index = pd.RangeIndex(len(objects), name="fid")
        keep = None
        if wanted is not None:
            keep = objects.index.isin(sorted(wanted))
        if request.bbox is not None:
            inside = objects.index.isin(np.unique(triangle_object))
            inside |= objects["object_id"].isin(objects.loc[inside, "parent"].dropna())
            keep = inside if keep is None else keep & inside
        if keep is not None:
            objects = objects[keep]

        lods = [_lod_key(v) for v in objects["lod"].dropna().unique()]
        layer = CityModelLayer(name, vertices, triangles, triangle_object, triangle_semantic, objects, crs,
                               source=path, source_layer=name,
                               metadata={"cityjson_version": doc["version"], "crs_problem": problem,
                                         "max_lod": max(lods) if lods else None})
        context.report(0.9, "triangulated")
        return SourceData(layer, notes, has_geometry=not request.no_geometry)


def _filter_bbox(request: FeatureRequest, crs: CRS | None, verts: np.ndarray, ring_vertices: np.ndarray,
                 ring_lengths: np.ndarray, surface_rings: np.ndarray, surface_object: np.ndarray,
                 surface_semantic: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the surfaces of objects whose XY extent meets the request's bbox."""
    xmin, ymin, xmax, ymax = request.bbox
    if request.bbox_crs is not None and crs is not None and not same_crs(parse_crs(request.bbox_crs), crs):
        xmin, ymin, xmax, ymax = transformer(request.bbox_crs, crs).transform_bounds(xmin, ymin, xmax, ymax)
    pos_surface = np.repeat(np.repeat(np.arange(len(surface_rings)), surface_rings), ring_lengths)
    pos_object = surface_object[pos_surface]
    n_obj = int(surface_object.max()) + 1
    lo = np.full((n_obj, 2), np.inf)
    hi = np.full((n_obj, 2), -np.inf)
    xy = verts[ring_vertices, :2]
    np.minimum.at(lo, pos_object, xy)
    np.maximum.at(hi, pos_object, xy)
    hit = (lo[:, 0] <= xmax) & (hi[:, 0] >= xmin) & (lo[:, 1] <= ymax) & (hi[:, 1] >= ymin)
    keep_surface = hit[surface_object]
    keep_ring = np.repeat(keep_surface, surface_rings)
    keep_pos = np.repeat(keep_ring, ring_lengths)
    return (surface_object[keep_surface], surface_semantic[keep_surface], ring_vertices[keep_pos],
            ring_lengths[keep_ring], surface_rings[keep_surface])


def _texture_notes(doc: dict[str, Any], path: str) -> list[str]:
    textures = (doc.get("appearance") or {}).get("textures") or []
    folder = os.path.dirname(os.path.abspath(path))
    images = {t.get("image") for t in textures if t.get("image")}
    missing = [img for img in images if not os.path.exists(os.path.join(folder, img))]
    if missing:
        return [f"{display_name(path)}: {len(missing)} of {len(images)} texture image(s) are missing "
                f"(e.g. {sorted(missing)[0]}); textures are ignored"]
    return [f"{display_name(path)}: textures are not displayed; surfaces use their semantic colours"]


def prepare_citymodel(data: SourceData, source: LayerSource, project_crs: CRS, context: ReadContext) -> LoadResult:
    """Declared/own CRS (refused if none), XY into the project CRS (Z kept), CIM metadata."""
    layer = data.layer
    assert isinstance(layer, CityModelLayer)
    path = os.fspath(source.path)
    where = f"city model {display_name(path)!r}"
    notes = list(data.warnings)
    metadata = dict(layer.metadata)
    problem = metadata.pop("crs_problem", None)
    if metadata.pop("anchored_in_project_crs", False):  # placed by the layer's anchor (IFC without georeference)
        crs = project_crs
    else:
        crs = resolve_crs(layer.crs, source.crs, where, notes, problem)
    vertices = layer.vertices.copy()
    if len(vertices):
        lo, hi = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
        note_outside_area(crs, (lo[0], lo[1], hi[0], hi[1]), project_crs, where, notes)
    if len(vertices) and not same_crs(crs, project_crs):
        context.report(0.95, "transforming")
        x, y = transformer(crs, project_crs).transform(vertices[:, 0], vertices[:, 1])
        vertices[:, 0], vertices[:, 1] = x, y
        if not np.isfinite(vertices).all():
            raise ReadError(f"{where}: coordinates could not be transformed from {crs_label(crs)} to "
                            f"{crs_label(project_crs)}")
    metadata["source_crs"] = crs_label(crs)
    # CIM.md: 3D models belong to the spatio-temporal base; LOD1 blocks are CIM2, LOD2 CIM3
    metadata["category"] = "时空基础"
    max_lod = metadata.get("max_lod")
    if max_lod is not None and max_lod >= 1:
        metadata["level"] = "CIM3" if max_lod >= 2 else "CIM2"
    out = CityModelLayer(source.name or layer.name, vertices, layer.triangles, layer.triangle_object,
                         layer.triangle_semantic, layer.objects, project_crs, source=path,
                         source_layer=layer.source_layer, metadata=metadata)
    return LoadResult(out, notes)
