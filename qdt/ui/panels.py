"""The workbench's data panels, installed into the main window in one place.

``install_panels(window)`` is called once at the end of ``MainWindow.__init__``; each panel
(attribute table, query results, overview map, statistics, edit tools) adds its dock, actions and
signal connections here, so the main window stays a shell.

What it gives the window:

- ``window.panels``: name → dock/dialog (``"table"``, ``"results"``, ``"query"``, ``"overview"``,
  ``"charts"``, ``"history"``).
- ``window.edits``: the :class:`qdt.ui.editing.EditManager` (edit mode per layer, undo group).
- ``window.has_uncommitted_edits()`` → bool, and ``window.confirm_uncommitted_edits()`` → bool
  (asks save / discard / cancel; True when the caller may go on, e.g. before opening another
  project). Closing the window asks by itself (an event filter on the window's close event).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QUndoView

from qdt.ui.i18n import tr
from qdt.ui.resources import icon


class _CloseGuard(QObject):
    """Asks about uncommitted edits when the window is about to close; cancel keeps it open."""

    def __init__(self, window: Any, edits: Any) -> None:
        super().__init__(window)
        self.edits = edits

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close and self.edits.editors:
            if not self.edits.confirm_close():
                event.ignore()
                return True
            self.edits.close_all()
        return False


def _menu(window: Any, title: str, before: str | None = None) -> Any:
    bar = window.menuBar()
    for action in bar.actions():
        if action.text() == title and action.menu() is not None:
            return action.menu()
    if before is not None:
        for action in bar.actions():
            if action.text() == before:
                return bar.insertMenu(action, _new_menu(bar, title)).menu()
    return bar.addMenu(title)


def _new_menu(bar: Any, title: str) -> Any:
    from PySide6.QtWidgets import QMenu

    return QMenu(title, bar)


def install_panels(window: Any) -> None:
    """Add the data panels' docks and actions to ``window`` (a ``qdt.ui.mainwindow.MainWindow``)."""
    from qdt.ui.attribute_table import AttributeTableDock
    from qdt.ui.charts import ChartsDock
    from qdt.ui.editing import EditManager
    from qdt.ui.overview import OverviewDock
    from qdt.ui.query_panel import QueryDialog, ResultsDock, ThreadTaskRunner

    window.panels = {}
    # commits run on Python threads (see ThreadTaskRunner for why not the window's QThreadPool)
    edits = EditManager(window, runner=ThreadTaskRunner(window))
    window.edits = edits
    window.has_uncommitted_edits = edits.has_uncommitted_edits
    window.confirm_uncommitted_edits = edits.confirm_close
    window._panels_close_guard = _CloseGuard(window, edits)
    window.installEventFilter(window._panels_close_guard)

    table = AttributeTableDock(window, edits)
    results = ResultsDock(window)
    overview = OverviewDock(window)
    charts = ChartsDock(window)
    query = QueryDialog(window, results)
    history = QDockWidget(tr("撤销历史"), window)
    history.setObjectName("UndoHistoryDock")
    undo_view = QUndoView(edits.group, history)
    undo_view.setEmptyLabel(tr("<未修改>"))
    history.setWidget(undo_view)
    window.panels.update(table=table, results=results, overview=overview, charts=charts, query=query,
                         history=history)

    bottom, right, left = (Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                           Qt.DockWidgetArea.LeftDockWidgetArea)
    window.addDockWidget(bottom, table)
    window.addDockWidget(bottom, results)
    window.tabifyDockWidget(table, results)
    table.raise_()
    window.addDockWidget(left, overview)
    window.addDockWidget(right, charts)
    window.addDockWidget(right, history)
    window.tabifyDockWidget(charts, history)
    charts.raise_()
    results.hide()
    history.hide()
    if inspector_dock := getattr(window, "inspector", None):
        # the inspector keeps most of the right column; the charts need less
        window.resizeDocks([inspector_dock, charts], [560, 320], Qt.Orientation.Vertical)

    inspector = getattr(window, "inspector", None)
    if inspector is not None and hasattr(inspector, "set_edit_manager"):
        inspector.set_edit_manager(edits)

    # --- actions --------------------------------------------------------------------------------
    def action(text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, window)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setStatusTip(tip or text)
        act.triggered.connect(slot)
        return act

    act_query = action(tr("空间查询(&Q)…"), lambda: (query.refresh_layers(), query.show(), query.raise_()),
                       "Ctrl+F", tr("按属性、空间关系、最近邻查询要素，或检查管线净距"))
    act_undo = edits.group.createUndoAction(window, tr("撤销"))
    act_undo.setShortcut(QKeySequence.StandardKey.Undo)
    act_redo = edits.group.createRedoAction(window, tr("重做"))
    act_redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence.StandardKey.Redo])
    act_open_table = action(tr("打开属性表(&T)"), lambda: (table.show(), table.raise_()), "F6")
    window.addAction(act_undo)
    window.addAction(act_redo)

    data_menu = _menu(window, tr("数据(&D)"), before=tr("帮助(&H)"))
    data_menu.addAction(act_open_table)
    data_menu.addAction(act_query)
    data_menu.addAction(table.act_zoom)
    data_menu.addAction(table.act_clear)
    edit_menu = _menu(window, tr("编辑(&E)"), before=tr("数据(&D)"))
    edit_menu.addAction(act_undo)
    edit_menu.addAction(act_redo)
    edit_menu.addSeparator()
    edit_menu.addAction(table.act_edit)
    edit_menu.addAction(table.act_commit)
    edit_menu.addAction(table.act_rollback)
    edit_menu.addAction(table.act_batch)
    view_menu = _menu(window, tr("视图(&V)"))
    view_menu.addSeparator()
    for dock in (table, results, overview, charts, history):
        view_menu.addAction(dock.toggleViewAction())

    toolbar = window.addToolBar(tr("数据工具栏"))
    toolbar.setObjectName("DataToolBar")
    # short fixed texts on the toolbar (the menu's undo/redo actions carry the command's text)
    tb_undo = action(tr("撤销"), edits.group.undo, None, tr("撤销上一步编辑 (Ctrl+Z)"))
    tb_redo = action(tr("重做"), edits.group.redo, None, tr("重做 (Ctrl+Y)"))
    tb_undo.setEnabled(False)
    tb_redo.setEnabled(False)
    edits.group.canUndoChanged.connect(tb_undo.setEnabled)
    edits.group.canRedoChanged.connect(tb_redo.setEnabled)
    # toolbar buttons show icons (assets/icons/*.svg), like the main toolbar; the text becomes the tooltip
    for act, name in ((act_open_table, "attribute_table"), (act_query, "query"), (table.act_edit, "edit_mode"),
                      (table.act_commit, "commit"), (tb_undo, "undo"), (tb_redo, "redo"),
                      (act_undo, "undo"), (act_redo, "redo")):
        act.setIcon(icon(name))
    for act in (act_open_table, act_query, table.act_edit, table.act_commit, tb_undo, tb_redo):
        toolbar.addAction(act)
    window.panels_actions = {"query": act_query, "undo": act_undo, "redo": act_redo, "table": act_open_table}

    # --- signals --------------------------------------------------------------------------------------
    def status(text: str) -> None:
        window.statusBar().showMessage(text, 8000)

    edits.message.connect(status)

    def on_project(project: Any) -> None:
        stale = [e.layer for e in edits.editors.values() if e.layer not in project.layers]
        for layer in stale:
            edits.stop(layer, save=False)
        table.set_layers(project.layers)
        charts.set_layers(project.layers)
        overview.set_project(project)
        query.refresh_layers()

    window.project_loaded.connect(on_project)

    def on_picked(result: Any) -> None:
        # the attribute table follows the picked feature's layer (its row is selected by the layer's event)
        if result is not None and getattr(result, "fid", None) is not None and table.layer is not result.layer:
            from qdt.layers import VectorLayer

            if isinstance(result.layer, VectorLayer):
                table.set_layer(result.layer)

    view = getattr(window, "view", None)
    if view is not None and hasattr(view, "picked"):
        view.picked.connect(on_picked)

    # --- wave 2: 多杆合一 planning and the live facility feed (issue 18) ----------------------------------
    from qdt.ui.live_panel import install_live
    from qdt.ui.poles_panel import install_poles

    install_poles(window)
    install_live(window)
