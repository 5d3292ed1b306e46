"""The data panels' actions in the real window: toolbar icons, unique shortcuts, the batch-edit
dialog driven through its widgets — on a copy of the sample project."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QComboBox, QDialogButtonBox, QToolBar

from qdt.ui.attribute_table import BatchEditDialog
from qdt.ui.editing import set_editor_value
from tests.test_ui_attribute_table import close_window, open_sample_window

ICONS = Path(__file__).resolve().parents[1] / "assets" / "icons"


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("actions"))
    yield win
    close_window(win)


def test_data_toolbar_actions_have_svg_icons(window):
    toolbar = window.findChild(QToolBar, "DataToolBar")
    actions = [a for a in toolbar.actions() if not a.isSeparator()]
    assert len(actions) == 6
    for action in actions:
        assert not action.icon().isNull(), action.text()
        assert not action.icon().pixmap(24, 24).toImage().isNull(), action.text()
    # the icons are the assets' files: plain 24×24 SVGs, as the main toolbar's
    for name in ("attribute_table", "query", "edit_mode", "commit", "undo", "redo"):
        text = (ICONS / f"{name}.svg").read_text(encoding="utf-8")
        assert text.startswith("<svg") and 'viewBox="0 0 24 24"' in text, name
    # distinct pictures for distinct actions (undo and redo are not the same arrow)
    images = [a.icon().pixmap(24, 24).toImage() for a in actions]
    assert len({img.bits().tobytes() if hasattr(img.bits(), "tobytes") else bytes(img.constBits())
                for img in images}) == 6


def test_no_two_actions_share_a_shortcut(window):
    owners: dict[str, list[str]] = {}
    for action in window.findChildren(QAction):
        for shortcut in action.shortcuts():
            if shortcut.isEmpty():
                continue
            key = shortcut.toString(QKeySequence.SequenceFormat.PortableText)
            owners.setdefault(key, []).append(action.text() or action.objectName())
    clashes = {key: names for key, names in owners.items() if len(names) > 1}
    assert not clashes, clashes
    assert len(owners) > 10  # the window's and the panels' shortcuts were all seen


def test_batch_edit_dialog_through_its_widgets(window):
    lights = window.project.layers["路灯"]
    dock = window.panels["table"]
    dock.set_layer(lights)
    dock.act_edit.setChecked(True)
    try:
        fids = lights.frame.index[[2, 5, 11]].to_numpy()
        before = lights.frame.loc[fids, "power_w"].copy()
        lights.selection = fids.tolist()
        seen = {}

        def fill_in():
            dialog = QApplication.activeModalWidget()
            assert isinstance(dialog, BatchEditDialog)
            seen["fields"] = [dialog.field_box.itemData(i) for i in range(dialog.field_box.count())]
            dialog.field_box.setCurrentIndex(dialog.field_box.findData("status"))
            assert isinstance(dialog.editor, QComboBox)  # a code list: its labels to choose from
            seen["labels"] = [dialog.editor.itemText(i) for i in range(dialog.editor.count())]
            dialog.field_box.setCurrentIndex(dialog.field_box.findData("power_w"))
            set_editor_value(dialog.editor, 175.0)
            dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()

        QTimer.singleShot(0, fill_in)
        assert dock.batch_edit()
        assert {"status", "power_w"} <= set(seen["fields"])
        assert "维修中 (3)" in seen["labels"]
        assert (lights.frame.loc[fids, "power_w"] == 175.0).all()
        editor = window.edits.editor(lights)
        assert editor.stack.count() == 1
        editor.stack.undo()
        assert lights.frame.loc[fids, "power_w"].equals(before)

        # cancel changes nothing
        def cancel():
            dialog = QApplication.activeModalWidget()
            dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Cancel).click()

        QTimer.singleShot(0, cancel)
        assert not dock.batch_edit()
        assert lights.frame.loc[fids, "power_w"].equals(before)
    finally:
        lights.selection = ()
        window.edits.stop(lights, save=False)
