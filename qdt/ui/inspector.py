"""Inspector dock: attributes of the picked feature with the schema's Chinese names, units and labels."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from qdt.crs import to_lonlat


def display_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "—"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3f}".rstrip("0").rstrip(".")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def describe_fields(layer: Any, values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(display name, shown value, tooltip) per field, using the CIM catalogue when the layer has a class."""
    cls = None
    fc = getattr(layer, "feature_class", None)
    if fc:
        try:
            from qdt.cim import catalogue

            cat = catalogue()
            cls = cat.feature_class(fc)
        except (ImportError, KeyError):
            cls = None
    rows = []
    for name, value in values.items():
        label, shown, tip = name, display_value(value), name
        fdef = None
        if cls is not None:
            try:
                fdef = cls.field(name)
            except KeyError:
                fdef = None
        if fdef is not None:
            label = fdef.zh or name
            tip = f"{name} · {fdef.en}" if fdef.en else name
            if fdef.codelist and shown != "—":
                try:
                    text = cat.codelist(fdef.codelist).label(value)
                    if text:
                        shown = f"{text} ({shown})"
                except (KeyError, ValueError, TypeError):
                    pass
            elif fdef.unit and shown != "—":
                shown = f"{shown} {fdef.unit}"
        rows.append((label, shown, tip))
    return rows


class InspectorDock(QDockWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("要素属性", parent)
        self.setObjectName("InspectorDock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.header = QLabel("在三维视图中单击要素查看属性")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = QTreeWidget(body)
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["字段", "值"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.header)
        layout.addWidget(self.tree)
        self.setWidget(body)
        self.current: tuple[Any, int] | None = None

    def show_pick(self, result: Any, devices: list[dict[str, Any]] | None = None, device_layer: Any = None) -> None:
        """Show a PickResult (or None); ``devices`` are the rows of the devices mounted on a smart pole."""
        self.tree.clear()
        if result is None:
            self.current = None
            self.header.setText("此处没有要素")
            return
        layer, fid = result.layer, int(result.fid)
        self.current = (layer, fid)
        x, y, z = (float(v) for v in result.world_xyz)
        lon, lat = to_lonlat(np.array([x]), np.array([y]))
        self.header.setText(f"<b>{layer.name}</b> · 要素 {fid}<br>"
                            f"X {x:.3f}  Y {y:.3f}  H {z:.3f} m (EPSG:4549 · 1985高程)<br>"
                            f"{float(lon[0]):.7f}°E  {float(lat[0]):.7f}°N")
        values = layer.row(fid) if hasattr(layer, "row") else {}
        for label, shown, tip in describe_fields(layer, values):
            item = QTreeWidgetItem([label, shown])
            item.setToolTip(0, tip)
            self.tree.addTopLevelItem(item)
        if devices:
            group = QTreeWidgetItem(["搭载设备", f"{len(devices)} 台"])
            self.tree.addTopLevelItem(group)
            for device in devices:
                fields = describe_fields(device_layer, device)
                kind = next((shown for label, shown, tip in fields if tip.startswith("device_type")), "设备")
                child = QTreeWidgetItem([kind, ""])
                group.addChild(child)
                for label, shown, tip in fields:
                    if not tip.startswith(("device_type", "pole_code")):
                        child.addChild(QTreeWidgetItem([label, shown]))
        self.tree.expandAll()
