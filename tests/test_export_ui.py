"""File → 导出 dialogs: exports run on the window's task runner with progress, the files are real."""

from __future__ import annotations

from pathlib import Path

import pygltflib
import pyogrio
import pypdf
import pytest
from PIL import Image

from qdt.ui.app import create_application
from qdt.ui.export_dialog import ExportDialog, add_export_actions, documents_dir
from qdt.ui.mainwindow import MainWindow
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture
def window(qtbot):
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1000, 700)
    with qtbot.waitExposed(win, timeout=30_000):
        win.show()
    with qtbot.waitSignal(win.project_loaded, timeout=120_000):
        win.open_project(SAMPLE_PROJECT)
    yield win
    win.tasks.wait(60_000)
    win.close()


def _run(qtbot, dialog: ExportDialog, timeout: int = 120_000) -> None:
    progress = []
    dialog.export_button.click()
    assert dialog.handle is not None, dialog.status.text()
    dialog.handle.progress.connect(lambda f, m: progress.append(f))
    # the task may already have ended: wait on the dialog's state, not on a signal it may have sent
    qtbot.waitUntil(lambda: dialog.handle.done and dialog.export_button.isEnabled(), timeout=timeout)
    assert dialog.export_button.isEnabled()
    assert not dialog.progress.isVisible()
    assert "已导出" in dialog.status.text(), dialog.status.text()


def test_menu_actions_open_dialogs(window, qtbot):
    from PySide6.QtWidgets import QMenu

    menu = QMenu()
    actions = add_export_actions(window.workbench, menu)
    assert [a.objectName() for a in actions] == ["export_snapshot", "export_report", "export_selection", "export_scene"]
    actions[0].trigger()
    dialog = window.workbench.panels["export"]
    assert isinstance(dialog, ExportDialog) and dialog.kind == "snapshot" and dialog.isVisible()
    dialog.close()


def test_snapshot_dialog_preview_and_export(window, qtbot, tmp_path):
    dialog = ExportDialog(window.workbench, "snapshot")
    qtbot.addWidget(dialog)
    assert Path(dialog.path_edit.text()).parent == documents_dir()  # never the (tracked) sample folder
    dialog.width_spin.setValue(480)
    dialog.height_spin.setValue(270)
    dialog.dpi_spin.setValue(200)
    dialog.overlay_boxes["legend"].setChecked(False)
    dialog.start_preview()
    qtbot.waitUntil(lambda: dialog.handle.done and dialog.preview.pixmap() is not None
                    and not dialog.preview.pixmap().isNull(), timeout=120_000)
    pixmap = dialog.preview.pixmap()
    assert pixmap is not None and not pixmap.isNull() and pixmap.width() <= 360
    assert abs(pixmap.width() / pixmap.height() - 480 / 270) < 0.05
    dialog.path_edit.setText(str(tmp_path / "view.jpg"))
    _run(qtbot, dialog)
    with Image.open(tmp_path / "view.jpg") as image:
        assert image.size == (480, 270) and image.info["dpi"] == pytest.approx((200, 200), abs=0.5)
    assert dialog.snapshot_options().overlays == ("title", "north_arrow", "scale_bar", "crs_date")


def test_selection_report_and_scene_dialogs(window, qtbot, tmp_path):
    lights = window.project.layers["路灯"]
    lights.selection = [5, 6, 7]
    dialog = ExportDialog(window.workbench, "selection")
    qtbot.addWidget(dialog)
    assert dialog.layer_combo.currentData() == "路灯"
    dialog.format_combo.setCurrentIndex(2)  # GeoPackage
    dialog.path_edit.setText(str(tmp_path / "lights.gpkg"))
    _run(qtbot, dialog)
    assert pyogrio.read_dataframe(tmp_path / "lights.gpkg", fid_as_index=True).index.tolist() == [5, 6, 7]

    report = ExportDialog(window.workbench, "report")
    qtbot.addWidget(report)
    report.title_edit.setText("界面报告")
    report.layer_combo.setCurrentIndex(report.layer_combo.findData("路灯"))
    report.where_edit.setText("状态 = ")  # malformed: one line in the dialog, nothing started
    report.export_button.click()
    assert report.handle is None and "导出失败" in report.status.text()
    report.where_edit.setText("状态 = '故障'")
    report.path_edit.setText(str(tmp_path / "r.pdf"))
    _run(qtbot, report)
    assert "界面报告" in pypdf.PdfReader(tmp_path / "r.pdf").pages[0].extract_text()

    window.project.layers["数字高程模型"].visible = False  # a smaller scene for the test
    scene = ExportDialog(window.workbench, "scene")
    qtbot.addWidget(scene)
    scene.path_edit.setText(str(tmp_path / "s.glb"))
    _run(qtbot, scene)
    names = [node.name for node in pygltflib.GLTF2().load(str(tmp_path / "s.glb")).nodes]
    assert "路灯" in names and "数字高程模型" not in names


def test_report_uses_the_current_view_and_the_query_result(window, qtbot, tmp_path):
    import numpy as np

    from qdt.export.report import load_template, report_snapshot_options
    from qdt.query import Query, run_query

    scene = window.scene
    saved = scene.camera_state()  # the view as the project opened
    lights = window.project.layers["路灯"]
    scene.fly_to_feature(lights, int(lights.frame.index[3]))  # the user looks somewhere else
    window.set_underground(True)
    current = scene.camera_state()
    assert not np.allclose(current["position"], saved["position"])

    report = ExportDialog(window.workbench, "report")
    qtbot.addWidget(report)
    assert report.layer_combo.findData("\x00query-result") < 0  # no query yet: nothing to offer
    settings = report.report_settings()
    assert np.allclose(settings["camera"]["position"], current["position"])
    assert np.allclose(settings["camera"]["focal_point"], current["focal_point"])
    assert settings["underground"] is True
    options = report_snapshot_options(load_template(), title="t", camera=settings["camera"],
                                      underground=settings["underground"])
    assert options.camera is settings["camera"] and options.underground
    report.close()

    # the query panel's last result is a table source; the report lists exactly its rows
    result = run_query(Query("路灯", where="状态 = '维修中'"), window.project.layers)
    window.panels["results"].show_result(result)
    report = ExportDialog(window.workbench, "report")
    qtbot.addWidget(report)
    index = report.layer_combo.findData("\x00query-result")
    assert index > 0 and report.layer_combo.itemText(index) == "当前查询结果"
    report.layer_combo.setCurrentIndex(index)
    assert not report.where_edit.isEnabled()
    table = report._query_table()
    assert table.layer is lights and np.array_equal(table.fids, result.fids)
    report.path_edit.setText(str(tmp_path / "q.pdf"))
    _run(qtbot, report)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(tmp_path / "q.pdf").pages)
    assert "查询结果" in text
    window.set_underground(False)


def test_report_query_runs_in_the_task_not_on_the_gui_thread(window, qtbot, tmp_path):
    """A filter that parses but names an unknown field fails in the task (one line in the dialog)."""
    report = ExportDialog(window.workbench, "report")
    qtbot.addWidget(report)
    report.layer_combo.setCurrentIndex(report.layer_combo.findData("路灯"))
    assert report.where_edit.isEnabled()
    report.where_edit.setText("灯的颜色 = 'red'")
    report.path_edit.setText(str(tmp_path / "bad.pdf"))
    report.export_button.click()
    assert report.handle is not None  # started: the query is evaluated by the task
    qtbot.waitUntil(lambda: report.handle.done and report.export_button.isEnabled(), timeout=60_000)
    assert "导出失败" in report.status.text() and "灯的颜色" in report.status.text()
    assert not (tmp_path / "bad.pdf").exists()
