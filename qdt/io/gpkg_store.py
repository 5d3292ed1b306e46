"""A GeoPackage table as an edit store (:class:`qdt.io.datasource.EditStore`).

What :meth:`qdt.io.FileDataSource.edit_store` hands an edit session for a GeoPackage layer:
the table's editable columns, and commits through :func:`qdt.io.gpkg_write.update_attributes`
(one SQLite transaction, conflict check inside it, change-log rows in the file).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from qdt.io.gpkg_write import (
    ColumnInfo,
    ColumnUpdate,
    ConflictCheck,
    WriteError,
    WriteOutcome,
    connect,
    datetime_uses_z,
    feature_key,
    geometry_column,
    is_lock_error,
    locked_message,
    table_columns,
    update_attributes,
)


class GeoPackageStore:
    """Edits of one GeoPackage table.

    Parameters
    ----------
    path
        The GeoPackage.
    table
        The layer's table.
    busy_timeout_s
        How long a commit waits for another program's lock on the file.
    """

    def __init__(self, path: str, table: str, *, busy_timeout_s: float) -> None:
        self.uri = path
        self.path = path
        self.table = table
        self.busy_timeout_s = busy_timeout_s

    def columns(self) -> tuple[dict[str, ColumnInfo], dict[str, bool]]:
        """Editable columns (not the key, the geometry or BLOBs) and which datetimes carry a ``Z``.

        Raises WriteError naming the file when it cannot be read or has no such table."""
        name = os.path.basename(self.path)
        con = connect(self.path, self.busy_timeout_s)
        try:
            exists = con.execute("SELECT 1 FROM gpkg_contents WHERE lower(table_name) = lower(?)",
                                 (self.table,)).fetchone()
            if not exists:
                raise WriteError(f"'{name}' has no table '{self.table}'")
            columns = table_columns(con, self.table)
            feature_key(con, self.table)  # no stable key: read-only, say why now, not at commit
            geom = geometry_column(con, self.table)
            columns = {n: c for n, c in columns.items()
                       if n != geom and not c.primary_key and c.base_type != "BLOB"}
            z = {n: datetime_uses_z(con, self.table, n) for n, c in columns.items() if c.base_type == "DATETIME"}
        except WriteError:
            raise
        except Exception as exc:  # sqlite3.Error: a damaged or locked file
            if is_lock_error(exc):
                raise WriteError(locked_message(self.path)) from exc
            raise WriteError(f"cannot read '{name}': {exc}") from exc
        finally:
            con.close()
        return columns, z

    def update(self, updates: Sequence[ColumnUpdate], *, user: str | None,
               conflict_check: ConflictCheck | None = None) -> WriteOutcome:
        return update_attributes(self.path, self.table, updates, user=user, conflict_check=conflict_check,
                                 busy_timeout_s=self.busy_timeout_s)

    def __repr__(self) -> str:
        return f"<GeoPackageStore {self.path!r} table={self.table!r}>"

