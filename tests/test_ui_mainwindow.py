"""The real main window under Xvfb: opens the sample project and shows the city."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdt.ui.app import create_application
from qdt.ui.mainwindow import MainWindow
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture
def window(qtbot):
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_main_window_opens_sample_project_and_renders_city(window, qtbot):
    with qtbot.waitSignal(window.project_loaded, timeout=120_000) as blocker:
        window.open_project(SAMPLE_PROJECT)
    project = blocker.args[0]
    names = project.layers.names()
    assert len(names) >= 5
    assert not project.unavailable
    # layer tree lists every layer, grouped under categories
    tree = window.layer_tree.tree
    listed = [tree.topLevelItem(i).child(j).text(0) for i in range(tree.topLevelItemCount())
              for j in range(tree.topLevelItem(i).childCount())]
    assert sorted(listed) == sorted(names)
    image = window.view.render_image()
    h, w, _ = image.shape
    assert w > 400 and h > 300
    colours = np.unique(image.reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 30, "terrain, buildings and lights give many distinct colours"
    centre = image[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    assert centre.std() > 15, "the centre of the view shows the city, not an empty background"


def test_toggling_a_layer_changes_the_image(window, qtbot):
    with qtbot.waitSignal(window.project_loaded, timeout=120_000):
        window.open_project(SAMPLE_PROJECT)
    buildings = next(layer for layer in window.project.layers if layer.name == "建筑")
    before = window.view.render_image().astype(int)
    item = window.layer_tree.item_for(buildings)
    from PySide6.QtCore import Qt

    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert buildings.visible is False
    after = window.view.render_image().astype(int)
    assert np.abs(before - after).sum(axis=2).astype(bool).mean() > 0.01


def test_missing_data_file_is_marked_unavailable(window, qtbot, sample_copy):
    project_file = sample_copy / "qingdao_shinan.qdt"
    doc = json.loads(project_file.read_text(encoding="utf-8"))
    (sample_copy / "landmarks.city.json").unlink()
    with qtbot.waitSignal(window.project_loaded, timeout=120_000) as blocker:
        window.open_project(project_file)
    project = blocker.args[0]
    bad = project.unavailable
    assert len(bad) == 1 and "landmarks.city.json" in bad[0].error
    assert len(project.layers) == len(doc["layers"]) - 1
    from PySide6.QtCore import Qt

    flags = Qt.MatchFlag.MatchContains | Qt.MatchFlag.MatchRecursive
    greyed = window.layer_tree.tree.findItems("不可用", flags)
    assert len(greyed) == 1 and "landmarks.city.json" in greyed[0].toolTip(0)


def test_bad_project_file_reports_error_without_crash(window, qtbot, tmp_path):
    bad = tmp_path / "bad.qdt"
    bad.write_text("{", encoding="utf-8")
    with qtbot.waitSignal(window.project_failed, timeout=10_000) as blocker:
        window.open_project(bad)
    assert "bad.qdt" in blocker.args[0]
