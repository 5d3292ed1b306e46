"""Multi-user editing on PostGIS: one transaction per commit, conflicts, change log, NOTIFY, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psycopg
import pytest

from qdt.edit import EditError, start_editing
from qdt.io import LayerSource, load_layer
from qdt.io.postgis import EditListener, import_geopackage, read_change_log, refresh_features
from tests.conftest import ROOT, SAMPLE_GPKG


@pytest.fixture
def db(pg_dsn):
    import_geopackage(pg_dsn, SAMPLE_GPKG, schema="city", layers=["streetlights"])
    return pg_dsn


def _load(dsn: str, name: str = "路灯"):
    return load_layer(LayerSource("postgis:" + dsn, layer="city.streetlights", feature_class="streetlight",
                                  name=name)).layer


def _db_value(dsn: str, fid: int, column: str):
    with psycopg.connect(dsn) as con:
        return con.execute(f"SELECT {column} FROM city.streetlights WHERE fid = %s", (fid,)).fetchone()[0]


def test_commit_writes_one_transaction_with_change_log_and_notify(db):
    layer = _load(db)
    listener = EditListener("postgis:" + db)
    try:
        with start_editing(layer, user="张工") as session:
            session.set_values([1, 2, 3], {"status": "故障"})
            session.set_value(4, "power_w", 123.5)
            result = session.commit()
            assert result.ok and result.features == 4 and result.cells == 4
            assert not session.has_changes
        notices = []
        deadline = time.monotonic() + 30  # the notice may be late on a loaded machine
        while not notices and time.monotonic() < deadline:
            notices += listener.poll(1.0)
    finally:
        listener.close()
    assert [_db_value(db, f, "status") for f in (1, 2, 3)] == [2, 2, 2]
    assert _db_value(db, 4, "power_w") == 123.5
    log = read_change_log("postgis:" + db, "city", commit_id=result.commit_id)
    assert len(log) == 4 and {r["user"] for r in log} == {"张工"}
    cells = {(r["feature_fid"], r["field"], r["old_value"], r["new_value"]) for r in log}
    assert cells >= {(1, "status", "1", "2"), (4, "power_w", "150.0", "123.5")}
    assert all(r["committed_at"].tzinfo is not None for r in log)
    assert [n.commit_id for n in notices] == [result.commit_id]
    assert notices[0].fids == (1, 2, 3, 4) and notices[0].table == "streetlights" and notices[0].user == "张工"


def test_second_session_gets_a_conflict_and_keeps_its_buffer(db):
    a, b = _load(db, "A"), _load(db, "B")
    sa, sb = start_editing(a, user="甲"), start_editing(b, user="乙")
    sa.set_value(10, "status", "故障")
    assert sa.commit().ok
    sb.set_value(10, "status", "维修中")   # same cell, edited from the stale value
    sb.set_value(10, "owner", "乙单位")    # refused with its feature
    sb.set_value(11, "status", "故障")     # another feature: goes in
    result = sb.commit()
    assert not result.ok
    assert list(result.refused_fids) == [10] and list(result.committed_fids) == [11]
    conflict = [c for c in result.conflicts if c.field == "status"][0]
    assert (conflict.fid, conflict.original, conflict.mine, conflict.theirs) == (10, 1, 3, 2)
    assert "changed by another program" in conflict.message
    assert sb.has_changes and sb.value(10, "status") == 3 and sb.value(10, "owner") == "乙单位"
    assert _db_value(db, 10, "status") == 2 and _db_value(db, 11, "status") == 2
    # the user keeps theirs: the next commit overwrites
    sb.resolve(keep="mine")
    assert sb.commit().ok
    assert _db_value(db, 10, "status") == 3 and _db_value(db, 10, "owner") == "乙单位"
    # session A learns of it and refreshes the feature; its next edit of it does not conflict
    refresh_features(a, [10])
    assert a.frame.loc[10, "status"] == 3
    sa.set_value(10, "status", "正常")
    assert sa.commit().ok
    sa.close()
    sb.close()


def test_edits_of_other_fields_of_a_changed_row_do_not_conflict(db):
    a, b = _load(db, "A"), _load(db, "B")
    with start_editing(a) as sa, start_editing(b) as sb:
        sa.set_value(20, "status", "故障")
        sa.commit()
        sb.set_value(20, "power_w", 77.0)
        assert sb.commit().ok
    assert _db_value(db, 20, "status") == 2 and _db_value(db, 20, "power_w") == 77.0


def test_feature_deleted_meanwhile_is_reported(db):
    layer = _load(db)
    with psycopg.connect(db) as con:
        con.execute("DELETE FROM city.streetlights WHERE fid = 30")
    with start_editing(layer) as session:
        session.set_value(30, "status", "故障")
        result = session.commit()
        assert list(result.refused_fids) == [30] and result.conflicts[0].deleted
        assert session.has_changes


def _wait_for_lock_wait(dsn: str, timeout: float = 120.0, child: subprocess.Popen | None = None) -> int:
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as con:
        while time.monotonic() < deadline:
            if child is not None and child.poll() is not None:
                raise AssertionError(f"the child ended before its commit waited: {child.stderr.read()[-2000:]!r}")
            row = con.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'qdt' "
                              "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%'").fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the commit never reached the change-log insert")


def _hold_change_log_lock(dsn: str):
    con = psycopg.connect(dsn)
    con.execute("LOCK TABLE city.qdt_change_log IN ACCESS EXCLUSIVE MODE")
    return con


def test_killing_the_client_mid_commit_leaves_the_table_unchanged(db):
    before = _snapshot(db)
    child_code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from qdt.io import LayerSource, load_layer
        from qdt.edit import start_editing
        layer = load_layer(LayerSource({"postgis:" + db!r}, layer="city.streetlights",
                                       feature_class="streetlight")).layer
        session = start_editing(layer, user="crash")
        session.set_values(list(range(1, 201)), {{"status": "故障", "owner": "KILLED"}})
        session.commit()
        print("COMMITTED")
    """)
    lock = _hold_change_log_lock(db)  # the child's commit will wait at its change-log insert
    try:
        child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        backend = _wait_for_lock_wait(db, child=child)
        # the child has updated 200 rows inside its transaction; kill it there
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL and b"COMMITTED" not in out
    finally:
        lock.rollback()
        lock.close()
    _wait_backend_gone(db, backend)
    assert _snapshot(db) == before
    assert read_change_log("postgis:" + db, "city") == []


def test_connection_lost_mid_commit_keeps_the_buffer_for_retry(db):
    layer = _load(db)
    session = start_editing(layer, user="张工")
    session.set_values([40, 41], {"status": "维修中"})
    lock = _hold_change_log_lock(db)
    errors: list[BaseException] = []

    def commit() -> None:
        try:
            session.commit()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=commit)
    worker.start()
    try:
        backend = _wait_for_lock_wait(db)
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        worker.join(30)
    finally:
        lock.rollback()
        lock.close()
    assert len(errors) == 1 and isinstance(errors[0], EditError)
    assert "nothing written, edits kept" in str(errors[0]) and "\n" not in str(errors[0])
    assert session.has_changes and session.value(40, "status") == 3
    assert _db_value(db, 40, "status") == 1
    result = session.commit()  # retry
    assert result.ok and _db_value(db, 40, "status") == 3 and _db_value(db, 41, "status") == 3
    session.close()


def test_permission_denied_is_one_clear_line(db, pg_cluster):
    with psycopg.connect(db, autocommit=True) as con:
        con.execute("CREATE ROLE viewer LOGIN")
        con.execute("GRANT USAGE ON SCHEMA city TO viewer")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA city TO viewer")
    viewer = db.replace("user=postgres", "user=viewer")
    layer = _load(viewer)
    with start_editing(layer) as session:
        session.set_value(1, "status", "故障")
        with pytest.raises(EditError, match="permission denied") as info:
            session.commit()
        assert "\n" not in str(info.value)
        assert session.has_changes
    assert _db_value(db, 1, "status") == 1


def test_server_unreachable_at_commit(db):
    layer = _load(db)
    with start_editing(layer) as session:
        session.set_value(1, "status", "故障")
        session._store.conninfo = "host=127.0.0.1 port=1 dbname=x user=y"  # the server went away
        with pytest.raises(EditError, match="cannot connect"):
            session.commit()
        assert session.has_changes


def _snapshot(dsn: str):
    with psycopg.connect(dsn) as con:
        rows = con.execute("SELECT fid, status, owner, qdt_version FROM city.streetlights ORDER BY fid").fetchall()
    return rows


def _wait_backend_gone(dsn: str, pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as con:
        while time.monotonic() < deadline:
            if not con.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError("the killed client's backend is still there")


def test_versions_follow_commits(db):
    layer = _load(db)
    v0 = int(layer.metadata["row_versions"].loc[5])
    with start_editing(layer) as session:
        session.set_value(5, "status", "故障")
        session.commit()
    assert int(layer.metadata["row_versions"].loc[5]) == v0 + 1 == _db_value(db, 5, "qdt_version")
    assert np.all(layer.metadata["row_versions"].drop(5) == 1)
