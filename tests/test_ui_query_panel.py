"""Query dialog and results panel in the real window: run → rows listed and selected, zoom-to,
export to CSV / GeoJSON / GeoPackage, clear errors with the position."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from PySide6.QtCore import Qt

from qdt.ui.tasks import TaskHandle
from tests.test_ui_attribute_table import close_window, open_sample_window, wait_until


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("query"))
    yield win
    close_window(win)


def run_dialog(window, mode, layer, where="", **kw):
    dialog = window.panels["query"]
    dialog.refresh_layers()
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData(mode))
    dialog.layer_box.setCurrentIndex(dialog.layer_box.findData(layer))
    dialog.where_edit.setText(where)
    if "predicate" in kw:
        dialog.predicate_box.setCurrentIndex(dialog.predicate_box.findData(kw["predicate"]))
    if "other" in kw:
        dialog.other_box.setCurrentIndex(dialog.other_box.findData(kw["other"]))
    dialog.other_where_edit.setText(kw.get("other_where", ""))
    dialog.distance_spin.setValue(kw.get("distance", 0.0))
    dialog.k_spin.setValue(kw.get("k", 1))
    got = []
    dialog.finished_query.connect(got.append)
    dialog.failed_query.connect(got.append)
    handle = dialog.run()
    assert handle is not None, dialog.error_label.text()
    assert wait_until(lambda: got, 60)
    dialog.finished_query.disconnect()
    dialog.failed_query.disconnect()
    return got[0]


def listed_fids(window):
    rows = window.panels["results"].rows
    return rows["fid"].to_numpy(dtype=np.int64)


def test_attribute_query_lists_and_selects_results(window):
    lights = window.project.layers["路灯"]
    result = run_dialog(window, "attribute", "路灯", "状态 = '故障' AND 额定功率 >= 100")
    expected = lights.frame.index[((lights.frame["status"] == 2) & (lights.frame["power_w"] >= 100)).to_numpy()]
    assert 0 < len(expected) < len(lights.frame)
    assert np.array_equal(result.fids, expected.to_numpy())
    dock = window.panels["results"]
    assert dock.isVisible() and dock.view.model().rowCount() == len(expected)
    assert np.array_equal(listed_fids(window), expected.to_numpy())
    assert lights.selection == set(expected.tolist())
    headers = [dock.view.model().headerData(i, Qt_h()) for i in range(dock.view.model().columnCount())]
    assert "状态" in headers and "额定功率 (W)" in headers
    # the attribute table shows the same selection
    table = window.panels["table"]
    table.set_layer(lights)
    assert set(table.model.fids_of_rows(table.selected_rows()).tolist()) == lights.selection
    # zoom to a result row
    before = window.scene.camera_state()["focal_point"]
    dock.zoom_to_row(0)
    after = window.scene.camera_state()["focal_point"]
    x, y = lights.frame.geometry.loc[expected[0]].coords[0]
    assert not np.allclose(before, after) and np.allclose(after[:2], (x, y), atol=5)


def Qt_h():  # noqa: N802
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


def test_location_query_matches_geopandas(window):
    lights = window.project.layers["路灯"]
    zones = window.project.layers["网格"]
    zone = str(zones.frame["grid_code"].iloc[3])
    result = run_dialog(window, "location", "路灯", "", predicate="within", other="网格",
                        other_where=f"grid_code = '{zone}'")
    pts = gpd.GeoDataFrame(geometry=lights.frame.geometry, crs=lights.crs)
    polys = gpd.GeoDataFrame(geometry=zones.frame.geometry[zones.frame["grid_code"] == zone], crs=zones.crs)
    expected = np.unique(gpd.sjoin(pts, polys, predicate="within").index.to_numpy())
    assert len(expected) > 0 and np.array_equal(result.fids, expected)
    assert np.array_equal(listed_fids(window), expected)
    assert lights.selection == set(expected.tolist())


def test_nearest_lists_distances(window):
    result = run_dialog(window, "nearest", "智慧杆", "", other="路灯", k=2)
    rows = window.panels["results"].rows
    assert {"nearest_fid", "distance", "rank"} <= set(rows.columns)
    assert len(rows) == len(result.nearest) == 2 * window.project.layers["智慧杆"].feature_count
    poles, lights = window.project.layers["智慧杆"], window.project.layers["路灯"]
    first = rows.iloc[0]
    d = poles.frame.geometry.loc[int(first["fid"])].distance(lights.frame.geometry.loc[int(first["nearest_fid"])])
    assert abs(d - float(first["distance"])) < 1e-6


def test_bad_expression_shows_position_and_runs_nothing(window):
    dialog = window.panels["query"]
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("attribute"))
    dialog.layer_box.setCurrentIndex(dialog.layer_box.findData("路灯"))
    dialog.where_edit.setText("状态 = = '故障'")
    assert dialog.run() is None
    text = dialog.error_label.text()
    assert "position 6" in text
    assert dialog.where_edit.cursorPosition() == 5
    dialog.where_edit.setText("灯的颜色 = 'red'")  # parses; the field is unknown when evaluated
    failed = []
    dialog.failed_query.connect(failed.append)
    dialog.run()
    assert wait_until(lambda: failed, 60)
    dialog.failed_query.disconnect()
    assert "灯的颜色" in dialog.error_label.text() and "路灯" in failed[0]


def test_clearance_check_lists_violations(window):
    from qdt.query import check_clearances

    pipes = window.project.layers["地下管线"]
    report = run_dialog(window, "clearance", "地下管线")
    dock = window.panels["results"]
    assert dock.view.model().rowCount() == report.count
    dem = next(lyr for lyr in window.project.layers if getattr(lyr, "role", None) == "dem")
    assert report.count == check_clearances(pipes, dem=dem).count
    if report.count:
        assert pipes.selection == set(dock.result_fids().tolist())
        assert "GB 50289" in dock.summary.text()
    # people read names, 水平/垂直, the standard and a verified column — not codes and English words
    model = dock.view.model()
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    cells = {headers[c]: model.index(0, c).data() for c in range(model.columnCount())}
    assert {cells["管线A"], cells["管线B"]} == {"给水", "燃气"} and cells["净距类型"] in ("水平", "垂直")
    assert cells["依据"].startswith("GB 50289-2016 Table") and "confirm" not in cells["依据"]
    assert cells["已核实"] == "否"


def export_and_wait(dock, path, suffix):
    """Start an export (off the GUI thread) and wait for its outcome: the Path, or None on failure."""
    got = []
    dock.exported.connect(got.append)
    dock.export_failed.connect(lambda _m: got.append(None))
    handle = dock.export(path, suffix)
    assert isinstance(handle, TaskHandle)
    assert wait_until(lambda: got, 60)
    dock.exported.disconnect()
    dock.export_failed.disconnect()
    return got[0]


def test_export_buttons_write_csv_geojson_gpkg(window, tmp_path):
    result = run_dialog(window, "attribute", "路灯", "状态 = '维修中'")
    dock = window.panels["results"]
    csv = export_and_wait(dock, tmp_path / "r.csv", ".csv")
    geojson = export_and_wait(dock, tmp_path / "r.geojson", ".geojson")
    gpkg = export_and_wait(dock, tmp_path / "r.gpkg", ".gpkg")
    assert np.array_equal(pd.read_csv(csv)["fid"].to_numpy(), result.fids)
    gj = pyogrio.read_dataframe(geojson)
    assert len(gj) == result.count and gj.crs.to_epsg() == 4326
    gp = pyogrio.read_dataframe(gpkg, fid_as_index=True)
    assert len(gp) == result.count and gp.crs.to_epsg() == 4549
    assert export_and_wait(dock, tmp_path / "missing" / "r.csv", ".csv") is None
    assert "missing" in dock.last_error and "missing" in window.statusBar().currentMessage()
    # the file is written by a task on the window's runner (a worker thread), not on the GUI thread
    assert dock.export_handle.task.title == "正在导出查询结果…" and dock.export_handle.done


def test_thread_runner_delivers_results_on_the_gui_thread_even_for_instant_tasks(qapp):
    import threading

    from PySide6.QtCore import QObject

    from qdt.tasks import Task
    from qdt.ui.tasks import TaskRunner

    class Receiver(QObject):
        def __init__(self):
            super().__init__()
            self.got = []

        def done(self, result):
            self.got.append(("done", result, threading.current_thread() is threading.main_thread()))

        def failed(self, message, _details):
            self.got.append(("failed", message, threading.current_thread() is threading.main_thread()))

    runner = TaskRunner()
    receiver = Receiver()

    def boom(progress, cancelled):
        raise ValueError("layer '路灯': no field 'x'")

    for _ in range(20):  # tasks that end at once must not finish before their slots are connected
        runner.start(Task("ok", lambda p, c: 42), finished=receiver.done, failed=receiver.failed)
        runner.start(Task("bad", boom), finished=receiver.done, failed=receiver.failed)
    assert wait_until(lambda: len(receiver.got) == 40, 30)
    assert runner.wait(5000)
    assert sorted({g[:2] for g in receiver.got}) == [("done", 42), ("failed", "layer '路灯': no field 'x'")]
    assert all(on_gui for *_, on_gui in receiver.got)


def test_query_progress_shows_in_the_status_bar_and_cancel_discards_the_result(window):
    dialog = window.panels["query"]
    dock = window.panels["results"]
    shown = run_dialog(window, "attribute", "路灯", "状态 = '故障'")
    assert dock.result is shown
    assert not window.progress.isVisible() and not window.cancel_button.isVisible()

    # a clearance check runs tens of milliseconds: the status bar's cancel button stops it
    dialog.mode_box.setCurrentIndex(dialog.mode_box.findData("clearance"))
    got, steps = [], []
    dialog.finished_query.connect(lambda r: got.append(("finished", r)))
    dialog.failed_query.connect(lambda m: got.append(("failed", m)))
    handle = dialog.run()
    handle.progress.connect(lambda f, _m: steps.append(f))
    assert handle in window.tasks.running
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    assert window.statusBar().currentMessage() == "正在检查管线净距…"
    assert not dialog.run_button.isEnabled() and dialog.cancel_button.isEnabled()
    window.cancel_button.click()
    assert wait_until(lambda: got, 60)
    dialog.finished_query.disconnect()
    dialog.failed_query.disconnect()
    assert got == [("failed", "查询已取消")]
    assert dock.result is shown  # the cancelled check's violations are never listed
    assert dialog.error_label.text() == "查询已取消" and dialog.run_button.isEnabled()
    assert wait_until(lambda: not window.progress.isVisible(), 10) and not window.cancel_button.isVisible()

    # run to the end: the progress bar moves to the end, then hides, and the report is shown
    report = run_dialog(window, "clearance", "地下管线")
    assert dock.result is report and hasattr(report, "violations")
    assert not window.progress.isVisible()


def test_query_task_checks_cancellation_after_the_engine_returns():
    """The engine has no cancel hook: a cancel that arrives while it runs drops its result."""
    from qdt.tasks import Cancelled
    from qdt.ui.query_panel import _stepped

    calls = []
    answers = iter([False, True])  # not cancelled before the engine runs, cancelled while it ran
    fn = _stepped(lambda: calls.append("ran") or 42)
    with pytest.raises(Cancelled):
        fn(lambda f, m: None, lambda: next(answers))
    assert calls == ["ran"]
    with pytest.raises(Cancelled):  # cancelled before it started: the engine never runs
        fn(lambda f, m: None, lambda: True)
    assert calls == ["ran"]
    progress = []
    assert fn(lambda f, m: progress.append(f), lambda: False) == 42
    assert progress[-1] == 1.0 and progress[0] < 1.0


def test_english_mode_names_fields_and_codes_in_english(qapp):
    from qdt.project import open_project
    from qdt.query import Query, run_query
    from qdt.ui import i18n
    from qdt.ui.query_panel import ResultsDock, _field_title
    from tests.conftest import SAMPLE_PROJECT

    project = open_project(SAMPLE_PROJECT)
    lights = project.layers["路灯"]
    result = run_query(Query("路灯", where="status = 2"), project.layers)
    before = i18n.language()
    i18n.set_language("en")
    try:
        assert _field_title(lights, "status") == "Status"
        assert _field_title(lights, "power_w") == "Rated power (W)"
        assert _field_title(lights, "distance") == "Distance (m)"
        dock = ResultsDock(None)
        dock.show_result(result)
        model = dock.view.model()
        headers = [model.headerData(i, Qt_h()) for i in range(model.columnCount())]
        assert "Status" in headers and "状态" not in headers
        column = headers.index("Status")
        assert {model.data(model.index(r, column)) for r in range(model.rowCount())} == {"Fault"}
        dock.deleteLater()
    finally:
        i18n.set_language(before)
    assert _field_title(lights, "status") == "状态"
