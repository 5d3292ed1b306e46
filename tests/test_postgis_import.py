"""``qdt db import``/``init`` against a real PostGIS (the throw-away cluster of tests/pg_cluster.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely

from qdt.cli.main import main as cli
from qdt.io import LayerSource, ReadError, load_layer
from qdt.io.postgis import CHANGE_LOG_TABLE, import_geopackage, init_schema
from tests.conftest import SAMPLE_GPKG

CLASSES = {"zones": "zone", "roads": "road", "buildings": "building", "streetlights": "streetlight",
           "smart_poles": "smart_pole", "smart_pole_devices": "smart_pole_device", "pipes": "pipe",
           "manholes": "manhole", "cabinets": "cabinet"}


@pytest.fixture(scope="module")
def sample_db(pg_cluster):
    dsn = pg_cluster.new_database()
    report = import_geopackage(dsn, SAMPLE_GPKG, schema="city")
    return dsn, report


def _frames(dsn: str, layer: str):
    cls = CLASSES[layer]
    from_file = load_layer(LayerSource(SAMPLE_GPKG, layer=layer, feature_class=cls)).layer
    from_db = load_layer(LayerSource("postgis:" + dsn, layer=f"city.{layer}", feature_class=cls)).layer
    return from_file, from_db


@pytest.mark.parametrize("layer", sorted(CLASSES))
def test_import_keeps_counts_fids_and_values(sample_db, layer):
    dsn, report = sample_db
    assert report.tables[layer] > 0
    from_file, from_db = _frames(dsn, layer)
    assert from_db.feature_count == from_file.feature_count == report.tables[layer]
    np.testing.assert_array_equal(from_db.fids, from_file.fids)
    a = pd.DataFrame(from_file.frame.drop(columns=from_file.geometry_column or []))
    b = pd.DataFrame(from_db.frame.drop(columns=from_db.geometry_column or []))
    pd.testing.assert_frame_equal(b, a, check_dtype=True)
    if from_file.has_geometry:
        assert from_db.has_geometry
        missing = shapely.is_missing(from_file.geometry)
        np.testing.assert_array_equal(shapely.is_missing(from_db.geometry), missing)
        assert shapely.equals_exact(from_db.geometry[~missing], from_file.geometry[~missing], tolerance=0).all()
        assert (shapely.has_z(from_db.geometry) == shapely.has_z(from_file.geometry)).all()


def test_import_creates_keys_indexes_constraints_and_change_log(sample_db):
    import psycopg

    dsn, _ = sample_db
    with psycopg.connect(dsn) as con:
        srid = con.execute("SELECT srid FROM geometry_columns WHERE f_table_schema = 'city' "
                           "AND f_table_name = 'buildings'").fetchone()[0]
        assert srid == 4549
        pk = con.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                         "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'city.streetlights'::regclass "
                         "AND i.indisprimary").fetchall()
        assert pk == [("fid",)]
        gist = con.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'city' "
                           "AND tablename = 'pipes'").fetchall()
        assert any("USING gist" in d for (d,) in gist)
        assert con.execute(f"SELECT count(*) FROM city.{CHANGE_LOG_TABLE}").fetchone()[0] == 0
        checks = con.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'city.streetlights'::regclass "
                             "AND contype = 'c'").fetchall()
        assert ("streetlights_status_codes",) in checks
    # the code list is enforced by the server, whoever writes
    with psycopg.connect(dsn) as con, pytest.raises(psycopg.errors.CheckViolation):
        con.execute("UPDATE city.streetlights SET status = 99 WHERE fid = 1")
    # and every UPDATE bumps the row version (the optimistic-concurrency token)
    with psycopg.connect(dsn) as con:
        before = con.execute("SELECT qdt_version FROM city.streetlights WHERE fid = 2").fetchone()[0]
        con.execute("UPDATE city.streetlights SET owner = owner WHERE fid = 2")
        after = con.execute("SELECT qdt_version FROM city.streetlights WHERE fid = 2").fetchone()[0]
        con.rollback()
    assert after == before + 1


def test_cli_import_json_and_existing_table(pg_dsn, capsys):
    assert cli(["db", "init", "--dsn", pg_dsn, "--schema", "base"]) == 0
    assert cli(["db", "import", str(SAMPLE_GPKG), "--dsn", pg_dsn, "--schema", "base", "--layer", "cabinets",
                "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["tables"] == {"cabinets": 58}
    # again: the table exists → one clear line, exit 2, table intact
    assert cli(["db", "import", str(SAMPLE_GPKG), "--dsn", pg_dsn, "--schema", "base", "--layer", "cabinets"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--replace" in err and "Traceback" not in err
    assert cli(["db", "tables", "--dsn", pg_dsn, "--schema", "base", "--json"]) == 0
    tables = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in tables] == ["base.cabinets"] and tables[0]["count"] == 58


def test_cli_refuses_password_in_dsn(capsys):
    assert cli(["db", "init", "--dsn", "host=127.0.0.1 dbname=x password=secret"]) == 2
    err = capsys.readouterr().err
    assert "password" in err and "pgpass" in err and "secret" not in err


def test_import_unknown_layer_and_missing_file(pg_dsn):
    with pytest.raises(ReadError, match="has no layer 'nope'"):
        import_geopackage(pg_dsn, SAMPLE_GPKG, layers=["nope"])
    with pytest.raises(ReadError, match="file not found"):
        import_geopackage(pg_dsn, "/nonexistent/x.gpkg")


def test_init_is_idempotent(pg_dsn):
    init_schema(pg_dsn, "s1")
    init_schema(pg_dsn, "s1")
