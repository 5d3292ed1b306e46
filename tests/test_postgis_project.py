"""Opening a project with database layers loads a view window, never the whole table, and
queries on such layers answer for the whole table (pushed down to SQL)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdt.io import LayerSource, load_layer
from qdt.io.postgis import import_geopackage
from qdt.io.postgis.view import MAX_VIEW_SIDE_M, camera_ground_bbox
from qdt.project import open_project
from tests.conftest import SAMPLE_GPKG


@pytest.fixture(scope="module")
def db(pg_cluster):
    dsn = pg_cluster.new_database()
    import_geopackage(dsn, SAMPLE_GPKG, schema="city", layers=["buildings", "streetlights", "zones"])
    return dsn


@pytest.fixture(scope="module")
def buildings_file():
    return load_layer(LayerSource(SAMPLE_GPKG, layer="buildings", feature_class="building")).layer


def _meets(layer, window):
    """Fids (ascending) a window over ``window`` holds: the features of the tiles covering it (issue 17)."""
    from qdt.io.window import in_window_tiles

    return np.sort(layer.fids[in_window_tiles(layer.geometry, window)])


def _project(tmp_path, db, camera=None, name="db.qdt"):
    doc = {"format": "qdt-project", "version": 1, "name": "db", "crs": "EPSG:4549", "layers": [
        {"name": "建筑", "kind": "vector", "source": "postgis:" + db, "layer": "city.buildings",
         "feature_class": "building"}], "camera": camera}
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _open(path, budget):
    from qdt.project import attach_layers, load_project, open_layers

    project = load_project(path)
    open_layers(project, window_budget=budget)
    attach_layers(project)
    return project


def test_open_without_camera_loads_a_budgeted_window_at_the_extent_centre(db, tmp_path, buildings_file):
    budget = 100
    assert buildings_file.feature_count > budget
    project = _open(_project(tmp_path, db), budget)
    layer = project.layers[0]
    assert layer.feature_count <= budget
    assert layer.metadata["truncated"] is True
    window = layer.metadata["view_window"]
    assert window[2] - window[0] <= MAX_VIEW_SIDE_M + 1e-6 and window[3] - window[1] <= MAX_VIEW_SIDE_M + 1e-6
    # around the centre of the table's extent
    x0, y0, x1, y1 = buildings_file.bounds
    cx, cy = (window[0] + window[2]) / 2, (window[1] + window[3]) / 2
    assert abs(cx - (x0 + x1) / 2) < 0.05 * (x1 - x0) + 1 and abs(cy - (y0 + y1) / 2) < 0.05 * (y1 - y0) + 1
    # exactly the first `budget` (by key) of the features whose bbox meets the window
    expected = _meets(buildings_file, window)
    assert len(expected) > budget
    np.testing.assert_array_equal(np.sort(layer.fids), expected[:budget])
    assert any("zoom in" in w for w in project.entries[0].warnings)


def test_open_with_camera_loads_what_the_camera_sees(db, tmp_path, buildings_file):
    x0, y0, x1, y1 = buildings_file.bounds
    fx, fy = x0 + 0.4 * (x1 - x0), y0 + 0.6 * (y1 - y0)
    camera = {"position": [fx, fy - 150.0, 200.0], "focal_point": [fx, fy, 0.0], "view_angle": 30.0}
    project = _open(_project(tmp_path, db, camera, "cam.qdt"), 50_000)
    layer = project.layers[0]
    view = camera_ground_bbox(camera["position"], camera["focal_point"], 30.0)
    window = layer.metadata["view_window"]
    # the view widened by the loader's margin
    assert window[0] < view[0] and window[2] > view[2] and window[1] < view[1] and window[3] > view[3]
    assert layer.metadata["truncated"] is False
    expected = _meets(buildings_file, window)
    assert 0 < len(expected) < buildings_file.feature_count
    np.testing.assert_array_equal(np.sort(layer.fids), expected)
    assert layer.feature_count < buildings_file.feature_count
    # the headless convenience opens the same way
    assert open_project(_project(tmp_path, db, camera, "cam2.qdt")).layers[0].feature_count == len(expected)


def _mixed_project(tmp_path, db, budget):
    """Buildings and zones from PostGIS (windows cut to ``budget``), streetlights from the GeoPackage."""
    doc = {"format": "qdt-project", "version": 1, "name": "mixed", "crs": "EPSG:4549", "layers": [
        {"name": "建筑", "kind": "vector", "source": "postgis:" + db, "layer": "city.buildings",
         "feature_class": "building"},
        {"name": "网格", "kind": "vector", "source": "postgis:" + db, "layer": "city.zones", "feature_class": "zone"},
        {"name": "路灯", "kind": "vector", "source": str(SAMPLE_GPKG), "layer": "streetlights",
         "feature_class": "streetlight"}]}
    path = tmp_path / "mixed.qdt"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return _open(path, budget)


@pytest.fixture(scope="module")
def file_layers():
    return {name: load_layer(LayerSource(SAMPLE_GPKG, layer=table, feature_class=cls, name=name)).layer
            for name, table, cls in (("建筑", "buildings", "building"), ("网格", "zones", "zone"),
                                     ("路灯", "streetlights", "streetlight"))}


QUERIES = [
    {"layer": "建筑", "where": "floors >= 12 AND use = 'RES'"},
    {"layer": "建筑", "where": "name LIKE '%花园%' OR height > 60"},
    {"layer": "建筑", "predicate": "intersects", "other": "网格", "other_where": "street = '湛山街道'",
     "where": "floors < 10"},
    {"layer": "建筑", "predicate": "dwithin", "distance": 30.0, "other": "路灯",
     "other_where": "lamp_type = 'LED'"},
    {"layer": "路灯", "predicate": "within", "other": "网格", "other_where": "name LIKE '%第0%'"},
    {"layer": "建筑", "k": 1, "other": "路灯", "where": "floors > 20"},
]


@pytest.mark.parametrize("spec", QUERIES, ids=lambda q: q.get("predicate") or ("nearest" if q.get("k") else "where"))
def test_query_on_database_layers_answers_for_the_whole_table(db, tmp_path, file_layers, spec):
    from qdt.query import Query, run_query

    project = _mixed_project(tmp_path, db, budget=20)
    assert all(lyr.feature_count <= 20 for lyr in list(project.layers)[:2])  # only a cut window is loaded
    query = Query(**spec)
    got = run_query(query, project.layers)
    want = run_query(query, file_layers)
    assert want.count > 20 or spec["layer"] == "路灯" or spec.get("k")  # more than the window holds
    assert want.count > 0
    np.testing.assert_array_equal(got.fids, want.fids)
    if want.nearest is not None:
        np.testing.assert_array_equal(got.nearest["nearest_fid"], want.nearest["nearest_fid"])
    # the result's rows are there even for features outside the loaded window
    assert list(got.frame().index) == list(want.frame().index)


def test_query_on_database_layer_bad_field_is_one_line(db, tmp_path):
    from qdt.query import ExpressionError, Query, run_query

    project = _mixed_project(tmp_path, db, budget=20)
    with pytest.raises(ExpressionError, match="layer '建筑', where: .*unknown field"):
        run_query(Query("建筑", where="nosuch = 1"), project.layers)


def test_cli_query_on_a_project_with_a_database_layer(db, tmp_path, capsys, file_layers):
    from qdt.cli.main import main
    from qdt.query import Query, run_query

    _mixed_project(tmp_path, db, budget=20)
    code = main(["query", str(tmp_path / "mixed.qdt"), "--layer", "建筑", "--where", "floors >= 12", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    want = run_query(Query("建筑", where="floors >= 12"), file_layers)
    assert json.loads(out)["fids"] == [int(f) for f in want.fids]


def _whole_table_reads(monkeypatch):
    """Records the requests that would read a whole table (no window, filter, fids or limit)."""
    from qdt.io.postgis import source as pg_source

    whole = []
    fetch = pg_source.fetch

    def recording(con, info, request, context=None):
        if (request.bbox is None and request.fids is None and request.limit is None
                and getattr(request, "where", None) is None):
            whole.append(info.name)
        return fetch(con, info, request, context)

    monkeypatch.setattr(pg_source, "fetch", recording)
    return whole


def test_cli_query_and_edit_never_read_a_whole_database_table(pg_cluster, tmp_path, capsys, monkeypatch,
                                                              file_layers):
    from qdt.cli.main import main

    db = pg_cluster.new_database()  # its own: this test edits the table
    import_geopackage(db, SAMPLE_GPKG, schema="city", layers=["buildings", "streetlights", "zones"])
    _mixed_project(tmp_path, db, budget=20)
    whole = _whole_table_reads(monkeypatch)
    assert main(["query", str(tmp_path / "mixed.qdt"), "--layer", "建筑", "--where", "floors >= 12", "--json"]) == 0
    want = file_layers["建筑"].fids[file_layers["建筑"].frame["floors"].to_numpy() >= 12]
    assert json.loads(capsys.readouterr().out)["fids"] == sorted(int(f) for f in want)
    assert whole == []
    # an edit chosen by expression: pushed down, then only those features read and written
    code = main(["edit", str(tmp_path / "mixed.qdt"), "--layer", "建筑", "--where", "floors >= 30",
                 "--set", "name=高层", "--user", "cli"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert whole == []
    from qdt.io import LayerSource, load_layer

    table = load_layer(LayerSource("postgis:" + db, layer="city.buildings", feature_class="building")).layer
    tall = table.frame["floors"].to_numpy() >= 30
    assert tall.any() and (table.frame.loc[tall, "name"] == "高层").all()
    assert not (table.frame.loc[~tall, "name"] == "高层").any()
    assert f"{int(tall.sum())} feature(s) changed" in out
