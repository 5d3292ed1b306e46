"""IFC with IfcOpenShell: the buildingSMART georeferenced sample (millimetre model, metre map conversion),
a generated building (walls, slab, door, property sets) placed by IfcMapConversion or by the layer's
anchor stored in the project, picking rows, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qdt.cli.main import main
from qdt.io import LayerSource, ReadError, load_layer
from qdt.project import open_project
from tests.ifc_building import make_building

SAMPLE = Path(__file__).parent / "data" / "ifc" / "geographic-referencing.ifc"


def test_sample_is_placed_by_its_map_conversion_with_units():
    result = load_layer(LayerSource(SAMPLE), project_crs="EPSG:25832")
    layer = result.layer
    assert layer.objects.loc[0, "type"] == "IfcBuildingElementProxy"
    assert layer.objects.loc[0, "name"] == "Geographic Position" and layer.objects.loc[0, "storey"] == "Storey 1"
    x0, y0, x1, y1 = layer.bounds
    # a 1 m object (cone 500 mm on a cylinder 500 mm), radius 150 mm, at E 458658.78 N 5438232.79 H 113.7
    assert (x0 + x1) / 2 == pytest.approx(458658.78, abs=0.01) and (y0 + y1) / 2 == pytest.approx(5438232.79, abs=0.01)
    assert x1 - x0 == pytest.approx(0.30, abs=0.01)
    assert layer.z_range == pytest.approx((113.7, 114.7), abs=0.01)
    assert any("tessellated by QDT" in w for w in result.warnings)


def test_generated_building_with_map_conversion_in_millimetres(tmp_path):
    path = make_building(tmp_path / "b.ifc", millimetres=True, map_conversion=(534600.0, 3992250.0, 5.0),
                         rotation_deg=30.0)
    result = load_layer(LayerSource(path))
    layer = result.layer
    assert result.warnings == []
    objects = layer.objects
    assert sorted(objects["type"]) == ["IfcDoor", "IfcSlab", "IfcWall", "IfcWall", "IfcWall", "IfcWall"]
    wall = objects[objects["name"] == "墙1"].iloc[0]
    assert wall["storey"] == "一层" and wall["Pset_WallCommon.FireRating"] == "REI90"
    assert bool(wall["Pset_WallCommon.IsExternal"])
    door = objects[objects["type"] == "IfcDoor"].iloc[0]
    assert bool(door["Pset_DoorCommon.FireExit"])
    # the 10 m × 6 m slab turned 30° about (534600, 3992250): its corner (10, 0) lands at E+8.66, N+5
    slab = objects.index[objects["type"] == "IfcSlab"][0]
    verts = layer.vertices[np.unique(layer.triangles[layer.triangle_object == slab])]
    assert verts[:, 0].max() == pytest.approx(534600 + 10 * np.cos(np.radians(30)), abs=0.01)
    assert verts[:, 1].min() == pytest.approx(3992250.0, abs=0.01)
    assert layer.z_range[1] == pytest.approx(5.0 + 3.0, abs=0.01)  # 3 m walls on a 5 m map height


def test_generated_building_without_georeference_uses_the_project_anchor(tmp_path):
    path = make_building(tmp_path / "local.ifc")
    project = tmp_path / "p.qdt"
    project.write_text(json.dumps({"format": "qdt-project", "version": 1, "name": "BIM", "crs": "EPSG:4549",
                                   "layers": [{"name": "BIM", "kind": "citymodel", "source": "local.ifc",
                                               "anchor": [534700.0, 3992300.0, 2.0, 90.0]}]}))
    opened = open_project(project)
    layer = opened.layers["BIM"]
    x0, y0, x1, y1 = layer.bounds
    # turned 90°: the 10 m east side now runs north from the anchor
    assert x1 == pytest.approx(534700.0 + 0.05, abs=0.06) and y1 == pytest.approx(3992310.0, abs=0.06)
    assert layer.z_range == pytest.approx((2.0, 5.0), abs=0.01)
    # the anchor is the project's: saved and read back with it
    from qdt.project import save_project

    save_project(opened, tmp_path / "again.qdt")
    saved = json.loads((tmp_path / "again.qdt").read_text(encoding="utf-8"))
    assert saved["layers"][0]["anchor"] == [534700.0, 3992300.0, 2.0, 90.0]
    no_anchor = load_layer(LayerSource(path))
    assert any("no map conversion" in w for w in no_anchor.warnings)


def test_ifc_without_geometry_and_broken_ifc_give_one_message(tmp_path, capsys):
    import ifcopenshell
    import ifcopenshell.api.root

    model = ifcopenshell.file(schema="IFC4")
    ifcopenshell.api.root.create_entity(model, ifc_class="IfcProject", name="empty")
    ifcopenshell.api.root.create_entity(model, ifc_class="IfcWall", name="no body")
    model.write(str(tmp_path / "empty.ifc"))
    with pytest.raises(ReadError, match="empty.ifc.*no building element with geometry"):
        load_layer(LayerSource(tmp_path / "empty.ifc"))
    (tmp_path / "cut.ifc").write_bytes(SAMPLE.read_bytes()[:1500])
    with pytest.raises(ReadError, match="cut.ifc"):
        load_layer(LayerSource(tmp_path / "cut.ifc"), project_crs="EPSG:25832")
    assert main(["info", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "EPSG:25832" in out and "IFC IFC4" in out
