"""The real main window under Xvfb: opens the sample project, shows the city, picks, styles,
bookmarks, saves and reopens, marks missing files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from qdt.ui.app import create_application
from qdt.ui.mainwindow import MainWindow
from tests.conftest import SAMPLE_PROJECT

LOAD_TIMEOUT = 180_000


def open_window(qtbot) -> MainWindow:
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    with qtbot.waitExposed(win, timeout=30_000):
        win.show()
    return win


def close_window(win: MainWindow) -> None:
    if win.project is not None:
        win.project.dirty = False  # the unsaved-changes prompt is tested on its own
    win.close()


def click_world(window, qtbot, world_xyz):
    """A real left click in the 3D view on world point ``world_xyz``; returns the pick result."""
    x, y, _depth = window.scene.to_display(np.array([world_xyz], dtype=float))[0]
    widget = window.view.vtk_widget
    ratio = widget.devicePixelRatioF()
    pos = QPoint(round(x / ratio), round((widget.height() * ratio - 1 - y) / ratio))
    with qtbot.waitSignal(window.view.picked, timeout=10_000) as blocker:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    return blocker.args[0]


@pytest.fixture
def window(qtbot):
    win = open_window(qtbot)
    yield win
    close_window(win)


def load(window, qtbot, path=SAMPLE_PROJECT):
    with qtbot.waitSignal(window.project_loaded, timeout=LOAD_TIMEOUT) as blocker:
        window.open_project(path)
    return blocker.args[0]


def layer_named(window, name):
    return next(layer for layer in window.project.layers if layer.name == name)


def test_main_window_opens_sample_project_and_renders_city(window, qtbot):
    project = load(window, qtbot)
    names = project.layers.names()
    assert len(names) >= 5
    assert not project.unavailable
    # layer tree lists every layer, grouped under categories
    tree = window.layer_tree.tree
    listed = [tree.topLevelItem(i).child(j).text(0) for i in range(tree.topLevelItemCount())
              for j in range(tree.topLevelItem(i).childCount())]
    assert sorted(listed) == sorted(names)
    groups = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert groups[0] == "时空基础"
    image = window.view.render_image()
    h, w, _ = image.shape
    assert w > 400 and h > 300
    colours = np.unique(image.reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 30, "terrain, buildings and lights give many distinct colours"
    centre = image[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    assert centre.std() > 15, "the centre of the view shows the city, not an empty background"
    # status bar: camera height and scale, CRS; title without the modified marker
    assert "比例尺 1:" in window.camera_label.text() and "视点高度" in window.camera_label.text()
    assert "EPSG:4549" in window.crs_label.text()
    assert not window.isWindowModified() and project.name in window.windowTitle()
    assert window.act_underground.isEnabled()


def test_toggle_layer_hides_its_actors_and_marks_project_modified(window, qtbot):
    load(window, qtbot)
    buildings = layer_named(window, "建筑")
    visual = window.scene.visual(buildings)
    assert any(actor.GetVisibility() for actor in visual.actors)
    before = window.view.render_image().astype(int)
    item = window.layer_tree.item_for(buildings)
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert buildings.visible is False
    assert not any(actor.GetVisibility() for actor in window.scene.visual(buildings).actors)
    after = window.view.render_image().astype(int)
    assert np.abs(before - after).sum(axis=2).astype(bool).mean() > 0.01
    assert window.project.dirty and window.isWindowModified()
    assert "[*]" in window.windowTitle()  # Qt shows "*" there while modified


def test_click_on_streetlight_shows_its_attributes(window, qtbot):
    load(window, qtbot)
    lights = next(layer for layer in window.project.layers if getattr(layer, "feature_class", None) == "streetlight")
    fid = int(lights.fids[len(lights.fids) // 2])
    assert window.fly_to_feature(lights, fid)
    window.view.render_image()
    xmin, xmax, ymin, ymax, zmin, zmax = window.scene.feature_bounds(lights, fid)
    # the lamp head: the top of the light, where the glyph is widest
    hit = click_world(window, qtbot, ((xmin + xmax) / 2, (ymin + ymax) / 2, zmax - 0.3))
    assert hit is not None and hit.layer is lights and hit.fid == fid
    assert window.inspector.current == (lights, fid)
    assert lights.selection == {fid}
    assert lights.name in window.inspector.header.text()
    labels = [window.inspector.tree.topLevelItem(i).text(0) for i in range(window.inspector.tree.topLevelItemCount())]
    assert "状态" in labels, labels  # the catalogue's Chinese field name, not the column name "status"


def test_fly_to_missing_feature_is_a_message_not_an_error(window, qtbot):
    load(window, qtbot)
    lights = next(layer for layer in window.project.layers if getattr(layer, "feature_class", None) == "streetlight")
    assert window.fly_to_feature(lights, 99_999_999) is False
    assert "99999999" in window.statusBar().currentMessage()


def test_style_bookmark_save_and_reopen(qtbot, sample_copy, tmp_path):
    window = open_window(qtbot)
    project = load(window, qtbot, sample_copy / "qingdao_shinan.qdt")
    buildings = layer_named(window, "建筑")
    # the style dialog: graduated by floors, 4 quantile classes, reds ramp
    dialog = window.edit_style(buildings)
    dialog.kind.setCurrentIndex(dialog.kind.findData("graduated"))
    dialog.grad_field.setCurrentIndex(dialog.grad_field.findData("floors"))
    dialog.grad_method.setCurrentIndex(dialog.grad_method.findData("quantile"))
    dialog.grad_classes.setValue(4)
    dialog.grad_ramp.setCurrentText("Reds")
    dialog.graduate()
    dialog.opacity_spin.setValue(80)
    dialog.accept()
    style = buildings.style
    assert style.kind == "graduated" and style.field == "floors" and style.ramp == "Reds" and len(style.breaks) == 5
    assert buildings.opacity == pytest.approx(0.8)
    legend = window.layer_tree.legend_labels(buildings)
    assert len(legend) == 4 and " – " in legend[0]
    assert window.isWindowModified()
    # a categorised style on the lights' status uses the code list's Chinese labels
    lights = next(layer for layer in project.layers if getattr(layer, "feature_class", None) == "streetlight")
    dialog = window.edit_style(lights)
    dialog.kind.setCurrentIndex(dialog.kind.findData("categorised"))
    dialog.cat_field.setCurrentIndex(dialog.cat_field.findData("status"))
    dialog.classify()
    dialog.accept()
    assert any("故障" in label for label in window.layer_tree.legend_labels(lights))
    # hide roads, move the camera, bookmark it, move again
    roads = layer_named(window, "道路")
    window.layer_tree.item_for(roads).setCheckState(0, Qt.CheckState.Unchecked)
    window.zoom_to_layer(lights)
    window.bookmarks.add("五四广场近景")
    bookmark_camera = window.scene.camera_state()
    window.zoom_full()
    window.north_up()
    window.act_underground.trigger()  # a display mode, saved with the project's UI state
    camera = window.scene.camera_state()
    assert window.bookmarks.list.count() == 1
    # save as, into another folder: the sources become relative to it
    other = tmp_path / "elsewhere"
    other.mkdir()
    with qtbot.waitSignal(window.project_saved):
        assert window.save_project(other / "copy")
    saved = other / "copy.qdt"
    assert not window.isWindowModified() and saved.exists()
    doc = json.loads(saved.read_text(encoding="utf-8"))
    assert all(not layer["source"].startswith("/") and ".." in layer["source"] for layer in doc["layers"])
    assert str(saved) in QSettings().value("recentProjects")
    expected = {layer.name: (layer.visible, layer.opacity, layer.style.to_dict()) for layer in project.layers}
    close_window(window)

    window = open_window(qtbot)
    try:
        reopened = load(window, qtbot, saved)
        assert not reopened.unavailable
        got = {layer.name: (layer.visible, layer.opacity, layer.style.to_dict()) for layer in reopened.layers}
        assert got == expected
        assert not window.scene.visual(layer_named(window, "道路")).actors[0].GetVisibility()
        state = window.scene.camera_state()
        for key in ("position", "focal_point"):
            assert np.allclose(state[key], camera[key], atol=0.01)
        assert [b.name for b in reopened.bookmarks] == ["五四广场近景"]
        assert window.bookmarks.list.item(0).text() == "五四广场近景"
        window.bookmarks.go_to(0)
        assert np.allclose(window.scene.camera_state()["position"], bookmark_camera["position"], atol=0.01)
        assert len(window.layer_tree.legend_labels(layer_named(window, "建筑"))) == 4
        assert window.scene.underground and window.act_underground.isChecked()
    finally:
        close_window(window)


def test_bookmark_rename_and_delete(window, qtbot):
    load(window, qtbot)
    window.bookmarks.add("甲")
    window.bookmarks.add("乙")
    window.project.dirty = False
    window.bookmarks.list.item(0).setText("栈桥")  # an in-place edit in the list
    assert [b.name for b in window.project.bookmarks] == ["栈桥", "乙"]
    assert window.project.dirty
    window.bookmarks.remove(1)
    assert [b.name for b in window.project.bookmarks] == ["栈桥"]


@pytest.mark.someone_answers
def test_close_with_unsaved_changes_asks(qtbot, sample_copy, monkeypatch):
    window = open_window(qtbot)
    load(window, qtbot, sample_copy / "qingdao_shinan.qdt")
    layer_named(window, "建筑").opacity = 0.5
    assert window.isWindowModified()

    def answer(button):
        def click():
            box = QApplication.activeModalWidget()
            assert isinstance(box, QMessageBox) and box.objectName() == "UnsavedChangesBox"
            box.button(button).click()
        QTimer.singleShot(200, click)

    answer(QMessageBox.StandardButton.Cancel)
    assert window.close() is False and window.isVisible()
    answer(QMessageBox.StandardButton.Save)
    assert window.close() is True
    doc = json.loads((sample_copy / "qingdao_shinan.qdt").read_text(encoding="utf-8"))
    assert next(layer for layer in doc["layers"] if layer["name"] == "建筑")["opacity"] == 0.5


def test_missing_data_file_is_marked_unavailable(window, qtbot, sample_copy):
    project_file = sample_copy / "qingdao_shinan.qdt"
    doc = json.loads(project_file.read_text(encoding="utf-8"))
    (sample_copy / "landmarks.city.json").unlink()
    project = load(window, qtbot, project_file)
    bad = project.unavailable
    assert len(bad) == 1 and "landmarks.city.json" in bad[0].error
    assert len(project.layers) == len(doc["layers"]) - 1
    flags = Qt.MatchFlag.MatchContains | Qt.MatchFlag.MatchRecursive
    greyed = window.layer_tree.tree.findItems("不可用", flags)
    assert len(greyed) == 1 and "landmarks.city.json" in greyed[0].toolTip(0)
    box = window.findChild(QMessageBox, "UnavailableLayersBox")
    assert box is not None and "landmarks.city.json" in box.text()
    # the bad layer can be removed from the project
    window.remove_entry(bad[0])
    assert not window.project.unavailable and not window.layer_tree.tree.findItems("不可用", flags)


def test_bad_project_file_reports_error_without_crash(window, qtbot, tmp_path):
    bad = tmp_path / "bad.qdt"
    bad.write_text("{", encoding="utf-8")
    with qtbot.waitSignal(window.project_failed, timeout=10_000) as blocker:
        window.open_project(bad)
    assert "bad.qdt" in blocker.args[0]


def test_english_interface(qtbot):
    from qdt.ui import i18n

    i18n.set_language("en")
    try:
        window = open_window(qtbot)
        menus = [a.text() for a in window.menuBar().actions()]
        assert menus[:4] == ["&File", "&Layers", "&View", "&Settings"], menus
        assert window.layer_tree.windowTitle() == "Layers"
        assert window.act_save.text() == "&Save Project"
        close_window(window)
    finally:
        i18n.set_language("zh_CN")


def test_language_choice_is_stored_for_next_start(window):
    window.language_actions["en"].trigger()
    assert QSettings().value("ui/language") == "en"
    from qdt.ui.app import choose_language

    try:
        assert choose_language() == "en"
        assert choose_language("zh_CN") == "zh_CN"
    finally:
        QSettings().setValue("ui/language", "zh_CN")
        from qdt.ui import i18n

        i18n.set_language("zh_CN")


def test_layout_and_recent_projects_survive_a_restart(qtbot, sample_copy):
    window = open_window(qtbot)
    project_file = sample_copy / "qingdao_shinan.qdt"
    load(window, qtbot, project_file)
    window.bookmarks.show()
    window.log_dock.show()
    close_window(window)  # saves geometry and dock state
    window = open_window(qtbot)
    try:
        assert not window.bookmarks.isVisible()
        window.restore_layout()
        assert window.bookmarks.isVisible() and window.log_dock.isVisible()
        window._fill_recent_menu()
        entries = [a.text() for a in window.recent_menu.actions()]
        assert entries[0] == f"&1 {project_file.resolve()}"
    finally:
        close_window(window)


def test_click_on_smart_pole_shows_its_mounted_devices(window, qtbot):
    load(window, qtbot)
    poles = next(layer for layer in window.project.layers if getattr(layer, "feature_class", None) == "smart_pole")
    devices = next(layer for layer in window.project.layers
                   if getattr(layer, "feature_class", None) == "smart_pole_device")
    per_pole = devices.frame["pole_code"].value_counts()
    code = str(per_pole.index[0])  # the pole carrying the most devices
    fid = int(poles.frame.index[(poles.frame["code"] == code).to_numpy()][0])
    expected = devices.frame.loc[devices.frame["pole_code"] == code]
    assert len(expected) >= 2
    assert window.fly_to_feature(poles, fid)
    window.view.render_image()
    xmin, xmax, ymin, ymax, zmin, zmax = window.scene.feature_bounds(poles, fid)
    hit = click_world(window, qtbot, ((xmin + xmax) / 2, (ymin + ymax) / 2, zmin + 0.75 * (zmax - zmin)))
    assert hit is not None and hit.layer is poles and hit.fid == fid
    assert window.inspector.current == (poles, fid)
    tree = window.inspector.tree
    groups = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).childCount()]
    assert len(groups) == 1
    group = groups[0]
    assert group.text(0) == "搭载设备" and group.text(1) == f"{len(expected)} 台"
    assert group.childCount() == len(expected)
    # each child is one device row of this pole, named by its device type's label
    from qdt.cim import catalogue

    types = catalogue().codelist(catalogue().feature_class("smart_pole_device").field("device_type").codelist)
    labels = sorted(f"{types.label(v)} ({v})" if types.label(v) else str(v) for v in expected["device_type"])
    assert sorted(group.child(i).text(0) for i in range(group.childCount())) == labels
    # a device's own fields are listed under it (mount height, operator, …), not the pole code
    first = [group.child(0).child(j).text(0) for j in range(group.child(0).childCount())]
    assert first and "杆编码" not in first and all(label != "pole_code" for label in first)


def test_status_bar_progress_follows_the_newest_task_and_cancel_stops_only_it(window, qtbot):
    import threading

    from qdt.tasks import Task, check_cancel

    release_old = threading.Event()
    outcome: dict[str, str] = {}

    def old_work(progress, cancelled):
        progress(0.3, "")
        release_old.wait(30)
        return "old done"

    def new_work(progress, cancelled):
        progress(0.6, "")
        while not cancelled():
            release_old.wait(0.01)
        check_cancel(cancelled)

    def watch(name):
        def connect(handle):
            handle.finished.connect(lambda result: outcome.__setitem__(name, result))
            handle.cancelled.connect(lambda: outcome.__setitem__(name, "cancelled"))
        return connect

    old = window.run_with_progress(Task("旧任务", old_work), watch("old"))
    new = window.run_with_progress(Task("新任务", new_work), watch("new"))
    assert window._busy is new and window.progress.isVisible() and window.cancel_button.isVisible()
    window.cancel_button.click()  # cancels the task the bar shows, not the one under it
    qtbot.waitUntil(lambda: outcome.get("new") == "cancelled", timeout=10_000)
    assert not old.is_cancelled() and window._busy is old and window.progress.isVisible()
    assert window.statusBar().currentMessage() == "旧任务"
    release_old.set()
    qtbot.waitUntil(lambda: outcome.get("old") == "old done", timeout=10_000)
    assert window._busy is None and not window.progress.isVisible() and not window.cancel_button.isVisible()
