"""The window asks before connecting to a database server a shared project names (issue 13, item 10)."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QMessageBox

from tests.conftest import SAMPLE_GPKG


def test_the_window_asks_before_connecting_to_an_unapproved_server(qtbot, tmp_path, monkeypatch):
    from qdt.io.postgis import connection
    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(connection, "_SESSION_APPROVED", set())
    doc = {"format": "qdt-project", "version": 1, "name": "shared", "crs": "EPSG:4549", "layers": [
        {"name": "roads", "kind": "vector", "source": str(SAMPLE_GPKG), "layer": "roads"},
        {"name": "pipes", "kind": "vector", "source": "postgis:host=203.0.113.7 port=5433 dbname=city",
         "layer": "public.pipes"}]}
    path = tmp_path / "shared.qdt"
    path.write_text(json.dumps(doc), encoding="utf-8")
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):
            win.open_project(path)
        roads, pipes = win.project.entries
        assert roads.available and not pipes.available and "203.0.113.7:5433" in pipes.error
        box = win.findChild(QMessageBox, "ServerApprovalBox")
        assert box is not None and "203.0.113.7:5433" in box.text()
        assert not (tmp_path / "config" / "qdt" / "approved_servers.json").exists()
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):  # approved, then the project reopens
            box.button(QMessageBox.StandardButton.Yes).click()
        remembered = json.loads((tmp_path / "config" / "qdt" / "approved_servers.json").read_text())
        assert remembered["servers"] == ["203.0.113.7:5433"]
        _, pipes = win.project.entries
        assert "cannot connect" in pipes.error  # now it was tried (nobody answers at that address)
    finally:
        win.project.dirty = False
        win.close()
