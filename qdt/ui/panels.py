"""The panel registry: data panels plug into the main window the way render builders plug into
the scene — by registering a factory, never by editing the window.

Adding a panel (wave 2: network analyses, sections, 3D Tiles, pole planning, alarms, streaming)::

    from qdt.ui.panels import register_panel

    @register_panel("alarms", area="bottom", tab_with="table", visible=False)
    def alarms_panel(bench):                      # bench: qdt.ui.workbench.Workbench
        dock = AlarmsDock(bench)                  # a QDockWidget built from the workbench only
        bench.project_loaded.connect(dock.set_project)
        bench.add_action(dock.act_show_alarms, menu=data_menu(), toolbar="DataToolBar")
        return dock

- ``register_panel(name, *, area, tab_with, visible, menu_toggle)`` registers ``factory(bench)
  -> QWidget``; a name registered twice raises :class:`PanelError` (as the reader and render
  registries do). Import the module that registers it from :data:`PANEL_MODULES` (or before the
  window is built) so the registration runs.
- ``area``: ``"left"``, ``"right"``, ``"bottom"``, ``"top"`` for a :class:`QDockWidget`, or None
  for a widget the panel shows itself (a dialog opened by one of its actions).
- ``tab_with``: the name of an earlier panel to share a tab group with; ``visible``: shown at the
  first start (the user's layout is restored afterwards); ``menu_toggle``: its show/hide action
  goes in View → 面板.
- The factory reaches everything through the workbench (project, layers, selection, undo group,
  tasks, settings, scene, view; see :mod:`qdt.ui.workbench`), connects to its signals, and offers
  actions with ``bench.add_action(action, menu, toolbar=…)``. The built panel is
  ``bench.panels[name]``.

The window calls :func:`install_panels` once; the data panels of wave 1 (attribute table,
query results, query dialog, overview map, statistics, undo history) are registered below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar, QUndoView, QWidget

from qdt.ui.i18n import tr
from qdt.ui.resources import icon

PanelFactory = Callable[[Any], QWidget]

AREAS = {"left": Qt.DockWidgetArea.LeftDockWidgetArea, "right": Qt.DockWidgetArea.RightDockWidgetArea,
         "bottom": Qt.DockWidgetArea.BottomDockWidgetArea, "top": Qt.DockWidgetArea.TopDockWidgetArea}

#: Modules whose import registers more panels (wave 2 appends its modules here).
PANEL_MODULES: list[str] = ["qdt.ui.anchor_panel", "qdt.ui.network_panel"]
PANEL_MODULES += ["qdt.ui.poles_panel", "qdt.ui.live_panel"]  # 多杆合一 planning, live facility feed (issue 18)


def data_menu() -> str:
    """Title of the Data menu (translated), where data panels put their actions."""
    return tr("数据(&D)")


class PanelError(ValueError):
    """A panel registered twice, or with an unknown area or tab partner."""


@dataclass(frozen=True)
class PanelSpec:
    """One registered panel (see the module docstring)."""

    name: str
    factory: PanelFactory
    area: str | None = "right"
    tab_with: str | None = None
    visible: bool = True
    menu_toggle: bool = True


#: name → spec, in registration order (the order panels are built and tabbed).
PANELS: dict[str, PanelSpec] = {}


def register_panel(name: str, *, area: str | None = "right", tab_with: str | None = None, visible: bool = True,
                   menu_toggle: bool = True) -> Callable[[PanelFactory], PanelFactory]:
    """Register ``factory(bench) -> QWidget`` as panel ``name`` (decorator; see the module docstring).

    Raises
    ------
    PanelError
        ``name`` is already registered, or ``area`` is not one of left/right/bottom/top/None.
    """
    if area is not None and area not in AREAS:
        raise PanelError(f"panel '{name}': unknown area {area!r} (expected one of {', '.join(AREAS)} or None)")

    def register(factory: PanelFactory) -> PanelFactory:
        if name in PANELS:
            raise PanelError(f"a panel named '{name}' is already registered")
        PANELS[name] = PanelSpec(name, factory, area, tab_with, visible, menu_toggle)
        return factory

    return register


def unregister_panel(name: str) -> None:
    """Forget panel ``name`` (tests; a plug-in being unloaded)."""
    PANELS.pop(name, None)


def _menu(window: QMainWindow, title: str, before: str | None = None) -> QMenu:
    bar = window.menuBar()
    for action in bar.actions():
        if action.text() == title and action.menu() is not None:
            return action.menu()
    if before is not None:
        for action in bar.actions():
            if action.text() == before:
                return bar.insertMenu(action, QMenu(title, bar)).menu()
    return bar.addMenu(title)


def install_panels(window: QMainWindow, bench: Any, panels_menu: QMenu | None = None) -> dict[str, QWidget]:
    """Build every registered panel from ``bench``, dock it in ``window`` and place the actions the
    panels offered (``bench.actions``) in the window's menus and toolbars. Returns ``bench.panels``."""
    for module in PANEL_MODULES:
        importlib.import_module(module)
    built: list[tuple[PanelSpec, QWidget]] = []
    for spec in PANELS.values():
        widget = spec.factory(bench)
        bench.panels[spec.name] = widget
        built.append((spec, widget))
        if spec.area is None or not isinstance(widget, QDockWidget):
            continue
        if not widget.objectName():
            widget.setObjectName(f"{spec.name}Panel")  # saveState() needs a name
        window.addDockWidget(AREAS[spec.area], widget)
        partner = bench.panels.get(spec.tab_with) if spec.tab_with else None
        if isinstance(partner, QDockWidget):
            window.tabifyDockWidget(partner, widget)
    for spec, widget in built:
        if isinstance(widget, QDockWidget):
            if spec.visible:
                widget.raise_()
            else:
                widget.hide()
    for item in bench.actions:
        if item.menu is not None:
            _menu(window, item.menu, item.before).addAction(item.action)
        if item.toolbar is not None:
            toolbar = window.findChild(QToolBar, item.toolbar)
            if toolbar is None:  # a panel's own toolbar
                toolbar = window.addToolBar(item.toolbar)
                toolbar.setObjectName(item.toolbar)
            toolbar.addAction(item.action)
        if item.menu is None and item.toolbar is None:
            window.addAction(item.action)  # a shortcut only
    for widget in bench.status_widgets:
        window.statusBar().addPermanentWidget(widget)
    inspector = window.findChild(QDockWidget, "InspectorDock")
    body = inspector.widget() if inspector is not None else None
    for widget in bench.inspector_widgets:
        if body is not None and body.layout() is not None:
            body.layout().addWidget(widget)
    view_menu = panels_menu if panels_menu is not None else _menu(window, tr("视图(&V)"))
    for spec, widget in built:
        if spec.menu_toggle and isinstance(widget, QDockWidget):
            view_menu.addAction(widget.toggleViewAction())
    return bench.panels


# --- the data panels of wave 1 ---------------------------------------------------------------------
def _action(parent: QWidget, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
    act = QAction(text, parent)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    act.setStatusTip(tip or text)
    act.triggered.connect(slot)
    return act


@register_panel("table", area="bottom")
def attribute_table_panel(bench: Any) -> QWidget:
    from qdt.layers import VectorLayer
    from qdt.ui.attribute_table import AttributeTableDock

    table = AttributeTableDock(bench)
    edits = bench.edits
    data, edit = data_menu(), tr("编辑(&E)")
    help_menu = tr("帮助(&H)")
    act_open = _action(table, tr("打开属性表(&T)"), lambda: (table.show(), table.raise_()), "F6")
    act_undo = edits.group.createUndoAction(table, tr("撤销"))
    act_undo.setShortcut(QKeySequence.StandardKey.Undo)
    act_redo = edits.group.createRedoAction(table, tr("重做"))
    act_redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence.StandardKey.Redo])
    # short fixed texts on the toolbar (the menu's undo/redo actions carry the command's text)
    tb_undo = _action(table, tr("撤销"), edits.group.undo, None, tr("撤销上一步编辑 (Ctrl+Z)"))
    tb_redo = _action(table, tr("重做"), edits.group.redo, None, tr("重做 (Ctrl+Y)"))
    tb_undo.setEnabled(False)
    tb_redo.setEnabled(False)
    edits.group.canUndoChanged.connect(tb_undo.setEnabled)
    edits.group.canRedoChanged.connect(tb_redo.setEnabled)
    for act, name in ((act_open, "attribute_table"), (table.act_edit, "edit_mode"), (table.act_commit, "commit"),
                      (tb_undo, "undo"), (tb_redo, "redo"), (act_undo, "undo"), (act_redo, "redo")):
        act.setIcon(icon(name))
    bench.add_action(act_open, data, toolbar="DataToolBar", before=help_menu)
    bench.add_action(table.act_zoom, data)
    bench.add_action(table.act_clear, data)
    bench.add_action(act_undo, edit, before=data)
    bench.add_action(act_redo, edit)
    bench.add_action(table.act_edit, edit, toolbar="DataToolBar")
    bench.add_action(table.act_commit, edit, toolbar="DataToolBar")
    bench.add_action(table.act_rollback, edit)
    bench.add_action(table.act_batch, edit)
    bench.add_action(tb_undo, toolbar="DataToolBar")
    bench.add_action(tb_redo, toolbar="DataToolBar")
    table.panel_actions = {"undo": act_undo, "redo": act_redo, "table": act_open}
    edits.message.connect(lambda text: bench.show_message(text, 8000))

    def on_project(project: Any) -> None:
        stale = [e.layer for e in edits.editors.values() if e.layer not in project.layers]
        for layer in stale:
            edits.stop(layer, save=False)
        table.set_layers(project.layers)

    def on_picked(result: Any) -> None:
        # the table follows the picked feature's layer (its row is selected by the layer's event)
        if result is not None and getattr(result, "fid", None) is not None and table.layer is not result.layer \
                and isinstance(result.layer, VectorLayer):
            table.set_layer(result.layer)

    bench.project_loaded.connect(on_project)
    bench.picked.connect(on_picked)
    return table


@register_panel("results", area="bottom", tab_with="table", visible=False)
def results_panel(bench: Any) -> QWidget:
    from qdt.ui.query_panel import ResultsDock

    return ResultsDock(bench)


@register_panel("query", area=None)
def query_dialog_panel(bench: Any) -> QWidget:
    from qdt.ui.query_panel import QueryDialog

    query = QueryDialog(bench, bench.panels["results"])
    act = _action(query, tr("空间查询(&Q)…"), lambda: (query.refresh_layers(), query.show(), query.raise_()),
                  "Ctrl+F", tr("按属性、空间关系、最近邻查询要素，或检查管线净距"))
    act.setIcon(icon("query"))
    bench.add_action(act, data_menu(), toolbar="DataToolBar")
    query.panel_actions = {"query": act}
    bench.project_loaded.connect(lambda _project: query.refresh_layers())
    bench.layers_changed.connect(query.refresh_layers)
    return query


@register_panel("overview", area="left")
def overview_panel(bench: Any) -> QWidget:
    from qdt.ui.overview import OverviewDock

    overview = OverviewDock(bench)
    bench.project_loaded.connect(overview.set_project)
    return overview


@register_panel("charts", area="right")
def charts_panel(bench: Any) -> QWidget:
    from qdt.ui.charts import ChartsDock

    charts = ChartsDock(bench)
    bench.project_loaded.connect(lambda project: charts.set_layers(project.layers))
    return charts


@register_panel("history", area="right", tab_with="charts", visible=False)
def undo_history_panel(bench: Any) -> QWidget:
    history = QDockWidget(tr("撤销历史"))
    history.setObjectName("UndoHistoryDock")
    undo_view = QUndoView(bench.undo_group, history)
    undo_view.setEmptyLabel(tr("<未修改>"))
    history.setWidget(undo_view)
    return history
