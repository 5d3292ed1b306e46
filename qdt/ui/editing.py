"""Attribute editing in the UI: edit mode per layer, a ``QUndoStack`` over :mod:`qdt.edit`'s
commands, editors that fit the field, commit off the GUI thread, conflicts, close prompt.

The headless :class:`qdt.edit.EditSession` validates and buffers; this module only adapts it:

- :class:`QtEditCommand` wraps one validated qdt.edit command in a ``QUndoCommand`` (the Qt
  stack runs its ``redo`` on push; a command whose ``redo`` fails is made obsolete, so Qt
  drops it instead of recording it).
- :class:`LayerEditor` is one layer in edit mode: its session, its ``QUndoStack`` and the
  commit task. Values enter through :meth:`LayerEditor.set_value` / :meth:`set_values`, which
  raise :class:`qdt.edit.EditError` (one line naming field, value and rule) and change nothing.
- :class:`EditManager` owns the editors of a window, a ``QUndoGroup`` (Ctrl+Z / Ctrl+Y act on
  the current layer), the undo-history view and :meth:`EditManager.has_uncommitted_edits` /
  :meth:`EditManager.confirm_close` for the window's close prompt.
- :class:`FieldDelegate` creates the editor of a cell from the CIM catalogue: code lists as
  combo boxes showing Chinese labels and storing codes, dates as date pickers, numbers as
  spin boxes with their unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QDate, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QStyledItemDelegate,
    QWidget,
)

from qdt.edit import EditError, EditSession, editing_session, start_editing
from qdt.layers import NULL_TEXT  # noqa: E402,F401 - one way to write a missing value (re-exported)
from qdt.tasks import Task
from qdt.ui.i18n import tr
from qdt.ui.inspector import catalogue_name


# --------------------------------------------------------------------------------------------
# undo commands
# --------------------------------------------------------------------------------------------
class QtEditCommand(QUndoCommand):
    """One qdt.edit command (already validated) on the Qt undo stack."""

    def __init__(self, command: Any) -> None:
        super().__init__(command.text())
        self.command = command
        self.error: Exception | None = None

    def redo(self) -> None:
        try:
            self.command.redo()
        except Exception as exc:  # noqa: BLE001 - reported by LayerEditor.push, never raised into Qt
            self.error = exc
            self.setObsolete(True)  # QUndoStack deletes it instead of recording it

    def undo(self) -> None:
        self.command.undo()


# --------------------------------------------------------------------------------------------
# one layer in edit mode
# --------------------------------------------------------------------------------------------
class LayerEditor(QObject):
    """Edit mode of one vector layer.

    Signals: ``changed(object fids, object fields)`` when shown values change (edit, undo,
    redo, rollback, commit); ``committed(object CommitResult)``; ``commit_failed(str)``;
    ``conflicts(object list[Conflict])``; ``busy(bool)`` while a commit runs.
    """

    changed = Signal(object, object)
    committed = Signal(object)
    commit_failed = Signal(str)
    conflicts = Signal(object)
    busy = Signal(bool)

    def __init__(self, layer: Any, *, user: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.session: EditSession = start_editing(layer, user=user)
        self.stack = QUndoStack(self)
        self.committing = False
        self.last_result: Any = None
        self.session.buffer.events.changed.connect(self._on_changed)

    # --- state ---------------------------------------------------------------------------------
    @property
    def has_changes(self) -> bool:
        return self.session.has_changes

    @property
    def cell_count(self) -> int:
        return self.session.buffer.cell_count

    def is_editable(self, field: str) -> bool:
        return field in self.session.editable_fields

    def is_modified(self, fid: int, field: str) -> bool:
        return self.session.is_modified(fid, field)

    def modified_mask(self, field: str) -> np.ndarray:
        """Per row of the layer frame: the cell of ``field`` holds an uncommitted value."""
        return self.session.buffer.modified_mask(field)

    def _on_changed(self, fids: np.ndarray, fields: tuple[str, ...]) -> None:
        self.changed.emit(fids, fields)

    def _check(self) -> None:
        if self.committing:
            raise EditError(tr("正在提交编辑，请稍候"), rule="session")

    # --- edits -----------------------------------------------------------------------------------
    def push(self, command: Any) -> None:
        """Run ``command`` through the Qt stack (one undo step); EditError if it failed."""
        qt_command = QtEditCommand(command)
        self.stack.push(qt_command)
        if qt_command.error is not None:
            err = qt_command.error
            raise err if isinstance(err, EditError) else EditError(str(err))

    def set_value(self, fid: int, field: str, value: Any) -> None:
        """Validate and buffer one cell; EditError (nothing changes) when refused."""
        self._check()
        self.push(self.session.set_value_command(int(fid), field, value))

    def set_values(self, fids: Sequence[int] | np.ndarray, values: Mapping[str, Any]) -> None:
        """Batch edit: the same value(s) for every feature of ``fids`` — one undo step."""
        self._check()
        self.push(self.session.set_values_command(fids, values))

    def rollback(self) -> None:
        """Drop every uncommitted edit and the undo history."""
        self._check()
        self.session.rollback()
        self.stack.clear()

    # --- commit (worker thread) ------------------------------------------------------------------
    def commit_task(self) -> Task:
        """The commit as a task: one SQLite transaction, not cancellable once it runs."""
        return Task(tr("正在提交编辑…"), lambda progress, cancelled: self.session.commit(), cancellable=False)

    def commit(self, runner: Any = None) -> Any:
        """Commit on ``runner`` (a :class:`qdt.ui.tasks.TaskRunner`), or here when None.

        Returns the task handle (or the CommitResult when run here). Results arrive as
        ``committed`` / ``conflicts`` / ``commit_failed`` on the GUI thread.
        """
        self._check()
        if runner is None:
            try:
                result = self.session.commit()
            except EditError as exc:
                self.commit_failed.emit(str(exc))
                return None
            self._finish_commit(result)
            return result
        self.committing = True
        self.busy.emit(True)
        # slots connected before the task starts (see qdt.ui.tasks.TaskRunner)
        return runner.start(self.commit_task(), finished=self._finish_commit, failed=self._commit_error)

    def _commit_error(self, message: str, _details: str = "") -> None:
        self.committing = False
        self.busy.emit(False)
        self.commit_failed.emit(message)

    def _finish_commit(self, result: Any) -> None:
        self.committing = False
        self.last_result = result
        if not self.session.has_changes:
            self.stack.setClean()
        self.busy.emit(False)
        fids = np.asarray(result.committed_fids, dtype=np.int64)
        self.changed.emit(fids, tuple(self.session.editable_fields))  # modified marks go
        self.committed.emit(result)
        if result.conflicts:
            self.conflicts.emit(list(result.conflicts))

    def close(self, *, discard: bool = False) -> None:
        self.session.buffer.events.changed.disconnect(self._on_changed)
        try:
            self.session.close(discard=discard)
        except EditError:
            self.session.buffer.events.changed.connect(self._on_changed)
            raise
        self.stack.clear()


# --------------------------------------------------------------------------------------------
# all layers of a window
# --------------------------------------------------------------------------------------------
class EditManager(QObject):
    """Edit mode of the layers of one window.

    Signals: ``mode_changed(object layer, bool editing)``, ``changed(object layer, object fids,
    object fields)``, ``message(str)`` for the status bar, ``committed(object layer, object result)``.
    """

    mode_changed = Signal(object, bool)
    changed = Signal(object, object, object)
    message = Signal(str)
    committed = Signal(object, object)

    def __init__(self, parent: QObject | None = None, runner: Any = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.group = QUndoGroup(self)
        self.editors: dict[str, LayerEditor] = {}
        self.dialog_parent: QWidget | None = parent if isinstance(parent, QWidget) else None
        self.ask = True  # tests and scripts switch the modal prompts off

    def editor(self, layer: Any) -> LayerEditor | None:
        return self.editors.get(getattr(layer, "id", None))

    def is_editing(self, layer: Any) -> bool:
        return self.editor(layer) is not None

    def start(self, layer: Any) -> LayerEditor:
        """Put ``layer`` in edit mode (EditError when its source cannot be edited)."""
        existing = self.editor(layer)
        if existing is not None:
            return existing
        if editing_session(layer) is not None:
            raise EditError(f"{layer.name}: {tr('图层已在其他地方编辑')}", rule="session")
        editor = LayerEditor(layer, parent=self)
        self.editors[layer.id] = editor
        self.group.addStack(editor.stack)
        self.group.setActiveStack(editor.stack)
        editor.changed.connect(lambda fids, fields, lyr=layer: self.changed.emit(lyr, fids, fields))
        editor.committed.connect(lambda result, lyr=layer: self._on_committed(lyr, result))
        editor.commit_failed.connect(lambda msg, lyr=layer: self._on_commit_failed(lyr, msg))
        editor.conflicts.connect(lambda items, lyr=layer: self._on_conflicts(lyr, items))
        self.mode_changed.emit(layer, True)
        self.message.emit(f"{layer.name}: {tr('开始编辑')}")
        return editor

    def stop(self, layer: Any, *, save: bool | None = None) -> bool:
        """Leave edit mode. ``save``: True commits (synchronously), False discards, None asks
        when there are uncommitted edits. Returns False when the user cancelled or a commit failed."""
        editor = self.editor(layer)
        if editor is None:
            return True
        if editor.committing:
            self.message.emit(tr("正在提交编辑，请稍候"))
            return False
        if editor.has_changes:
            if save is None:
                save = self._ask_save([layer])
                if save is None:
                    return False
            if save:
                result = editor.commit(None)
                if result is None or editor.has_changes:
                    return False
        editor.close(discard=True)
        self.group.removeStack(editor.stack)
        del self.editors[layer.id]
        self.mode_changed.emit(layer, False)
        self.message.emit(f"{layer.name}: {tr('结束编辑')}")
        return True

    def set_active(self, layer: Any) -> None:
        editor = self.editor(layer)
        self.group.setActiveStack(editor.stack if editor is not None else None)

    def commit(self, layer: Any) -> Any:
        editor = self.editor(layer)
        if editor is None:
            return None
        return editor.commit(self.runner)

    def rollback(self, layer: Any) -> bool:
        """Discard every uncommitted edit of ``layer`` after asking (the undo history goes with them);
        True when discarded."""
        editor = self.editor(layer)
        if editor is None or not editor.has_changes:
            return False
        if self.ask:
            box = QMessageBox(QMessageBox.Icon.Warning, tr("撤销全部编辑"),
                              tr("放弃“{name}”的全部 {n} 处未提交编辑？放弃后不能再撤销或重做。").format(
                                  name=layer.name, n=editor.cell_count),
                              QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                              self.dialog_parent)
            box.setObjectName("RollbackDialog")
            box.button(QMessageBox.StandardButton.Discard).setText(tr("放弃编辑"))
            box.button(QMessageBox.StandardButton.Cancel).setText(tr("取消"))
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            if box.exec() != QMessageBox.StandardButton.Discard:
                return False
        editor.rollback()
        self.message.emit(f"{layer.name}: {tr('已撤销全部未提交的编辑')}")
        return True

    # --- window close -----------------------------------------------------------------------------
    def has_uncommitted_edits(self) -> bool:
        """True when any layer holds edits not yet written (the window asks before closing)."""
        return any(e.has_changes or e.committing for e in self.editors.values())

    def confirm_close(self) -> bool:
        """Ask what to do with uncommitted edits (save / discard / cancel). True: the window may close."""
        dirty = [e.layer for e in self.editors.values() if e.has_changes]
        if any(e.committing for e in self.editors.values()):
            if self.runner is not None:
                self.runner.wait(30_000)
            dirty = [e.layer for e in self.editors.values() if e.has_changes]
        if not dirty:
            return True
        save = self._ask_save(dirty)
        if save is None:
            return False
        for layer in list(dirty):
            if not self.stop(layer, save=save):
                return False
        return True

    def close_all(self) -> None:
        """Leave edit mode on every layer, discarding what is left (after confirm_close)."""
        for editor in list(self.editors.values()):
            self.stop(editor.layer, save=False)

    def _ask_save(self, layers: list[Any]) -> bool | None:
        """True save, False discard, None cancel."""
        if not self.ask:
            return False
        names = "、".join(layer.name for layer in layers)
        box = QMessageBox(QMessageBox.Icon.Question, tr("未提交的编辑"),
                          tr("以下图层有未提交的编辑：") + names + "\n" + tr("是否保存到数据文件？"),
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.dialog_parent)
        box.button(QMessageBox.StandardButton.Save).setText(tr("保存"))
        box.button(QMessageBox.StandardButton.Discard).setText(tr("放弃"))
        box.button(QMessageBox.StandardButton.Cancel).setText(tr("取消"))
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return True
        if answer == QMessageBox.StandardButton.Discard:
            return False
        return None

    # --- results ----------------------------------------------------------------------------------
    def _on_committed(self, layer: Any, result: Any) -> None:
        text = tr("已提交 {n} 个要素的 {c} 个值").format(n=result.features, c=result.cells)
        if len(result.refused_fids):
            text += tr("；{n} 个要素因冲突未提交").format(n=len(result.refused_fids))
        self.message.emit(f"{layer.name}: {text}")
        self.committed.emit(layer, result)

    def _on_commit_failed(self, layer: Any, message: str) -> None:
        self.message.emit(f"{layer.name}: {tr('提交失败')}: {message}")
        if self.ask:
            box = QMessageBox(QMessageBox.Icon.Critical, tr("提交失败"),
                              f"{layer.name}: {message}\n" + tr("编辑仍保留在缓冲区中，可以重试。"),
                              parent=self.dialog_parent)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def _on_conflicts(self, layer: Any, conflicts: list[Any]) -> None:
        if not self.ask:
            return
        dialog = ConflictDialog(layer, conflicts, self.editor(layer), self.dialog_parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()


class ConflictDialog(QMessageBox):
    """Lists the cells another program changed; the user keeps theirs or takes the file's values."""

    def __init__(self, layer: Any, conflicts: list[Any], editor: LayerEditor | None, parent: QWidget | None) -> None:
        super().__init__(QMessageBox.Icon.Warning, tr("编辑冲突"),
                         tr("{n} 个要素在加载后已被其他程序修改，未提交：").format(
                             n=len({c.fid for c in conflicts})) + f" {layer.name}", parent=parent)
        self.conflicts = conflicts
        self.editor = editor
        self.setDetailedText("\n".join(str(c) for c in conflicts))
        self.keep_mine = self.addButton(tr("保留我的值（下次提交覆盖）"), QMessageBox.ButtonRole.AcceptRole)
        self.take_theirs = self.addButton(tr("采用文件中的值"), QMessageBox.ButtonRole.DestructiveRole)
        self.addButton(tr("稍后处理"), QMessageBox.ButtonRole.RejectRole)
        self.buttonClicked.connect(self._resolve)

    def _resolve(self, button: Any) -> None:
        if self.editor is None:
            return
        if button is self.keep_mine:
            self.editor.session.resolve(keep="mine")
        elif button is self.take_theirs:
            self.editor.session.resolve(keep="theirs")


# --------------------------------------------------------------------------------------------
# editors that fit the field
# --------------------------------------------------------------------------------------------
def field_info(layer: Any, field: str) -> tuple[Any, Any]:
    """(catalogue FieldDef or None, code list or None) of a layer's field."""
    from qdt.query import feature_class_of

    cls = feature_class_of(layer)
    if cls is None or field not in cls.field_names:
        return None, None
    fdef = cls.field(field)
    if fdef.codelist:
        from qdt.cim import catalogue

        try:
            return fdef, catalogue().codelist(fdef.codelist)
        except KeyError:
            return fdef, None
    return fdef, None


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def create_field_editor(parent: QWidget, layer: Any, field: str) -> QWidget:
    """The editor widget for ``field`` of ``layer`` (see the module docstring)."""
    fdef, codelist = field_info(layer, field)
    dtype = layer.frame[field].dtype if field in layer.frame.columns else np.dtype(object)
    kind = fdef.type if fdef is not None else (
        "date" if pd.api.types.is_datetime64_any_dtype(dtype) else
        "bool" if pd.api.types.is_bool_dtype(dtype) else
        "int" if pd.api.types.is_integer_dtype(dtype) else
        "float" if pd.api.types.is_float_dtype(dtype) else "str")
    unit = f" {fdef.unit}" if fdef is not None and fdef.unit else ""
    if codelist is not None:
        combo = QComboBox(parent)
        if not (fdef is not None and fdef.required):
            combo.addItem(tr("（空）"), None)
        for entry in codelist.entries:
            combo.addItem(f"{catalogue_name(entry)} ({entry.code})", entry.code)
        combo.setProperty("qdt_kind", "codelist")
        return combo
    if kind == "bool":
        combo = QComboBox(parent)
        combo.addItem(tr("（空）"), None)
        combo.addItem(tr("是"), True)
        combo.addItem(tr("否"), False)
        combo.setProperty("qdt_kind", "bool")
        return combo
    if kind == "date":
        edit = QDateEdit(parent)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setProperty("qdt_kind", "date")
        return edit
    if kind == "int":
        spin = QSpinBox(parent)
        lo = int(fdef.min) if fdef is not None and fdef.min is not None else -2_000_000_000
        hi = int(fdef.max) if fdef is not None and fdef.max is not None else 2_000_000_000
        spin.setRange(lo, hi)
        spin.setSuffix(unit)
        spin.setProperty("qdt_kind", "int")
        return spin
    if kind == "float":
        spin = QDoubleSpinBox(parent)
        spin.setDecimals(3)
        lo = float(fdef.min) if fdef is not None and fdef.min is not None else -1e12
        hi = float(fdef.max) if fdef is not None and fdef.max is not None else 1e12
        spin.setRange(lo, hi)
        spin.setSuffix(unit)
        spin.setProperty("qdt_kind", "float")
        return spin
    line = QLineEdit(parent)
    if fdef is not None and fdef.max_length:
        line.setMaxLength(int(fdef.max_length))
    line.setProperty("qdt_kind", "str")
    return line


def set_editor_value(editor: QWidget, value: Any) -> None:
    """Show a stored value in an editor made by :func:`create_field_editor`."""
    kind = editor.property("qdt_kind")
    null = _is_null(value)
    if kind in ("codelist", "bool"):
        target = None if null else (value.item() if isinstance(value, np.generic) else value)
        for i in range(editor.count()):
            data = editor.itemData(i)
            if (data is None and target is None) or (data is not None and target is not None
                                                     and str(data) == str(target)):
                editor.setCurrentIndex(i)
                return
        editor.setCurrentIndex(0)
    elif kind == "date":
        stamp = pd.Timestamp(value) if not null else pd.Timestamp.today()
        editor.setDate(QDate(stamp.year, stamp.month, stamp.day))
    elif kind in ("int", "float"):
        if not null:
            editor.setValue(float(value) if kind == "float" else int(value))
    else:
        editor.setText("" if null else str(value))


def editor_value(editor: QWidget) -> Any:
    """The value an editor holds, as given to the validator (codes for code lists)."""
    kind = editor.property("qdt_kind")
    if kind in ("codelist", "bool"):
        return editor.currentData()
    if kind == "date":
        return editor.date().toString("yyyy-MM-dd")
    if kind == "int":
        return int(editor.value())
    if kind == "float":
        value = float(editor.value())
        return value if math.isfinite(value) else None
    return editor.text()


class FieldDelegate(QStyledItemDelegate):
    """Cell editors for a model exposing ``field_at(index) -> (layer, field)``; values go back
    through ``model.setData(index, value, EditRole)`` (which validates)."""

    def createEditor(self, parent: QWidget, option: Any, index: QModelIndex) -> QWidget:  # noqa: N802
        info = index.model().field_at(index) if hasattr(index.model(), "field_at") else None
        if info is None:
            return super().createEditor(parent, option, index)
        layer, field = info
        editor = create_field_editor(parent, layer, field)
        editor.setAutoFillBackground(True)
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:  # noqa: N802
        if editor.property("qdt_kind") is None:
            super().setEditorData(editor, index)
            return
        set_editor_value(editor, index.data(Qt.ItemDataRole.EditRole))

    def setModelData(self, editor: QWidget, model: Any, index: QModelIndex) -> None:  # noqa: N802
        if editor.property("qdt_kind") is None:
            super().setModelData(editor, model, index)
            return
        model.setData(index, editor_value(editor), Qt.ItemDataRole.EditRole)
