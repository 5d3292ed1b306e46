"""Editing in the UI: delegates that fit the field, validation messages, QUndoStack undo/redo,
batch edit as one step, commit off the GUI thread (values and change log on disk), conflicts,
inspector editing, and the prompt on close — on a copy of the sample project."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pyogrio
import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QComboBox, QDateEdit, QDoubleSpinBox, QLineEdit, QSpinBox, QStyleOptionViewItem

from qdt.edit import start_editing
from qdt.io import LayerSource, load_layer
from qdt.io.gpkg_write import read_change_log
from qdt.ui.editing import ConflictDialog, create_field_editor, editor_value, set_editor_value
from tests.test_ui_attribute_table import close_window, open_sample_window, wait_until


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("editing"))
    yield win
    close_window(win)


@pytest.fixture
def lights(window):
    layer = window.project.layers["路灯"]
    dock = window.panels["table"]
    dock.set_layer(layer)
    dock.filter_edit.setText("")
    dock.apply_filter()
    dock.act_edit.setChecked(True)
    yield layer
    window.edits.stop(layer, save=False)


def cell(dock, row, field):
    return dock.model.index(row, dock.model.columns.index(field))


def gpkg_of(window):
    return window.project.layers["路灯"].source


def test_editors_fit_the_field(window, qapp):
    from PySide6.QtWidgets import QWidget

    layer = window.project.layers["路灯"]
    parent = QWidget()
    status = create_field_editor(parent, layer, "status")
    assert isinstance(status, QComboBox)
    labels = [status.itemText(i) for i in range(status.count())]
    assert "维修中 (3)" in labels and "（空）" not in labels  # status is required
    set_editor_value(status, 3)
    assert status.currentText() == "维修中 (3)" and editor_value(status) == 3
    date = create_field_editor(parent, layer, "install_date")
    assert isinstance(date, QDateEdit) and date.calendarPopup()
    set_editor_value(date, pd.Timestamp("2019-05-06"))
    assert date.date() == QDate(2019, 5, 6) and editor_value(date) == "2019-05-06"
    power = create_field_editor(parent, layer, "power_w")
    assert isinstance(power, QDoubleSpinBox) and power.suffix() == " W"
    assert (power.minimum(), power.maximum()) == (5, 2000)  # the catalogue's range
    heads = create_field_editor(parent, layer, "heads")
    assert isinstance(heads, QSpinBox)
    owner = create_field_editor(parent, layer, "owner")
    assert isinstance(owner, QLineEdit)
    parent.deleteLater()


def test_edit_status_through_the_delegate_then_undo_redo(window, lights):
    dock = window.panels["table"]
    index = cell(dock, 3, "status")
    fid = int(dock.model.fids_of_rows(np.array([3]))[0])
    original = lights.frame.at[fid, "status"]
    assert dock.model.flags(index) & Qt.ItemFlag.ItemIsEditable
    editor = dock.delegate.createEditor(dock.view.viewport(), QStyleOptionViewItem(), index)
    dock.delegate.setEditorData(editor, index)
    assert editor.currentData() == original
    editor.setCurrentIndex(editor.findText("维修中 (3)"))
    dock.delegate.setModelData(editor, dock.model, index)
    editor.deleteLater()
    assert lights.frame.at[fid, "status"] == 3  # the code is stored
    assert dock.model.data(index) == "维修中"  # the label is shown
    layer_editor = window.edits.editor(lights)
    assert layer_editor.is_modified(fid, "status")
    # a second edit, then Ctrl+Z / Ctrl+Y through the window's undo actions
    power_fid = int(dock.model.fids_of_rows(np.array([5]))[0])
    power_before = lights.frame.at[power_fid, "power_w"]
    assert dock.model.setData(cell(dock, 5, "power_w"), 88.5, Qt.ItemDataRole.EditRole)
    undo, redo = window.panels_actions["undo"], window.panels_actions["redo"]
    assert undo.shortcut().toString() == "Ctrl+Z" and "Ctrl+Y" in [s.toString() for s in redo.shortcuts()]
    assert layer_editor.stack.count() == 2
    undo.trigger()
    assert lights.frame.at[power_fid, "power_w"] == power_before
    undo.trigger()
    assert lights.frame.at[fid, "status"] == original and not layer_editor.has_changes
    assert dock.model.data(index, Qt.ItemDataRole.BackgroundRole) is None
    redo.trigger()
    redo.trigger()
    assert lights.frame.at[fid, "status"] == 3 and lights.frame.at[power_fid, "power_w"] == 88.5
    dock.rollback()
    assert lights.frame.at[fid, "status"] == original and lights.frame.at[power_fid, "power_w"] == power_before
    assert layer_editor.stack.count() == 0


def test_rejected_input_names_field_value_and_rule(window, lights):
    dock = window.panels["table"]
    messages = []
    dock.model.edit_rejected.connect(messages.append)
    fid = int(dock.model.fids_of_rows(np.array([0]))[0])
    before = lights.frame.loc[fid].copy()
    assert not dock.model.setData(cell(dock, 0, "power_w"), 99999, Qt.ItemDataRole.EditRole)
    assert "power_w" in messages[-1] and "额定功率" in messages[-1] and "99999" in messages[-1]
    assert not dock.model.setData(cell(dock, 0, "status"), "坏了", Qt.ItemDataRole.EditRole)
    assert "状态" in messages[-1] and "坏了" in messages[-1] and "code list" in messages[-1]
    assert not dock.model.setData(cell(dock, 0, "install_date"), "2020-13-45", Qt.ItemDataRole.EditRole)
    assert "install_date" in messages[-1] and "2020-13-45" in messages[-1]
    assert dock.last_message == messages[-1]
    after = lights.frame.loc[fid]
    assert after.drop("geometry").equals(before.drop("geometry"))
    assert not window.edits.editor(lights).has_changes
    assert window.edits.editor(lights).stack.count() == 0


def test_batch_edit_of_the_selection_is_one_undo_step(window, lights):
    dock = window.panels["table"]
    fids = lights.frame.index[[1, 4, 9, 16]].to_numpy()
    before = lights.frame.loc[fids, "status"].copy()
    lights.selection = fids.tolist()
    assert dock.batch_edit("status", "维修中")
    editor = window.edits.editor(lights)
    assert (lights.frame.loc[fids, "status"] == 3).all()
    assert editor.stack.count() == 1 and editor.cell_count == int((before != 3).sum())
    window.panels_actions["undo"].trigger()
    assert lights.frame.loc[fids, "status"].equals(before)
    window.panels_actions["redo"].trigger()
    assert (lights.frame.loc[fids, "status"] == 3).all()
    lights.selection = ()


def test_commit_off_the_gui_thread_writes_values_and_change_log(window, lights):
    dock = window.panels["table"]
    path = gpkg_of(window)
    fid_a, fid_b = (int(f) for f in lights.frame.index[[7, 8]])
    window.edits.editor(lights).set_value(fid_a, "status", "故障")
    window.edits.editor(lights).set_value(fid_b, "owner", "市南区测试单位")
    committed = []
    window.edits.committed.connect(lambda layer, result: committed.append(result))
    handle = dock.commit()
    assert handle is not None and hasattr(handle, "finished")  # a task on the runner, not a blocking call
    assert wait_until(lambda: committed, 60)
    result = committed[0]
    assert result.ok and result.cells == 2 and set(result.committed_fids.tolist()) == {fid_a, fid_b}
    editor = window.edits.editor(lights)
    assert not editor.has_changes and editor.stack.isClean()
    assert dock.model.data(cell(dock, 7, "status"), Qt.ItemDataRole.BackgroundRole) is None
    disk = pyogrio.read_dataframe(path, layer="streetlights", fid_as_index=True)
    assert disk.loc[fid_a, "status"] == 2 and disk.loc[fid_b, "owner"] == "市南区测试单位"
    log = pyogrio.read_dataframe(path, layer="qdt_change_log")  # GDAL/QGIS see the change log too
    rows = log[log["commit_id"] == result.commit_id]
    assert len(read_change_log(path, commit_id=result.commit_id)) == 2
    assert set(rows["layer"]) == {"streetlights"}
    cells = set(zip(rows["feature_fid"].astype(int), rows["field"], strict=True))
    assert cells == {(fid_a, "status"), (fid_b, "owner")}
    new_values = dict(zip(rows["field"], rows["new_value"], strict=True))
    assert str(new_values["status"]) == "2" and new_values["owner"] == "市南区测试单位"


def test_commit_conflict_is_reported_and_edits_kept(window, lights):
    path = gpkg_of(window)
    fid = int(lights.frame.index[20])
    editor = window.edits.editor(lights)
    editor.set_value(fid, "maintainer", "我的养护单位")
    # another engineer changes the same cell in the file meanwhile
    other = load_layer(LayerSource(path, layer="streetlights", feature_class="streetlight", name="路灯")).layer
    session = start_editing(other, user="另一位工程师")
    session.set_value(fid, "maintainer", "他的养护单位")
    assert session.commit().ok
    session.close()
    reported = []
    editor.conflicts.connect(reported.append)
    window.edits.commit(lights)
    assert wait_until(lambda: reported, 60)
    assert reported[0][0].fid == fid and reported[0][0].theirs == "他的养护单位"
    assert editor.has_changes and lights.frame.at[fid, "maintainer"] == "我的养护单位"
    dialog = ConflictDialog(lights, reported[0], editor, window)
    assert "他的养护单位" in dialog.detailedText()
    dialog.buttonClicked.emit(dialog.take_theirs)
    dialog.deleteLater()
    assert lights.frame.at[fid, "maintainer"] == "他的养护单位" and not editor.has_changes
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_inspector_edits_in_place(window, lights):
    from qdt.render.picking import PickResult

    fid = int(lights.frame.index[30])
    xyz = np.array([*lights.frame.geometry.loc[fid].coords[0], 5.0])
    window.inspector.show_pick(PickResult(lights, fid, xyz, xyz, 1.0))
    tree = window.inspector.tree
    items = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert items["状态"].flags() & Qt.ItemFlag.ItemIsEditable
    assert window.inspector.edit_hint.isVisibleTo(window.inspector)
    assert window.inspector.edit_value("status", 4)
    items = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert items["状态"].text(1).startswith("停用") and items["状态"].background(1).color().red() == 255
    assert lights.frame.at[fid, "status"] == 4
    assert not window.inspector.edit_value("power_w", -3)
    assert "power_w" in window.inspector.last_error and "-3" in window.inspector.last_error
    window.panels_actions["undo"].trigger()
    assert lights.frame.at[fid, "status"] != 4


def test_close_prompt_with_uncommitted_edits(window, lights):
    editor = window.edits.editor(lights)
    fid = int(lights.frame.index[2])
    editor.set_value(fid, "owner", "未提交的单位")
    assert window.has_uncommitted_edits()
    answers = []
    window.edits._ask_save = lambda layers: answers.append([lyr.name for lyr in layers])  # → None: cancel
    assert window.close() is False
    assert window.isVisible() and answers == [["路灯"]] and window.has_uncommitted_edits()
    assert window.confirm_uncommitted_edits() is False
    window.edits._ask_save = lambda layers: False  # discard
    assert window.confirm_uncommitted_edits() is True
    assert not window.has_uncommitted_edits() and lights.frame.at[fid, "owner"] != "未提交的单位"
    del window.edits._ask_save
