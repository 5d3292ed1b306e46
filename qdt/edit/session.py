"""Edit sessions: start editing a layer, change attributes, undo, commit or roll back.

A layer can be edited when its source declares transactional commits
(:attr:`qdt.io.Capability.TRANSACTIONAL_COMMIT`: a GeoPackage, a PostGIS table); the session
writes through the source's edit store (:meth:`qdt.io.DataSource.edit_store`).

::

    session = start_editing(layer, user="张工")            # layer loaded from a .gpkg
    session.set_value(12, "status", "维修中")              # validated; stores code 3; one undo step
    session.set_values(query_fids, {"status": "维修中"})   # batch: one undo step
    session.undo(); session.redo()
    result = session.commit()                             # one SQLite transaction + change log
    if result.conflicts: ...                              # refused features stay buffered
    session.close()

While editing, the layer's own frame shows the buffered values (see :mod:`qdt.edit.buffer`);
the session keeps the originals, the undo stack and the link to the file.

Conflicts. Two engineers may edit the same GeoPackage on a shared drive. For each modified
cell the buffer knows the value the layer showed before the edit (loaded from the file, or
committed by this session). At commit, inside the write transaction, the file's current
value of every modified cell is read and compared with that original: if it differs (and
is not already the value being written), another program changed the cell since it was
loaded. Such a feature is *refused as a whole*: none of its cells is written, its buffered
values stay in the buffer, and :class:`Conflict` records (fid, field, original, mine,
theirs) are returned and kept in :attr:`EditSession.conflicts`. Every other feature is
committed. :meth:`EditSession.resolve` then keeps the user's values (the next commit
overwrites) or takes the other program's values. Cells nobody else touched never conflict,
even on the same feature: only the edited fields are compared.

Undo history survives a commit (like a text editor's; the stack is marked clean): undoing a
committed edit buffers the reverse change, to be committed again. Rollback discards the
buffer and the history.

Events (``session.events``):

- ``changed(fids: numpy.ndarray, fields: tuple[str, ...])``: shown values changed
- ``committed(CommitResult)``; ``conflicts(list[Conflict])`` when a commit refused features
- ``rolled_back()``; ``closed()``
"""

from __future__ import annotations

import getpass
import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qdt.edit.buffer import EditBuffer
from qdt.edit.commands import SetAttribute, SetAttributes
from qdt.edit.errors import EditError
from qdt.edit.undo import UndoStack
from qdt.edit.validation import FieldValidator, same_values, to_python
from qdt.events import EventGroup
from qdt.io.gpkg_write import DEFAULT_BUSY_TIMEOUT_S, ColumnInfo, ColumnUpdate, WriteError, encode_values
from qdt.layers.vector import VectorLayer

_ACTIVE: weakref.WeakKeyDictionary[VectorLayer, EditSession] = weakref.WeakKeyDictionary()


def default_user() -> str:
    """Who edits: ``$QDT_USER``, else the login name, else ``"unknown"``."""
    name = os.environ.get("QDT_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@dataclass(frozen=True)
class Conflict:
    """A cell another program changed since it was loaded; the feature was not written.

    ``original`` is the value loaded (what the edit started from), ``mine`` the buffered
    value, ``theirs`` the file's value now (None and ``deleted=True`` if the feature is gone).
    """

    layer: str
    fid: int
    field: str
    original: Any
    mine: Any
    theirs: Any
    deleted: bool = False
    message: str = ""

    def __str__(self) -> str:
        return self.message


@dataclass
class CommitResult:
    """What :meth:`EditSession.commit` did.

    Attributes
    ----------
    commit_id
        uuid4 of the commit (in the change log), None when nothing was written.
    user
        Recorded as the author.
    committed_fids
        Features with written cells.
    cells
        Cells written (= change-log rows).
    conflicts
        Cells that blocked their feature (see the module docstring); empty when all went in.
    refused_fids
        Features not written (their edits are still buffered).
    seconds
        Duration of the write transaction.
    """

    commit_id: str | None
    user: str
    committed_fids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    cells: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    refused_fids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    seconds: float = 0.0

    @property
    def features(self) -> int:
        """Number of features changed in the file."""
        return len(self.committed_fids)

    @property
    def ok(self) -> bool:
        """True when every buffered edit was written."""
        return not self.conflicts and len(self.refused_fids) == 0

    def summary(self) -> str:
        """One line for a status bar or the CLI."""
        text = f"{self.features} feature(s) changed ({self.cells} value(s))"
        if self.commit_id:
            text += f", commit {self.commit_id}"
        if len(self.refused_fids):
            text += (f"; {len(self.refused_fids)} feature(s) refused: changed by another program since loading "
                     f"(fid {', '.join(str(int(f)) for f in self.refused_fids[:10])}"
                     f"{' …' if len(self.refused_fids) > 10 else ''})")
        return text


def _edit_store(layer: VectorLayer, timeout_s: float) -> Any:
    """Where the commits of ``layer`` go: the edit store its source offers, when the source
    declares transactional commits (a GeoPackage file, a database table)."""
    from qdt.io import Capability, ReadError, datasource_of

    source = layer.source
    if not source:
        raise EditError(f"{layer.name}: the layer has no data file to save edits to", rule="session")
    datasource = datasource_of(layer)
    if datasource is None:
        raise EditError(f"{layer.name}: the layer has no data file to save edits to", rule="session")
    if not datasource.has(Capability.TRANSACTIONAL_COMMIT):
        raise EditError(f"{layer.name}: '{os.path.basename(source)}' is not a GeoPackage; only GeoPackage "
                        "layers can be edited (convert it first)", rule="session")
    try:
        return datasource.edit_store(layer, lock_timeout_s=timeout_s)
    except (WriteError, ReadError) as exc:
        raise EditError(f"{layer.name}: {exc}", rule="session") from exc


def editing_session(layer: VectorLayer) -> EditSession | None:
    """The open edit session of ``layer``, or None when the layer is not in edit mode."""
    return _ACTIVE.get(layer)


def start_editing(layer: VectorLayer, *, user: str | None = None, **kwargs: Any) -> EditSession:
    """Put ``layer`` in edit mode (see :class:`EditSession`)."""
    return EditSession(layer, user=user, **kwargs)


class EditSession:
    """Edit mode of one vector layer read from a source with transactional commits.

    Parameters
    ----------
    layer
        A :class:`~qdt.layers.VectorLayer` whose ``source`` is a GeoPackage file (``source_layer``
        its table) or a database table, as :func:`qdt.io.load_layer` sets them.
    user
        Author recorded in the change log (default: :func:`default_user`).
    busy_timeout_s
        How long a commit waits for another program's lock on the file.
    undo_limit
        Undo steps kept (0 = unlimited).
    notify_layer
        Emit ``layer.events.data`` after each change so views redraw.

    Raises
    ------
    EditError
        The layer is already being edited, its source cannot commit edits (not a GeoPackage
        or a database), or the store cannot be opened for writing (read-only, missing, table gone).
    """

    def __init__(self, layer: VectorLayer, *, user: str | None = None,
                 busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, undo_limit: int = 0,
                 notify_layer: bool = True) -> None:
        if not isinstance(layer, VectorLayer):
            raise EditError(f"{getattr(layer, 'name', layer)}: only vector layers have editable attributes")
        if editing_session(layer) is not None:
            raise EditError(f"{layer.name}: the layer is already in edit mode")
        self.layer = layer
        self.user = user or default_user()
        self.busy_timeout_s = busy_timeout_s
        # where commits go: a GeoPackage file, a database table ... (the source's edit store)
        self._store = _edit_store(layer, busy_timeout_s)
        self.path, self.table = self._store.uri, self._store.table
        self._columns, self._datetime_z = self._read_schema()
        self._column_of = self._map_columns()
        self._field_of = {c: f for f, c in self._column_of.items()}
        self.validator = FieldValidator(layer, editable=self._column_of)
        self.buffer = EditBuffer(layer, self.validator, notify_layer=notify_layer)
        self.stack = UndoStack(undo_limit)
        self.conflicts: dict[int, list[Conflict]] = {}
        self.events = EventGroup("changed", "committed", "conflicts", "rolled_back", "closed")
        self.buffer.events.changed.connect(self._forward_changed)
        self._open = True
        _ACTIVE[layer] = self

    # --- setup --------------------------------------------------------------------------
    def _read_schema(self) -> tuple[dict[str, ColumnInfo], dict[str, bool]]:
        from qdt.io import ReadError

        try:
            return self._store.columns()
        except (WriteError, ReadError) as exc:
            raise EditError(f"{self.layer.name}: {exc}", rule="session") from exc

    def _map_columns(self) -> dict[str, str]:
        """Layer field → table column (the reader may have renamed columns to catalogue names)."""
        from qdt.cim import catalogue

        table_cols = list(self._columns)
        by_lower = {c.lower(): c for c in table_cols}
        by_alias: dict[str, str] = {}
        if self.layer.feature_class:
            try:
                cls = catalogue().feature_class(self.layer.feature_class)
            except KeyError:
                cls = None
            if cls is not None:
                for source, canonical in cls.map_columns(table_cols).items():
                    by_alias.setdefault(canonical, source)
        mapping: dict[str, str] = {}
        for name in self.layer.columns:
            if name in self._columns:
                column: str | None = name
            else:
                column = by_lower.get(str(name).lower()) or by_alias.get(name)
            if column is not None and column not in mapping.values():
                mapping[name] = column
        return mapping

    def _forward_changed(self, fids: np.ndarray, fields: tuple[str, ...]) -> None:
        self.events.changed.emit(fids, fields)

    def _check_open(self) -> None:
        if not self._open:
            raise EditError(f"{self.layer.name}: the edit session is closed", rule="session")

    # --- editing ------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def editable_fields(self) -> list[str]:
        """Fields that can be edited (stored in the file; not the geometry or fid)."""
        return list(self._column_of)

    def set_value_command(self, fid: int, field: str, value: Any) -> SetAttribute:
        """A validated, not yet executed command (for a Qt ``QUndoStack`` adapter)."""
        self._check_open()
        return SetAttribute(self.buffer, fid, field, value)

    def set_values_command(self, fids: Sequence[int] | np.ndarray, values: Mapping[str, Any]) -> SetAttributes:
        """A validated, not yet executed batch command (for a Qt ``QUndoStack`` adapter)."""
        self._check_open()
        return SetAttributes(self.buffer, fids, values)

    def set_value(self, fid: int, field: str, value: Any) -> SetAttribute:
        """Validate and set one cell: one undo step. Raises EditError (nothing changes)."""
        return self.stack.push(self.set_value_command(fid, field, value))

    def set_values(self, fids: Sequence[int] | np.ndarray, values: Mapping[str, Any]) -> SetAttributes:
        """Validate and set fields of many features (e.g. a query result): ONE undo step."""
        return self.stack.push(self.set_values_command(fids, values))

    def push(self, command: Any) -> Any:
        """Run and record any command built on this session's buffer."""
        self._check_open()
        return self.stack.push(command)

    def undo(self) -> None:
        self._check_open()
        self.stack.undo()

    def redo(self) -> None:
        self._check_open()
        self.stack.redo()

    # --- reading ------------------------------------------------------------------------
    def value(self, fid: int, field: str) -> Any:
        """The value shown (buffered if edited) — what the attribute table and inspector display."""
        return self.buffer.value(fid, field)

    def original(self, fid: int, field: str) -> Any:
        """The value as loaded / last committed."""
        return self.buffer.original(fid, field)

    def is_modified(self, fid: int, field: str | None = None) -> bool:
        return self.buffer.is_modified(fid, field)

    @property
    def has_changes(self) -> bool:
        """Uncommitted edits exist (the UI asks before closing)."""
        return self.buffer.has_changes

    def effective_frame(self) -> pd.DataFrame:
        """The layer's frame with buffered values (the layer itself, while editing)."""
        return self.layer.frame

    # --- commit / rollback --------------------------------------------------------------
    def commit(self, user: str | None = None) -> CommitResult:
        """Write every buffered change to the GeoPackage in ONE transaction, with change-log rows.

        Features another program changed since loading are refused (see the module
        docstring): their edits stay buffered and are reported in ``conflicts``.

        Raises
        ------
        EditError
            The file could not be written (locked, read-only, disk full …). Nothing of the
            commit is in the file and the buffer is intact, so the user can retry.
        """
        self._check_open()
        user = user or self.user
        pending = self.buffer.pending()
        if not pending:
            return CommitResult(None, user)
        updates = []
        for fld, (fids, values, _originals) in pending.items():
            column = self._column_of[fld]
            try:
                encoded = encode_values(self._columns[column], values.tolist(),
                                        datetime_z=self._datetime_z.get(column, True))
            except WriteError as exc:
                raise EditError(f"{self.layer.name}: {exc}", field=fld, rule="type") from exc
            updates.append(ColumnUpdate(column, fids, encoded))
        flagged: dict[str, tuple[np.ndarray, pd.Series, np.ndarray]] = {}

        def check(column: str, fids: np.ndarray, current: list[Any]) -> np.ndarray:
            fld = self._field_of[column]
            _, mine, originals = pending[fld]
            theirs = self.validator.decode(fld, current)
            unchanged = same_values(theirs, originals.reset_index(drop=True))
            agreed = same_values(theirs, mine.reset_index(drop=True))
            conflict = ~unchanged & ~agreed
            flagged[fld] = (fids, theirs, conflict)
            return conflict

        try:
            outcome = self._store.update(updates, user=user, conflict_check=check)
        except WriteError as exc:
            raise EditError(f"{self.layer.name}: commit failed, nothing written, edits kept: {exc}",
                            rule="commit") from exc
        for fld in pending:
            written = outcome.written.get(self._column_of[fld])
            if written is not None:
                self.buffer.forget(fld, written)
        conflicts = self._conflicts(pending, flagged, outcome.refused, outcome.missing)
        self.conflicts = {}
        for c in conflicts:
            self.conflicts.setdefault(c.fid, []).append(c)
        result = CommitResult(outcome.commit_id, user, outcome.written_fids, outcome.cells, conflicts,
                              np.union1d(outcome.refused, outcome.missing), outcome.seconds)
        if not self.buffer.has_changes:
            self.stack.set_clean()
        self.events.committed.emit(result)
        if conflicts:
            self.events.conflicts.emit(conflicts)
        return result

    def _conflicts(self, pending: dict[str, tuple[np.ndarray, pd.Series, pd.Series]],
                   flagged: dict[str, tuple[np.ndarray, pd.Series, np.ndarray]],
                   refused: np.ndarray, missing: np.ndarray) -> list[Conflict]:
        out: list[Conflict] = []
        for fld, (fids, mine, originals) in pending.items():
            gone = np.isin(fids, missing)
            check = flagged.get(fld)
            hit = gone | (check[2] & np.isin(fids, refused) if check is not None else np.zeros(len(fids), bool))
            for i in np.flatnonzero(hit)[:1000]:  # a report, not a hot path; capped
                fid = int(fids[i])
                theirs = None if gone[i] or check is None else to_python(check[1].iloc[i])
                out.append(self._conflict(fid, fld, to_python(originals.iloc[i]), to_python(mine.iloc[i]),
                                          theirs, bool(gone[i])))
        out.sort(key=lambda c: (c.fid, c.field))
        return out

    def _conflict(self, fid: int, fld: str, original: Any, mine: Any, theirs: Any, deleted: bool) -> Conflict:
        v = self.validator
        where = f"{self.layer.name}: feature {fid} field {v.display(fld)}"
        if deleted:
            msg = (f"{where}: the feature was deleted by another program; your value {v.label_of(fld, mine)} "
                   "was not saved")
        else:
            msg = (f"{where}: changed by another program from {v.label_of(fld, original)} to "
                   f"{v.label_of(fld, theirs)}; your value {v.label_of(fld, mine)} was not saved")
        return Conflict(self.layer.name, fid, fld, original, mine, theirs, deleted, msg)

    def resolve(self, fids: Sequence[int] | None = None, keep: str = "mine") -> None:
        """Settle conflicts reported by the last commit.

        ``keep="mine"``: the other program's values become the originals, so the next
        commit writes your values over them. ``keep="theirs"``: your edits of the
        conflicting cells are replaced by the file's values (the cells are then unmodified).
        Edits of features deleted by another program are dropped either way.
        """
        self._check_open()
        if keep not in ("mine", "theirs"):
            raise EditError(f"resolve: keep must be 'mine' or 'theirs', not {keep!r}")
        chosen = list(self.conflicts) if fids is None else [int(f) for f in fids if int(f) in self.conflicts]
        touched_fields: set[str] = set()
        for fid in chosen:
            for c in self.conflicts.pop(fid):
                touched_fields.add(c.field)
                if c.deleted:
                    self.buffer.apply(c.field, [fid], [c.original])
                    self.buffer.forget(c.field, [fid])
                elif keep == "mine":
                    self.buffer.rebase(c.field, [fid], [c.theirs])
                else:
                    self.buffer.apply(c.field, [fid], [c.theirs])
                    self.buffer.forget(c.field, [fid])
        if chosen:
            self.buffer.notify(np.asarray(chosen, dtype=np.int64), sorted(touched_fields))

    def rollback(self) -> None:
        """Drop every buffered edit (the layer shows the originals again) and the undo history."""
        self._check_open()
        self.buffer.rollback()
        self.stack.clear()
        self.conflicts = {}
        self.events.rolled_back.emit()

    def close(self, *, discard: bool = False) -> None:
        """Leave edit mode. With uncommitted edits, pass ``discard=True`` (they are rolled back)
        or commit first; otherwise EditError (the UI asks the user before closing)."""
        if not self._open:
            return
        if self.has_changes:
            if not discard:
                raise EditError(f"{self.layer.name}: {self.buffer.cell_count} uncommitted edit(s); commit or "
                                "discard them before leaving edit mode", rule="session")
            self.rollback()
        self._open = False
        _ACTIVE.pop(self.layer, None)
        self.events.closed.emit()

    def __enter__(self) -> EditSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(discard=True)
