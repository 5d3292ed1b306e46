"""Labels in the main window: the layer tree's toggle, the style dialog's 标注 tab, labels drawn in the view."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox

from tests.test_ui_mainwindow import LOAD_TIMEOUT, close_window, open_window

STREET = {"position": [534300.0, 3991930.0, 150.0], "focal_point": [534560.0, 3992260.0, 20.0],
          "view_up": [0.0, 0.0, 1.0], "view_angle": 30.0}


def _layer(window, name):
    return next(layer for layer in window.project.layers if layer.name == name)


def test_labels_toggle_edit_and_draw_in_the_view(qtbot, sample_copy):
    window = open_window(qtbot)
    try:
        with qtbot.waitSignal(window.project_loaded, timeout=LOAD_TIMEOUT):
            window.open_project(sample_copy / "qingdao_shinan.qdt")
        window.scene.set_camera_state(STREET)
        with_labels = window.view.render_image()
        placement = window.scene.labels.placement
        roads = _layer(window, "道路")
        assert placement is not None and any(label.layer_id == roads.id for label in placement.labels)

        # the layer tree's context menu switches the road names off (and the project is modified)
        menu = window.layer_tree.menu_for(window.layer_tree.item_for(roads))
        toggle = next(a for a in menu.actions() if a.text() == "显示标注")
        assert toggle.isCheckable() and toggle.isChecked()
        toggle.trigger()
        menu.deleteLater()
        assert not roads.labels.enabled and window.isWindowModified()
        without_roads = window.view.render_image()
        assert not any(label.layer_id == roads.id for label in window.scene.labels.placement.labels)
        assert (np.abs(with_labels.astype(int) - without_roads.astype(int)).max(axis=2) > 40).sum() > 50

        # the style dialog's 标注 tab: label the streetlights by their status (a code list: Chinese labels)
        lights = _layer(window, "路灯")
        assert lights.labels is None
        dialog = window.edit_style(lights)
        qtbot.waitExposed(dialog)
        tabs = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
        assert tabs == ["符号", "标注"]
        dialog.tabs.setCurrentWidget(dialog.label_page)
        page = dialog.label_page
        assert not page.show_labels.isChecked()
        box = page.show_labels
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))  # on the box
        assert box.isChecked()
        page.text.setEditText("{nosuch}")
        assert "nosuch" in page.preview.text()
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Apply), Qt.MouseButton.LeftButton)
        assert lights.labels is None and "nosuch" in dialog.message.text()  # refused, with the reason
        page.text.setEditText("状态")
        assert page.preview.text().startswith("示例：") and any(s in page.preview.text() for s in ("正常", "故障"))
        page.max_distance.setValue(400)
        page.priority.setValue(9)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        assert lights.labels is not None and lights.labels.text == "状态" and lights.labels.priority == 9
        assert lights.labels.max_distance == 400
        window.view.render_image()
        texts = {label.text for label in window.scene.labels.placement.labels if label.layer_id == lights.id}
        assert texts and texts <= {"正常", "故障", "维修中", "停用"}

        # saved in the project file
        assert window.save_project(sample_copy / "qingdao_shinan.qdt")
        doc = json.loads((sample_copy / "qingdao_shinan.qdt").read_text(encoding="utf-8"))
        saved = {e.get("layer"): e.get("labels") for e in doc["layers"]}
        assert saved["streetlights"]["text"] == "状态" and saved["roads"]["enabled"] is False
    finally:
        close_window(window)
