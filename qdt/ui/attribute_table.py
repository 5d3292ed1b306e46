"""Attribute table: a Qt model over a vector layer's frame, and its dock.

:class:`AttributeTableModel` reads cells straight from the frame's columns (no widget and no
Python object per cell); the rows shown are an int64 array of frame positions, so sorting is
one ``argsort`` over the shown column and filtering is one :func:`qdt.query.evaluate` mask —
no Python loop per row, which keeps a 300k-row layer smooth. Headers and cells use the CIM
catalogue: Chinese field names with units, code-list labels instead of codes (the code in the
tooltip). Cells of a layer in edit mode are editable through :class:`qdt.ui.editing.FieldDelegate`
and marked while their value is not committed.

:class:`AttributeTableDock` adds the layer chooser, the expression filter (errors show the
position), selection synchronised both ways with the layer model (and so the 3D view), zoom
to selection, edit mode, commit/rollback, undo/redo and batch edit of the selection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from PySide6.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qdt.edit import EditError
from qdt.layers import NULL_TEXT
from qdt.query import ExpressionError, evaluate, feature_class_of
from qdt.ui.editing import FieldDelegate, create_field_editor, editor_value, field_info
from qdt.ui.i18n import language, tr
from qdt.ui.inspector import catalogue_name, display_value

MODIFIED_BRUSH = QBrush(QColor(255, 236, 150))
NULL_BRUSH = QBrush(QColor(150, 150, 150))


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique rows → (starts, ends) of contiguous runs (inclusive)."""
    if len(rows) == 0:
        return rows, rows
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([rows[:1], rows[breaks + 1]])
    ends = np.concatenate([rows[breaks], rows[-1:]])
    return starts, ends


class AttributeTableModel(QAbstractTableModel):
    """Rows of ``layer.frame`` (a VectorLayer) as a Qt table; see the module docstring.

    ``editor`` (a :class:`qdt.ui.editing.LayerEditor` or None) makes editable fields editable;
    rejected input emits ``edit_rejected(str)`` with the validator's message and changes nothing.
    """

    edit_rejected = Signal(str)
    filter_changed = Signal()

    def __init__(self, layer: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.columns: list[str] = list(layer.columns)
        self.editor: Any = None
        self.filter_text: str | None = None
        self._mask = np.ones(len(layer.frame), dtype=bool)
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._rows = np.arange(len(layer.frame), dtype=np.int64)
        self._cache: dict[str, np.ndarray] = {}
        self._modified: dict[str, np.ndarray] = {}
        self._labels: dict[str, dict[str, str]] = {}
        self._right: dict[str, bool] = {}  # numbers align right
        self._headers: list[tuple[str, str]] = []
        self.feature_class = feature_class_of(layer)
        self._describe_columns()

    def _describe_columns(self) -> None:
        """Header text (Chinese name and unit) and code-list labels of every column."""
        self._headers = []
        self._labels = {}
        english = language() == "en"
        for name in self.columns:
            fdef, codelist = field_info(self.layer, name)
            title, tip = name, name
            if fdef is not None:
                shown = (fdef.en if english else fdef.zh) or name
                title = shown + (f" ({fdef.unit})" if fdef.unit else "")
                tip = f"{name} · {fdef.zh if english else fdef.en}" if fdef.en else name
            if codelist is not None:
                self._labels[name] = {str(e.code): (e.en if english else e.zh) or e.zh for e in codelist.entries}
                tip += f" · {tr('代码表')} {codelist.en if english else codelist.zh}"
            self._headers.append((title, tip))

    # --- shape ----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    @property
    def rows(self) -> np.ndarray:
        """Frame positions of the rows shown, in display order."""
        return self._rows

    def fids_of_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.layer.frame.index.to_numpy(dtype=np.int64)[self._rows[np.asarray(rows, dtype=np.int64)]]

    def rows_of_fids(self, fids: Any) -> np.ndarray:
        """Display rows (sorted) of the features ``fids`` that the table shows."""
        fids = np.fromiter(fids, dtype=np.int64) if not isinstance(fids, np.ndarray) else fids.astype(np.int64)
        if len(fids) == 0:
            return np.empty(0, dtype=np.int64)
        pos = self.layer.frame.index.get_indexer(fids)
        pos = pos[pos >= 0]
        inverse = np.full(len(self.layer.frame), -1, dtype=np.int64)
        inverse[self._rows] = np.arange(len(self._rows), dtype=np.int64)
        rows = inverse[pos]
        return np.sort(rows[rows >= 0])

    def field_at(self, index: QModelIndex) -> tuple[Any, str] | None:
        """(layer, field) of a cell (for the editor delegate)."""
        if not index.isValid():
            return None
        return self.layer, self.columns[index.column()]

    # --- cells ----------------------------------------------------------------------------------
    def _column(self, name: str) -> np.ndarray:
        values = self._cache.get(name)
        if values is None:
            values = self.layer.frame[name].to_numpy()
            self._cache[name] = values
        return values

    def _modified_mask(self, name: str) -> np.ndarray | None:
        if self.editor is None:
            return None
        mask = self._modified.get(name)
        if mask is None:
            mask = self.editor.modified_mask(name)
            self._modified[name] = mask
        return mask

    def raw_value(self, row: int, column: int) -> Any:
        value = self._column(self.columns[column])[self._rows[row]]
        return value.item() if isinstance(value, np.generic) and not isinstance(value, np.datetime64) else value

    def display_text(self, name: str, value: Any) -> str:
        try:
            null = bool(pd.isna(value))
        except (TypeError, ValueError):
            null = False
        if null:
            return NULL_TEXT
        labels = self._labels.get(name)
        if labels is not None:
            key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            label = labels.get(key)
            return label if label is not None else str(value)
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M:%S")
        return display_value(value)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if row >= len(self._rows):
            return None
        name = self.columns[column]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display_text(name, self.raw_value(row, column))
        if role == Qt.ItemDataRole.EditRole:
            value = self.raw_value(row, column)
            return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
        if role == Qt.ItemDataRole.BackgroundRole:
            mask = self._modified_mask(name)
            if mask is not None and mask[self._rows[row]]:
                return MODIFIED_BRUSH
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            value = self.raw_value(row, column)
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                return NULL_BRUSH
            return None
        if role == Qt.ItemDataRole.FontRole:
            mask = self._modified_mask(name)
            if mask is not None and mask[self._rows[row]]:
                font = QFont()
                font.setItalic(True)
                return font
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            value = self.raw_value(row, column)
            if name in self._labels:
                return f"{self.display_text(name, value)} ({tr('代码')} {value})"
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            right = self._right.get(name)
            if right is None:
                right = pd.api.types.is_numeric_dtype(self.layer.frame[name].dtype) and name not in self._labels
                self._right[name] = right
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if right else None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if section >= len(self._headers):
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return self._headers[section][0]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._headers[section][1]
            return None
        if role == Qt.ItemDataRole.DisplayRole and section < len(self._rows):
            return str(int(self.layer.frame.index[self._rows[section]]))
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and self.editor is not None and not self.editor.committing \
                and self.editor.is_editable(self.columns[index.column()]):
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or self.editor is None:
            return False
        fid = int(self.fids_of_rows(np.array([index.row()]))[0])
        try:
            self.editor.set_value(fid, self.columns[index.column()], value)
        except EditError as exc:
            self.edit_rejected.emit(str(exc))
            return False
        return True

    # --- edits, data changes ---------------------------------------------------------------------
    def set_editor(self, editor: Any) -> None:
        self.editor = editor
        self._modified.clear()
        self._cache.clear()
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def cells_changed(self, fids: Any, fields: Any) -> None:
        """Values (and modified marks) of ``fields`` changed; repaint those columns."""
        names = [f for f in fields if f in self.columns] if fields is not None else list(self.columns)
        for name in names:
            self._cache.pop(name, None)
            self._modified.pop(name, None)
        if not names or not self.rowCount():
            return
        cols = [self.columns.index(n) for n in names]
        self.dataChanged.emit(self.index(0, min(cols)), self.index(self.rowCount() - 1, max(cols)))
        # like QGIS, rows keep their place until the user re-sorts or re-filters

    def reload(self) -> None:
        """The layer's frame was replaced (reload): rebuild everything."""
        self.beginResetModel()
        self.columns = list(self.layer.columns)
        self._cache.clear()
        self._modified.clear()
        self._right.clear()
        self._describe_columns()
        self._sort = None
        self._mask = np.ones(len(self.layer.frame), dtype=bool)
        self._rows = np.arange(len(self.layer.frame), dtype=np.int64)
        self.endResetModel()
        if self.filter_text:
            try:
                self.set_filter(self.filter_text)
            except ExpressionError:
                self.set_filter(None)

    # --- filter and sort ------------------------------------------------------------------------
    def set_filter(self, text: str | None) -> int:
        """Show only the rows where ``text`` (a qdt.query expression) is true; None/blank shows all.

        Returns the number of rows shown. Raises :class:`qdt.query.ExpressionError` (with
        ``position``) for a bad expression; the table is then unchanged.
        """
        text = (text or "").strip() or None
        mask = np.ones(len(self.layer.frame), dtype=bool) if text is None else \
            evaluate(text, self.layer.frame, self.feature_class)
        self.beginResetModel()
        self.filter_text = text
        self._mask = mask
        self._rows = self._ordered(np.flatnonzero(mask).astype(np.int64))
        self.endResetModel()
        self.filter_changed.emit()
        return len(self._rows)

    def set_fid_filter(self, fids: Any, label: str) -> int:
        """Show only features ``fids`` (a query result); ``filter_text`` becomes ``label``."""
        mask = self.layer.frame.index.isin(np.asarray(fids, dtype=np.int64))
        self.beginResetModel()
        self.filter_text = label
        self._mask = np.asarray(mask, dtype=bool)
        self._rows = self._ordered(np.flatnonzero(self._mask).astype(np.int64))
        self.endResetModel()
        self.filter_changed.emit()
        return len(self._rows)

    def _ordered(self, positions: np.ndarray) -> np.ndarray:
        if self._sort is None:
            return positions
        column, order = self._sort
        series = self.layer.frame[self.columns[column]].take(positions).reset_index(drop=True)
        try:
            perm = series.sort_values(kind="stable", na_position="last",
                                      ascending=order == Qt.SortOrder.AscendingOrder).index.to_numpy()
        except TypeError:  # mixed types in an object column: compare as text
            perm = series.astype(str).sort_values(kind="stable",
                                                  ascending=order == Qt.SortOrder.AscendingOrder).index.to_numpy()
        return positions[perm]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0 or column >= len(self.columns):
            self._sort = None
            positions = np.flatnonzero(self._mask).astype(np.int64)
        else:
            self._sort = (column, order)
            positions = self._rows
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        self._rows = self._ordered(positions)
        if len(old) == len(self._rows):
            # keep persistent indexes (the selection) on their features
            inverse = np.full(len(self.layer.frame), -1, dtype=np.int64)
            inverse[self._rows] = np.arange(len(self._rows), dtype=np.int64)
            persistent = self.persistentIndexList()
            if persistent:
                new = [self.index(int(inverse[old[i.row()]]), i.column()) if i.row() < len(old) else QModelIndex()
                       for i in persistent]
                self.changePersistentIndexList(persistent, new)
        self.layoutChanged.emit()


class BatchEditDialog(QDialog):
    """Choose a field and a value for every selected feature (one undo step)."""

    def __init__(self, layer: Any, fields: list[str], count: int, parent: QWidget | None = None,
                 hidden: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("批量修改所选要素"))
        self.setObjectName("BatchEditDialog")
        self.layer = layer
        self.fields = fields
        form = QFormLayout(self)
        self.count_label = QLabel(tr("将修改 {n} 个所选要素").format(n=count))
        form.addRow(self.count_label)
        if hidden:
            # only what the user sees is changed: say so for rows the filter hides
            note = QLabel(tr("另有 {n} 个已选要素被筛选条件隐藏，不会修改").format(n=hidden))
            note.setObjectName("hidden_note")
            note.setStyleSheet("color: #a15c00;")
            form.addRow(note)
        self.field_box = QComboBox(self)
        for name in fields:
            fdef, _ = field_info(layer, name)
            self.field_box.addItem(f"{catalogue_name(fdef)} ({name})" if fdef is not None and fdef.zh else name, name)
        form.addRow(tr("字段"), self.field_box)
        self.editor_holder = QHBoxLayout()
        form.addRow(tr("新值"), self.editor_holder)
        self.editor: QWidget | None = None
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.field_box.currentIndexChanged.connect(self._make_editor)
        self._make_editor()

    def _make_editor(self) -> None:
        if self.editor is not None:
            self.editor.deleteLater()
        self.editor = create_field_editor(self, self.layer, self.field)
        self.editor_holder.addWidget(self.editor)

    @property
    def field(self) -> str:
        return self.field_box.currentData()

    def value(self) -> Any:
        return editor_value(self.editor)


class AttributeTableDock(QDockWidget):
    """The attribute table of one layer at a time, with filter, selection sync and editing.

    ``bench`` is the :class:`qdt.ui.workbench.Workbench` (scene, view, edit manager, messages).
    """

    # layer data events may come from any thread (a live feed): a Qt signal brings them to the GUI thread
    _data_arrived = Signal(object)

    def __init__(self, bench: Any) -> None:
        super().__init__(tr("属性表"), bench.dialog_parent)
        self._data_arrived.connect(self._apply_data_change)
        self.setObjectName("AttributeTableDock")
        self.bench = bench
        self.edits = bench.edits
        self.layer: Any = None
        self.model: AttributeTableModel | None = None
        self._syncing = False
        self._selection_cb: Any = None
        self._data_cb: Any = None

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.layer_box = QComboBox(body)
        self.layer_box.setMinimumWidth(140)
        self.filter_edit = QLineEdit(body)
        self._placeholder = tr("筛选表达式，例如 状态 = '故障' AND 额定功率 > 100")
        self.filter_edit.setPlaceholderText(self._placeholder)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_button = QToolButton(body)
        self.filter_button.setText(tr("筛选"))
        self.count_label = QLabel("", body)
        top.addWidget(QLabel(tr("图层"), body))
        top.addWidget(self.layer_box)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.filter_button)
        top.addWidget(self.count_label)
        layout.addLayout(top)
        self.error_label = QLabel("", body)
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        layout.addWidget(self.error_label)

        self.toolbar = QToolBar(body)
        # icons (set by qdt.ui.panels) with their text: the table's actions are not all self-explaining
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.act_edit = QAction(tr("编辑模式"), self)
        self.act_edit.setCheckable(True)
        self.act_edit.setStatusTip(tr("切换当前图层的编辑模式"))
        self.act_commit = QAction(tr("提交编辑"), self)
        self.act_rollback = QAction(tr("撤销全部编辑"), self)
        self.act_batch = QAction(tr("批量修改所选…"), self)
        self.act_zoom = QAction(tr("缩放到所选"), self)
        self.act_zoom.setShortcut(QKeySequence("Ctrl+J"))
        self.act_clear = QAction(tr("取消选择"), self)
        for act in (self.act_edit, self.act_commit, self.act_rollback, self.act_batch):
            self.toolbar.addAction(act)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.act_zoom)
        self.toolbar.addAction(self.act_clear)
        layout.addWidget(self.toolbar)

        self.view = QTableView(body)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSortingEnabled(True)
        self.view.setAlternatingRowColors(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setSortIndicatorShown(True)
        self.delegate = FieldDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        layout.addWidget(self.view, 1)
        self.setWidget(body)

        self.layer_box.currentIndexChanged.connect(self._layer_chosen)
        self.filter_button.clicked.connect(self.apply_filter)
        self.filter_edit.returnPressed.connect(self.apply_filter)
        self.act_edit.toggled.connect(self._toggle_edit)
        self.act_commit.triggered.connect(self.commit)
        self.act_rollback.triggered.connect(self.rollback)
        # triggered(bool) must not land in batch_edit's field parameter
        self.act_batch.triggered.connect(lambda _checked=False: self.batch_edit())
        self.act_zoom.triggered.connect(self.zoom_to_selected)
        self.act_clear.triggered.connect(self.clear_selection)
        self.edits.changed.connect(self._on_edits_changed)
        self.edits.mode_changed.connect(self._on_mode_changed)
        self._update_actions()

    # --- layers -------------------------------------------------------------------------------------
    def set_layers(self, layers: Any) -> None:
        """Offer the vector layers of ``layers`` (a LayerList); shows the first."""
        from qdt.layers import VectorLayer

        events = getattr(layers, "events", None)
        if events is not None and layers is not getattr(self, "_layer_list", None):
            old = getattr(self, "_layer_list", None)
            if old is not None:
                old.events.inserted.disconnect(self._layers_changed)
                old.events.removed.disconnect(self._layers_changed)
            events.inserted.connect(self._layers_changed)
            events.removed.connect(self._layers_changed)
            self._layer_list = layers
        keep = self.layer
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self._layers = [lyr for lyr in layers if isinstance(lyr, VectorLayer)]
        for lyr in self._layers:
            self.layer_box.addItem(f"{lyr.name} ({lyr.feature_count})", lyr.id)
        self.layer_box.blockSignals(False)
        if keep is not None and keep in self._layers:
            self.layer_box.setCurrentIndex(self._layers.index(keep))
        else:
            self.set_layer(self._layers[0] if self._layers else None)

    def _layers_changed(self, _index: int, _layer: Any) -> None:
        """A layer was added to or removed from the project: update the chooser."""
        self.set_layers(self._layer_list)

    def _layer_chosen(self, i: int) -> None:
        if 0 <= i < len(getattr(self, "_layers", [])):
            self.set_layer(self._layers[i])

    def set_layer(self, layer: Any) -> None:
        """Show ``layer``'s table (None: empty)."""
        if layer is self.layer:
            return
        self._disconnect_layer()
        self.layer = layer
        if hasattr(self, "_layers") and layer in self._layers:
            self.layer_box.blockSignals(True)
            self.layer_box.setCurrentIndex(self._layers.index(layer))
            self.layer_box.blockSignals(False)
        old = self.model
        if layer is None:
            self.model = None
            self.view.setModel(None)
        else:
            self.model = AttributeTableModel(layer, self.view)
            self.model.set_editor(self.edits.editor(layer))
            self.model.edit_rejected.connect(self._edit_rejected)
            self.view.setModel(self.model)
            self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
            self.view.selectionModel().selectionChanged.connect(self._table_selection_changed)
            self._selection_cb = self._layer_selection_changed
            self._data_cb = self._layer_data_changed
            layer.events.selection.connect(self._selection_cb)
            layer.events.data.connect(self._data_cb)
            self._layer_selection_changed(layer.selection)
            self.edits.set_active(layer)
        if old is not None:
            old.deleteLater()
        self.filter_edit.clear()
        self.filter_edit.setPlaceholderText(self._placeholder)
        self.error_label.hide()
        self._update_count()
        self._update_actions()

    def _disconnect_layer(self) -> None:
        if self.layer is not None and self._selection_cb is not None:
            self.layer.events.selection.disconnect(self._selection_cb)
            self.layer.events.data.disconnect(self._data_cb)
        self._selection_cb = self._data_cb = None

    def _layer_data_changed(self, change: Any = None) -> None:
        self._data_arrived.emit(change)

    def _apply_data_change(self, change: Any) -> None:
        """Repaint what a :class:`qdt.layers.DataChange` names (the columns of its fields), or reload."""
        if self.model is not None and self.edits.editor(self.layer) is None:
            if self.model.columns != list(self.layer.columns) or len(self.model._mask) != len(self.layer.frame):
                self.model.reload()
            else:
                fields = None if change is None or change.fields is None else change.fields
                self.model.cells_changed(None, fields)

    # --- filter -------------------------------------------------------------------------------------
    def apply_filter(self) -> bool:
        """Filter by the expression typed; a bad one shows its message and position, table unchanged."""
        if self.model is None:
            return False
        text = self.filter_edit.text()
        self.filter_edit.setPlaceholderText(self._placeholder)
        try:
            self.model.set_filter(text)
        except ExpressionError as exc:
            self.error_label.setText(tr("表达式错误") + f": {exc}")
            self.error_label.show()
            if exc.offset is not None:
                self.filter_edit.setFocus()
                self.filter_edit.setCursorPosition(int(exc.offset))
            return False
        self.error_label.hide()
        self._layer_selection_changed(self.layer.selection)
        self._update_count()
        return True

    def show_fids(self, layer: Any, fids: Any, description: str) -> None:
        """Show ``layer`` filtered to ``fids`` (a query result), saying so in the filter box; typing a
        filter or clearing it shows the layer again."""
        self.set_layer(layer)
        if self.model is None:
            return
        self.filter_edit.clear()
        self.filter_edit.setPlaceholderText(description)
        self.model.set_fid_filter(fids, description)
        self.error_label.hide()
        self._layer_selection_changed(self.layer.selection)
        self._update_count()
        self.show()
        self.raise_()

    def _update_count(self) -> None:
        if self.model is None:
            self.count_label.setText("")
            return
        total, shown = len(self.layer.frame), self.model.rowCount()
        selected = len(self.layer.selection)
        self.count_label.setText(tr("显示 {shown}/{total}，已选 {sel}").format(shown=shown, total=total, sel=selected))

    # --- selection both ways ------------------------------------------------------------------------
    def selected_rows(self) -> np.ndarray:
        """Display rows selected in the table (from the selection ranges, no per-row loop)."""
        sm = self.view.selectionModel()
        if sm is None:
            return np.empty(0, dtype=np.int64)
        parts = [np.arange(r.top(), r.bottom() + 1, dtype=np.int64) for r in sm.selection()]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def _table_selection_changed(self, *_: Any) -> None:
        if self._syncing or self.model is None:
            return
        fids = self.model.fids_of_rows(self.selected_rows())
        # features hidden by the filter keep their selection state
        hidden = np.setdiff1d(np.fromiter(self.layer.selection, dtype=np.int64, count=len(self.layer.selection)),
                              self.model.fids_of_rows(np.arange(self.model.rowCount())), assume_unique=False)
        self._syncing = True
        try:
            self.layer.selection = np.union1d(fids, hidden).tolist()
        finally:
            self._syncing = False
        self._update_count()
        self._request_render()

    def _layer_selection_changed(self, fids: Any) -> None:
        if self._syncing or self.model is None:
            return
        rows = self.model.rows_of_fids(np.fromiter(fids, dtype=np.int64, count=len(fids)))
        starts, ends = _runs(rows)
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            selection.select(self.model.index(a, 0), self.model.index(b, last))
        self._syncing = True
        try:
            sm = self.view.selectionModel()
            sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if len(rows):
                self.view.scrollTo(self.model.index(int(rows[0]), 0))
        finally:
            self._syncing = False
        self._update_count()

    def clear_selection(self) -> None:
        if self.layer is not None:
            self.layer.selection = ()
            self._request_render()

    def _request_render(self) -> None:
        self.bench.request_render()

    def zoom_to_selected(self) -> None:
        """Frame the selected features in the 3D view (one feature: fly to it)."""
        if self.layer is None or not self.layer.selection or not self.layer.has_geometry:
            return
        fids = np.fromiter(self.layer.selection, dtype=np.int64, count=len(self.layer.selection))
        scene = self.bench.scene
        # one feature: fly to it; not drawn in 3D (a hidden layer): frame its extent instead
        if len(fids) == 1 and self.bench.fly_to_feature(self.layer, int(fids[0])):
            return
        if scene is None:
            return
        pos = self.layer.frame.index.get_indexer(fids)
        bounds = shapely.total_bounds(self.layer.geometry[pos[pos >= 0]])
        if np.all(np.isfinite(bounds)):
            pad = max(20.0, 0.1 * max(bounds[2] - bounds[0], bounds[3] - bounds[1]))
            scene.fly_to_extent((bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad))
            self._request_render()
            self.bench.notify_camera_moved()

    # --- editing ------------------------------------------------------------------------------------
    def _toggle_edit(self, on: bool) -> None:
        if self.layer is None:
            return
        if on == self.edits.is_editing(self.layer):
            return
        if on:
            try:
                self.edits.start(self.layer)
            except EditError as exc:
                self._message(str(exc), error=True)
                self.act_edit.setChecked(False)
        elif not self.edits.stop(self.layer):
            self.act_edit.blockSignals(True)
            self.act_edit.setChecked(True)
            self.act_edit.blockSignals(False)

    def _on_mode_changed(self, layer: Any, editing: bool) -> None:
        if layer is self.layer and self.model is not None:
            editor = self.edits.editor(layer)
            self.model.set_editor(editor)
            if editor is not None:
                editor.busy.connect(lambda _b: self._update_actions())
        self._update_actions()

    def _on_edits_changed(self, layer: Any, fids: Any, fields: Any) -> None:
        if layer is self.layer and self.model is not None:
            self.model.cells_changed(fids, fields)
        self._update_actions()

    def _update_actions(self) -> None:
        editor = self.edits.editor(self.layer) if self.layer is not None else None
        self.act_edit.blockSignals(True)
        self.act_edit.setChecked(editor is not None)
        self.act_edit.setEnabled(self.layer is not None)
        self.act_edit.blockSignals(False)
        busy = editor is not None and editor.committing
        self.act_commit.setEnabled(editor is not None and not busy and editor.has_changes)
        self.act_rollback.setEnabled(editor is not None and not busy and editor.has_changes)
        self.act_batch.setEnabled(editor is not None and not busy)
        title = tr("属性表")
        if self.layer is not None:
            title += f" — {self.layer.name}"
            if editor is not None:
                pending = f" · {tr('未提交')} {editor.cell_count}" if editor.has_changes else ""
                title += f" [{tr('编辑中')}{pending}]"
        self.setWindowTitle(title)

    def commit(self) -> Any:
        if self.layer is None:
            return None
        return self.edits.commit(self.layer)

    def rollback(self) -> None:
        if self.layer is not None:
            self.edits.rollback(self.layer)

    def batch_edit(self, field: str | None = None, value: Any = None) -> bool:
        """Set one field of the selected features the table shows (one undo step); selected rows the
        filter hides are left alone, and the dialog says how many. Without ``field``, asks in a dialog."""
        editor = self.edits.editor(self.layer) if self.layer is not None else None
        if editor is None or not self.layer.selection:
            self._message(tr("请先进入编辑模式并选择要素"))
            return False
        selected = np.sort(np.fromiter(self.layer.selection, dtype=np.int64, count=len(self.layer.selection)))
        shown = self.model.fids_of_rows(np.arange(self.model.rowCount())) if self.model is not None else selected
        fids = np.intersect1d(selected, shown)
        hidden = len(selected) - len(fids)
        if len(fids) == 0:
            self._message(tr("所选要素都被筛选条件隐藏：请清除筛选后再批量修改"))
            return False
        if field is None:
            dialog = BatchEditDialog(self.layer, editor.session.editable_fields, len(fids), self, hidden=hidden)
            self.batch_dialog = dialog  # for tests and screenshots
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            field, value = dialog.field, dialog.value()
        try:
            editor.set_values(fids, {field: value})
        except EditError as exc:
            self._edit_rejected(str(exc))
            return False
        return True

    def _edit_rejected(self, message: str) -> None:
        self._message(message, error=True)

    def _message(self, text: str, error: bool = False) -> None:
        self.bench.show_message(text, 10000)
        if error and self.edits.ask:
            box = QMessageBox(QMessageBox.Icon.Warning, tr("输入无效"), text, parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        self.last_message = text
