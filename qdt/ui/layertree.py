"""Layer tree dock: layers grouped by CIM data category, with visibility check boxes.

Unavailable layers (missing or unreadable data) are listed greyed out with the reason.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QDockWidget, QStyle, QTreeWidget, QTreeWidgetItem, QWidget

from qdt.layers import Layer
from qdt.project import Project

LAYER_ROLE = Qt.ItemDataRole.UserRole + 1
# Order of the CIM data categories in the tree (CJJ/T 315-2022 catalogue names).
CATEGORY_ORDER = ["时空基础", "资源调查", "公共专题", "规划管控", "工程建设项目", "物联感知", "其他"]


class LayerTreeDock(QDockWidget):
    """Signals: ``zoom_to_layer(Layer)`` on double-click, ``current_layer(Layer|None)``."""

    zoom_to_layer = Signal(object)
    current_layer = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("图层", parent)
        self.setObjectName("LayerTreeDock")
        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        self.setWidget(self.tree)
        self.project: Project | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._updating = False
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.currentItemChanged.connect(self._on_current)

    def set_project(self, project: Project) -> None:
        for layer in self._layers():
            layer.events.visible.disconnect(self._sync_visibility)
        self.project = project
        self.rebuild()

    def _layers(self) -> list[Layer]:
        return [e.layer for e in (self.project.entries if self.project else []) if e.layer is not None]

    def rebuild(self) -> None:
        self._updating = True
        self.tree.clear()
        self._items.clear()
        if self.project is None:
            self._updating = False
            return
        groups: dict[str, QTreeWidgetItem] = {}
        entries = self.project.entries

        def category_of(entry) -> str:  # noqa: ANN001
            if entry.layer is not None:
                return entry.layer.category
            return "其他"

        cats = sorted({category_of(e) for e in entries},
                      key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else len(CATEGORY_ORDER))
        for cat in cats:
            g = QTreeWidgetItem([cat])
            g.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = g.font(0)
            font.setBold(True)
            g.setFont(0, font)
            self.tree.addTopLevelItem(g)
            groups[cat] = g
        warn_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for entry in entries:
            item = QTreeWidgetItem([entry.name])
            layer = entry.layer
            if layer is None:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                item.setText(0, f"{entry.name}（不可用）")
                item.setIcon(0, warn_icon)
                item.setToolTip(0, entry.error or "")
                item.setForeground(0, QBrush(QColor(150, 150, 150)))
            else:
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
                item.setFlags(flags)
                item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
                item.setData(0, LAYER_ROLE, layer.id)
                count = layer.feature_count
                tip = f"{entry.name}\n{entry.source}" + (f"\n{count} 个要素" if count else "")
                if entry.warnings:
                    tip += "\n" + "\n".join(entry.warnings[:5])
                item.setToolTip(0, tip)
                self._items[layer.id] = item
                layer.events.visible.connect(self._sync_visibility)
            groups[category_of(entry)].addChild(item)
        self.tree.expandAll()
        self._updating = False

    def item_for(self, layer: Layer) -> QTreeWidgetItem | None:
        return self._items.get(layer.id)

    def _layer_by_id(self, layer_id: str) -> Layer | None:
        return next((lyr for lyr in self._layers() if lyr.id == layer_id), None)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating:
            return
        layer = self._layer_by_id(item.data(0, LAYER_ROLE) or "")
        if layer is not None:
            layer.visible = item.checkState(0) == Qt.CheckState.Checked

    def _sync_visibility(self, _visible: bool) -> None:
        self._updating = True
        for layer in self._layers():
            item = self._items.get(layer.id)
            if item is not None:
                item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        self._updating = False

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        layer = self._layer_by_id(item.data(0, LAYER_ROLE) or "")
        if layer is not None:
            self.zoom_to_layer.emit(layer)

    def _on_current(self, item: QTreeWidgetItem | None, _prev: QTreeWidgetItem | None) -> None:
        layer = self._layer_by_id(item.data(0, LAYER_ROLE) or "") if item is not None else None
        self.current_layer.emit(layer)
