"""Creating the shared base map in PostGIS: schema, change log, tables from a GeoPackage.

:func:`init_schema` creates (idempotently) the schema, the PostGIS extension if missing, the
change-log table and the row-version trigger function. :func:`import_geopackage` copies every
layer of a GeoPackage into a table of the same name:

- geometry in EPSG:4549 (transformed when the layer is in another CRS), typed by its
  geometry type, with a GiST index;
- the GeoPackage ``fid`` as ``bigint`` primary key (so fids stay the same);
- attribute columns typed from the GeoPackage's declared types (INTEGER → integer, REAL →
  double precision, DATE → date, DATETIME → timestamptz, TEXT(n) → varchar(n) …);
- the CIM catalogue's rules as CHECK constraints: a code-list field only takes the list's
  codes, a field with a range stays in it (the catalogue class is found from the layer name);
- ``qdt_version`` (row version, bumped by a trigger on every UPDATE by anyone).

Each layer is one transaction: a layer that fails (bad value, permission denied) leaves no
half-filled table, and the message names the layer, field and value where PostgreSQL says.
Rows travel by binary COPY; geometries as EWKB made by shapely in one call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from qdt.io.postgis.catalogue import CHANGE_LOG_TABLE, VERSION_COLUMN, table_info
from qdt.io.postgis.connection import DatabaseError, connect, db_error, describe

PROJECT_EPSG = 4549
VERSION_TRIGGER_FUNCTION = "qdt_bump_version"

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


@dataclass
class ImportReport:
    """What :func:`import_geopackage` did: rows per table, warnings, seconds."""

    schema: str
    tables: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _sql() -> Any:
    from psycopg import sql

    return sql


def init_schema(conninfo: str, schema: str = "public") -> None:
    """Create the schema, PostGIS, the change log and the version trigger function (idempotent)."""
    import psycopg

    sql = _sql()
    s = sql.Identifier(schema)
    with connect(conninfo) as con:
        try:
            has_postgis = con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
            if not has_postgis:
                con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
            con.execute(sql.SQL("""
                CREATE TABLE IF NOT EXISTS {}.{} (
                  id bigserial PRIMARY KEY,
                  commit_id uuid NOT NULL,
                  committed_at timestamptz NOT NULL DEFAULT now(),
                  "user" text,
                  db_user text NOT NULL DEFAULT current_user,
                  layer text NOT NULL,
                  feature_fid bigint NOT NULL,
                  field text NOT NULL,
                  old_value text,
                  new_value text)""").format(s, sql.Identifier(CHANGE_LOG_TABLE)))
            con.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} (layer, feature_fid)").format(
                sql.Identifier(f"{CHANGE_LOG_TABLE}_feature"), s, sql.Identifier(CHANGE_LOG_TABLE)))
            con.execute(sql.SQL("""
                CREATE OR REPLACE FUNCTION {}.{}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  NEW.{} := OLD.{} + 1;
                  RETURN NEW;
                END $$""").format(s, sql.Identifier(VERSION_TRIGGER_FUNCTION), sql.Identifier(VERSION_COLUMN),
                                  sql.Identifier(VERSION_COLUMN)))
            con.commit()
        except psycopg.Error as exc:
            con.rollback()
            raise db_error(exc, conninfo, f"schema '{schema}'") from exc


# GeoPackage declared type (SQLite) → PostgreSQL type
def _pg_type(declared: str, series: pd.Series) -> str:
    base = declared.split("(", 1)[0].strip().upper()
    if base in ("TINYINT", "SMALLINT"):
        return "smallint"
    if base in ("MEDIUMINT", "INT"):
        return "integer"
    if base == "INTEGER":
        return "bigint"
    if base in ("REAL", "DOUBLE", "FLOAT", "NUMERIC"):
        return "double precision"
    if base == "BOOLEAN":
        return "boolean"
    if base == "DATE":
        return "date"
    if base == "DATETIME":
        return "timestamptz"
    if base == "TEXT" and "(" in declared:
        n = declared.split("(", 1)[1].rstrip(") ")
        if n.isdigit():
            return f"varchar({int(n)})"
    if base == "BLOB":
        return "bytea"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(series.dtype):
        return "double precision"
    return "text"


def _copy_values(series: pd.Series, pg_type: str) -> list[Any]:
    """Python values for COPY (None for nulls), converted column-wise."""
    null = series.isna().to_numpy(dtype=bool)
    if pg_type in ("smallint", "integer", "bigint"):
        values = series.astype("Int64").astype(object)
    elif pg_type == "double precision":
        values = series.astype("float64").astype(object)
    elif pg_type == "boolean":
        values = series.astype("boolean").astype(object)
    elif pg_type == "date":
        values = pd.to_datetime(series).dt.date.astype(object)
    elif pg_type == "timestamptz":
        stamps = pd.to_datetime(series)
        if getattr(stamps.dt, "tz", None) is None:
            stamps = stamps.dt.tz_localize("UTC")  # GeoPackage 1.2 §2.1.4: DATETIME is UTC
        values = pd.Series(stamps.dt.to_pydatetime(), index=series.index, dtype=object)
    elif pg_type == "bytea":
        values = series.astype(object)
    else:
        values = series.astype(object).map(str, na_action="ignore")
    out = np.array(values.to_numpy(dtype=object), dtype=object)
    out[null] = None
    return out.tolist()


def _check_constraints(layer_name: str, columns: dict[str, str]) -> list[tuple[str, str, Any, list[Any]]]:
    """(constraint name, column, kind, values) from the CIM catalogue class of the layer."""
    from qdt.cim import catalogue

    cat = catalogue()
    cls = cat.class_for_layer(layer_name)
    if cls is None:
        return []
    out = []
    for column, pg_type in columns.items():
        mapped = cls.map_columns([column])
        if column not in mapped:
            continue
        fd = cls.field(mapped[column])
        if fd.codelist:
            try:
                codes = list(cat.codelist(fd.codelist).codes)
            except KeyError:
                codes = []
            if codes:
                if pg_type in ("smallint", "integer", "bigint"):
                    codes = [int(c) for c in codes if isinstance(c, (int, float)) and not isinstance(c, bool)]
                else:
                    codes = [str(c) for c in codes]
                out.append((f"{layer_name}_{column}_codes", column, "in", codes))
        if (fd.min is not None or fd.max is not None) and pg_type in ("smallint", "integer", "bigint",
                                                                        "double precision"):
            out.append((f"{layer_name}_{column}_range", column, "range", [fd.min, fd.max]))
    return out


def _constraint_sql(name: str, column: str, kind: str, values: list[Any]) -> Any:
    sql = _sql()
    col = sql.Identifier(column)
    if kind == "in":
        cond = sql.SQL("{} IS NULL OR {} IN ({})").format(col, col, sql.SQL(", ").join(map(sql.Literal, values)))
    else:
        lo, hi = values
        parts = []
        if lo is not None:
            parts.append(sql.SQL("{} >= {}").format(col, sql.Literal(float(lo))))
        if hi is not None:
            parts.append(sql.SQL("{} <= {}").format(col, sql.Literal(float(hi))))
        cond = sql.SQL("{} IS NULL OR ({})").format(col, sql.SQL(" AND ").join(parts))
    return sql.SQL("CONSTRAINT {} CHECK ({})").format(sql.Identifier(name[:63]), cond)


def _geometry_type(geoms: np.ndarray) -> str:
    types = shapely.get_type_id(geoms)
    types = np.unique(types[types >= 0])
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}
    if len(types) == 1 and int(types[0]) in names:
        name = names[int(types[0])]
    else:
        name = "Geometry"
    has_z = bool(shapely.has_z(geoms[~shapely.is_missing(geoms)]).any()) if len(geoms) else False
    return name + ("Z" if has_z else "")


def import_geopackage(conninfo: str, path: str | os.PathLike[str], *, schema: str = "public",
                      layers: Sequence[str] | None = None, replace: bool = False,
                      progress: ProgressFn | None = None, is_cancelled: CancelFn | None = None) -> ImportReport:
    """Copy the layers of a GeoPackage into ``schema`` (see the module docstring).

    Raises
    ------
    DatabaseError
        Unreachable server, permission denied, a table that exists (without ``replace``), a
        value the CIM constraints refuse; the failing layer's table is not created.
    """
    import psycopg
    import pyogrio

    from qdt.io.gpkg_write import table_columns

    sql = _sql()
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise DatabaseError(f"cannot import '{path}': file not found")
    progress = progress or (lambda f, m: None)
    is_cancelled = is_cancelled or (lambda: False)
    started = time.perf_counter()
    report = ImportReport(schema)
    try:
        all_layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise DatabaseError(f"cannot read '{name}': {exc}") from exc
    chosen = list(layers) if layers else all_layers
    missing = [n for n in chosen if n not in all_layers]
    if missing:
        raise DatabaseError(f"'{name}' has no layer {missing[0]!r} (layers: {', '.join(all_layers)})")
    init_schema(conninfo, schema)
    s = sql.Identifier(schema)
    with connect(conninfo) as con:
        for i, layer in enumerate(chosen):
            if is_cancelled():
                from qdt.tasks import Cancelled

                raise Cancelled()
            progress(i / max(len(chosen), 1), f"importing {layer}")
            frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)
            declared = {c.name: c.declared_type for c in table_columns(path, layer).values()}
            geometry = frame.geometry.name if hasattr(frame, "geometry") and "geometry" in frame.columns else None
            t = sql.Identifier(layer)
            attrs = [c for c in frame.columns if c != geometry]
            types = {c: _pg_type(declared.get(c, "TEXT"), frame[c]) for c in attrs}
            defs = [sql.SQL("fid bigint PRIMARY KEY")]
            defs += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in attrs]
            geoms = None
            if geometry is not None:
                if frame.crs is not None and frame.crs.to_epsg() != PROJECT_EPSG:
                    frame = frame.to_crs(epsg=PROJECT_EPSG)
                    report.warnings.append(f"{layer}: transformed from {frame.crs} to EPSG:{PROJECT_EPSG}")
                geoms = frame.geometry.to_numpy()
                defs.append(sql.SQL("geom geometry({}, {})").format(sql.SQL(_geometry_type(geoms)),
                                                                      sql.Literal(PROJECT_EPSG)))
            defs.append(sql.SQL("{} integer NOT NULL DEFAULT 1").format(sql.Identifier(VERSION_COLUMN)))
            defs += [_constraint_sql(*c) for c in _check_constraints(layer, types)]
            try:
                if replace:
                    con.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(s, t))
                elif con.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s",
                                 (schema, layer)).fetchone():
                    raise DatabaseError(f"{describe(conninfo)}: table '{schema}.{layer}' already exists "
                                        "(use --replace to overwrite it)")
                con.execute(sql.SQL("CREATE TABLE {}.{} ({})").format(s, t, sql.SQL(", ").join(defs)))
                columns = [np.asarray(frame.index, dtype=np.int64).tolist()]
                columns += [_copy_values(frame[c], types[c]) for c in attrs]
                copy_types = ["int8"] + [{"smallint": "int2", "integer": "int4", "bigint": "int8",
                                          "double precision": "float8", "boolean": "bool", "date": "date",
                                          "timestamptz": "timestamptz", "bytea": "bytea"}.get(types[c], "text")
                                         for c in attrs]
                target = [sql.Identifier("fid")] + [sql.Identifier(c) for c in attrs]
                if geoms is not None:
                    ewkb = shapely.to_wkb(shapely.set_srid(geoms, PROJECT_EPSG), include_srid=True)
                    columns.append(list(ewkb))
                    copy_types.append("bytea")  # geometry_recv reads (E)WKB
                    target.append(sql.Identifier("geom"))
                with con.cursor() as cur, cur.copy(sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT BINARY)").format(
                        s, t, sql.SQL(", ").join(target))) as copy:
                    copy.set_types(copy_types)
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
                if geoms is not None:
                    con.execute(sql.SQL("CREATE INDEX {} ON {}.{} USING gist (geom)").format(
                        sql.Identifier(f"{layer}_geom_gist"[:63]), s, t))
                con.execute(sql.SQL("CREATE TRIGGER {} BEFORE UPDATE ON {}.{} FOR EACH ROW EXECUTE FUNCTION {}.{}()")
                            .format(sql.Identifier(f"{layer}_qdt_version"[:63]), s, t, s,
                                    sql.Identifier(VERSION_TRIGGER_FUNCTION)))
                con.commit()
            except DatabaseError:
                con.rollback()
                raise
            except psycopg.errors.CheckViolation as exc:
                con.rollback()
                diag = exc.diag
                raise DatabaseError(f"{describe(conninfo)}: layer '{layer}' of '{name}': a value breaks the CIM rule "
                                    f"{diag.constraint_name or ''} ({str(exc).splitlines()[0]}); nothing of the layer "
                                    "was imported") from exc
            except psycopg.Error as exc:
                con.rollback()
                raise db_error(exc, conninfo, f"importing layer '{layer}' of '{name}'") from exc
            with con.transaction():
                con.execute(sql.SQL("ANALYZE {}.{}").format(s, t))
            report.tables[layer] = len(frame)
    from qdt.io.postgis.source import forget_catalogue

    forget_catalogue()
    progress(1.0, "imported")
    report.seconds = time.perf_counter() - started
    return report


def fix_table(conninfo: str, schema: str, table: str, *, primary_key: bool = True,
              spatial_index: bool = True) -> list[str]:
    """Give a table what QDT needs: an integer primary key (``fid bigserial``) and a GiST
    index on its geometry, when missing. Returns what was done (empty: nothing needed)."""
    import psycopg

    sql = _sql()
    done: list[str] = []
    with connect(conninfo) as con:
        try:
            info = table_info(con, schema, table)
            s, t = sql.Identifier(schema), sql.Identifier(table)
            if primary_key and info.pk is None:
                if "fid" in info.columns:
                    raise DatabaseError(f"table '{info.name}' has a column 'fid' that is not an integer primary "
                                        "key; fix it by hand")
                con.execute(sql.SQL("ALTER TABLE {}.{} ADD COLUMN fid bigserial PRIMARY KEY").format(s, t))
                done.append(f"{info.name}: added primary key 'fid'")
            if spatial_index and info.geometry is not None and not info.has_spatial_index:
                con.execute(sql.SQL("CREATE INDEX {} ON {}.{} USING gist ({})").format(
                    sql.Identifier(f"{table}_{info.geometry}_gist"[:63]), s, t, sql.Identifier(info.geometry)))
                done.append(f"{info.name}: created spatial index on '{info.geometry}'")
            con.commit()
        except DatabaseError:
            con.rollback()
            raise
        except psycopg.Error as exc:
            con.rollback()
            raise db_error(exc, conninfo, f"table '{schema}.{table}'") from exc
    from qdt.io.postgis.source import forget_catalogue

    forget_catalogue()
    return done
