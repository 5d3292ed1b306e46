"""Panels plug in through the registry and build themselves from the workbench; no dock or dialog
reads the main window."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QLabel, QToolBar

from qdt.ui.panels import PANELS, PanelError, register_panel, unregister_panel
from tests.test_ui_mainwindow import close_window, load, open_window

UI = Path(__file__).resolve().parents[1] / "qdt" / "ui"


def test_no_dock_or_dialog_reads_the_main_window():
    for path in UI.glob("*.py"):
        if path.name in ("mainwindow.py", "app.py"):
            continue  # the window itself, and the app that builds it
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"getattr\((self\.)?window_?\b|\bwindow_\b|self\.window\.", text), path.name


def test_a_registered_panel_gets_the_workbench_and_its_place_in_the_window(qtbot):
    seen = {}

    @register_panel("probe", area="bottom", tab_with="table", visible=False)
    def probe_panel(bench):
        dock = QDockWidget("Probe")
        dock.setWidget(QLabel("probe", dock))
        action = QAction("Probe action", dock)
        bench.add_action(action, "Probe menu", toolbar="ProbeToolBar")
        bench.project_loaded.connect(lambda project: seen.setdefault("project", project))
        seen["bench"] = bench
        return dock

    try:
        with pytest.raises(PanelError, match="already registered"):
            register_panel("probe")(probe_panel)
        with pytest.raises(PanelError, match="unknown area"):
            register_panel("elsewhere", area="middle")
        window = open_window(qtbot)
        try:
            dock = window.workbench.panels["probe"]
            assert seen["bench"] is window.workbench
            assert isinstance(dock, QDockWidget) and window.dockWidgetArea(dock) == window.dockWidgetArea(
                window.panels["table"]) and dock.isHidden()
            assert dock.toggleViewAction() in window.panels_menu.actions()
            menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "Probe menu")
            assert [a.text() for a in menu.actions()] == ["Probe action"]
            toolbar = window.findChild(QToolBar, "ProbeToolBar")
            assert [a.text() for a in toolbar.actions()] == ["Probe action"]
            project = load(window, qtbot)
            assert seen["project"] is project is window.workbench.project
        finally:
            close_window(window)
    finally:
        unregister_panel("probe")
    assert "probe" not in PANELS
