"""Reading PostGIS through the DataSource seam: view windows, pushdown, projects, bad situations."""

from __future__ import annotations

import json
import shutil

import numpy as np
import psycopg
import pyogrio
import pytest
import shapely

from qdt.io import LayerSource, ReadError, load_layer
from qdt.io.postgis import PgFeatureRequest, PostGISDataSource, ViewWindowLoader, fix_table, import_geopackage
from qdt.project import open_project
from qdt.query.expression import evaluate
from qdt.query.sql import query_table, to_sql
from tests.conftest import SAMPLE_DIR, SAMPLE_GPKG

SAMPLE_PIPES = pyogrio.read_info(SAMPLE_GPKG, layer="pipes")["features"]


@pytest.fixture(scope="module")
def db(pg_cluster):
    dsn = pg_cluster.new_database()
    import_geopackage(dsn, SAMPLE_GPKG, schema="city", layers=["buildings", "streetlights", "pipes"])
    return dsn


@pytest.fixture(scope="module")
def buildings_file():
    return load_layer(LayerSource(SAMPLE_GPKG, layer="buildings", feature_class="building")).layer


def _window(layer, fx0, fy0, fx1, fy1):
    x0, y0, x1, y1 = layer.bounds
    w, h = x1 - x0, y1 - y0
    return (x0 + fx0 * w, y0 + fy0 * h, x0 + fx1 * w, y0 + fy1 * h)


@pytest.mark.parametrize("frac", [(0.4, 0.4, 0.55, 0.6), (0.0, 0.0, 0.2, 0.3), (0.9, 0.9, 1.2, 1.1)])
def test_view_window_returns_exactly_the_features_whose_bbox_meets_it(db, buildings_file, frac):
    view = _window(buildings_file, *frac)
    loader = ViewWindowLoader("postgis:" + db, "city.buildings", feature_class="building", margin=0.0)
    window = loader.load(view)
    bounds = shapely.bounds(buildings_file.geometry)
    # the window holds the tiles covering the view (issue 17): the features whose bbox centre lies in them
    from qdt.io.window import settings

    size = settings.tile_size_m
    cx, cy = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
    meets = ((cx >= np.floor(view[0] / size) * size) & (cx < (np.floor(view[2] / size) + 1) * size)
             & (cy >= np.floor(view[1] / size) * size) & (cy < (np.floor(view[3] / size) + 1) * size))
    expected = np.sort(buildings_file.fids[meets])
    assert 0 < len(expected) < buildings_file.feature_count
    np.testing.assert_array_equal(np.sort(window.layer.fids), expected)
    assert not window.truncated
    # same attribute values as the file
    cols = [c for c in buildings_file.columns]
    got = window.layer.frame.loc[expected, cols]
    want = buildings_file.frame.loc[expected, cols]
    assert got.equals(want)


def test_view_window_budget_margin_and_reload(db, buildings_file):
    view = _window(buildings_file, 0.3, 0.3, 0.5, 0.5)
    loader = ViewWindowLoader("postgis:" + db, "city.buildings", budget=10, margin=0.5)
    window = loader.load(view)
    assert window.truncated and window.count == 10
    assert loader.needs_reload(view)  # a cut window is reloaded
    big = ViewWindowLoader("postgis:" + db, "city.buildings", margin=0.5)
    w2 = big.task(view).run_sync()
    assert not w2.truncated and w2.count > 10
    x0, y0, x1, y1 = view
    assert w2.bbox == pytest.approx((x0 - 0.5 * (x1 - x0), y0 - 0.5 * (y1 - y0), x1 + 0.5 * (x1 - x0),
                                     y1 + 0.5 * (y1 - y0)))
    small_pan = (x0 + 1, y0 + 1, x1 + 1, y1 + 1)
    assert not big.needs_reload(small_pan)
    assert big.needs_reload((x0 + 1e4, y0, x1 + 1e4, y1))


def test_request_fids_columns_and_no_geometry(db):
    src = PostGISDataSource("postgis:" + db)
    data = src.read("city.streetlights", PgFeatureRequest(fids=(3, 1, 999999), columns=("status",), no_geometry=True))
    assert list(data.layer.frame.index) == [1, 3]
    assert [c for c in data.layer.frame.columns if c != "geometry"] == ["status"]
    with pytest.raises(ReadError, match="no column"):
        src.read("city.streetlights", PgFeatureRequest(columns=("status; DROP TABLE city.pipes",)))


@pytest.mark.parametrize("expr", [
    "状态 = '故障'",
    "power_w > 100 AND heads IN (1, 2)",
    "road_name LIKE '东海%' OR status <> 1",
    "power_w * 2 > 300 AND status = 1",          # arithmetic: client-side, the rest pushed down
    "install_date >= '2020-01-01'",               # dates: client-side
    "NOT (power_w BETWEEN 50 AND 150)",
    "lamp_type IS NULL OR status NOT IN (1)",
])
def test_expression_pushdown_gives_the_evaluators_answer(db, expr):
    full = load_layer(LayerSource(SAMPLE_GPKG, layer="streetlights", feature_class="streetlight")).layer
    want = full.fids[evaluate(expr, full.frame, "streetlight")]
    result = query_table("postgis:" + db, "city.streetlights", expr, feature_class="streetlight")
    np.testing.assert_array_equal(np.sort(result.layer.fids), np.sort(want))
    assert result.fetched <= full.feature_count


def test_pushdown_is_parameterised_and_bbox_combines(db):
    t = to_sql("状态 = '故障' AND name LIKE 'a%'", {"status": "integer", "name": "text"}, "streetlight")
    assert t.filter is not None and t.filter.params == (2.0, "a%")
    with psycopg.connect(db) as con:
        text = t.filter.sql.as_string(con)
    assert "故障" not in text and "a%" not in text and text.count("%s") == 2
    full = load_layer(LayerSource(SAMPLE_GPKG, layer="streetlights", feature_class="streetlight")).layer
    view = _window(full, 0.2, 0.2, 0.6, 0.7)
    result = query_table("postgis:" + db, "city.streetlights", "status = 1", bbox=view, feature_class="streetlight")
    inside = shapely.intersects(full.geometry, shapely.box(*view)) & evaluate("status = 1", full.frame, "streetlight")
    np.testing.assert_array_equal(np.sort(result.layer.fids), np.sort(full.fids[inside]))


INJECTIONS = ["streetlights'; DROP TABLE city.pipes; --", 'streetlights"; DROP TABLE city.pipes; --',
              "pipes; DROP TABLE city.pipes"]


@pytest.mark.parametrize("name", INJECTIONS)
def test_sql_in_layer_names_is_rejected(db, name):
    with pytest.raises(ReadError, match="no table"):
        load_layer(LayerSource("postgis:" + db, layer=f"city.{name}"))
    with psycopg.connect(db) as con:
        assert con.execute("SELECT count(*) FROM city.pipes").fetchone()[0] == SAMPLE_PIPES


def test_sql_in_expressions_is_data(db):
    for expr in ["code = '''; DROP TABLE city.pipes; --'", "road_name LIKE '%''; DROP TABLE city.pipes; --'"]:
        result = query_table("postgis:" + db, "city.streetlights", expr, feature_class="streetlight")
        assert result.pushed_down and result.layer.feature_count == 0
    from qdt.query.expression import ExpressionError

    with pytest.raises(ExpressionError, match="unknown field"):
        query_table("postgis:" + db, "city.streetlights", '"x; DROP TABLE city.pipes" = 1')
    with psycopg.connect(db) as con:
        assert con.execute("SELECT count(*) FROM city.pipes").fetchone()[0] == SAMPLE_PIPES


def test_project_mixes_file_and_database_layers_and_marks_unreachable(db, tmp_path, pg_cluster):
    folder = tmp_path / "p"
    shutil.copytree(SAMPLE_DIR, folder)
    doc = json.loads((folder / "qingdao_shinan.qdt").read_text(encoding="utf-8"))
    doc["layers"] = [lyr for lyr in doc["layers"] if lyr.get("layer") in ("zones", "roads")]
    doc["layers"].append({"name": "路灯(库)", "kind": "vector", "source": "postgis:" + db, "layer": "streetlights",
                          "schema": "city", "feature_class": "streetlight"})
    doc["layers"].append({"name": "建筑(库)", "kind": "vector", "source": "postgis:" + db,
                          "layer": "city.buildings", "feature_class": "building"})
    dead = f"host=127.0.0.1 port={_closed_port()} dbname=city user=nobody"
    doc["layers"].append({"name": "管线(断)", "kind": "vector", "source": "postgis:" + dead, "layer": "city.pipes"})
    doc["layers"].append({"name": "井(断)", "kind": "vector", "source": "postgis:" + dead, "layer": "city.manholes"})
    path = folder / "mixed.qdt"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    project = open_project(path)
    names = [lyr.name for lyr in project.layers]
    assert names == ["网格", "道路", "路灯(库)", "建筑(库)"]
    assert project.layers[2].feature_count == 915
    bad = {e.name: e.error for e in project.unavailable}
    assert set(bad) == {"管线(断)", "井(断)"}
    for msg in bad.values():
        assert "cannot connect" in msg and "127.0.0.1" in msg and "\n" not in msg
    # saving keeps the database sources as written (not turned into file paths)
    from qdt.project import save_project

    save_project(project, folder / "again.qdt")
    saved = json.loads((folder / "again.qdt").read_text(encoding="utf-8"))
    assert saved["layers"][2]["source"] == "postgis:" + db and saved["layers"][2]["schema"] == "city"


def test_password_in_project_is_refused(tmp_path):
    from qdt.project import ProjectError, load_project

    doc = {"format": "qdt-project", "version": 1, "layers": [
        {"name": "x", "kind": "vector", "source": "postgis:host=db dbname=c password=hunter2", "layer": "a.b"}]}
    path = tmp_path / "p.qdt"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ProjectError, match="pgpass") as info:
        load_project(path)
    assert "hunter2" not in str(info.value)


def test_table_without_primary_key_or_spatial_index(db):
    with psycopg.connect(db) as con:
        con.execute("CREATE TABLE city.raw AS SELECT code, geom FROM city.streetlights")
    src = PostGISDataSource("postgis:" + db)
    with pytest.raises(ReadError, match="no integer primary key.*qdt db fix"):
        src.read("city.raw")
    done = fix_table(db, "city", "raw")
    assert len(done) == 2 and "primary key" in done[0] and "spatial index" in done[1]
    data = src.read("city.raw")
    assert data.layer.feature_count == 915 and not data.warnings
    assert fix_table(db, "city", "raw") == []


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_unreachable_server_is_one_line(capsys):
    from qdt.cli.main import main as cli

    port = _closed_port()
    assert cli(["db", "tables", "--dsn", f"host=127.0.0.1 port={port} dbname=city user=nobody"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qdt db: error: cannot connect to database 127.0.0.1:") and "\n" not in err
