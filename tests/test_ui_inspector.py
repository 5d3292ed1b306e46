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
    assert rows["灯杆高度"] == "—"
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
