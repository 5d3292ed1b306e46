"""Attribute table: a model over the layer frame (300k rows, sort, filter), catalogue labels, and
selection synchronised both ways with the layer model and the 3D scene in the real main window."""

from __future__ import annotations

import shutil
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt

from qdt.layers import VectorLayer
from qdt.query import ExpressionError
from qdt.ui.attribute_table import MODIFIED_BRUSH, AttributeTableModel
from tests.conftest import SAMPLE_DIR


# --------------------------------------------------------------------------------------------
# the real window on a private copy of the sample project (shared by the GUI test modules)
# --------------------------------------------------------------------------------------------
def open_sample_window(folder):
    """A MainWindow showing a copy of the sample project in ``folder`` (waits until loaded)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    create_application()
    shutil.copytree(SAMPLE_DIR, folder / "sample")
    win = MainWindow()
    win.resize(1400, 900)
    win.show()
    win.edits.ask = False  # no modal prompts in tests
    win.ask_unsaved_changes = lambda: QMessageBox.StandardButton.Discard
    loaded = []
    win.project_loaded.connect(loaded.append)
    win.open_project(folder / "sample" / "qingdao_shinan.qdt")
    deadline = time.monotonic() + 180
    while not loaded and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)
    assert loaded, "the sample project did not load"
    QApplication.processEvents()
    return win


def close_window(win):
    from PySide6.QtWidgets import QApplication

    win.edits.ask = False
    win.close()
    win.deleteLater()
    QApplication.processEvents()


def wait_until(condition, timeout=30.0):
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.005)
    return condition()


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("table"))
    yield win
    close_window(win)


# --------------------------------------------------------------------------------------------
# the model on its own
# --------------------------------------------------------------------------------------------
def big_lights(n=300_000, seed=7):
    rng = np.random.default_rng(seed)
    status = pd.array(rng.integers(1, 5, n), dtype="Int64")
    status[rng.random(n) < 0.01] = pd.NA
    frame = gpd.GeoDataFrame({
        "code": np.char.add("L", np.arange(n).astype(str)).astype(object),
        "power_w": rng.uniform(20, 400, n).round(1),
        "status": status,
        "road_name": rng.choice(np.array(["香港中路", "东海西路", "澳门路"], dtype=object), n),
    }, geometry=shapely.points(rng.uniform(533600, 535600, n), rng.uniform(3991500, 3993000, n)), crs="EPSG:4549",
        index=pd.Index(np.arange(10, 10 + n, dtype=np.int64) * 3, name="fid"))
    return VectorLayer("路灯", frame, feature_class="streetlight")


def test_model_over_300k_rows_counts_sorts_and_filters(qapp):
    layer = big_lights()
    model = AttributeTableModel(layer)
    assert model.rowCount() == 300_000
    assert model.columnCount() == 4
    power = model.columns.index("power_w")
    model.sort(power, Qt.SortOrder.DescendingOrder)
    shown = layer.frame["power_w"].to_numpy()[model.rows]
    assert np.all(np.diff(shown) <= 0)
    assert model.data(model.index(0, power)) == f"{shown[0]:.1f}".rstrip("0").rstrip(".")
    # filter keeps the sort, and equals the same filter in pandas
    count = model.set_filter("状态 = '故障' AND 额定功率 >= 200")
    expected = ((layer.frame["status"] == 2) & (layer.frame["power_w"] >= 200)).fillna(False).to_numpy()
    assert count == model.rowCount() == int(expected.sum())
    assert np.array_equal(np.sort(model.rows), np.flatnonzero(expected))
    assert np.all(np.diff(layer.frame["power_w"].to_numpy()[model.rows]) <= 0)
    # fids ↔ rows round trip
    fids = model.fids_of_rows(np.arange(0, model.rowCount(), 97))
    assert np.array_equal(model.rows_of_fids(fids), np.arange(0, model.rowCount(), 97))
    assert len(model.rows_of_fids([layer.fids[~expected][0]])) == 0  # filtered out: no row
    # nulls sort last; clearing the filter shows everything again
    model.set_filter("")
    status = model.columns.index("status")
    model.sort(status, Qt.SortOrder.AscendingOrder)
    values = layer.frame["status"].iloc[model.rows]
    assert values.isna().to_numpy()[-1] and not values.isna().to_numpy()[0]
    assert model.rowCount() == 300_000


def test_model_bad_filter_names_the_position_and_keeps_rows(qapp):
    layer = big_lights(1000)
    model = AttributeTableModel(layer)
    model.set_filter("power_w > 100")
    before = model.rows.copy()
    with pytest.raises(ExpressionError) as info:
        model.set_filter("power_w > > 100")
    assert info.value.position == 11 and "position 11" in str(info.value)  # the second ">"
    assert np.array_equal(model.rows, before)
    with pytest.raises(ExpressionError, match="nosuchfield"):
        model.set_filter("nosuchfield = 1")


def test_headers_and_cells_use_catalogue_names_units_and_labels(qapp):
    layer = big_lights(50)
    model = AttributeTableModel(layer)
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert headers == ["对象编码", "额定功率 (W)", "状态", "所在道路"]
    status = model.columns.index("status")
    codes = layer.frame["status"].to_numpy()
    row = int(np.flatnonzero(pd.Series(codes).eq(2).fillna(False).to_numpy())[0])
    cell = model.index(row, status)
    assert model.data(cell) == "故障"
    assert "2" in model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert model.data(cell, Qt.ItemDataRole.EditRole) == 2
    null_row = int(np.flatnonzero(pd.isna(codes))[0])
    assert model.data(model.index(null_row, status)) == "NULL"
    assert model.headerData(0, Qt.Orientation.Vertical) == str(int(layer.frame.index[0]))
    assert not (model.flags(cell) & Qt.ItemFlag.ItemIsEditable)  # not in edit mode


# --------------------------------------------------------------------------------------------
# in the main window
# --------------------------------------------------------------------------------------------
def lights_of(window):
    return window.project.layers["路灯"]


def test_table_dock_filters_by_expression(window):
    dock = window.panels["table"]
    lights = lights_of(window)
    dock.set_layer(lights)
    dock.filter_edit.setText("状态 = '故障'")
    assert dock.apply_filter()
    expected = int((lights.frame["status"] == 2).sum())
    assert 0 < expected < len(lights.frame)
    assert dock.model.rowCount() == expected
    assert f"{expected}/{len(lights.frame)}" in dock.count_label.text()
    dock.filter_edit.setText("状态 = '故障' AND")
    assert not dock.apply_filter()
    assert dock.error_label.isVisibleTo(dock) and "position" in dock.error_label.text()
    assert dock.model.rowCount() == expected  # unchanged
    dock.filter_edit.setText("")
    assert dock.apply_filter()
    assert dock.model.rowCount() == len(lights.frame)


def highlighted_fids(window, layer):
    from qdt.render.visual import HIGHLIGHT

    visual = window.scene.visual(layer)
    found = set()
    for part in visual.parts:
        if part.colours is None or part.colour_fids is None:
            continue
        lit = np.all(part.colours == HIGHLIGHT, axis=1)
        found |= set(np.unique(part.colour_fids[lit]).tolist())
    return found


def test_table_selection_selects_in_layer_and_scene(window):
    dock = window.panels["table"]
    lights = lights_of(window)
    dock.set_layer(lights)
    dock.filter_edit.setText("")
    dock.apply_filter()
    model = dock.model
    selection = QItemSelection()
    last = model.columnCount() - 1
    for a, b in ((2, 4), (10, 10)):
        selection.select(model.index(a, 0), model.index(b, last))
    dock.view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    expected = set(model.fids_of_rows(np.array([2, 3, 4, 10])).tolist())
    assert lights.selection == expected
    assert highlighted_fids(window, lights) == expected
    # the other way: a selection made elsewhere (a query) shows in the table
    lights.selection = {int(lights.frame.index[100]), int(lights.frame.index[200])}
    assert set(model.fids_of_rows(dock.selected_rows()).tolist()) == lights.selection
    # zoom to selected moves the camera onto them
    before = window.scene.camera_state()
    dock.zoom_to_selected()
    after = window.scene.camera_state()
    assert not np.allclose(before["focal_point"], after["focal_point"])
    pts = shapely.get_coordinates(lights.geometry[[100, 200]])
    assert np.allclose(after["focal_point"][:2], pts.mean(axis=0), atol=30)
    dock.clear_selection()
    assert len(dock.selected_rows()) == 0


def test_sorting_keeps_the_selection_on_its_features(window):
    dock = window.panels["table"]
    lights = lights_of(window)
    dock.set_layer(lights)
    lights.selection = {int(lights.frame.index[5])}
    power = dock.model.columns.index("power_w")
    dock.view.sortByColumn(power, Qt.SortOrder.DescendingOrder)
    assert set(dock.model.fids_of_rows(dock.selected_rows()).tolist()) == lights.selection
    shown = lights.frame["power_w"].to_numpy()[dock.model.rows]
    assert np.all(np.diff(shown[~np.isnan(shown)]) <= 0)
    dock.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)


def test_pick_in_view_selects_the_row(window):
    dock = window.panels["table"]
    lights = lights_of(window)
    dock.set_layer(window.project.layers["道路"])
    fid = int(lights.frame.index[40])
    window.fly_to_feature(lights, fid)
    window.view.render_image()
    xmin, xmax, ymin, ymax, zmin, zmax = window.scene.feature_bounds(lights, fid)
    centre = np.array([[(xmin + xmax) / 2, (ymin + ymax) / 2, (zmin + zmax) / 2]])
    x, y, _ = window.scene.to_display(centre)[0]
    result = window.view.pick_at(int(round(x)), int(round(y)))
    assert result is not None and result.layer is lights and result.fid == fid
    assert dock.layer is lights
    assert lights.selection == {fid}
    assert model_selected_fids(dock) == {fid}
    assert window.inspector.current == (lights, fid)


def model_selected_fids(dock):
    return set(dock.model.fids_of_rows(dock.selected_rows()).tolist())


def test_modified_cells_are_marked(window):
    dock = window.panels["table"]
    lights = lights_of(window)
    dock.set_layer(lights)
    dock.act_edit.setChecked(True)
    try:
        editor = window.edits.editor(lights)
        assert editor is not None
        status = dock.model.columns.index("status")
        fid = int(dock.model.fids_of_rows(np.array([0]))[0])
        assert dock.model.flags(dock.model.index(0, status)) & Qt.ItemFlag.ItemIsEditable
        assert dock.model.data(dock.model.index(0, status), Qt.ItemDataRole.BackgroundRole) is None
        editor.set_value(fid, "status", "停用")
        assert dock.model.data(dock.model.index(0, status)) == "停用"
        assert dock.model.data(dock.model.index(0, status), Qt.ItemDataRole.BackgroundRole) == MODIFIED_BRUSH
        assert "未提交" in dock.windowTitle()
    finally:
        window.edits.stop(lights, save=False)
    assert not dock.act_edit.isChecked()
    assert dock.model.data(dock.model.index(0, status), Qt.ItemDataRole.BackgroundRole) is None


def test_model_follows_a_replaced_frame(qapp):
    layer = big_lights(100)
    model = AttributeTableModel(layer)
    model.set_filter("power_w > 100")
    smaller = layer.frame.iloc[:40].drop(columns=["road_name"])
    layer.replace_frame(smaller)
    model.reload()
    assert model.columnCount() == 3 and "所在道路" not in [model.headerData(i, Qt.Orientation.Horizontal)
                                                          for i in range(3)]
    assert model.rowCount() == int((smaller["power_w"] > 100).sum())


def test_layer_chooser_follows_the_project(window):
    dock = window.panels["table"]
    names = [dock.layer_box.itemText(i).split(" (")[0] for i in range(dock.layer_box.count())]
    vector = [lyr.name for lyr in window.project.layers if isinstance(lyr, VectorLayer)]
    assert names == vector
    cabinets = window.project.layers["设施箱柜"]
    dock.set_layer(cabinets)
    window.project.layers.remove(cabinets)
    names = [dock.layer_box.itemText(i).split(" (")[0] for i in range(dock.layer_box.count())]
    assert "设施箱柜" not in names and dock.layer is not cabinets and dock.layer is not None
