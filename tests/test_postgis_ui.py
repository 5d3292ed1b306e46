"""The main window reloads database layers around the camera, off the GUI thread (qdt.ui.db_refresh)."""

from __future__ import annotations

import json
import socket

import numpy as np
import psycopg
import pytest

from qdt.io import LayerSource, load_layer
from qdt.io.postgis import apply_window, import_geopackage, loader_for
from tests.conftest import SAMPLE_GPKG


@pytest.fixture(scope="module")
def db(pg_cluster):
    dsn = pg_cluster.new_database()
    import_geopackage(dsn, SAMPLE_GPKG, schema="city", layers=["buildings"])
    return dsn


def test_apply_window_replaces_features_and_versions(db):
    layer = load_layer(LayerSource("postgis:" + db, layer="city.buildings", feature_class="building")).layer
    full = layer.feature_count
    seen = []
    layer.events.data.connect(lambda *a: seen.append(1))
    x0, y0, x1, y1 = layer.bounds
    view = (x0, y0, x0 + (x1 - x0) / 4, y0 + (y1 - y0) / 4)
    window = loader_for(layer, margin=0.0).load(view)
    apply_window(layer, window)
    assert 0 < layer.feature_count < full and seen == [1]
    assert list(layer.metadata["row_versions"].index) == list(layer.fids)
    from qdt.io.window import in_window_tiles

    assert in_window_tiles(layer.geometry, view).all()  # the tiles covering the view (issue 17)


def test_camera_move_reloads_database_layer_in_background(db, qtbot, tmp_path):
    from qdt.ui.app import create_application
    from qdt.ui.db_refresh import view_bbox
    from qdt.ui.mainwindow import MainWindow

    doc = {"format": "qdt-project", "version": 1, "name": "db", "crs": "EPSG:4549", "layers": [
        {"name": "建筑", "kind": "vector", "source": "postgis:" + db, "layer": "city.buildings",
         "feature_class": "building"}]}
    path = tmp_path / "db.qdt"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1000, 700)
    with qtbot.waitExposed(win, timeout=30_000):
        win.show()
    try:
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):
            win.open_project(path)
        refresher = win.db_refresher  # the main window attaches it
        refresher.timer.setInterval(10)
        refresher.listen_timer.stop()  # polled by hand below
        layer = win.project.layers[0]
        with psycopg.connect(db) as con:
            full = con.execute("SELECT count(*) FROM city.buildings").fetchone()[0]
        # opened as a view window (the project has no camera: around the table's extent centre)
        assert layer.metadata["view_window"] is not None and layer.metadata["truncated"] is False
        assert 0 < layer.feature_count <= full
        x0, y0, x1, y1 = layer.bounds
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        win.scene.fly_to_extent((cx - 60, cy - 40, cx + 60, cy + 40))
        bbox = view_bbox(win)
        assert bbox is not None and bbox[2] - bbox[0] < (x1 - x0)
        seen: list[int] = []
        layer.events.data.connect(lambda *a: seen.append(layer.feature_count))
        win.view.camera_changed.emit()
        qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
        assert 0 < seen[-1] < full
        window_bbox = layer.metadata["view_window"]
        from qdt.io.window import in_window_tiles

        assert in_window_tiles(layer.geometry, window_bbox).all()  # the tiles covering the window
        # a small pan inside the loaded margin starts nothing
        assert refresher.refresh() == 0
        assert np.isfinite(layer.bounds).all()
        # another workstation commits an edit of a visible building: the layer learns of it
        uri = layer.metadata["postgis"]["uri"]
        assert refresher.poll_edits() == 1  # connects the listener on a worker thread
        qtbot.waitUntil(lambda: uri in refresher.listeners, timeout=60_000)
        other = load_layer(LayerSource("postgis:" + db, layer="city.buildings", feature_class="building")).layer
        fid = int(layer.fids[0])
        from qdt.edit import start_editing

        with start_editing(other, user="其他工位") as session:
            session.set_value(fid, "name", "新名称")
            assert session.commit().ok
        qtbot.waitUntil(lambda: refresher.poll_edits() >= 0 and layer.frame.loc[fid, "name"] == "新名称",
                        timeout=60_000)
        assert refresher.refreshed >= 1
        assert int(layer.metadata["row_versions"].loc[fid]) == int(other.metadata["row_versions"].loc[fid])
        refresher.close()
    finally:
        win.tasks.wait(30_000)
        win.close()


def test_unreachable_server_is_polled_off_the_gui_thread_with_back_off(db, qtbot, tmp_path):
    """A server that accepts the TCP connection but never answers: connecting the listener waits
    for the connect timeout on a worker, poll_edits returns at once, the user is told once, and
    the next tries wait a doubling delay."""
    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever speaks
    port = silent.getsockname()[1]
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    try:
        refresher = win.db_refresher
        refresher.listen_timer.stop()
        layer = load_layer(LayerSource("postgis:" + db, layer="city.buildings", feature_class="building")).layer
        dead = f"postgis:host=127.0.0.1 port={port} dbname=city user=nobody"
        layer.metadata["postgis"] = {**layer.metadata["postgis"], "uri": dead}
        from qdt.project import Project

        win.project = Project("dead")  # not shown in the scene: only the refresher looks at it
        win.project.layers.append(layer)
        assert refresher.poll_edits() == 1
        handle = refresher._polling[dead]
        assert not handle.done  # the GUI thread is free while the worker waits for the server
        assert refresher.poll_edits() == 0  # one poll per server at a time
        qtbot.waitUntil(lambda: dead not in refresher._polling, timeout=30_000)
        first = refresher._backoff[dead]
        assert refresher.poll_edits() == 0  # backing off
        refresher._retry_at[dead] = 0.0  # the delay has passed
        assert refresher.poll_edits() == 1
        qtbot.waitUntil(lambda: dead not in refresher._polling, timeout=30_000)
        assert refresher._backoff[dead] == 2 * first
        log = win.log.toPlainText()
        assert log.count("数据库编辑通知中断") == 1 and "127.0.0.1" in log
    finally:
        refresher.close()
        win.project = None
        win.tasks.wait(30_000)
        win.close()
        silent.close()


def test_tables_missing_a_key_or_index_are_offered_a_fix(db, qtbot, tmp_path):
    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    with psycopg.connect(db) as con:
        con.execute("CREATE TABLE city.no_key AS SELECT code, geom FROM city.buildings")
        con.execute("CREATE TABLE city.no_index AS SELECT fid, code, geom FROM city.buildings")
        con.execute("ALTER TABLE city.no_index ADD PRIMARY KEY (fid)")
    doc = {"format": "qdt-project", "version": 1, "name": "fix", "crs": "EPSG:4549", "layers": [
        {"name": name, "kind": "vector", "source": "postgis:" + db, "layer": f"city.{name}"}
        for name in ("no_key", "no_index")]}
    path = tmp_path / "fix.qdt"
    path.write_text(json.dumps(doc), encoding="utf-8")
    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):
            win.open_project(path)
        no_key, no_index = win.project.entries
        assert not no_key.available and no_key.needs_fix == "primary key" and "qdt db fix" in no_key.error
        assert no_index.available and no_index.needs_fix == "spatial index"
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):  # fixed, then the project reopens
            win.fix_database_tables([no_key, no_index])
        no_key, no_index = win.project.entries
        assert no_key.available and no_index.available and not no_key.needs_fix and not no_index.needs_fix
        assert no_key.layer.feature_count > 0
    finally:
        win.project.dirty = False
        win.close()


def test_add_database_layer_loads_a_view_window_and_saves_its_source(db, qtbot, tmp_path):
    from qdt.io.postgis import DEFAULT_BUDGET
    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    create_application()
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    try:
        uri = "postgis:" + db
        with qtbot.waitSignal(win.layers_added, timeout=120_000) as blocker:
            win.add_database_layers(uri, ["city.buildings", "city.nothing_here"])
        added, errors = blocker.args
        assert [layer.name for layer in added] == ["buildings"]
        assert len(errors) == 1 and "nothing_here" in errors[0]  # a missing table is named, the rest added
        layer = added[0]
        assert 0 < layer.feature_count <= DEFAULT_BUDGET and layer.metadata["view_window"]
        assert win.project.dirty
        path = tmp_path / "db.qdt"
        assert win.save_project(path)
        saved = json.loads(path.read_text(encoding="utf-8"))["layers"]
        assert saved[0]["source"] == uri and saved[0]["layer"] == "city.buildings"
        assert "password" not in path.read_text(encoding="utf-8")
    finally:
        if win.project is not None:
            win.project.dirty = False
        win.close()
