"""Attribute commits to PostGIS: one transaction, optimistic concurrency, change log, NOTIFY.

:class:`PostGISStore` is what an edit session (:mod:`qdt.edit.session`) writes through for a
layer loaded from PostGIS. :meth:`PostGISStore.update` is ONE database transaction that

1. locks the edited rows (``SELECT … FOR UPDATE``, waiting at most ``lock_timeout``) and reads
   their row version (``qdt_version``, bumped by a trigger on every UPDATE whoever makes it;
   ``xmin`` for tables QDT did not create) and the current values of the edited cells;
2. for rows whose version moved since the layer loaded them (someone else committed), hands
   the current values to the session's ``conflict_check``: a feature with a cell another user
   changed (to something else than this user's value) is refused as a whole and reported;
   rows deleted meanwhile are refused as missing;
3. updates the remaining cells, one ``UPDATE … FROM unnest(%s, %s)`` per column (values as
   text, cast to the column type by the server), returning the new row versions;
4. inserts one change-log row per cell (commit id, time, the QDT user and the database user);
5. ``pg_notify('qdt_edits', {schema, table, commit_id, user, fids})`` — delivered to other
   sessions only if the transaction commits.

A lost connection or a killed client before ``COMMIT`` leaves the table as it was (the
server rolls back); the session keeps its buffer for a retry.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qdt.io.gpkg_write import ColumnInfo, ColumnUpdate, ConflictCheck, WriteError, WriteOutcome, log_text
from qdt.io.postgis.catalogue import CHANGE_LOG_TABLE, VERSION_COLUMN, kind_of
from qdt.io.postgis.connection import NOTIFY_CHANNEL, DatabaseError, connect, conninfo_of, db_error, describe

#: Most fids listed in one NOTIFY payload (PostgreSQL caps payloads at 8000 bytes); beyond it
#: the notice says "many" and listeners reload their window.
NOTIFY_MAX_FIDS = 500

_DECLARED = {"int": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "date": "DATE", "datetime": "DATETIME",
             "text": "TEXT"}


def is_postgis_layer(layer: Any) -> bool:
    """True for a layer read from PostGIS (it carries ``metadata["postgis"]``)."""
    return isinstance(getattr(layer, "metadata", None), dict) and "postgis" in layer.metadata


class PostGISStore:
    """The database side of editing one PostGIS layer.

    Parameters
    ----------
    layer
        A VectorLayer loaded by :class:`~qdt.io.postgis.PostGISDataSource` (its metadata
        names the table and holds the row versions seen at load time).
    lock_timeout_s
        How long a commit waits for rows another session is committing.
    """

    def __init__(self, layer: Any, *, lock_timeout_s: float = 10.0) -> None:
        meta = layer.metadata["postgis"]
        self.layer = layer
        self.uri = meta["uri"]
        self.conninfo = conninfo_of(self.uri)
        self.schema = meta["schema"]
        self.table = meta["table"]
        self.pk = meta["pk"]
        self.version = meta["version"]
        self.pg_types: dict[str, str] = dict(meta["columns"])
        self.lock_timeout_s = lock_timeout_s

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def versions(self) -> pd.Series:
        versions = self.layer.metadata.get("row_versions")
        if versions is None:
            versions = pd.Series(np.empty(0, dtype=np.int64), index=pd.Index([], dtype=np.int64, name="fid"))
            self.layer.metadata["row_versions"] = versions
        return versions

    def columns(self) -> tuple[dict[str, ColumnInfo], dict[str, bool]]:
        """Editable columns as the session's encoder knows them, and which datetimes are zoned."""
        if self.pk is None:
            raise DatabaseError(f"table '{self.name}' has no primary key; it cannot be edited")
        cols: dict[str, ColumnInfo] = {}
        zoned: dict[str, bool] = {}
        for name, pg_type in self.pg_types.items():
            kind = kind_of(pg_type)
            if kind == "other":
                continue
            cols[name] = ColumnInfo(name, _DECLARED[kind], False, False)
            if kind == "datetime":
                zoned[name] = "with time zone" in pg_type
        return cols, zoned

    def update(self, updates: Sequence[ColumnUpdate], *, user: str | None,
               conflict_check: ConflictCheck | None = None, commit_id: str | None = None) -> WriteOutcome:
        """Write the updates in one transaction (see the module docstring).

        Raises
        ------
        WriteError
            Unreachable server, lost connection, permission denied, a lock held too long, a
            value the table's constraints refuse: nothing of the commit is in the database.
        """
        import psycopg

        started = time.perf_counter()
        commit_id = commit_id or str(uuid.uuid4())
        try:
            con = connect(self.conninfo)
        except DatabaseError as exc:
            raise WriteError(str(exc)) from exc
        try:
            with con:
                con.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(self.lock_timeout_s * 1000)}ms",))
                outcome, new_versions = self._write(con, updates, user, conflict_check, commit_id)
                # leaving the ``with`` block commits (or rolls back on an exception)
        except psycopg.errors.LockNotAvailable as exc:
            raise WriteError(f"{describe(self.conninfo)}: table '{self.name}': features are locked by another "
                             "commit; try again") from exc
        except psycopg.errors.IntegrityError as exc:
            raise WriteError(f"{describe(self.conninfo)}: table '{self.name}': the database refused a value "
                             f"({str(exc).splitlines()[0]})") from exc
        except psycopg.Error as exc:
            raise WriteError(str(db_error(exc, self.conninfo, f"table '{self.name}'"))) from exc
        finally:
            con.close()
        if outcome.written:
            # versions of written rows: what the UPDATEs returned
            self.layer.metadata["row_versions"] = _merge(self.versions, new_versions)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _write(self, con: Any, updates: Sequence[ColumnUpdate], user: str | None,
               conflict_check: ConflictCheck | None, commit_id: str) -> tuple[WriteOutcome, dict[int, int]]:
        from psycopg import sql

        s, t, pk = sql.Identifier(self.schema), sql.Identifier(self.table), sql.Identifier(self.pk)
        version = (sql.SQL("{}::bigint").format(sql.Identifier(VERSION_COLUMN)) if self.version == VERSION_COLUMN
                   else sql.SQL("xmin::text::bigint"))
        updates = [u for u in updates if len(u.fids)]
        for up in updates:
            if up.column not in self.pg_types:
                raise WriteError(f"table '{self.name}' has no editable column '{up.column}'")
        outcome = WriteOutcome(commit_id, "")
        if not updates:
            outcome.commit_id = None
            return outcome, {}
        all_fids = np.unique(np.concatenate([u.fids for u in updates]))
        edited = sorted({u.column for u in updates})
        rows = con.execute(sql.SQL("SELECT {}, {}, {} FROM {}.{} WHERE {} = ANY(%s) ORDER BY {} FOR UPDATE").format(
            pk, version, sql.SQL(", ").join(map(sql.Identifier, edited)), s, t, pk, pk),
            (all_fids.tolist(),)).fetchall()
        found = pd.DataFrame.from_records(rows, columns=["fid", "version", *edited]).set_index("fid") \
            if rows else pd.DataFrame(columns=["version", *edited], index=pd.Index([], name="fid"))
        seen = self.versions
        loaded = seen.reindex(found.index)
        moved = found.index[loaded.isna().to_numpy() | (loaded.to_numpy() != found["version"].to_numpy())]
        missing = all_fids[~np.isin(all_fids, found.index.to_numpy())]
        refused: set[int] = set()
        current: dict[str, tuple[np.ndarray, list[Any]]] = {}
        for up in updates:
            values = found[up.column].reindex(up.fids).astype(object)
            values = values.where(values.notna(), None).tolist()
            current[up.column] = (up.fids, values)
            check = np.isin(up.fids, moved.to_numpy())
            if conflict_check is not None and check.any():
                flagged = np.asarray(conflict_check(up.column, up.fids, values), dtype=bool) & check
                refused.update(up.fids[flagged].tolist())
        blocked = np.asarray(sorted(refused | set(missing.tolist())), dtype=np.int64)
        log: list[tuple[str, int, str | None, str | None]] = []
        new_versions: dict[int, int] = {}
        for up in updates:
            fids, new, old = up.kept(blocked, current[up.column][1])
            if not len(fids):
                continue
            text = [None if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in new]
            pg_type = sql.SQL(self.pg_types[up.column])  # from pg_catalog's format_type, not user text
            returned = con.execute(sql.SQL(
                "UPDATE {}.{} AS t SET {} = v.val::{} FROM unnest(%s::bigint[], %s::text[]) AS v(fid, val) "
                "WHERE t.{} = v.fid RETURNING t.{}, {}").format(
                    s, t, sql.Identifier(up.column), pg_type, pk, pk,
                    sql.SQL("t.{}::bigint").format(sql.Identifier(VERSION_COLUMN)) if self.version == VERSION_COLUMN
                    else sql.SQL("t.xmin::text::bigint")),
                (fids.tolist(), text)).fetchall()
            new_versions.update({int(f): int(v) for f, v in returned})
            log.extend(zip([up.column] * len(fids), fids.tolist(), map(_log_text, old), map(log_text, new),
                           strict=True))
            outcome.written[up.column] = fids
        if log:
            cols, fids_, olds, news = (list(x) for x in zip(*log, strict=True))
            con.execute(sql.SQL(
                "INSERT INTO {}.{} (commit_id, \"user\", layer, feature_fid, field, old_value, new_value) "
                "SELECT %s, %s, %s, f, c, o, n FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) "
                "AS x(f, c, o, n)").format(s, sql.Identifier(CHANGE_LOG_TABLE)),
                (commit_id, user, self.table, fids_, cols, olds, news))
            written = np.unique(np.concatenate(list(outcome.written.values())))
            payload = {"schema": self.schema, "table": self.table, "commit_id": commit_id, "user": user}
            if len(written) <= NOTIFY_MAX_FIDS:
                payload["fids"] = written.tolist()
            else:
                payload["many"] = int(len(written))
            con.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, json.dumps(payload, ensure_ascii=False)))
            outcome.committed_at = str(con.execute("SELECT now()").fetchone()[0])
        else:
            outcome.commit_id = None
        outcome.refused = np.array(sorted(refused - set(missing.tolist())), dtype=np.int64)
        outcome.missing = np.asarray(missing, dtype=np.int64)
        outcome.current = current
        outcome.cells = len(log)
        return outcome, new_versions


def _log_text(value: Any) -> str | None:
    """A value read from PostgreSQL as change-log text (dates in ISO form)."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return log_text(value)


def _merge(versions: pd.Series, new: dict[int, int]) -> pd.Series:
    if not new:
        return versions
    update = pd.Series(list(new.values()), index=pd.Index(list(new.keys()), dtype=np.int64, name="fid"),
                       dtype=np.int64)
    out = versions.copy()
    out = pd.concat([out[~out.index.isin(update.index)], update]).sort_index()
    out.name = "version"
    return out


def read_change_log(uri: str, schema: str = "public", *, layer: str | None = None,
                    commit_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of a schema's change log, oldest first (optionally one layer or one commit)."""
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row

    conninfo = conninfo_of(uri)
    with connect(conninfo, autocommit=True) as con:
        try:
            cur = con.cursor(row_factory=dict_row)
            return cur.execute(sql.SQL(
                "SELECT * FROM {}.{} WHERE (%s::text IS NULL OR layer = %s) AND (%s::uuid IS NULL OR commit_id = %s) "
                "ORDER BY id").format(sql.Identifier(schema), sql.Identifier(CHANGE_LOG_TABLE)),
                (layer, layer, commit_id, commit_id)).fetchall()
        except psycopg.Error as exc:
            raise db_error(exc, conninfo, f"change log of schema '{schema}'") from exc


@dataclass(frozen=True)
class EditNotice:
    """A commit announced by another session: table, commit id, user, fids (None: too many to list)."""

    schema: str
    table: str
    commit_id: str
    user: str | None
    fids: tuple[int, ...] | None


class EditListener:
    """LISTENs on ``qdt_edits`` for commits of other sessions (its own dedicated connection).

    ``poll(timeout_s)`` returns the notices received (waiting up to ``timeout_s`` for the first);
    run it in a background task and apply the notices with :func:`refresh_features` on the GUI
    thread. ``close()`` ends the listening connection.
    """

    def __init__(self, uri: str) -> None:
        self.conninfo = conninfo_of(uri)
        self._con = connect(self.conninfo, autocommit=True)
        from psycopg import sql

        self._con.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))

    def poll(self, timeout_s: float = 0.0) -> list[EditNotice]:
        import psycopg

        out: list[EditNotice] = []
        try:
            gen = self._con.notifies(timeout=max(timeout_s, 0.001))
            for note in gen:
                notice = _notice(note.payload)
                if notice is not None:
                    out.append(notice)
                timeout_s = 0.0
                if len(out) >= 1000:
                    break
        except psycopg.Error as exc:
            raise db_error(exc, self.conninfo, "listening for edits") from exc
        return out

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> EditListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _notice(payload: str) -> EditNotice | None:
    try:
        d = json.loads(payload)
        fids = tuple(int(f) for f in d["fids"]) if "fids" in d else None
        return EditNotice(str(d["schema"]), str(d["table"]), str(d["commit_id"]), d.get("user"), fids)
    except (ValueError, KeyError, TypeError):
        return None  # not one of ours


@dataclass
class FetchedFeatures:
    """Rows re-read for :func:`apply_fetched`: ``wanted`` fids asked, ``frame`` the ones that
    still exist (in the layer's CRS), ``versions`` their row versions."""

    wanted: np.ndarray
    frame: Any
    versions: dict[int, int]


def fetch_features(meta: dict[str, Any], fids: Sequence[int], crs: Any = None) -> FetchedFeatures:
    """Read features ``fids`` of the table in ``meta`` (a layer's ``metadata["postgis"]``),
    reprojected to ``crs``. Touches no layer: safe on a worker thread (see :func:`apply_fetched`)."""
    from qdt.io.base import FeatureRequest
    from qdt.io.datasource import open_datasource

    wanted = np.unique(np.asarray(fids, dtype=np.int64))
    src = open_datasource(meta["uri"])
    data = src.read(f"{meta['schema']}.{meta['table']}", FeatureRequest(fids=tuple(wanted.tolist())))
    fresh = data.layer.frame
    if fresh.crs is not None and crs is not None and fresh.crs != crs:
        fresh = fresh.to_crs(crs)
    versions = dict(zip(fresh.index.tolist(), data.layer.metadata["row_versions"].tolist(), strict=True))
    return FetchedFeatures(wanted, fresh, versions)


def apply_fetched(layer: Any, fetched: FetchedFeatures, skip: Sequence[int] = ()) -> np.ndarray:
    """Put re-read rows into the layer (on the thread that owns it); returns the fids updated.

    Only features the layer still holds are touched (its window may have moved since the read),
    and none of ``skip`` (features with uncommitted edits). Emits ``events.data`` once."""
    wanted = np.intersect1d(fetched.wanted, layer.fids)
    if len(skip):
        wanted = np.setdiff1d(wanted, np.asarray(skip, dtype=np.int64))
    if len(wanted) == 0:
        return np.empty(0, dtype=np.int64)
    fresh = fetched.frame.loc[fetched.frame.index.isin(wanted)]
    frame = layer.frame
    gone = wanted[~np.isin(wanted, fresh.index.to_numpy())]
    if len(gone):
        frame = frame.drop(index=gone)
    common = [c for c in frame.columns if c in fresh.columns]
    rows = frame.index.get_indexer(fresh.index)
    ok = rows >= 0
    for c in common:
        col = frame.columns.get_loc(c)
        frame.iloc[rows[ok], col] = fresh[c].to_numpy()[ok]
    layer.frame = frame
    layer.metadata["row_versions"] = _merge(layer.metadata.get("row_versions", pd.Series(dtype=np.int64)),
                                            {f: fetched.versions[f] for f in fresh.index.tolist()})
    layer.events.data.emit()
    return np.union1d(fresh.index.to_numpy(dtype=np.int64), gone)


def refresh_features(layer: Any, fids: Sequence[int] | None = None) -> np.ndarray:
    """Re-read features of a PostGIS layer (after a notice) into its frame; returns the fids updated.

    Attribute values and row versions of ``fids`` present in the layer are replaced by the
    database's (features deleted meanwhile are dropped). Geometry is re-read too. The layer's
    ``events.data`` is emitted when something changed. Do not call while the layer has
    uncommitted edits of those features (the edit session's buffer owns them). Blocks on the
    database: the UI runs :func:`fetch_features` on a worker and :func:`apply_fetched` after.
    """
    wanted = layer.fids if fids is None else np.intersect1d(np.asarray(fids, dtype=np.int64), layer.fids)
    if len(wanted) == 0:
        return np.empty(0, dtype=np.int64)
    return apply_fetched(layer, fetch_features(layer.metadata["postgis"], wanted, layer.frame.crs))
