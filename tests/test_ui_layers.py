"""Adding layers (drag and drop, through qdt.io on a worker thread), the layer tree's context menu
(opacity, zoom, remove) and clear messages for files that cannot be read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from qdt.crs import to_lonlat
from tests.test_ui_mainwindow import LOAD_TIMEOUT, close_window, open_window

# PySide marks the QPoint constructor of drag events deprecated, yet Qt 6 offers no other one
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")


def drop_files(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = window.view.geometry().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    accepted = enter.isAccepted()
    if accepted:
        drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                          Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(window, drop)
    return accepted


def write_points(path, xy):
    lon, lat = to_lonlat(np.array([p[0] for p in xy]), np.array([p[1] for p in xy]))
    features = [{"type": "Feature", "properties": {"名称": f"巡检点{i + 1}", "priority": i + 1},
                 "geometry": {"type": "Point", "coordinates": [float(lo), float(la)]}}
                for i, (lo, la) in enumerate(zip(lon, lat, strict=True))]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")


def test_drop_geojson_adds_a_layer_and_saves_it(qtbot, sample_copy):
    window = open_window(qtbot)
    try:
        with qtbot.waitSignal(window.project_loaded, timeout=LOAD_TIMEOUT):
            window.open_project(sample_copy / "qingdao_shinan.qdt")
        n_before = len(window.project.layers)
        xmin, xmax, ymin, ymax, _, _ = window.scene.world_bounds()
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        path = sample_copy / "inspection.geojson"
        write_points(path, [(cx, cy), (cx + 50, cy), (cx, cy + 50)])
        with qtbot.waitSignal(window.layers_added, timeout=60_000) as blocker:
            assert drop_files(window, [path])
        layers, errors = blocker.args
        assert not errors and len(layers) == 1
        layer = layers[0]
        assert layer.name == "inspection" and layer.feature_count == 3
        assert len(window.project.layers) == n_before + 1
        bounds = layer.bounds
        assert abs(bounds[0] - cx) < 0.01 and abs(bounds[3] - (cy + 50)) < 0.01  # brought into EPSG:4549
        assert window.scene.visual(layer) is not None and window.scene.visual(layer).actors
        assert window.layer_tree.item_for(layer) is not None
        assert window.isWindowModified()
        # saved with the project, relative to it
        assert window.save_project(sample_copy / "qingdao_shinan.qdt")
        doc = json.loads((sample_copy / "qingdao_shinan.qdt").read_text(encoding="utf-8"))
        assert doc["layers"][-1]["source"] == "inspection.geojson"
        # the context menu: opacity slider, zoom, remove
        item = window.layer_tree.item_for(layer)
        menu = window.layer_tree.menu_for(item)
        texts = [a.text() for a in menu.actions()]
        assert "缩放到图层" in texts and "样式…" in texts and "移除图层" in texts
        from PySide6.QtWidgets import QWidgetAction

        opacity = next(a for a in menu.actions() if isinstance(a, QWidgetAction)).defaultWidget()
        opacity.spin.setValue(40)
        assert layer.opacity == 0.4 and opacity.slider.value() == 40
        menu.deleteLater()
        window.layer_tree.remove_requested.emit(window.project.entry_for(layer))
        assert layer not in window.project.layers and window.scene.visual(layer) is None
        assert window.layer_tree.item_for(layer) is None
    finally:
        close_window(window)


def test_unreadable_and_unsupported_files_give_one_clear_message(qtbot, tmp_path):
    window = open_window(qtbot)
    try:
        broken = tmp_path / "broken.geojson"
        broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
        notes = tmp_path / "notes.txt"
        notes.write_text("hello", encoding="utf-8")
        good = tmp_path / "points.geojson"
        write_points(good, [(534200.0, 3993300.0), (534260.0, 3993320.0)])
        with qtbot.waitSignal(window.layers_added, timeout=60_000) as blocker:
            handle = window.add_layer_files([broken, notes, good])
            assert handle is not None  # read on the task runner, with progress and cancel
        layers, errors = blocker.args
        assert [layer.name for layer in layers] == ["points"]
        assert len(errors) == 2
        assert any("broken.geojson" in e for e in errors) and any("notes.txt" in e for e in errors)
        box = window.findChild(QMessageBox, "ErrorBox")
        assert box is not None and "broken.geojson" in box.text() and "notes.txt" in box.text()
        assert "Traceback" not in box.text()
        # no project was open: the layer went into a new untitled one, with a scene
        assert window.project is not None and window.project.path is None
        assert window.scene.visual(layers[0]) is not None
    finally:
        close_window(window)


def test_drag_without_files_is_refused(qtbot):
    window = open_window(qtbot)
    try:
        mime = QMimeData()
        mime.setText("not a file")
        enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                                Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(window, enter)
        assert not enter.isAccepted()
    finally:
        close_window(window)
