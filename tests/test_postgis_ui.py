"""The main window reloads database layers around the camera, off the GUI thread (qdt.ui.db_refresh)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

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
    b = shapely.bounds(layer.geometry)
    assert ((b[:, 0] <= view[2]) & (b[:, 2] >= view[0]) & (b[:, 1] <= view[3]) & (b[:, 3] >= view[1])).all()


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
    win.show()
    qtbot.waitExposed(win)
    try:
        with qtbot.waitSignal(win.project_loaded, timeout=120_000):
            win.open_project(path)
        refresher = win.db_refresher  # the main window attaches it
        refresher.timer.setInterval(10)
        layer = win.project.layers[0]
        full = layer.feature_count
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
        b = shapely.bounds(layer.geometry)
        assert ((b[:, 0] <= window_bbox[2]) & (b[:, 2] >= window_bbox[0])).all()
        # a small pan inside the loaded margin starts nothing
        assert refresher.refresh() == 0
        assert np.isfinite(layer.bounds).all()
        # another workstation commits an edit of a visible building: the layer learns of it
        refresher.poll_edits()  # starts listening
        other = load_layer(LayerSource("postgis:" + db, layer="city.buildings", feature_class="building")).layer
        fid = int(layer.fids[0])
        from qdt.edit import start_editing

        with start_editing(other, user="其他工位") as session:
            session.set_value(fid, "name", "新名称")
            assert session.commit().ok
        qtbot.waitUntil(lambda: refresher.poll_edits() > 0 or layer.frame.loc[fid, "name"] == "新名称",
                        timeout=10_000)
        assert layer.frame.loc[fid, "name"] == "新名称"
        refresher.close()
    finally:
        win.tasks.wait(30_000)
        win.close()
