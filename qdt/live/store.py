"""Live facility states in the project's GeoPackage: latest state, history and alarms.

Three GeoPackage *attributes* tables (``gpkg_contents.data_type = 'attributes'``, GeoPackage 1.2
§2.4), so GDAL and QGIS list them as tables without geometry:

- ``qdt_live_status``: one row per facility (``feature_class``, ``code`` unique): the newest
  report by device time ``ts`` (a late, older report never overwrites a newer one);
- ``qdt_live_history``: every valid report, in arrival order;
- ``qdt_live_alarms``: alarms raised (fault, cover open) and when they were acknowledged.

Writes come in batches, one transaction each, from the feed's writer thread (never the UI
thread); each connection waits for locks up to the busy timeout instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from qdt.io.gpkg_write import connect, utc_now_iso
from qdt.live.messages import Alarm, StatusUpdate

STATUS_TABLE = "qdt_live_status"
HISTORY_TABLE = "qdt_live_history"
ALARM_TABLE = "qdt_live_alarms"

_DDL = [
    f"""CREATE TABLE IF NOT EXISTS "{STATUS_TABLE}" (
        fid INTEGER PRIMARY KEY AUTOINCREMENT, feature_class TEXT NOT NULL, code TEXT NOT NULL,
        layer TEXT, feature_fid INTEGER, status INTEGER NOT NULL, ts DATETIME NOT NULL,
        received DATETIME NOT NULL, payload TEXT, UNIQUE (feature_class, code))""",
    f"""CREATE TABLE IF NOT EXISTS "{HISTORY_TABLE}" (
        fid INTEGER PRIMARY KEY AUTOINCREMENT, feature_class TEXT NOT NULL, code TEXT NOT NULL,
        layer TEXT, feature_fid INTEGER, status INTEGER NOT NULL, ts DATETIME NOT NULL,
        received DATETIME NOT NULL, payload TEXT)""",
    f'CREATE INDEX IF NOT EXISTS "{HISTORY_TABLE}_feature" ON "{HISTORY_TABLE}" (feature_class, code, ts)',
    f"""CREATE TABLE IF NOT EXISTS "{ALARM_TABLE}" (
        fid INTEGER PRIMARY KEY AUTOINCREMENT, feature_class TEXT NOT NULL, code TEXT NOT NULL,
        layer TEXT, feature_fid INTEGER, kind TEXT NOT NULL, ts DATETIME NOT NULL, message TEXT,
        acknowledged DATETIME, acknowledged_by TEXT)""",
]
_DESCRIPTIONS = {STATUS_TABLE: "QDT live facility status: the newest report per facility",
                 HISTORY_TABLE: "QDT live facility status: every report",
                 ALARM_TABLE: "QDT live alarms (fault, cover open) and acknowledgements"}

_UPSERT = f"""INSERT INTO "{STATUS_TABLE}" (feature_class, code, layer, feature_fid, status, ts, received, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (feature_class, code) DO UPDATE SET layer = excluded.layer, feature_fid = excluded.feature_fid,
        status = excluded.status, ts = excluded.ts, received = excluded.received, payload = excluded.payload
    WHERE excluded.ts >= "{STATUS_TABLE}".ts"""
_HISTORY = f"""INSERT INTO "{HISTORY_TABLE}" (feature_class, code, layer, feature_fid, status, ts, received, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""


def _row(u: StatusUpdate) -> tuple[Any, ...]:
    return (u.feature_class, u.code, u.layer, u.fid, u.status, u.ts, u.received, u.payload_json())


class LiveStore:
    """The live tables of one GeoPackage. One instance per thread (it holds a sqlite3 connection)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._con: sqlite3.Connection | None = connect(self.path)
        self._con.execute("PRAGMA synchronous = NORMAL")  # history, not edits: a lost last batch is acceptable
        self.ensure_tables()

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None:
            raise RuntimeError(f"live store of '{self.path}' is closed")
        return self._con

    def ensure_tables(self) -> None:
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            for ddl in _DDL:
                con.execute(ddl)
            for table, text in _DESCRIPTIONS.items():
                con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
                            "last_change) VALUES (?, 'attributes', ?, ?, ?)", (table, table, text, utc_now_iso()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def write(self, updates: Sequence[StatusUpdate], alarms: Sequence[Alarm] = (),
              acknowledged: Sequence[tuple[Alarm, str, str]] = ()) -> None:
        """Store a batch in one transaction: every update in the history, the newest per facility as its
        state, new alarms, and acknowledgements ((alarm, when, user) of alarms stored earlier)."""
        if not updates and not alarms and not acknowledged:
            return
        con = self.con
        rows = [_row(u) for u in updates]
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(_HISTORY, rows)
            con.executemany(_UPSERT, rows)
            con.executemany(f'INSERT INTO "{ALARM_TABLE}" (feature_class, code, layer, feature_fid, kind, ts, message) '
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(a.feature_class, a.code, a.layer, a.fid, a.kind, a.ts, a.message) for a in alarms])
            con.executemany(f'UPDATE "{ALARM_TABLE}" SET acknowledged = ?, acknowledged_by = ? WHERE feature_class = ? '
                            "AND code = ? AND kind = ? AND ts = ? AND acknowledged IS NULL",
                            [(when, user, a.feature_class, a.code, a.kind, a.ts) for a, when, user in acknowledged])
            con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name IN (?, ?)",
                        (utc_now_iso(), STATUS_TABLE, HISTORY_TABLE))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _read(path: str | os.PathLike[str], sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Rows of a query on the live tables; an empty frame when the tables do not exist yet."""
    uri = "file:" + quote(Path(path).resolve().as_posix()) + "?mode=ro"
    if not Path(path).is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    con = sqlite3.connect(uri, uri=True, timeout=10.0)
    try:
        return pd.read_sql_query(sql, con, params=list(params))
    except (pd.errors.DatabaseError, sqlite3.OperationalError) as exc:
        if "no such table" in str(exc):
            return pd.DataFrame()
        raise
    finally:
        con.close()


def read_states(path: str | os.PathLike[str], feature_class: str | None = None) -> pd.DataFrame:
    """The latest state per facility (columns as in ``qdt_live_status``), optionally of one class."""
    where = " WHERE feature_class = ?" if feature_class else ""
    return _read(path, f'SELECT * FROM "{STATUS_TABLE}"{where} ORDER BY feature_class, code',
                 [feature_class] if feature_class else [])


def read_history(path: str | os.PathLike[str], feature_class: str, code: str, limit: int = 5000) -> pd.DataFrame:
    """Reports of one facility, oldest first (at most the newest ``limit``), with readings as columns."""
    frame = _read(path, f'SELECT * FROM (SELECT * FROM "{HISTORY_TABLE}" WHERE feature_class = ? AND code = ? '
                        "ORDER BY ts DESC, fid DESC LIMIT ?) ORDER BY ts, fid", [feature_class, code, int(limit)])
    if frame.empty:
        return frame
    readings = pd.DataFrame([json.loads(p) for p in frame["payload"]], index=frame.index)
    extra = readings.drop(columns=[c for c in ("status", "ts") if c in readings.columns])
    return pd.concat([frame, extra.add_prefix("reading_")], axis=1)


def read_alarms(path: str | os.PathLike[str], limit: int = 1000) -> pd.DataFrame:
    return _read(path, f'SELECT * FROM "{ALARM_TABLE}" ORDER BY ts DESC, fid DESC LIMIT ?', [int(limit)])


# --- the writer process ----------------------------------------------------------------------------------
def _writer_main(path: str, inbox: Any, outbox: Any) -> None:
    try:
        store = LiveStore(path)
    except Exception as exc:  # reported to the feed, which keeps its states in memory
        outbox.put(("error", f"cannot open '{path}' for live states: {exc}"))
        return
    outbox.put(("ready", ""))
    try:
        while True:
            item = inbox.get()
            if item is None:
                break
            updates, alarms, acknowledged = item
            try:
                store.write(updates, alarms, acknowledged)
                outbox.put(("ok", ""))
            except Exception as exc:
                outbox.put(("error", f"cannot store live states in '{path}': {exc}"))
    finally:
        store.close()


class StoreProcess:
    """A :class:`LiveStore` in a child process, written through a queue.

    Why a process: GDAL (pyogrio) links its own SQLite. Two SQLite libraries in one process
    share POSIX advisory locks, so GDAL closing the GeoPackage drops the live writer's locks and a
    GDAL reader then sees the writer's journal as hot ("attempt to write a readonly database",
    at worst a corrupt file). A writer in its own process has its own locks, so SQLite's locking
    holds between the window's reads and the feed's writes.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # never fork a process that runs Qt and paho threads
        self.path = Path(path)
        self._timeout = timeout
        self._inbox = ctx.Queue()
        self._outbox = ctx.Queue()
        self._process = ctx.Process(target=_writer_main, args=(str(self.path), self._inbox, self._outbox),
                                    name="qdt-live-store", daemon=True)
        self._process.start()
        kind, text = self._outbox.get(timeout=timeout)
        if kind != "ready":
            self._process.join(5)
            raise OSError(text)

    def write(self, updates: Sequence[StatusUpdate], alarms: Sequence[Alarm] = (),
              acknowledged: Sequence[tuple[Alarm, str, str]] = ()) -> None:
        """Store a batch (one transaction in the child); raises OSError with the child's message on failure."""
        self._inbox.put((list(updates), list(alarms), list(acknowledged)))
        kind, text = self._outbox.get(timeout=self._timeout)
        if kind != "ok":
            raise OSError(text)

    def close(self) -> None:
        if self._process is not None:
            self._inbox.put(None)
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
            self._process = None
