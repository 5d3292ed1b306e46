"""A small IFC4 building made with IfcOpenShell's API for the tests: 4 walls, a slab, a door, property sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_building(path: Path, *, millimetres: bool = False, map_conversion: tuple[float, float, float] | None = None,
                  rotation_deg: float = 0.0) -> Path:
    """Write the building; with ``map_conversion`` (E, N, H) it gets an IfcMapConversion to EPSG:4549."""
    import ifcopenshell
    import ifcopenshell.api.aggregate
    import ifcopenshell.api.context
    import ifcopenshell.api.geometry
    import ifcopenshell.api.georeference
    import ifcopenshell.api.pset
    import ifcopenshell.api.root
    import ifcopenshell.api.spatial
    import ifcopenshell.api.unit

    unit = 1000.0 if millimetres else 1.0  # model units per metre
    model = ifcopenshell.api.project.create_file(version="IFC4") if hasattr(ifcopenshell.api, "project") else \
        ifcopenshell.file(schema="IFC4")
    project = ifcopenshell.api.root.create_entity(model, ifc_class="IfcProject", name="QDT test building")
    length = ifcopenshell.api.unit.add_si_unit(model, unit_type="LENGTHUNIT", prefix="MILLI" if millimetres else None)
    ifcopenshell.api.unit.assign_unit(model, units=[length])
    context = ifcopenshell.api.context.add_context(model, context_type="Model")
    body = ifcopenshell.api.context.add_context(model, context_type="Model", context_identifier="Body",
                                                target_view="MODEL_VIEW", parent=context)
    site = ifcopenshell.api.root.create_entity(model, ifc_class="IfcSite", name="Site")
    building = ifcopenshell.api.root.create_entity(model, ifc_class="IfcBuilding", name="测试楼")
    storey = ifcopenshell.api.root.create_entity(model, ifc_class="IfcBuildingStorey", name="一层")
    ifcopenshell.api.aggregate.assign_object(model, relating_object=project, products=[site])
    ifcopenshell.api.aggregate.assign_object(model, relating_object=site, products=[building])
    ifcopenshell.api.aggregate.assign_object(model, relating_object=building, products=[storey])
    for obj in (site, building, storey):
        ifcopenshell.api.geometry.edit_object_placement(model, product=obj)

    def place(product, x: float, y: float, z: float, angle: float = 0.0) -> None:
        matrix = np.eye(4)
        c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        matrix[:2, :2] = [[c, -s], [s, c]]
        matrix[:3, 3] = [x * unit, y * unit, z * unit]
        ifcopenshell.api.geometry.edit_object_placement(model, product=product, matrix=matrix, is_si=False)

    walls = []
    for i, (x, y, angle, length_m) in enumerate([(0, 0, 0, 10), (10, 0, 90, 6), (10, 6, 180, 10), (0, 6, 270, 6)]):
        wall = ifcopenshell.api.root.create_entity(model, ifc_class="IfcWall", name=f"墙{i + 1}")
        rep = ifcopenshell.api.geometry.add_wall_representation(model, context=body, length=length_m, height=3.0,
                                                                thickness=0.2)  # SI: the API converts
        ifcopenshell.api.geometry.assign_representation(model, product=wall, representation=rep)
        place(wall, x, y, 0, angle)
        ifcopenshell.api.spatial.assign_container(model, relating_structure=storey, products=[wall])
        pset = ifcopenshell.api.pset.add_pset(model, product=wall, name="Pset_WallCommon")
        ifcopenshell.api.pset.edit_pset(model, pset=pset, properties={"IsExternal": True, "FireRating": "REI90"})
        walls.append(wall)
    slab = ifcopenshell.api.root.create_entity(model, ifc_class="IfcSlab", name="楼板")
    rep = ifcopenshell.api.geometry.add_slab_representation(model, context=body, depth=0.3,
                                                            polyline=[(0, 0), (10, 0), (10, 6), (0, 6)])
    ifcopenshell.api.geometry.assign_representation(model, product=slab, representation=rep)
    place(slab, 0, 0, 0)
    ifcopenshell.api.spatial.assign_container(model, relating_structure=storey, products=[slab])
    door = ifcopenshell.api.root.create_entity(model, ifc_class="IfcDoor", name="大门")
    rep = ifcopenshell.api.geometry.add_wall_representation(model, context=body, length=1.0, height=2.1,
                                                            thickness=0.25)
    ifcopenshell.api.geometry.assign_representation(model, product=door, representation=rep)
    place(door, 4.5, -0.05, 0)
    ifcopenshell.api.spatial.assign_container(model, relating_structure=storey, products=[door])
    pset = ifcopenshell.api.pset.add_pset(model, product=door, name="Pset_DoorCommon")
    ifcopenshell.api.pset.edit_pset(model, pset=pset, properties={"IsExternal": True, "FireExit": True})
    if map_conversion is not None:
        ifcopenshell.api.georeference.add_georeferencing(model)
        e, n, h = map_conversion
        angle = np.radians(rotation_deg)
        ifcopenshell.api.georeference.edit_georeferencing(
            model, projected_crs={"Name": "EPSG:4549"},
            coordinate_operation={"Eastings": e, "Northings": n, "OrthogonalHeight": h,
                                  "XAxisAbscissa": float(np.cos(angle)), "XAxisOrdinate": float(np.sin(angle))})
    model.write(str(path))
    return path
