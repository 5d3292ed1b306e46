"""Layer tree dock: layers grouped by CIM data category, with visibility check boxes and legends.

Unavailable layers (missing or unreadable data) are listed greyed out with the reason. The
context menu offers zoom to layer, style (dialog), opacity (slider) and remove; a layer's
legend (categorised or graduated classes) is listed under it, as in QGIS.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QDockWidget, QMenu, QStyle, QTreeWidget, QTreeWidgetItem, QWidget, QWidgetAction

from qdt.layers import Layer
from qdt.project import LayerEntry, Project
from qdt.ui.i18n import tr
from qdt.ui.style_dialog import OpacityWidget, swatch

LAYER_ROLE = Qt.ItemDataRole.UserRole + 1
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 2
LEGEND_ROLE = Qt.ItemDataRole.UserRole + 3
# Order of the CIM data categories in the tree (CJJ/T 315-2022 catalogue names).
CATEGORY_ORDER = ["时空基础", "资源调查", "公共专题", "规划管控", "工程建设项目", "物联感知", "其他"]


class LayerTreeDock(QDockWidget):
    """Signals: ``zoom_to_layer(Layer)`` on double-click or the menu, ``current_layer(Layer|None)``,
    ``style_requested(Layer)``, ``remove_requested(LayerEntry)``."""

    zoom_to_layer = Signal(object)
    current_layer = Signal(object)
    style_requested = Signal(object)
    remove_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(tr("图层"), parent)
        self.setObjectName("LayerTreeDock")
        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.setWidget(self.tree)
        self.project: Project | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._connected: list[Layer] = []
        self._updating = False
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.currentItemChanged.connect(self._on_current)

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.rebuild()

    def _layers(self) -> list[Layer]:
        return [e.layer for e in (self.project.entries if self.project else []) if e.layer is not None]

    def _disconnect(self) -> None:
        for layer in self._connected:
            layer.events.visible.disconnect(self._sync_visibility)
            layer.events.style.disconnect(self._sync_legends)
            layer.events.name.disconnect(self._sync_names)
        self._connected = []

    def rebuild(self) -> None:
        """Rebuild the tree from the project's entries (after opening, adding or removing layers)."""
        self._disconnect()
        self._updating = True
        self.tree.clear()
        self._items.clear()
        if self.project is None:
            self._updating = False
            return
        groups: dict[str, QTreeWidgetItem] = {}
        entries = self.project.entries

        def category_of(entry: LayerEntry) -> str:
            return entry.layer.category if entry.layer is not None else "其他"

        cats = sorted({category_of(e) for e in entries},
                      key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else len(CATEGORY_ORDER))
        for cat in cats:
            g = QTreeWidgetItem([tr(cat)])
            g.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = g.font(0)
            font.setBold(True)
            g.setFont(0, font)
            self.tree.addTopLevelItem(g)
            groups[cat] = g
        warn_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for index, entry in enumerate(entries):
            item = QTreeWidgetItem([entry.name])
            item.setData(0, ENTRY_ROLE, index)
            layer = entry.layer
            if layer is None:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                item.setText(0, f"{entry.name}{tr('（不可用）')}")
                item.setIcon(0, warn_icon)
                item.setToolTip(0, entry.error or "")
                item.setForeground(0, QBrush(QColor(150, 150, 150)))
            else:
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
                item.setFlags(flags)
                item.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
                item.setData(0, LAYER_ROLE, layer.id)
                count = layer.feature_count
                tip = f"{entry.name}\n{entry.source}" + (f"\n{count} " + tr("个要素") if count else "")
                if entry.warnings:
                    tip += "\n" + "\n".join(entry.warnings[:5])
                item.setToolTip(0, tip)
                self._items[layer.id] = item
                layer.events.visible.connect(self._sync_visibility)
                layer.events.style.connect(self._sync_legends)
                layer.events.name.connect(self._sync_names)
                self._connected.append(layer)
                self._fill_legend(item, layer)
            groups[category_of(entry)].addChild(item)
        self.tree.expandAll()
        self._updating = False

    @staticmethod
    def _fill_legend(item: QTreeWidgetItem, layer: Layer) -> None:
        """Legend classes as children of the layer item; a single colour goes on the item itself."""
        for child in [item.child(i) for i in range(item.childCount())]:
            item.removeChild(child)
        if not hasattr(layer, "frame"):  # rasters and city models draw their own colours
            return
        legend = layer.style.legend()
        if len(legend) == 1 and not legend[0][0]:
            item.setIcon(0, swatch(legend[0][1]))
            return
        item.setIcon(0, swatch((255, 255, 255), 1))
        for label, rgb in legend:
            child = QTreeWidgetItem([label])
            child.setIcon(0, swatch(rgb))
            child.setFlags(Qt.ItemFlag.ItemIsEnabled)
            child.setData(0, LEGEND_ROLE, True)
            item.addChild(child)

    def item_for(self, layer: Layer) -> QTreeWidgetItem | None:
        return self._items.get(layer.id)

    def legend_labels(self, layer: Layer) -> list[str]:
        """The legend texts shown under ``layer`` (empty for a single colour)."""
        item = self._items.get(layer.id)
        return [item.child(i).text(0) for i in range(item.childCount())] if item is not None else []

    def _layer_by_id(self, layer_id: str) -> Layer | None:
        return next((lyr for lyr in self._layers() if lyr.id == layer_id), None)

    def _entry_of(self, item: QTreeWidgetItem | None) -> LayerEntry | None:
        if item is None or self.project is None:
            return None
        index = item.data(0, ENTRY_ROLE)
        if index is None or not 0 <= int(index) < len(self.project.entries):
            return None
        return self.project.entries[int(index)]

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

    def _sync_legends(self, _style: object) -> None:
        self._updating = True
        for layer in self._layers():
            item = self._items.get(layer.id)
            if item is not None:
                self._fill_legend(item, layer)
                item.setExpanded(True)
        self._updating = False

    def _sync_names(self, _name: str) -> None:
        self._updating = True
        for layer in self._layers():
            item = self._items.get(layer.id)
            if item is not None:
                item.setText(0, layer.name)
        self._updating = False

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        layer = self._layer_by_id(item.data(0, LAYER_ROLE) or "")
        if layer is not None:
            self.zoom_to_layer.emit(layer)

    def _on_current(self, item: QTreeWidgetItem | None, _prev: QTreeWidgetItem | None) -> None:
        layer = self._layer_by_id(item.data(0, LAYER_ROLE) or "") if item is not None else None
        self.current_layer.emit(layer)

    def current_entry(self) -> LayerEntry | None:
        return self._entry_of(self.tree.currentItem())

    # --- context menu -------------------------------------------------------------------------
    def menu_for(self, item: QTreeWidgetItem | None) -> QMenu | None:
        """The context menu of a layer item (None for groups and legend rows)."""
        entry = self._entry_of(item)
        if entry is None:
            return None
        menu = QMenu(self.tree)
        layer = entry.layer
        if layer is not None:
            menu.addAction(tr("缩放到图层"), lambda: self.zoom_to_layer.emit(layer))
            menu.addAction(tr("样式…"), lambda: self.style_requested.emit(layer))
            from qdt.ui.label_page import labels_shown, toggle_labels

            if hasattr(layer, "columns"):  # features (not rasters) can be labelled
                labels = menu.addAction(tr("显示标注"), lambda: toggle_labels(layer))
                labels.setCheckable(True)
                labels.setChecked(labels_shown(layer))
            opacity = QWidgetAction(menu)
            opacity.setDefaultWidget(OpacityWidget(layer, menu))
            menu.addAction(opacity)
            menu.addSeparator()
        menu.addAction(tr("移除图层"), lambda: self.remove_requested.emit(entry))
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.menu_for(self.tree.itemAt(pos))
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.tree.viewport().mapToGlobal(pos))

    def close_tree(self) -> None:
        self._disconnect()
