"""What a database has: tables with geometry, their columns, keys and indexes (from pg_catalog).

Every schema, table and column name that reaches SQL is first looked up here with bound
parameters (``WHERE relname = %s``) and then quoted with :class:`psycopg.sql.Identifier`, so a
name such as ``x"; DROP TABLE y; --`` is only ever a name that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qdt.io.postgis.connection import DatabaseError

#: Column that QDT keeps in the tables it creates: bumped by a trigger on every UPDATE, whoever
#: makes it (QDT, QGIS, psql), so a commit can tell a row changed since it was loaded.
VERSION_COLUMN = "qdt_version"

#: Change-log table (one per schema), as in GeoPackages (:data:`qdt.io.CHANGE_LOG_TABLE`).
CHANGE_LOG_TABLE = "qdt_change_log"

DEFAULT_SCHEMA = "public"

_INT_TYPES = {"smallint", "integer", "bigint"}
_FLOAT_TYPES = {"real", "double precision", "numeric"}
_GEOMETRY_NAMES = {n.upper(): n for n in ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString",
                                          "MultiPolygon", "GeometryCollection", "Geometry")}


@dataclass
class TableInfo:
    """One table: ``columns`` maps attribute names to their ``format_type`` text."""

    schema: str
    table: str
    columns: dict[str, str] = field(default_factory=dict)
    pk: str | None = None
    geometry: str | None = None
    srid: int | None = None
    geometry_type: str | None = None
    has_spatial_index: bool = False
    has_version: bool = False
    estimated_rows: int | None = None

    @property
    def name(self) -> str:
        """``schema.table`` (how layers are named)."""
        return f"{self.schema}.{self.table}"

    @property
    def version_expr(self) -> str:
        """``qdt_version`` or ``xmin`` (for tables QDT did not create)."""
        return VERSION_COLUMN if self.has_version else "xmin"

    def attribute_columns(self) -> list[str]:
        return [c for c in self.columns if c not in (self.pk, self.geometry, VERSION_COLUMN)]


def split_layer(name: str | None, default_schema: str = DEFAULT_SCHEMA) -> tuple[str, str]:
    """``"schema.table"`` → (schema, table); a name without a dot is in ``default_schema``."""
    if not name or not str(name).strip():
        raise DatabaseError("a database layer needs a table name ('schema.table')")
    name = str(name)
    if "." in name:
        schema, table = name.split(".", 1)
        return schema, table
    return default_schema, name


def kind_of(pg_type: str) -> str:
    """``"int"``, ``"float"``, ``"bool"``, ``"date"``, ``"datetime"``, ``"text"`` or ``"other"``."""
    base = pg_type.split("(", 1)[0].strip()
    if base in _INT_TYPES:
        return "int"
    if base in _FLOAT_TYPES:
        return "float"
    if base == "boolean":
        return "bool"
    if base == "date":
        return "date"
    if base.startswith("timestamp"):
        return "datetime"
    if base in ("text", "character varying", "character", "uuid"):
        return "text"
    return "other"


def table_info(con: Any, schema: str, table: str) -> TableInfo:
    """Columns, primary key, geometry column, SRID and indexes of ``schema.table``.

    Raises DatabaseError when there is no such table (the names are never put into SQL text).
    """
    row = con.execute(
        "SELECT c.oid, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
        (schema, table)).fetchone()
    if row is None:
        raise DatabaseError(f"no table '{table}' in schema '{schema}'")
    oid, reltuples = row
    info = TableInfo(schema, table, estimated_rows=int(reltuples) if reltuples is not None and reltuples >= 0 else None)
    cols = con.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum", (oid,)).fetchall()
    for name, fmt, typname in cols:
        info.columns[name] = fmt
        if typname == "geometry" and info.geometry is None:
            info.geometry = name
    info.has_version = VERSION_COLUMN in info.columns
    pk = con.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s AND i.indisprimary", (oid,)).fetchall()
    if len(pk) == 1 and kind_of(info.columns[pk[0][0]]) == "int":
        info.pk = pk[0][0]
    if info.geometry is not None:
        g = con.execute("SELECT srid, type, coord_dimension FROM geometry_columns "
                        "WHERE f_table_schema = %s AND f_table_name = %s AND f_geometry_column = %s",
                        (schema, table, info.geometry)).fetchone()
        if g is not None:
            info.srid = int(g[0]) if g[0] else None
            info.geometry_type = _GEOMETRY_NAMES.get(str(g[1]).upper(), str(g[1]).title())
        gist = con.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = %s AND am.amname IN ('gist', 'spgist', 'brin') AND a.attname = %s LIMIT 1",
            (oid, info.geometry)).fetchone()
        info.has_spatial_index = gist is not None
    return info


def list_tables(con: Any, schema: str | None = None) -> list[tuple[str, str]]:
    """(schema, table) of the tables with a geometry column, plus QDT attribute tables, sorted."""
    rows = con.execute(
        "SELECT f_table_schema, f_table_name FROM geometry_columns "
        "WHERE (%s::text IS NULL OR f_table_schema = %s) ORDER BY 1, 2", (schema, schema)).fetchall()
    out = [(str(s), str(t)) for s, t in rows]
    return list(dict.fromkeys(out))
