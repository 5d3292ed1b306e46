"""The workbench's data panels, installed into the main window in one place.

``install_panels(window)`` is called once at the end of ``MainWindow.__init__``; each panel
(attribute table, query results, overview map, statistics, edit tools) adds its dock, actions and
signal connections here, so the main window stays a shell.
"""

from __future__ import annotations

from typing import Any


def install_panels(window: Any) -> None:
    """Add the data panels' docks and actions to ``window`` (a ``qdt.ui.mainwindow.MainWindow``)."""
    window.panels = {}
