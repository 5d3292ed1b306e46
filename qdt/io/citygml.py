"""CityGML 2.0 (and 3.0 where the element names agree) buildings → one city-model mesh, streamed.

The file is read with ``xml.etree.ElementTree.iterparse``: each city object member is parsed,
turned into rings and attributes, and cleared, so a file of hundreds of MB never sits in memory
as a tree. Per building (and each BuildingPart, with ``parent``):

* geometry: the LOD2 boundary surfaces (``bldg:boundedBy`` Roof/Wall/Ground… with their
  semantics) when present, else the LOD2 solid or multi-surface, else LOD1; ``xlink:href``
  polygons (PLATEAU's LOD2 solid is made only of links to the boundary polygons) are resolved
  against every ``gml:Polygon`` with a ``gml:id`` in the same member;
* attributes: every simple property (``bldg:measuredHeight`` and its ``uom``, xAL address leaves,
  ADE properties such as PLATEAU's ``uro:*``) by its local name, the way GDAL's GML driver names
  them, and generic attributes (``gen:*Attribute``) by their ``name`` — inside a
  ``gen:genericAttributeSet`` as ``set name/attribute name``.

CRS: ``srsName`` of the envelope or geometry. Geographic CRSs are read in their axis order
(EPSG:6697 is latitude, longitude, height) and handed on as longitude/latitude; the project
preparer transforms XY to EPSG:4549 and keeps heights.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from qdt.crs import CRSProblem, parse_crs
from qdt.io.base import FeatureRequest, LayerInfo, ReadContext, Reader, SourceData
from qdt.io.cityjson import triangulate
from qdt.io.errors import ReadError, display_name
from qdt.io.registry import register_reader
from qdt.layers.citymodel import SEMANTIC_CODES, CityModelLayer

GML = ("http://www.opengis.net/gml", "http://www.opengis.net/gml/3.2")
XLINK = "{http://www.w3.org/1999/xlink}href"
BUILDINGS = ("Building", "BuildingPart")
MEMBERS = ("cityObjectMember", "featureMember", "member")
GEOMETRY_PROPERTIES = {f"lod{n}{kind}" for n in range(5) for kind in
                       ("Solid", "MultiSurface", "Geometry", "MultiCurve", "RoofEdge", "FootPrint",
                        "TerrainIntersection")}
SKIP_SUBTREES = {"boundedBy", "boundary", "consistsOfBuildingPart", "buildingPart", "interiorRoom",
                 "outerBuildingInstallation", "interiorBuildingInstallation", "appearance", "Envelope",
                 "opening"} | GEOMETRY_PROPERTIES
SURFACES = {"RoofSurface", "WallSurface", "GroundSurface", "ClosureSurface", "OuterCeilingSurface",
            "OuterFloorSurface", "Window", "Door"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _gml_id(element: ET.Element) -> str | None:
    for ns in GML:
        value = element.get(f"{{{ns}}}id")
        if value is not None:
            return value
    return element.get("id")


def sniff_citygml(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    return b"citygml" in head.lower() or b"CityModel" in head


def _positions(ring: ET.Element, dim: int) -> np.ndarray:
    values: list[str] = []
    for child in ring:
        name = _local(child.tag)
        if name == "posList":
            dim = int(child.get("srsDimension", dim))
            values.extend((child.text or "").split())
        elif name == "pos":
            values.extend((child.text or "").split())
    try:
        coords = np.asarray(values, dtype=np.float64)
    except ValueError:
        raise ValueError("a gml:posList holds something that is not a number") from None
    if coords.size % dim:
        raise ValueError(f"a gml:posList has {coords.size} numbers, not a multiple of {dim}")
    coords = coords.reshape(-1, dim)
    if dim == 2:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    if len(coords) > 1 and np.array_equal(coords[0], coords[-1]):
        coords = coords[:-1]
    return coords


def _polygon_rings(polygon: ET.Element, dim: int) -> list[np.ndarray]:
    rings = []
    for child in polygon:
        name = _local(child.tag)
        if name in ("exterior", "interior", "outerBoundaryIs", "innerBoundaryIs"):
            for ring in child:
                if _local(ring.tag) == "LinearRing":
                    rings.append(_positions(ring, dim))
    return rings


class _Member:
    """Surfaces, attributes and children of one city object member while it is parsed."""

    def __init__(self) -> None:
        self.polygons: dict[str, list[np.ndarray]] = {}
        self.unresolved = 0


def _collect_polygons(element: ET.Element, dim: int, out: dict[str, list[np.ndarray]]) -> None:
    for polygon in element.iter():
        if _local(polygon.tag) in ("Polygon", "Triangle", "Rectangle"):
            gid = _gml_id(polygon)
            if gid:
                out[gid] = _polygon_rings(polygon, dim)


def _surfaces_of(geometry: ET.Element, dim: int, polygons: dict[str, list[np.ndarray]],
                 member: _Member) -> list[list[np.ndarray]]:
    """Polygons (as rings) under a geometry property, xlink:href links resolved."""
    out = []
    for element in geometry.iter():
        name = _local(element.tag)
        if name in ("surfaceMember", "patches", "trianglePatches") and element.get(XLINK):
            target = element.get(XLINK).lstrip("#")
            if target in polygons:
                out.append(polygons[target])
            else:
                member.unresolved += 1
        elif name in ("Polygon", "Triangle", "Rectangle"):
            out.append(_polygon_rings(element, dim))
    return out


def _attributes(element: ET.Element) -> dict[str, Any]:
    """Simple properties by local name (GDAL's naming), generic attributes by their name."""
    out: dict[str, list[Any]] = {}

    def add(name: str, value: Any) -> None:
        out.setdefault(name, []).append(value)

    def generic(node: ET.Element, prefix: str) -> None:
        kind = _local(node.tag)
        name = node.get("name") or kind
        if kind == "genericAttributeSet":
            for child in node:
                generic(child, f"{prefix}{name}/")
            return
        value = next((c for c in node if _local(c.tag) == "value"), None)
        text = (value.text or "").strip() if value is not None else ""
        parsed: Any = text
        if kind == "intAttribute":
            try:
                parsed = int(text)
            except ValueError:
                parsed = text
        elif kind in ("doubleAttribute", "measureAttribute"):
            try:
                parsed = float(text)
            except ValueError:
                parsed = text
        add(prefix + name, parsed)
        if value is not None and value.get("uom"):
            add(f"{prefix}{name}_uom", value.get("uom"))

    def walk(node: ET.Element) -> None:
        for child in node:
            name = _local(child.tag)
            if name in SKIP_SUBTREES or name in BUILDINGS:
                continue
            if "generics" in child.tag and (name.endswith("Attribute") or name == "genericAttributeSet"):
                generic(child, "")
                continue
            if len(child):
                walk(child)
                continue
            text = (child.text or "").strip()
            if text:
                add(name, text)
                if child.get("uom"):
                    add(f"{name}_uom", child.get("uom"))
            if child.get("codeSpace") and text:
                add(f"{name}_codeSpace", child.get("codeSpace"))

    walk(element)
    return {k: v[0] if len(v) == 1 else "; ".join(str(x) for x in v) for k, v in out.items()}


def _crs_of(srs: str | None) -> tuple[CRS | None, bool]:
    """The CRS of an srsName and whether its first axis is northing/latitude (to swap)."""
    if not srs:
        return None, False
    try:
        crs = parse_crs(srs)
    except CRSProblem:
        return None, False
    axes = crs.axis_info
    lat_first = bool(axes) and axes[0].direction.lower() == "north" and crs.is_geographic
    return crs, lat_first


class _Parsed:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.surfaces: list[tuple[int, int, list[np.ndarray]]] = []  # (row, semantic, rings)
        self.srs: str | None = None
        self.unresolved = 0
        self.types: Counter[str] = Counter()
        self.lods: Counter[str] = Counter()


def _building(element: ET.Element, parsed: _Parsed, dim: int, lod: str | None, parent: str | None,
              polygons: dict[str, list[np.ndarray]], member: _Member, attributes: bool = True) -> None:
    kind = _local(element.tag)
    row = len(parsed.rows)
    record: dict[str, Any] = {"object_id": _gml_id(element) or f"{kind}-{row}", "type": kind, "lod": None,
                              "parent": parent}
    if attributes:
        record.update({k: v for k, v in _attributes(element).items() if k not in record})
    parsed.rows.append(record)
    parsed.types[kind] += 1
    geometry: dict[str, list[ET.Element]] = {}
    boundary: list[tuple[str, str, ET.Element]] = []
    for child in element:
        name = _local(child.tag)
        if name in GEOMETRY_PROPERTIES:
            geometry.setdefault(name, []).append(child)
        elif name in ("boundedBy", "boundary"):  # CityGML 2.0 / 3.0
            for surface in child:
                if _local(surface.tag) in SURFACES:
                    for prop in surface:
                        pname = _local(prop.tag)
                        if pname.startswith("lod") and pname.endswith("MultiSurface"):
                            boundary.append((pname[3], _local(surface.tag), prop))
    available = sorted({k[3] for k in geometry if k.endswith(("Solid", "MultiSurface"))}
                       | {b[0] for b in boundary})
    wanted = [lod] if lod and lod in available else (available[::-1] if not lod else [])
    for level in wanted:
        chosen = [b for b in boundary if b[0] == level]
        if chosen:
            for _, semantic, prop in chosen:
                for rings in _surfaces_of(prop, dim, polygons, member):
                    parsed.surfaces.append((row, SEMANTIC_CODES.get(semantic, 0), rings))
        else:
            for key in (f"lod{level}Solid", f"lod{level}MultiSurface"):
                for prop in geometry.get(key, []):
                    for rings in _surfaces_of(prop, dim, polygons, member):
                        parsed.surfaces.append((row, 0, rings))
                if geometry.get(key):
                    break
        record["lod"] = level
        parsed.lods[level] += 1
        break
    for child in element:
        if _local(child.tag) in ("consistsOfBuildingPart", "buildingPart"):  # 2.0 / 3.0
            for part in child:
                if _local(part.tag) == "BuildingPart":
                    _building(part, parsed, dim, lod, record["object_id"], polygons, member, attributes)


def parse_citygml(path: str, *, lod: str | None = None, context: ReadContext | None = None,
                  geometry: bool = True) -> _Parsed:
    """Stream a CityGML file: rows and surfaces of every Building / BuildingPart."""
    parsed = _Parsed()
    dim = 3
    size = max(os.path.getsize(path), 1)
    try:
        with open(path, "rb") as fh:
            depth = 0
            member_depth = None
            root = None
            for event, element in ET.iterparse(fh, events=("start", "end")):
                name = _local(element.tag)
                if event == "start":
                    if root is None:
                        root = element
                    depth += 1
                    if name in MEMBERS and member_depth is None:
                        member_depth = depth
                    if parsed.srs is None and element.get("srsName"):
                        parsed.srs = element.get("srsName")
                        dim = int(element.get("srsDimension", dim))
                    continue
                depth -= 1
                if name in MEMBERS and member_depth == depth + 1:
                    member_depth = None
                    member = _Member()
                    polygons: dict[str, list[np.ndarray]] = {}
                    if geometry:
                        _collect_polygons(element, dim, polygons)
                    for child in element:
                        if _local(child.tag) == "Building":
                            _building(child, parsed, dim, lod, None, polygons if geometry else {}, member)
                    parsed.unresolved += member.unresolved
                    element.clear()
                    if depth == 1 and root is not None:
                        root.clear()  # drop the finished members themselves, not only their content
                    if context is not None:
                        context.check()
                        context.report(0.8 * fh.tell() / size, "reading CityGML")
                elif member_depth is None and depth <= 1:
                    element.clear()
    except ET.ParseError as exc:
        raise ReadError(f"cannot read CityGML {display_name(path)!r}: not well-formed XML ({exc})") from None
    except ValueError as exc:
        raise ReadError(f"cannot read CityGML {display_name(path)!r}: {exc}") from None
    return parsed


@register_reader("citymodel", ("*.gml", "*.citygml"), name="CityGML", sniff=sniff_citygml)
class CityGMLReader(Reader):
    def layer_names(self, path: str) -> list[str]:
        return [os.path.splitext(os.path.basename(path))[0]]

    def info(self, path: str) -> list[LayerInfo]:
        parsed = parse_citygml(path, geometry=False)
        crs, lat_first = _crs_of(parsed.srs)
        bbox = _envelope(path, lat_first)
        return [LayerInfo(self.layer_names(path)[0], "citymodel", crs, bbox, count=len(parsed.rows),
                          geometry_type="CityGML", fields=[{"name": c, "type": "str"} for c in
                                                           sorted({k for r in parsed.rows for k in r})],
                          extra={"types": dict(parsed.types), "lods": sorted(parsed.lods), "version":
                                 _version(path)})]

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        parsed = parse_citygml(path, lod=context.lod, context=context)
        crs, lat_first = _crs_of(parsed.srs)
        notes = []
        if parsed.unresolved:
            notes.append(f"CityGML {display_name(path)!r}: {parsed.unresolved} xlink:href polygon link(s) could not "
                         f"be resolved inside their city object; those surfaces are missing")
        if parsed.srs is None:
            notes.append(f"CityGML {display_name(path)!r}: no srsName; its coordinates are taken as they are")
        vertices, triangles, tri_row, tri_sem, degenerate = _mesh(parsed, lat_first, crs, context)
        if degenerate:
            notes.append(f"CityGML {display_name(path)!r}: {degenerate} surface(s) without area skipped")
        objects = pd.DataFrame(parsed.rows)
        for column in objects.columns:
            if column in ("object_id", "type", "lod", "parent"):
                continue
            objects[column] = _typed(objects[column])
        max_lod = max((float(v) for v in parsed.lods), default=None)
        out = CityModelLayer(self.layer_names(path)[0], vertices, triangles, tri_row, tri_sem, objects, crs,
                             source=path, metadata={"format": "CityGML", "max_lod": max_lod,
                                                    "types": dict(parsed.types)})
        return SourceData(out, notes)


def _typed(series: pd.Series) -> pd.Series:
    """Numbers as numbers (whole numbers as nullable integers, like GDAL's Integer fields), else text."""
    present = series.notna()
    numeric = pd.to_numeric(series, errors="coerce")
    if not present.any() or numeric.notna().sum() != present.sum():
        return series
    values = numeric[present]
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)) and np.abs(values).max() < 2 ** 62 \
            and not series[present].astype(str).str.contains(r"[.eE]").any():
        return numeric.astype("Int64")
    return numeric


def _mesh(parsed: _Parsed, lat_first: bool, crs: CRS | None,
          context: ReadContext | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    rings = [r for _, _, surface in parsed.surfaces for r in surface]
    if not rings:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8), 0
    coords = np.concatenate(rings)
    if lat_first:
        coords = coords[:, [1, 0, 2]]
    ring_lengths = np.array([len(r) for r in rings], dtype=np.int64)
    surface_rings = np.array([len(s) for _, _, s in parsed.surfaces], dtype=np.int64)
    surface_row = np.array([row for row, _, _ in parsed.surfaces], dtype=np.int64)
    surface_sem = np.array([sem for _, sem, _ in parsed.surfaces], dtype=np.uint8)
    metric = coords.copy()
    if crs is not None and crs.is_geographic:  # triangulate in metres: degrees are not isotropic
        lon0, lat0 = float(np.median(coords[:, 0])), float(np.median(coords[:, 1]))
        metric[:, 0] = (coords[:, 0] - lon0) * 111320.0 * math.cos(math.radians(lat0))
        metric[:, 1] = (coords[:, 1] - lat0) * 110574.0
    triangles, tri_surface, degenerate = triangulate(metric, np.arange(len(coords), dtype=np.int64), ring_lengths,
                                                     surface_rings, context)
    return coords, triangles, surface_row[tri_surface], surface_sem[tri_surface], degenerate


def _version(path: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    return "3.0" if b"citygml/3.0" in head else "2.0" if b"citygml/2.0" in head else "1.0" \
        if b"citygml/1.0" in head else "unknown"


def _envelope(path: str, lat_first: bool) -> list[float] | None:
    lower = upper = None
    for _, element in ET.iterparse(path, events=("end",)):
        name = _local(element.tag)
        if name == "lowerCorner":
            lower = [float(v) for v in (element.text or "").split()]
        elif name == "upperCorner":
            upper = [float(v) for v in (element.text or "").split()]
            break
        elif name in MEMBERS:
            break
    if not lower or not upper:
        return None
    if lat_first:
        return [lower[1], lower[0], upper[1], upper[0]]
    return [lower[0], lower[1], upper[0], upper[1]]
