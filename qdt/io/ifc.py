"""IFC (2x3, 4, 4.3) building models with IfcOpenShell → one city-model mesh, placed on the map.

* Geometry: IfcOpenShell's geometry iterator over every product with a body, on several
  threads, in world coordinates and metres (``use-world-coords``; the iterator converts the
  model's length unit). CSG primitives it fails on (IfcOpenShell 0.9 reports GEO326 for
  ``IfcRightCircularCone`` / ``IfcRightCircularCylinder`` in buildingSMART's
  geographic-referencing sample) are tessellated here from their placement and dimensions.
* Placement: ``IfcMapConversion`` to an ``IfcProjectedCRS`` when the file has one:
  E = Eastings + s(x·a − y·o), N = Northings + s(x·o + y·a), H = OrthogonalHeight + s·z
  (IFC 4.3 §8.18.3.7; a, o the x-axis abscissa/ordinate normalised). When ``Scale`` is
  omitted, s comes from the units, as IFC 4.3 says: geometry in metres × (metre / map unit) —
  the sample's millimetre model with a metre map conversion is then 1 m tall, not 1 km.
  Without a map conversion the model is placed by the layer's ``anchor`` (x, y, z, rotation°
  in the project CRS), which the project file stores.
* Objects: one row per product with geometry: ``object_id`` (GlobalId), ``type`` (IFC class),
  ``name``, ``storey`` (its spatial container) and every property-set value as
  ``Pset name.property``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from typing import Any

import numpy as np
import pandas as pd

from qdt.crs import CRSProblem, parse_crs
from qdt.io.base import FeatureRequest, LayerInfo, ReadContext, Reader, SourceData
from qdt.io.errors import ReadError, display_name
from qdt.io.registry import register_reader
from qdt.layers.citymodel import SEMANTIC_CODES, CityModelLayer

# IFC classes shown with a city-model surface colour (roofs red, walls light, floors/slabs ground)
CLASS_SEMANTIC = {"IfcRoof": "RoofSurface", "IfcWall": "WallSurface", "IfcWallStandardCase": "WallSurface",
                  "IfcCurtainWall": "WallSurface", "IfcSlab": "OuterFloorSurface", "IfcDoor": "Door",
                  "IfcWindow": "Window"}
CIRCLE_SEGMENTS = 32


def _ifcopenshell() -> Any:
    try:
        import ifcopenshell  # noqa: F401
        import ifcopenshell.geom  # noqa: F401
        import ifcopenshell.util.element  # noqa: F401
        import ifcopenshell.util.placement  # noqa: F401
        import ifcopenshell.util.unit  # noqa: F401
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ReadError(f"reading IFC needs IfcOpenShell (pip install ifcopenshell): {exc}") from None
    return ifcopenshell


def _open(path: str) -> Any:
    ifcopenshell = _ifcopenshell()
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            fh.seek(max(0, os.path.getsize(path) - 4096))
            tail = fh.read()
    except OSError as exc:
        raise ReadError(f"cannot read IFC {display_name(path)!r}: {exc.strerror or exc}") from None
    if not head.lstrip().startswith(b"ISO-10303-21"):
        raise ReadError(f"cannot read IFC {display_name(path)!r}: not an IFC STEP file (no ISO-10303-21 header)")
    if b"END-ISO-10303-21" not in tail:  # IfcOpenShell opens a cut file and silently drops what is missing
        raise ReadError(f"cannot read IFC {display_name(path)!r}: the file is truncated (no END-ISO-10303-21)")
    try:
        return ifcopenshell.open(path)
    except Exception as exc:  # noqa: BLE001 - IfcOpenShell raises plain RuntimeErrors for bad files
        raise ReadError(f"cannot read IFC {display_name(path)!r}: {str(exc).strip() or type(exc).__name__}") from None


def map_conversion(model: Any) -> dict[str, Any] | None:
    """The IfcMapConversion of the model's 3D context: target CRS, offsets, rotation and scale (metres)."""
    conversions = model.by_type("IfcMapConversion") if model.schema != "IFC2X3" else []
    if not conversions:
        return None
    conv = conversions[0]
    target = conv.TargetCRS
    unit_scale = _ifcopenshell().util.unit.calculate_unit_scale(model)  # model length unit in metres
    name = getattr(target, "Name", None)
    crs = None
    if name:
        try:
            crs = parse_crs(name)
        except CRSProblem:
            crs = None
    map_unit = 1.0
    if target is not None and getattr(target, "MapUnit", None) is not None:
        map_unit = _unit_in_metres(target.MapUnit)
    elif crs is not None and crs.axis_info:  # no MapUnit: the CRS's own axis unit (IFC 4.3)
        map_unit = float(crs.axis_info[0].unit_conversion_factor or 1.0)
    a = conv.XAxisAbscissa if conv.XAxisAbscissa is not None else 1.0
    o = conv.XAxisOrdinate if conv.XAxisOrdinate is not None else 0.0
    norm = math.hypot(a, o) or 1.0
    # s: map units per model unit (explicit), else from the units (IFC 4.3); applied here to metres
    scale_model_to_map = conv.Scale if conv.Scale is not None else unit_scale / map_unit
    metres_scale = scale_model_to_map / unit_scale * map_unit  # metres of map per metre of model
    return {"crs": crs, "crs_name": name, "eastings": conv.Eastings * map_unit, "northings": conv.Northings * map_unit,
            "height": conv.OrthogonalHeight * map_unit, "cos": a / norm, "sin": o / norm, "scale": metres_scale,
            "explicit_scale": conv.Scale is not None}


def _unit_in_metres(unit: Any) -> float:
    prefixes = {"MILLI": 1e-3, "CENTI": 1e-2, "DECI": 1e-1, "KILO": 1e3}
    if unit.is_a("IfcSIUnit"):
        return prefixes.get(unit.Prefix, 1.0) if unit.Prefix else 1.0
    if unit.is_a("IfcConversionBasedUnit"):
        factor = unit.ConversionFactor
        return float(factor.ValueComponent.wrappedValue) * _unit_in_metres(factor.UnitComponent)
    return 1.0


def _axis_placement(placement: Any) -> np.ndarray:
    """4×4 of an IfcAxis2Placement3D (location, axis = z, ref direction = x) in model units."""
    matrix = np.eye(4)
    if placement is None:
        return matrix
    origin = np.array(placement.Location.Coordinates, dtype=np.float64)
    z = np.array(placement.Axis.DirectionRatios if placement.Axis else (0, 0, 1), dtype=np.float64)
    x = np.array(placement.RefDirection.DirectionRatios if placement.RefDirection else (1, 0, 0), dtype=np.float64)
    z /= np.linalg.norm(z)
    x = x - z * np.dot(x, z)
    x /= np.linalg.norm(x) if np.linalg.norm(x) > 0 else 1.0
    y = np.cross(z, x)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2], matrix[:3, 3] = x, y, z, origin
    return matrix


def _primitive_mesh(primitive: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices and triangles of a CSG primitive in its own placement's frame (model units)."""
    n = CIRCLE_SEGMENTS
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.stack([np.cos(angle), np.sin(angle), np.zeros(n)], axis=1)
    kind = primitive.is_a()
    if kind in ("IfcRightCircularCylinder", "IfcRightCircularCone"):
        r, h = float(primitive.Radius if kind.endswith("Cylinder") else primitive.BottomRadius), float(primitive.Height)
        bottom = ring * r
        if kind.endswith("Cylinder"):
            top = bottom + [0, 0, h]
            verts = np.vstack([bottom, top, [[0, 0, 0]], [[0, 0, h]]])
            i = np.arange(n)
            j = (i + 1) % n
            sides = np.concatenate([np.stack([i, j, n + j], 1), np.stack([i, n + j, n + i], 1)])
            caps = np.concatenate([np.stack([np.full(n, 2 * n), j, i], 1), np.stack([np.full(n, 2 * n + 1), n + i,
                                                                                      n + j], 1)])
            return verts, np.concatenate([sides, caps])
        verts = np.vstack([bottom, [[0, 0, h]], [[0, 0, 0]]])
        i = np.arange(n)
        j = (i + 1) % n
        return verts, np.concatenate([np.stack([i, j, np.full(n, n)], 1), np.stack([np.full(n, n + 1), j, i], 1)])
    if kind == "IfcBlock":
        x, y, z = float(primitive.XLength), float(primitive.YLength), float(primitive.ZLength)
        verts = np.array([[0, 0, 0], [x, 0, 0], [x, y, 0], [0, y, 0], [0, 0, z], [x, 0, z], [x, y, z], [0, y, z]])
        faces = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                          [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
        return verts.astype(np.float64), faces
    if kind == "IfcSphere":
        r = float(primitive.Radius)
        lat = np.linspace(-np.pi / 2, np.pi / 2, n // 2 + 1)
        lon = angle
        la, lo = np.meshgrid(lat, lon, indexing="ij")
        verts = np.stack([r * np.cos(la) * np.cos(lo), r * np.cos(la) * np.sin(lo), r * np.sin(la)], -1).reshape(-1, 3)
        rows, cols = la.shape
        a = (np.arange(rows - 1)[:, None] * cols + np.arange(cols)[None, :]).ravel()
        b = (np.arange(rows - 1)[:, None] * cols + (np.arange(cols)[None, :] + 1) % cols).ravel()
        return verts, np.concatenate([np.stack([a, b, b + cols], 1), np.stack([a, b + cols, a + cols], 1)])
    return None


def _csg_fallback(model: Any, product: Any, unit_scale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Our tessellation of a product whose body is CSG primitives IfcOpenShell could not convert."""
    ifcopenshell = _ifcopenshell()
    representation = getattr(product, "Representation", None)
    if representation is None:
        return None
    placement = ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement) \
        if product.ObjectPlacement is not None else np.eye(4)
    verts, faces = [], []
    base = 0
    for shape in representation.Representations:
        for item in shape.Items:
            primitive = item.TreeRootExpression if item.is_a("IfcCsgSolid") else item
            if not primitive.is_a("IfcCsgPrimitive3D"):
                continue
            mesh = _primitive_mesh(primitive)
            if mesh is None:
                continue
            local, tris = mesh
            matrix = placement @ _axis_placement(primitive.Position)
            world = local @ matrix[:3, :3].T + matrix[:3, 3]
            verts.append(world * unit_scale)
            faces.append(tris + base)
            base += len(local)
    if not verts:
        return None
    return np.concatenate(verts), np.concatenate(faces)


def _row(model: Any, product: Any) -> dict[str, Any]:
    util = _ifcopenshell().util.element
    container = util.get_container(product)
    row = {"object_id": product.GlobalId, "type": product.is_a(), "lod": None, "parent": None,
           "name": product.Name, "storey": getattr(container, "Name", None) if container is not None else None,
           "ifc_id": product.id()}
    for pset, values in util.get_psets(product).items():
        for key, value in values.items():
            if key == "id":
                continue
            row[f"{pset}.{key}"] = value if not isinstance(value, (list, tuple, dict)) else str(value)
    return row


def read_ifc(path: str, *, anchor: tuple[float, ...] | None = None, threads: int | None = None,
             context: ReadContext | None = None) -> tuple[CityModelLayer, list[str]]:
    """Products with geometry as a :class:`CityModelLayer` (map CRS when there is a map conversion)."""
    ifcopenshell = _ifcopenshell()
    model = _open(path)
    name = display_name(path)
    notes: list[str] = []
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    products = [p for p in model.by_type("IfcProduct") if getattr(p, "Representation", None) is not None
                and not p.is_a("IfcSpatialStructureElement") and not p.is_a("IfcOpeningElement")
                and not p.is_a("IfcAnnotation") and not p.is_a("IfcGrid")]
    if not products:
        raise ReadError(f"IFC {name!r} has no building element with geometry (nothing to show)")
    meshes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    iterator = ifcopenshell.geom.iterator(settings, model, max(1, threads or min(4, multiprocessing.cpu_count())),
                                          include=products)
    if iterator.initialize():
        while True:
            shape = iterator.get()
            geometry = shape.geometry
            verts = np.asarray(geometry.verts, dtype=np.float64).reshape(-1, 3)
            faces = np.asarray(geometry.faces, dtype=np.int64).reshape(-1, 3)
            if len(faces):
                meshes[shape.id] = (verts, faces)
            if context is not None:
                context.check()
            if not iterator.next():
                break
    unit_scale = ifcopenshell.util.unit.calculate_unit_scale(model)
    fallback = 0
    for product in products:
        if product.id() not in meshes:
            got = _csg_fallback(model, product, unit_scale)
            if got is not None:
                meshes[product.id()] = got
                fallback += 1
    if fallback:
        notes.append(f"IFC {name!r}: {fallback} element(s) with CSG primitives IfcOpenShell could not convert were "
                     f"tessellated by QDT")
    missing = [p for p in products if p.id() not in meshes]
    if missing:
        notes.append(f"IFC {name!r}: {len(missing)} element(s) without usable geometry skipped "
                     f"(e.g. {missing[0].is_a()} {missing[0].Name or missing[0].GlobalId})")
    if not meshes:
        raise ReadError(f"IFC {name!r} has no element whose geometry could be built (nothing to show)")
    rows, verts, tris, tri_row, tri_sem = [], [], [], [], []
    base = 0
    for product in products:
        if product.id() not in meshes:
            continue
        v, f = meshes[product.id()]
        row = len(rows)
        rows.append(_row(model, product))
        verts.append(v)
        tris.append(f + base)
        tri_row.append(np.full(len(f), row))
        semantic = next((s for cls, s in CLASS_SEMANTIC.items() if product.is_a(cls)), None)
        tri_sem.append(np.full(len(f), SEMANTIC_CODES.get(semantic, 0) if semantic else 0, np.uint8))
        base += len(v)
    vertices = np.concatenate(verts)
    conversion = map_conversion(model)
    crs = None
    metadata: dict[str, Any] = {"format": "IFC", "schema": model.schema, "max_lod": 3.0}
    if conversion is not None and conversion["crs"] is not None:
        s, c, sn = conversion["scale"], conversion["cos"], conversion["sin"]
        x, y, z = vertices[:, 0].copy(), vertices[:, 1].copy(), vertices[:, 2].copy()
        vertices[:, 0] = conversion["eastings"] + s * (c * x - sn * y)
        vertices[:, 1] = conversion["northings"] + s * (sn * x + c * y)
        vertices[:, 2] = conversion["height"] + s * z
        crs = conversion["crs"]
        metadata["placement"] = (f"IfcMapConversion to {conversion['crs_name']} (scale "
                                 f"{'given' if conversion['explicit_scale'] else 'from the units'}: {s:g} m per m)")
    else:
        if conversion is not None:
            notes.append(f"IFC {name!r}: map conversion to {conversion['crs_name']!r}, a CRS QDT does not know; "
                         f"placed by the layer's anchor instead")
        ax, ay, az, *rest = anchor if anchor is not None else (0.0, 0.0, 0.0)
        rotation = math.radians(rest[0]) if rest else 0.0
        x, y = vertices[:, 0].copy(), vertices[:, 1].copy()
        vertices[:, 0] = ax + math.cos(rotation) * x - math.sin(rotation) * y
        vertices[:, 1] = ay + math.sin(rotation) * x + math.cos(rotation) * y
        vertices[:, 2] = az + vertices[:, 2]
        metadata["anchored_in_project_crs"] = True
        metadata["placement"] = f"anchor {tuple(anchor) if anchor else (0.0, 0.0, 0.0)} (project CRS)"
        if anchor is None:
            notes.append(f"IFC {name!r} has no map conversion: placed at the project CRS origin until an anchor "
                         f"(x, y, z, rotation) is set for the layer")
    objects = pd.DataFrame(rows)
    layer = CityModelLayer(os.path.splitext(os.path.basename(path))[0], vertices, np.concatenate(tris),
                           np.concatenate(tri_row), np.concatenate(tri_sem), objects, crs, source=path,
                           metadata=metadata)
    return layer, notes


def sniff_ifc(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip().startswith(b"ISO-10303-21")
    except OSError:
        return False


@register_reader("citymodel", ("*.ifc",), name="IFC")
class IFCReader(Reader):
    def layer_names(self, path: str) -> list[str]:
        return [os.path.splitext(os.path.basename(path))[0]]

    def info(self, path: str) -> list[LayerInfo]:
        model = _open(path)
        products = [p for p in model.by_type("IfcProduct") if getattr(p, "Representation", None) is not None
                    and not p.is_a("IfcSpatialStructureElement")]
        conversion = map_conversion(model)
        types: dict[str, int] = {}
        for p in products:
            types[p.is_a()] = types.get(p.is_a(), 0) + 1
        return [LayerInfo(self.layer_names(path)[0], "citymodel", conversion["crs"] if conversion else None, None,
                          count=len(products), geometry_type="IFC " + model.schema,
                          extra={"types": types, "map_conversion": None if conversion is None else
                                 {k: v for k, v in conversion.items() if k != "crs"}})]

    def read(self, path: str, layer: str | None, request: FeatureRequest, context: ReadContext) -> SourceData:
        out, notes = read_ifc(path, anchor=getattr(context, "anchor", None), context=context)
        return SourceData(out, notes)
