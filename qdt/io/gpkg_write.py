"""Atomic attribute updates of a GeoPackage, with a change log in the same file.

This module talks to the GeoPackage's SQLite database directly (Python's :mod:`sqlite3`),
because GDAL would rewrite whole features for an attribute change. One call of
:func:`update_attributes` is ONE SQLite transaction (``BEGIN IMMEDIATE … COMMIT``) that

1. reads the current values of the cells to change and lets the caller refuse features
   that another program changed meanwhile (``conflict_check``);
2. updates the remaining cells (``UPDATE "table" SET "col" = ? WHERE "key" = ?``, executemany), the
   key being the table's integer primary key (:func:`feature_key`) whatever its name — ``fid``
   for GDAL, ``id``/``OBJECTID``/``geonameid`` for other writers; never a column found by name;
3. appends one row per changed cell to the change-log table :data:`CHANGE_LOG_TABLE`
   (created and registered in ``gpkg_contents`` on first use, in the same transaction);
4. stamps ``gpkg_contents.last_change`` of the edited table.

So after a crash or ``kill -9`` at any moment the file holds all of a commit or none of it
(SQLite's rollback journal; the next opener rolls a hot journal back) and passes
``PRAGMA integrity_check``; with ``synchronous=FULL`` the same holds for a power loss on
storage that honours fsync. Geometry, fids, R-tree and GDAL's feature counts are never touched.

Journal mode: the file's own mode is honoured and never switched. GDAL creates GeoPackages in
``DELETE`` (rollback-journal) mode and QDT keeps them so: ``WAL`` needs shared memory between
all readers and writers, which does not work on a network drive (SQLite: "WAL does not work
over a network filesystem"), and a WAL file left in ``-wal``/``-shm`` side files confuses
copies made with a file manager. ``synchronous=FULL`` makes a commit durable before it returns.
The rollback journal relies on the file system's byte-range locks; SMB and NFS shares usually
provide them, but a share with broken locking can let two writers corrupt any SQLite file
(GDAL and QGIS included): keep such shares read-only or use a database server.

Dependencies are stdlib and numpy only (a crash-test child process loads this file alone).
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import numpy as np

#: Name of the change-log table QDT keeps inside each edited GeoPackage (an "attributes" table).
CHANGE_LOG_TABLE = "qdt_change_log"

#: Seconds a commit waits for another program's lock (a QGIS reader, another QDT) before giving up.
DEFAULT_BUSY_TIMEOUT_S = 10.0

# GeoPackage 1.2 §2.1.4 Table 1: DATETIME is "YYYY-MM-DDTHH:MM:SS.SSSZ"; DATE is "YYYY-MM-DD".
GPKG_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"

_CHANGE_LOG_DDL = f"""
CREATE TABLE IF NOT EXISTS "{CHANGE_LOG_TABLE}" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "commit_id" TEXT NOT NULL,
  "committed_at" DATETIME NOT NULL,
  "user" TEXT,
  "layer" TEXT NOT NULL,
  "feature_fid" INTEGER NOT NULL,
  "field" TEXT NOT NULL,
  "old_value" TEXT,
  "new_value" TEXT
)"""

# Python types of the values that can be bound to SQLite (what callers must pass).
SqlValue = int | float | str | bytes | None

#: ``conflict_check(column, fids, current_values) -> bool mask``: True where the file's current
#: value means another program changed the cell since the caller read it.
ConflictCheck = Callable[[str, np.ndarray, list[Any]], np.ndarray]


class WriteError(Exception):
    """A commit that could not be written; nothing of it is in the file. ``str()`` is one line."""


@dataclass(frozen=True)
class ColumnUpdate:
    """New values of one column for some features.

    ``fids`` are unique feature ids; ``values`` the SQLite-ready values in the same order
    (see :func:`encode_values`).
    """

    column: str
    fids: np.ndarray
    values: Sequence[SqlValue]

    def kept(self, blocked: np.ndarray, old_values: Sequence[SqlValue]) -> tuple[np.ndarray, list, list]:
        """(fids, new values, old values) of this update without the ``blocked`` features
        (refused or missing); ``old_values`` are the stored values in ``fids`` order."""
        keep = ~np.isin(self.fids, blocked)
        new = np.asarray(list(self.values) + [None], dtype=object)[:-1][keep].tolist()  # [None]: no 2-D arrays
        old = np.asarray(list(old_values) + [None], dtype=object)[:-1][keep].tolist()
        return self.fids[keep], new, old

    def __post_init__(self) -> None:
        fids = np.asarray(self.fids, dtype=np.int64)
        object.__setattr__(self, "fids", fids)
        if len(fids) != len(self.values):
            raise ValueError(f"column '{self.column}': {len(fids)} fids but {len(self.values)} values")
        if len(np.unique(fids)) != len(fids):
            raise ValueError(f"column '{self.column}': duplicate fids")


@dataclass
class WriteOutcome:
    """What one :func:`update_attributes` call wrote.

    Attributes
    ----------
    commit_id
        uuid4 of the commit (also in every change-log row), or None when nothing was written.
    committed_at
        UTC timestamp of the commit, ISO 8601 with ``Z``.
    written
        Column → fids whose value was written.
    refused
        Fids of features not written because ``conflict_check`` flagged one of their cells.
    missing
        Fids not in the table any more (deleted by another program): not written either.
    current
        Column → (fids, values): the file's values read inside the transaction for every
        requested cell (the "old values"; for refused features: the other program's values).
    cells
        Number of cells written (= change-log rows added).
    seconds
        Wall-clock time of the transaction, including the wait for locks.
    """

    commit_id: str | None
    committed_at: str
    written: dict[str, np.ndarray] = field(default_factory=dict)
    refused: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    missing: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    current: dict[str, tuple[np.ndarray, list[Any]]] = field(default_factory=dict)
    cells: int = 0
    seconds: float = 0.0

    @property
    def written_fids(self) -> np.ndarray:
        """Every fid with at least one written cell, sorted."""
        if not self.written:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(list(self.written.values())))


@dataclass(frozen=True)
class ColumnInfo:
    """A column of a GeoPackage table: name, declared SQL type (upper case), NOT NULL, primary key."""

    name: str
    declared_type: str
    not_null: bool
    primary_key: bool

    @property
    def base_type(self) -> str:
        """Declared type without a length: ``TEXT(30)`` → ``TEXT``."""
        return self.declared_type.split("(", 1)[0].strip()


# --------------------------------------------------------------------------------------
# connection helpers
# --------------------------------------------------------------------------------------

def _gpkg_header(blob: Any) -> tuple[int, int, bool, int] | None:
    """(flags, envelope kind, empty, header length) of a GeoPackage geometry blob, or None."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < 8 or bytes(blob[:2]) != b"GP":
        return None
    flags = blob[3]
    envelope = (flags >> 1) & 0x07
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get(envelope)
    if size is None:
        return None
    return flags, envelope, bool(flags & 0x10), 8 + size


def _st_is_empty(blob: Any) -> int | None:
    header = _gpkg_header(blob)
    return None if header is None else int(header[2])


def _st_bound(index: int) -> Callable[[Any], float | None]:
    """ST_MinX/MaxX/MinY/MaxY as GDAL's R-tree triggers call them (index into minx, maxx, miny, maxy)."""

    def bound(blob: Any) -> float | None:
        header = _gpkg_header(blob)
        if header is None or header[2]:
            return None
        flags, envelope, _, size = header
        order = "<" if flags & 1 else ">"
        if envelope:
            return struct.unpack_from(order + "4d", bytes(blob), 8)[index]
        # GDAL writes points without an envelope: read the WKB point itself
        wkb = bytes(blob[size:])
        if len(wkb) >= 21:
            wkb_order = "<" if wkb[0] == 1 else ">"
            gtype = struct.unpack_from(wkb_order + "I", wkb, 1)[0]
            if gtype % 1000 == 1 or (gtype & 0x0FFFFFFF) == 1:
                x, y = struct.unpack_from(wkb_order + "2d", wkb, 5)
                return (x, x, y, y)[index]
        # QDT only updates attribute columns, so the R-tree triggers never need this; refusing
        # (the transaction rolls back) is safer than writing a wrong R-tree entry.
        raise ValueError("geometry without envelope: QDT cannot compute its bounds")

    return bound


def connect(path: str | os.PathLike[str], busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open an existing GeoPackage for writing, in autocommit mode (transactions are explicit).

    Registers the SQL functions GDAL's R-tree triggers name (``ST_IsEmpty``, ``ST_MinX`` …):
    SQLite resolves them when it prepares any ``UPDATE`` of a feature table, even when the
    triggers do not fire.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WriteError(f"cannot write '{path}': file not found")
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=rw"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise WriteError(f"cannot open '{path}' for writing: {exc}") from exc
    con.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        con.create_function(name, 1, _st_bound(i), deterministic=True)
    try:
        con.execute("PRAGMA synchronous = FULL")  # reads the schema: waits for, then fails on, a lock
    except sqlite3.Error as exc:
        con.close()
        if is_lock_error(exc):
            raise WriteError(locked_message(path)) from exc
        raise WriteError(f"cannot open '{path}' for writing: {exc}") from exc
    return con


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_columns(con_or_path: sqlite3.Connection | str | os.PathLike[str], table: str) -> dict[str, ColumnInfo]:
    """Columns of a GeoPackage table (name → :class:`ColumnInfo`), in table order."""
    if isinstance(con_or_path, sqlite3.Connection):
        rows = con_or_path.execute(f"PRAGMA table_info({_quote_ident(table)})").fetchall()
    else:
        con = connect(con_or_path)
        try:
            rows = con.execute(f"PRAGMA table_info({_quote_ident(table)})").fetchall()
        finally:
            con.close()
    if not rows:
        raise WriteError(f"table '{table}' not found")
    return {r[1]: ColumnInfo(r[1], str(r[2] or "").upper(), bool(r[3]), bool(r[5])) for r in rows}


def feature_key(con: sqlite3.Connection, table: str) -> str:
    """The column that identifies a feature of ``table``: its INTEGER PRIMARY KEY.

    GDAL takes a GeoPackage feature's id (the fid QDT shows) from this column, whatever it is
    called (GeoPackage 1.2 §2.1.6 asks feature tables for one; ogr2ogr names it ``fid``,
    ArcGIS ``OBJECTID``, others ``id``). It is looked up in the table's definition, never by
    name: an ordinary column that happens to be called ``fid`` is just an attribute.

    Raises
    ------
    WriteError
        The table has no single INTEGER PRIMARY KEY (its rows are then addressed by SQLite's
        implicit rowid, which ``VACUUM`` may renumber): the layer can only be read.
    """
    rows = con.execute(f"PRAGMA table_info({_quote_ident(table)})").fetchall()
    keys = [r for r in rows if r[5]]
    # only a column declared exactly INTEGER PRIMARY KEY is the rowid alias (SQLite "ROWIDs and
    # the INTEGER PRIMARY KEY"); "INT PRIMARY KEY" or a composite key is not
    if len(keys) == 1 and str(keys[0][2] or "").strip().upper() == "INTEGER":
        return str(keys[0][1])
    why = "a composite primary key" if len(keys) > 1 else (
        f"a primary key {keys[0][1]!r} that is not INTEGER" if keys else "no primary key")
    raise WriteError(f"table '{table}' has {why}, so its features have no stable id; the layer is "
                     "read-only (add an INTEGER PRIMARY KEY column, e.g. with ogr2ogr, to edit it)")


def geometry_column(con: sqlite3.Connection, table: str) -> str | None:
    """The geometry column of a feature table (``gpkg_geometry_columns``), None for attribute tables."""
    row = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
                      (table,)).fetchone()
    return row[0] if row else None


def datetime_uses_z(con: sqlite3.Connection, table: str, column: str) -> bool:
    """Whether a DATETIME column's values carry the UTC ``Z`` suffix.

    GeoPackage 1.2 Table 1 asks for ``…Z``; files written from naive datetimes (pyogrio, the
    QDT sample) omit it, and GDAL reads a column with any ``Z`` value as UTC-aware. New values
    follow the column's existing style so it stays uniform; an empty column gets the spec's ``Z``.
    """
    row = con.execute(f"SELECT {_quote_ident(column)} FROM {_quote_ident(table)} "
                      f"WHERE {_quote_ident(column)} IS NOT NULL LIMIT 1").fetchone()
    if row is None or not isinstance(row[0], str):
        return True
    return row[0].rstrip().endswith("Z")


def encode_values(column: ColumnInfo, values: Sequence[Any], *, datetime_z: bool = True) -> list[SqlValue]:
    """Values (Python/numpy/pandas scalars; None/NaN/NaT/NA = null) as SQLite values for ``column``.

    INTEGER-like types → int, REAL-like → float, BOOLEAN → 0/1, DATE → ``YYYY-MM-DD``,
    DATETIME → ``YYYY-MM-DDTHH:MM:SS.SSS`` (+ ``Z`` when ``datetime_z``), TEXT → str. Vectorised
    with pandas; the caller has validated the values (a value that does not convert raises
    :class:`WriteError`).
    """
    import pandas as pd  # only the session path encodes; the crash-test child passes SQL values

    s = pd.Series(list(values), dtype=object)
    null = s.isna().to_numpy(dtype=bool)
    base = column.base_type
    try:
        if base in ("INTEGER", "INT", "MEDIUMINT", "SMALLINT", "TINYINT", "BIGINT"):
            out = pd.to_numeric(s.where(~null), errors="raise").astype("Float64")
            if not (out.dropna() % 1 == 0).all():
                raise ValueError("not a whole number")
            enc = out.astype("Int64").astype(object)
        elif base in ("REAL", "DOUBLE", "FLOAT", "NUMERIC"):
            enc = pd.to_numeric(s.where(~null), errors="raise").astype("float64").astype(object)
        elif base == "BOOLEAN":
            enc = s.where(~null).map(lambda v: int(bool(v)), na_action="ignore")
        elif base in ("DATE", "DATETIME"):
            stamps = pd.to_datetime(s.where(~null), errors="raise", format="mixed")
            if getattr(stamps.dt, "tz", None) is not None:
                stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
            if base == "DATE":
                enc = stamps.dt.strftime("%Y-%m-%d").astype(object)
            else:
                text = stamps.dt.strftime(GPKG_DATETIME_FORMAT).str[:-3]  # microseconds → milliseconds
                enc = (text + ("Z" if datetime_z else "")).astype(object)
        else:  # TEXT, TEXT(n) and anything else SQLite stores as text
            enc = s.where(~null).map(str, na_action="ignore")
    except (ValueError, TypeError) as exc:
        bad = next((v for v in s[~null] if _unconvertible(v, base)), None)
        raise WriteError(f"column '{column.name}' ({column.declared_type}): cannot store {bad!r}: {exc}") from exc
    enc = enc.astype(object)
    enc[null] = None
    return enc.tolist()


def _unconvertible(value: Any, base: str) -> bool:
    try:
        float(value) if base not in ("DATE", "DATETIME") else str(value)
    except (TypeError, ValueError):
        return True
    return False


def log_text(value: Any) -> str | None:
    """How a SQLite value appears in the change log's TEXT columns (None stays NULL)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def utc_now_iso() -> str:
    """Current UTC time as GeoPackage DATETIME text (``…Z``)."""
    return datetime.now(timezone.utc).strftime(GPKG_DATETIME_FORMAT)[:-3] + "Z"


# --------------------------------------------------------------------------------------
# the change log table
# --------------------------------------------------------------------------------------

def ensure_change_log(con: sqlite3.Connection) -> None:
    """Create and register :data:`CHANGE_LOG_TABLE` (inside the caller's transaction).

    It is a GeoPackage *attributes* table (``gpkg_contents.data_type = 'attributes'``,
    GeoPackage 1.2 §2.4), so GDAL and QGIS list it as a layer without geometry and a report
    can read it with any OGR client. It gets no ``gpkg_ogr_contents`` row: GDAL then counts
    its rows itself, and no trigger is needed to keep a cached count right.
    """
    con.execute(_CHANGE_LOG_DDL)
    con.execute(f'CREATE INDEX IF NOT EXISTS "{CHANGE_LOG_TABLE}_feature" '
                f'ON "{CHANGE_LOG_TABLE}" ("layer", "feature_fid")')
    con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                "VALUES (?, 'attributes', ?, ?, ?)",
                (CHANGE_LOG_TABLE, CHANGE_LOG_TABLE, "QDT attribute edits: who changed what, when (one row per cell)",
                 utc_now_iso()))


def read_change_log(path: str | os.PathLike[str], *, layer: str | None = None,
                    commit_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of the change log (oldest first), optionally for one layer or one commit; [] if none yet."""
    con = connect(path)
    try:
        exists = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                             (CHANGE_LOG_TABLE,)).fetchone()
        if not exists:
            return []
        where, params = [], []
        if layer is not None:
            where.append("layer = ?")
            params.append(layer)
        if commit_id is not None:
            where.append("commit_id = ?")
            params.append(commit_id)
        sql = f'SELECT * FROM "{CHANGE_LOG_TABLE}"' + (" WHERE " + " AND ".join(where) if where else "")
        cur = con.execute(sql + " ORDER BY fid", params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


# --------------------------------------------------------------------------------------
# the commit
# --------------------------------------------------------------------------------------

def is_lock_error(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "busy": another connection holds the file."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def locked_message(path: str | os.PathLike[str]) -> str:
    """The one-line message for a GeoPackage another program holds locked."""
    return (f"'{os.path.basename(os.fspath(path))}' is locked by another program that is writing it (QGIS, "
            "another QDT, ogr2ogr); nothing was written: try again when it has finished")


def _check_table(con: sqlite3.Connection, table: str, path: str) -> None:
    try:
        row = con.execute("SELECT data_type FROM gpkg_contents WHERE lower(table_name) = lower(?)",
                          (table,)).fetchone()
    except sqlite3.DatabaseError as exc:
        if is_lock_error(exc):
            raise WriteError(locked_message(path)) from exc
        raise WriteError(f"'{path}' is not a GeoPackage ({exc})") from exc
    if row is None or row[0] not in ("features", "attributes"):
        raise WriteError(f"'{path}' has no feature or attribute table '{table}'")


def _read_current(con: sqlite3.Connection, table: str, key: str, column: str,
                  fids: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(found mask, values in ``fids`` order) of one column, read with one statement."""
    k = _quote_ident(key)
    rows = con.execute(f"SELECT {k}, {_quote_ident(column)} FROM {_quote_ident(table)} "
                       f"WHERE {k} IN (SELECT value FROM json_each(?))", (json.dumps(fids.tolist()),)).fetchall()
    found = np.zeros(len(fids), dtype=bool)
    values: list[Any] = [None] * len(fids)
    if rows:
        got_fids, got_values = zip(*rows, strict=True)
        order = np.argsort(fids, kind="stable")
        pos = order[np.searchsorted(fids, np.asarray(got_fids, dtype=np.int64), sorter=order)]
        found[pos] = True
        arr = np.empty(len(fids), dtype=object)
        arr[:] = None
        arr[pos] = np.asarray(got_values + (None,), dtype=object)[:-1]  # keep values as Python objects
        values = arr.tolist()
    return found, values


def update_attributes(path: str | os.PathLike[str], table: str, updates: Sequence[ColumnUpdate], *,
                      user: str | None, conflict_check: ConflictCheck | None = None,
                      busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
                      commit_id: str | None = None) -> WriteOutcome:
    """Write attribute changes of one table as ONE transaction, logging every cell.

    Parameters
    ----------
    path
        An existing GeoPackage.
    table
        The feature (or attribute) table, as named in ``gpkg_contents``.
    updates
        New SQLite values per column (:class:`ColumnUpdate`). The geometry column and
        ``fid`` cannot be updated.
    user
        Recorded in the change log.
    conflict_check
        Called once per column with the cells' current values (read inside the
        transaction); features with a cell flagged True are refused as a whole: none of
        their cells is written. Features missing from the table are refused too.
    busy_timeout_s
        How long to wait for another program's lock before failing.
    commit_id
        uuid to use (a new uuid4 by default).

    Returns
    -------
    WriteOutcome
        Written and refused fids, the values found in the file, the commit id.

    Raises
    ------
    WriteError
        The file is locked, read-only, not a GeoPackage, the table or a column is missing,
        the disk is full …; the transaction is rolled back, so nothing of the commit is in
        the file. ``str()`` is one line naming the file.
    """
    path = os.fspath(path)
    started = time.perf_counter()
    commit_id = commit_id or str(uuid.uuid4())
    committed_at = utc_now_iso()
    name = os.path.basename(path)
    con = connect(path, busy_timeout_s)
    try:
        _check_table(con, table, path)
        columns = table_columns(con, table)
        geom = geometry_column(con, table)
        key = feature_key(con, table)
        for up in updates:
            if up.column not in columns:
                raise WriteError(f"'{name}': table '{table}' has no column '{up.column}'")
            if up.column == geom or columns[up.column].primary_key:
                raise WriteError(f"'{name}': column '{up.column}' of '{table}' is not an attribute")
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_lock_error(exc):
                raise WriteError(locked_message(path)) from exc
            raise WriteError(f"cannot write '{name}': {exc}; nothing was written") from exc
        try:
            outcome = _write(con, table, key, updates, user, conflict_check, commit_id, committed_at)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        if is_lock_error(exc):
            raise WriteError(locked_message(path)) from exc
        raise WriteError(f"cannot write '{name}': {exc}; nothing was written") from exc
    finally:
        con.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


def _write(con: sqlite3.Connection, table: str, key: str, updates: Sequence[ColumnUpdate], user: str | None,
           conflict_check: ConflictCheck | None, commit_id: str, committed_at: str) -> WriteOutcome:
    outcome = WriteOutcome(commit_id, committed_at)
    refused: set[int] = set()
    missing: set[int] = set()
    current: dict[str, tuple[np.ndarray, list[Any]]] = {}
    for up in updates:
        if len(up.fids) == 0:
            continue
        found, values = _read_current(con, table, key, up.column, up.fids)
        current[up.column] = (up.fids, values)
        missing.update(up.fids[~found].tolist())
        if conflict_check is not None:
            flagged = np.asarray(conflict_check(up.column, up.fids, values), dtype=bool) & found
            refused.update(up.fids[flagged].tolist())
    blocked = np.fromiter(refused | missing, dtype=np.int64)
    log_rows: list[tuple[Any, ...]] = []
    for up in updates:
        if len(up.fids) == 0:
            continue
        fids, new, old = up.kept(blocked, current[up.column][1])
        if not len(fids):
            continue
        con.executemany(f"UPDATE {_quote_ident(table)} SET {_quote_ident(up.column)} = ? "
                        f"WHERE {_quote_ident(key)} = ?",
                        zip(new, fids.tolist(), strict=True))
        log_rows.extend(zip([up.column] * len(fids), fids.tolist(), map(log_text, old), map(log_text, new),
                            strict=True))
        outcome.written[up.column] = fids
    if log_rows:
        ensure_change_log(con)
        con.executemany(f'INSERT INTO "{CHANGE_LOG_TABLE}" (commit_id, committed_at, user, layer, feature_fid, '
                        'field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                        ((commit_id, committed_at, user, table, fid, col, old, new)
                         for col, fid, old, new in log_rows))
        con.execute("UPDATE gpkg_contents SET last_change = ? WHERE lower(table_name) IN (lower(?), lower(?))",
                    (committed_at, table, CHANGE_LOG_TABLE))
    else:
        outcome.commit_id = None
    outcome.refused = np.array(sorted(refused - missing), dtype=np.int64)
    outcome.missing = np.array(sorted(missing), dtype=np.int64)
    outcome.current = current
    outcome.cells = len(log_rows)
    return outcome
