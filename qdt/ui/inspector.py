"""Inspector dock: attributes of the picked feature with the schema's Chinese names, units and labels.

When the feature's layer is in edit mode (see :mod:`qdt.ui.editing`), double-clicking a value
opens the editor that fits the field; the value is validated by :mod:`qdt.edit` and buffered as
one undo step, and modified values are marked until committed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qdt.crs import to_lonlat
from qdt.layers import NULL_TEXT
from qdt.ui.i18n import language, tr

FIELD_ROLE = Qt.ItemDataRole.UserRole + 1
MODIFIED_BRUSH = QBrush(QColor(255, 236, 150))


def display_value(value: Any) -> str:
    """A value as the inspector shows it; missing ones as NULL, as everywhere in QDT."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return NULL_TEXT
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3f}".rstrip("0").rstrip(".")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def catalogue_name(item: Any) -> str:
    """The name of a catalogue field, code or code list in the interface language: its English
    name in English mode (when it has one), else its Chinese name."""
    if language() == "en" and getattr(item, "en", None):
        return item.en
    return item.zh


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
            english = language() == "en"
            label = catalogue_name(fdef) or name
            tip = f"{name} · {fdef.zh if english else fdef.en}" if fdef.en else name
            if fdef.codelist and shown != NULL_TEXT:
                try:
                    codes = cat.codelist(fdef.codelist)
                    text = codes.label(value, "en" if english else "zh") or codes.label(value)
                    if text:
                        shown = f"{text} ({shown})"
                except (KeyError, ValueError, TypeError):
                    pass
            elif fdef.unit and shown != NULL_TEXT:
                shown = f"{shown} {fdef.unit}"
        rows.append((label, shown, tip))
    return rows


class _ValueDelegate(QStyledItemDelegate):
    """Editors for the value column of a layer in edit mode (the field is in the item's FIELD_ROLE)."""

    def __init__(self, dock: InspectorDock) -> None:
        super().__init__(dock.tree)
        self.dock = dock

    def createEditor(self, parent: QWidget, option: Any, index: QModelIndex) -> QWidget:  # noqa: N802
        from qdt.ui.editing import create_field_editor

        field = index.data(FIELD_ROLE)
        layer = self.dock.current[0] if self.dock.current else None
        if field is None or layer is None:
            return None  # type: ignore[return-value]
        editor = create_field_editor(parent, layer, field)
        editor.setAutoFillBackground(True)
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:  # noqa: N802
        from qdt.ui.editing import set_editor_value

        layer, fid = self.dock.current
        set_editor_value(editor, layer.frame.at[fid, index.data(FIELD_ROLE)])

    def setModelData(self, editor: QWidget, model: Any, index: QModelIndex) -> None:  # noqa: N802
        from qdt.ui.editing import editor_value

        self.dock.edit_value(index.data(FIELD_ROLE), editor_value(editor))


class InspectorDock(QDockWidget):
    """The picked feature's attributes; editable in place while its layer is in edit mode
    (``set_edit_manager``). Attribute ``last_error`` holds the last refused input's message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(tr("要素属性"), parent)
        self.setObjectName("InspectorDock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.header = QLabel(tr("在三维视图中单击要素查看属性"))
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = QTreeWidget(body)
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels([tr("字段"), tr("值")])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setItemDelegateForColumn(1, _ValueDelegate(self))
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.edit_hint = QLabel(tr("编辑模式：双击值进行修改"))
        self.edit_hint.setStyleSheet("color: #8a6d00;")
        self.edit_hint.hide()
        layout.addWidget(self.header)
        layout.addWidget(self.edit_hint)
        layout.addWidget(self.tree)
        self.setWidget(body)
        self.current: tuple[Any, int] | None = None
        self.edits: Any = None
        self.last_error: str | None = None
        self._devices: tuple[Any, Any] = (None, None)

    # --- editing ---------------------------------------------------------------------------------------
    def set_edit_manager(self, edits: Any) -> None:
        """Edit in place through ``edits`` (a :class:`qdt.ui.editing.EditManager`)."""
        self.edits = edits
        edits.changed.connect(self._on_edits_changed)
        edits.mode_changed.connect(lambda layer, _on: self._on_edits_changed(layer, None, None))

    def _editor(self) -> Any:
        if self.edits is None or self.current is None:
            return None
        return self.edits.editor(self.current[0])

    def _on_edits_changed(self, layer: Any, fids: Any, _fields: Any) -> None:
        if self.current is None or layer is not self.current[0]:
            return
        if fids is None or bool(np.isin(int(self.current[1]), np.asarray(fids, dtype=np.int64))):
            self.refresh()

    def edit_value(self, field: str, value: Any) -> bool:
        """Buffer ``value`` for ``field`` of the shown feature (validated; one undo step)."""
        from qdt.edit import EditError

        editor = self._editor()
        if editor is None or self.current is None:
            return False
        try:
            editor.set_value(self.current[1], field, value)
        except EditError as exc:
            self.last_error = str(exc)
            if self.edits is not None:
                self.edits.message.emit(str(exc))
            if self.edits is None or self.edits.ask:
                from PySide6.QtWidgets import QMessageBox

                box = QMessageBox(QMessageBox.Icon.Warning, tr("输入无效"), str(exc), parent=self)
                box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                box.open()
            return False
        self.last_error = None
        return True

    def refresh(self) -> None:
        """Show the current feature's values again (after an edit, undo or commit)."""
        if self.current is None:
            return
        layer, fid = self.current
        if fid not in layer.frame.index:
            return
        self._fill(layer, fid, *self._devices)

    def show_pick(self, result: Any, devices: list[dict[str, Any]] | None = None, device_layer: Any = None) -> None:
        """Show a PickResult (or None); ``devices`` are the rows of the devices mounted on a smart pole."""
        self.tree.clear()
        if result is None:
            self.current = None
            self.edit_hint.hide()
            self.header.setText(tr("此处没有要素"))
            return
        layer, fid = result.layer, int(result.fid)
        self.current = (layer, fid)
        self._devices = (devices, device_layer)
        x, y, z = (float(v) for v in result.world_xyz)
        lon, lat = to_lonlat(np.array([x]), np.array([y]))
        self.header.setText(f"<b>{layer.name}</b> · {tr('要素')} {fid}<br>"
                            f"X {x:.3f}  Y {y:.3f}  H {z:.3f} m (EPSG:4549 · {tr('1985高程')})<br>"
                            f"{float(lon[0]):.7f}°E  {float(lat[0]):.7f}°N")
        self._fill(layer, fid, devices, device_layer)

    def _fill(self, layer: Any, fid: int, devices: list[dict[str, Any]] | None, device_layer: Any) -> None:
        self.tree.clear()
        editor = self._editor()
        self.edit_hint.setVisible(editor is not None)
        values = layer.row(fid) if hasattr(layer, "row") else {}
        for name, (label, shown, tip) in zip(values, describe_fields(layer, values), strict=True):
            item = QTreeWidgetItem([label, shown])
            item.setToolTip(0, tip)
            item.setData(1, FIELD_ROLE, name)
            if editor is not None and editor.is_editable(name):
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                if editor.is_modified(fid, name):
                    item.setBackground(1, MODIFIED_BRUSH)
                    font = QFont()
                    font.setItalic(True)
                    item.setFont(1, font)
                    item.setToolTip(1, tr("未提交的修改"))
            self.tree.addTopLevelItem(item)
        if devices:
            group = QTreeWidgetItem([tr("搭载设备"), f"{len(devices)} {tr('台')}"])
            self.tree.addTopLevelItem(group)
            for device in devices:
                fields = describe_fields(device_layer, device)
                kind = next((shown for label, shown, tip in fields if tip.startswith("device_type")), tr("设备"))
                child = QTreeWidgetItem([kind, ""])
                group.addChild(child)
                for label, shown, tip in fields:
                    if not tip.startswith(("device_type", "pole_code")):
                        child.addChild(QTreeWidgetItem([label, shown]))
        self.tree.expandAll()
