"""Inspector: attribute names, units and code-list labels come from the CIM catalogue."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qdt.layers import VectorLayer
from qdt.ui.inspector import InspectorDock, describe_fields


def lights():
    frame = gpd.GeoDataFrame({"status": [2], "power_w": [120.0], "pole_height": [np.nan], "remark": ["x"]},
                             geometry=shapely.points([534231.97], [3993376.68]), crs="EPSG:4549",
                             index=pd.Index([7], name="fid"))
    return VectorLayer("路灯", frame, feature_class="streetlight")


def test_describe_fields_uses_catalogue():
    layer = lights()
    rows = {label: shown for label, shown, _ in describe_fields(layer, layer.row(7))}
    assert rows["状态"] == "故障 (2)"
    assert rows["额定功率"] == "120 W"
    assert rows["灯杆高度"] == "NULL"  # one way to write a missing value, as the table and reports
    assert rows["remark"] == "x"


def test_inspector_shows_coordinates_and_attributes(qtbot):
    from qdt.render.picking import PickResult

    dock = InspectorDock()
    qtbot.addWidget(dock)
    layer = lights()
    xyz = np.array([534231.97, 3993376.68, 12.5])
    dock.show_pick(PickResult(layer, 7, xyz, xyz, 1.0))
    header = dock.header.text()
    assert "路灯" in header and "534231.970" in header and "3993376.680" in header
    assert ("120.3800000°E" in header or "120.3799999°E" in header) and "36.0700000°N" in header
    values = {dock.tree.topLevelItem(i).text(0): dock.tree.topLevelItem(i).text(1)
              for i in range(dock.tree.topLevelItemCount())}
    assert values["状态"] == "故障 (2)"
    dock.show_pick(None)
    assert dock.tree.topLevelItemCount() == 0


def test_every_panel_string_has_an_english_entry():
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    catalogue = {}
    for path in sorted((root / "assets" / "i18n").glob("en_*.json")):  # as the loader: every part's catalogue
        catalogue.update(json.loads(path.read_text(encoding="utf-8")))
    for name in ("panels", "editing", "attribute_table", "query_panel", "overview", "charts", "inspector"):
        text = (root / "qdt" / "ui" / f"{name}.py").read_text(encoding="utf-8")
        for match in re.finditer(r'\btr\((["\'])(.*?)\1\)', text):
            assert match.group(2) in catalogue, f"{name}.py: {match.group(2)!r} has no English entry"


def test_inspector_marks_editable_values_only_in_edit_mode(qtbot, tmp_path):
    import shutil

    from PySide6.QtCore import Qt

    from qdt.io import LayerSource, load_layer
    from qdt.render.picking import PickResult
    from qdt.ui.editing import EditManager
    from tests.conftest import SAMPLE_GPKG

    shutil.copy(SAMPLE_GPKG, tmp_path / "city.gpkg")
    layer = load_layer(LayerSource(tmp_path / "city.gpkg", layer="streetlights", feature_class="streetlight",
                                   name="路灯")).layer
    dock = InspectorDock()
    qtbot.addWidget(dock)
    edits = EditManager(dock)
    edits.ask = False
    dock.set_edit_manager(edits)
    xyz = np.array([*layer.frame.geometry.iloc[0].coords[0], 4.0])
    fid = int(layer.frame.index[0])
    dock.show_pick(PickResult(layer, fid, xyz, xyz, 1.0))

    def status_item():
        return next(dock.tree.topLevelItem(i) for i in range(dock.tree.topLevelItemCount())
                    if dock.tree.topLevelItem(i).text(0) == "状态")

    assert not status_item().flags() & Qt.ItemFlag.ItemIsEditable
    assert not dock.edit_value("status", 3)  # not in edit mode: nothing happens
    edits.start(layer)
    assert status_item().flags() & Qt.ItemFlag.ItemIsEditable
    assert dock.edit_value("status", "维修中")
    assert status_item().text(1) == "维修中 (3)" and layer.frame.at[fid, "status"] == 3
    edits.stop(layer, save=False)
    assert layer.frame.at[fid, "status"] != 3 and not status_item().flags() & Qt.ItemFlag.ItemIsEditable
