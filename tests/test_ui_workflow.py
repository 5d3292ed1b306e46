"""The engineer's and planner's day in the window, driven as a person does (QAction.trigger(), toolbar
clicks, clicks in the 3D view): batch edit, picking pipes from afar, edits shown without rebuilds,
events from other threads, exports on frozen copies, navigation that never queues up."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QDialog

from tests.test_ui_attribute_table import close_window, open_sample_window, wait_until

SHOTS = os.environ.get("QDT_SCREENSHOTS")  # a folder: the tests save what they show there (for docs/)


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("workflow"))
    yield win
    close_window(win)


def shot(widget, name: str) -> None:
    """Save what the screen shows of ``widget`` (the X server's pixels: the 3D view is OpenGL)."""
    if not SHOTS:
        return
    import subprocess

    QTest.qWait(300)
    top_left = widget.mapToGlobal(QPoint(0, 0))
    geometry = f"{widget.width()}x{widget.height()}+{top_left.x()}+{top_left.y()}"
    subprocess.run(["import", "-window", "root", "-crop", geometry, os.path.join(SHOTS, name)], check=True,
                   timeout=60)


def click_display(window, x: float, y: float):
    """A real left click on VTK display point (x, y) of the 3D view; returns the pick result."""
    widget = window.view.vtk_widget
    ratio = widget.devicePixelRatioF()
    pos = QPoint(round(x / ratio), round((widget.height() * ratio - 1 - y) / ratio))
    got = []
    window.view.picked.connect(got.append)
    try:
        QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        assert wait_until(lambda: got, 10)
    finally:
        window.view.picked.disconnect(got.append)
    return got[0]


# --- 1. batch edit ------------------------------------------------------------------------------------
def _run_dialog(handle) -> None:
    """Run ``handle(dialog)`` on the batch-edit dialog once it is open (it is modal)."""
    def poll():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog) and dialog.objectName() == "BatchEditDialog":
            handle(dialog)
        else:
            QTimer.singleShot(50, poll)
    QTimer.singleShot(50, poll)


def test_batch_edit_opens_from_toolbar_and_menu_and_spares_hidden_rows(window):
    dock = window.panels["table"]
    lights = window.project.layers["路灯"]
    dock.set_layer(lights)
    dock.act_edit.trigger()
    assert window.edits.is_editing(lights)
    try:
        fids = lights.fids[:6]
        lights.selection = fids.tolist()
        code = lights.frame.at[int(fids[0]), "code"]
        dock.filter_edit.setText(f"code <> '{code}'")  # one selected light hidden by the filter
        QTest.mouseClick(dock.filter_button, Qt.MouseButton.LeftButton)
        assert dock.model.rowCount() == len(lights.frame) - 1
        seen = {}

        def fill(dialog):
            seen["count"] = dialog.count_label.text()
            seen["hidden"] = dialog.findChild(type(dialog.count_label), "hidden_note").text()
            dialog.field_box.setCurrentIndex(dialog.field_box.findData("status"))
            box = dialog.editor
            assert isinstance(box, QComboBox)
            box.setCurrentIndex(next(i for i in range(box.count()) if box.itemData(i) == 3))
            shot(dialog, "batch_edit_dialog.png")
            dialog.accept()
        window.inspector.show()

        _run_dialog(fill)
        button = dock.toolbar.widgetForAction(dock.act_batch)
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)  # the toolbar button: used to fail ("no field 'False'")
        assert "5" in seen["count"] and "1" in seen["hidden"]
        assert (lights.frame.loc[fids[1:], "status"] == 3).all()
        assert lights.frame.loc[fids[0], "status"] != 3  # hidden: left alone
        # 编辑 → 批量修改所选 opens the same dialog
        opened = []
        _run_dialog(lambda d: (opened.append(d.count_label.text()), d.reject()))
        menu_action = next(a for menu in window.menuBar().findChildren(type(window.menuBar().actions()[0].menu()))
                           for a in menu.actions() if a is dock.act_batch)
        menu_action.trigger()
        assert opened
    finally:
        dock.filter_edit.setText("")
        dock.apply_filter()
        window.edits.stop(lights, save=False)
        lights.selection = ()


# --- 2. pipes picked from 300 m in the underground view --------------------------------------------
def test_click_a_pipe_from_300_m_in_the_underground_view(window):
    window.act_underground.trigger()
    assert window.scene.underground
    try:
        pipes = next(layer for layer in window.project.layers if getattr(layer, "feature_class", "") == "pipe")
        fid = int(pipes.frame.geometry.length.idxmax())  # a long run: its middle is far from any manhole
        line = pipes.frame.geometry.loc[fid]
        mid = line.interpolate(0.5, normalized=True)
        lo = window.scene.feature_bounds(pipes, fid)
        target = np.array([mid.x, mid.y, (lo[4] + lo[5]) / 2])
        eye = target + 300.0 * np.array([0.0, -math.cos(math.radians(40)), math.sin(math.radians(40))])
        window.scene.set_camera_state({"position": eye.tolist(), "focal_point": target.tolist(),
                                       "view_up": [0, 0, 1]})
        window.view.render_image()
        x, y, _ = window.scene.to_display(np.array([target]))[0]
        hit = click_display(window, x, y)
        assert hit is not None and hit.layer is pipes, hit
        shot(window, "underground_pick_300m.png")
    finally:
        window.act_underground.trigger()
    assert not window.scene.underground


# --- 4. an edit recolours the view without a rebuild ---------------------------------------------------
def test_status_edit_shows_in_the_view_without_rebuilding_the_layer(window):
    lights = window.project.layers["路灯"]
    dock = window.panels["table"]
    dock.set_layer(lights)
    dock.act_edit.trigger()
    built, recoloured = [], []
    window.scene.events.built.connect(lambda layer: built.append(layer.name))
    window.scene.events.recoloured.connect(lambda layer, fids: recoloured.append(fids.tolist()))
    try:
        fid = int(lights.fids[10])
        before = window.scene.visual(lights).near[0].pieces[1]["colours"].copy()
        window.edits.editor(lights).set_values(np.array([fid]), {"status": 2 if lights.frame.at[fid, "status"] != 2
                                                               else 1})
        assert built == [] and recoloured == [[fid]]
        after = window.scene.visual(lights).near[0].pieces[1]["colours"]
        changed = np.flatnonzero((before != after).any(axis=1))
        assert changed.size and set(window.scene.visual(lights).near[0].fids[changed].tolist()) == {fid}
        window.edits.group.undo()  # undo recolours back, still without a rebuild
        assert built == [] and len(recoloured) == 2
    finally:
        window.edits.stop(lights, save=False)


def test_layer_event_from_another_thread_reaches_the_scene_on_the_gui_thread(window):
    lights = window.project.layers["路灯"]
    handled = []
    window.scene.events.recoloured.connect(lambda layer, fids: handled.append(threading.current_thread()))
    worker = threading.Thread(target=lambda: lights.notify_data(lights.fids[:3], ["status"]))
    worker.start()
    worker.join()
    assert wait_until(lambda: handled, 10)
    assert handled == [threading.main_thread()]


# --- 13.9 exports work on a frozen copy ------------------------------------------------------------
def test_export_reads_a_frozen_copy_while_the_user_edits(window, tmp_path):
    import pandas as pd

    from qdt.ui.export_dialog import ExportDialog

    lights = window.project.layers["路灯"]
    fids = lights.fids[:4]
    lights.selection = fids.tolist()
    before = lights.frame.loc[fids, "status"].copy()
    dialog = ExportDialog(window.workbench, "selection")
    try:
        dialog.layer_combo.setCurrentIndex(dialog.layer_combo.findData("路灯"))
        dialog.path_edit.setText(str(tmp_path / "frozen.csv"))
        task = dialog.make_task()  # the export starts: it takes its copy now
        # the user edits and hides the layer while the worker writes
        lights.frame.loc[fids, "status"] = 4
        lights.notify_data(fids, ["status"])
        lights.visible = False
        out = {}
        worker = threading.Thread(target=lambda: out.update(path=task.run(lambda f, m: None, lambda: False)))
        worker.start()
        while worker.is_alive():
            QApplication.processEvents()
            time.sleep(0.01)
        written = pd.read_csv(out["path"], encoding="utf-8-sig")
        status = written[[c for c in written.columns if c in ("status", "状态")][0]]
        assert len(written) == 4 and "4" not in " ".join(status.astype(str))  # the values when it started
        # and the snapshot dialog hands its task a frozen project, not the live one
        snap = ExportDialog(window.workbench, "snapshot")
        frozen = snap.frozen_project()
        assert frozen.layers["路灯"] is not lights and len(frozen.layers["路灯"].events.data) == 0
        snap.deleteLater()
    finally:
        lights.frame.loc[fids, "status"] = before
        lights.notify_data(fids, ["status"])
        lights.visible = True
        lights.selection = ()
        dialog.close()
        dialog.deleteLater()


# --- 10. navigation does not queue up --------------------------------------------------------------
def test_slow_frames_coalesce_mouse_moves_and_stop_with_the_mouse(window, monkeypatch):
    from qdt.ui import view3d

    view = window.view
    widget = view.vtk_widget
    real_render = view.render_window.Render
    frames = []
    centre = QPointF(widget.width() / 2, widget.height() / 2)

    def post_move(i):
        pos = centre + QPointF(3.0 * (i + 1), 0.0)
        QApplication.postEvent(widget, QMouseEvent(QEvent.Type.MouseMove, pos, widget.mapToGlobal(pos),
                                                   Qt.MouseButton.NoButton, Qt.MouseButton.RightButton,
                                                   Qt.KeyboardModifier.NoModifier))

    moves = iter(range(1, 40))

    def slow_render():
        frames.append(time.perf_counter())
        # the user keeps dragging while a slow (software OpenGL) frame is drawn
        for _ in range(4):
            i = next(moves, None)
            if i is not None:
                post_move(i)
        time.sleep(view3d.LAG_FRAME_S * 1.5)
        real_render()

    monkeypatch.setattr(view.render_window, "Render", slow_render)
    QTest.mousePress(widget, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, centre.toPoint())
    post_move(0)
    assert wait_until(lambda: next(moves, None) is None and not view._render_pending, 30)
    QTest.qWait(100)
    indicator_seen = view.render_indicator.isVisibleTo(window)
    camera = window.scene.camera_state()
    count = len(frames)
    QTest.qWait(400)  # the mouse has stopped: no frame is still queued, the view does not move on
    assert len(frames) == count and window.scene.camera_state() == camera
    QTest.mouseRelease(widget, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, centre.toPoint())
    monkeypatch.undo()
    # 40 moves, four arriving during every slow frame: the frames drawn are far fewer than the moves
    assert count <= 15, count
    assert indicator_seen
    assert wait_until(lambda: not view.render_indicator.isVisibleTo(window), 5)


# --- 9. small things --------------------------------------------------------------------------------
def _answer_modal(object_name: str, handle) -> None:
    def poll():
        dialog = QApplication.activeModalWidget()
        if dialog is not None and dialog.objectName() == object_name:
            handle(dialog)
        else:
            QTimer.singleShot(50, poll)
    QTimer.singleShot(50, poll)


def test_ctrl_b_asks_for_a_name_and_shows_the_bookmarks(window):
    window.bookmarks.hide()
    before = len(window.project.bookmarks)
    _answer_modal("BookmarkNameDialog", lambda d: (d.setTextValue("五四广场 东望"), d.accept()))
    assert window.act_add_bookmark.shortcut().toString() == "Ctrl+B"
    window.act_add_bookmark.trigger()
    assert wait_until(lambda: len(window.project.bookmarks) == before + 1, 10)
    assert window.project.bookmarks[-1].name == "五四广场 东望"
    assert window.bookmarks.isVisible()
    _answer_modal("BookmarkNameDialog", lambda d: d.reject())  # cancelled: nothing is added
    window.act_add_bookmark.trigger()
    assert len(window.project.bookmarks) == before + 1
    window.bookmarks.remove(len(window.project.bookmarks) - 1)


def test_status_bar_follows_programmatic_moves_and_keeps_coordinates_readable(window):
    window.camera_label.setText("")
    lights = window.project.layers["路灯"]
    window.fly_to_feature(lights, int(lights.fids[0]))  # a programmatic move (no mouse)
    assert wait_until(lambda: window.camera_label.text() != "", 10)
    altitude, _ = window.camera_scale()
    assert f"{altitude:.0f} m" in window.camera_label.text()
    long = "很长的状态消息" * 60
    window.statusBar().showMessage(long, 5000)
    shown = window.statusBar().shown_message()
    assert window.statusBar().currentMessage() == long and window.statusBar().toolTip() == long
    assert shown != long and shown.endswith("…")
    width = window.statusBar().fontMetrics().horizontalAdvance(shown)
    assert width <= window.coord_label.geometry().left() or not window.coord_label.isVisible()
    window.statusBar().clearMessage()


def test_roll_back_all_edits_asks_first(window):
    lights = window.project.layers["路灯"]
    dock = window.panels["table"]
    dock.set_layer(lights)
    dock.act_edit.trigger()
    window.edits.ask = True
    try:
        fids = lights.fids[:3]
        window.edits.editor(lights).set_values(fids, {"status": 4})
        _answer_modal("RollbackDialog", lambda box: box.reject())  # cancel keeps the edits
        dock.act_rollback.trigger()
        assert (lights.frame.loc[fids, "status"] == 4).all()
        _answer_modal("RollbackDialog",
                      lambda box: box.button(box.StandardButton.Discard).click())
        dock.act_rollback.trigger()
        assert not window.edits.editor(lights).has_changes
    finally:
        window.edits.ask = False
        window.edits.stop(lights, save=False)


def test_measuring_keeps_the_attribute_table_layer_and_filter(window):
    dock = window.panels["table"]
    pipes = window.project.layers["地下管线"]
    dock.set_layer(pipes)
    dock.filter_edit.setText("network = 'RQ'")
    QTest.mouseClick(dock.filter_button, Qt.MouseButton.LeftButton)
    shown = dock.model.rowCount()
    try:
        window.act_measure["distance"].trigger()
        window.view.render_image()
        w, h = window.view.renderer.GetSize()
        for x, y in ((w * 0.4, h * 0.5), (w * 0.6, h * 0.5)):
            click_display(window, x, y)
        window.act_measure["distance"].trigger()  # off again
        assert dock.layer is pipes and dock.filter_edit.text() == "network = 'RQ'"
        assert dock.model.rowCount() == shown
    finally:
        window.set_measure_mode(None)
        dock.filter_edit.setText("")
        dock.apply_filter()


def test_style_dialog_names_fields_and_reopens_quantile_classes_as_quantile(window):
    from qdt.ui.style_dialog import StyleDialog, graduate

    buildings = window.project.layers["建筑"]
    saved = buildings.style
    try:
        buildings.style = graduate(buildings, "height", 5, "quantile", "Viridis")
        dialog = StyleDialog(buildings, window)
        labels = [dialog.grad_field.itemText(i) for i in range(dialog.grad_field.count())]
        assert "高度 (height)" in labels  # catalogue names, the column in brackets
        assert dialog.grad_method.currentData() == "quantile" and dialog.grad_method.currentText() == "分位数"
        dialog.deleteLater()
        buildings.style = graduate(buildings, "height", 5, "equal", "Viridis")
        dialog = StyleDialog(buildings, window)
        assert dialog.grad_method.currentData() == "equal"
        dialog.deleteLater()
    finally:
        buildings.style = saved


# --- 6. query results are easy to see ---------------------------------------------------------------
def test_query_result_shows_in_the_table_frames_all_and_leaves_the_view_free(window):
    for layer in window.project.layers:
        layer.selection = ()
    window.panels_actions["query"].trigger()
    dialog = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "QueryDialog")
    assert dialog.isVisible()
    view = window.view
    centre = view.mapToGlobal(QPoint(view.width() // 2, view.height() // 2))
    assert not dialog.frameGeometry().contains(centre)  # beside the view, not over what it zooms to
    dialog.mode_box.setCurrentIndex(0)
    dialog.layer_box.setCurrentIndex(dialog.layer_box.findText("路灯"))
    dialog.where_edit.setText("状态 = '故障'")
    results = window.panels["results"]
    QTest.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert wait_until(lambda: results.result is not None and dialog.run_button.isEnabled(), 60)
    lights = window.project.layers["路灯"]
    faulty = set(lights.frame.index[lights.frame["status"] == 2].tolist())
    table = window.panels["table"]
    assert table.layer is lights and table.model.rowCount() == len(faulty)
    assert set(table.model.fids_of_rows(np.arange(table.model.rowCount())).tolist()) == faulty
    assert "查询结果" in table.filter_edit.placeholderText()
    # 缩放到 frames every result
    QTest.mouseClick(results.zoom_button, Qt.MouseButton.LeftButton)
    window.view.render_image()
    xyz = np.array([[g.x, g.y, 0.0] for g in lights.frame.loc[sorted(faulty)].geometry])
    xyz[:, 2] = window.scene.origin.z
    screen = window.scene.to_display(xyz)
    w, h = window.view.renderer.GetSize()
    assert ((screen[:, 0] >= 0) & (screen[:, 0] <= w) & (screen[:, 1] >= 0) & (screen[:, 1] <= h)).all()
    # every selected light wears a marker, visible at district scale
    assert len(window.scene.selection_markers()) == len(faulty)
    shot(window, "query_result.png")
    dialog.close()
    table.filter_edit.setText("")
    table.apply_filter()
    assert table.model.rowCount() == len(lights.frame)
    lights.selection = ()
