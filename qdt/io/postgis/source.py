"""PostGIS behind the :class:`~qdt.io.DataSource` seam: tables as layers, requests as SQL.

A :class:`PostGISDataSource` is named by a ``postgis:`` URI (see :mod:`.connection`); its layers
are ``schema.table``. :meth:`PostGISDataSource.read` turns a :class:`~qdt.io.FeatureRequest`
into one parameterised ``SELECT``:

- ``bbox`` → ``geom && ST_MakeEnvelope(…)`` (bounding boxes meet; served by the GiST index);
- ``fids`` → ``pk = ANY(%s)``; ``columns`` → the select list (names checked against the catalogue);
- a :class:`PgFeatureRequest` adds ``where`` (a :class:`SqlFilter` built by :mod:`qdt.query.sql`
  from a parsed expression, values as parameters) and ``limit`` (the view window's budget).

Rows come over psycopg's binary protocol; geometries as WKB, decoded by shapely in one call.
The returned layer carries ``metadata["postgis"]`` (uri, schema, table, key and version
column) and ``metadata["row_versions"]`` (fid → row version at load time) for the edit
session's optimistic concurrency check (:mod:`.commit`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from qdt.io.base import FeatureRequest, LayerInfo, ReadContext, SourceData
from qdt.io.datasource import Capability, DataSource, EditStore
from qdt.io.postgis.catalogue import VERSION_COLUMN, TableInfo, kind_of, list_tables, split_layer, table_info
from qdt.io.postgis.connection import DatabaseError, TableNeedsFix, connect, conninfo_of, db_error, describe
from qdt.layers.vector import VectorLayer


@dataclass(frozen=True)
class SqlFilter:
    """A WHERE condition for one table: ``sql`` (a psycopg ``sql.Composable`` with ``%s``
    placeholders) and the ``params`` bound to them. Built from parsed expressions, never from
    user text pasted into SQL."""

    sql: Any
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class PgFeatureRequest(FeatureRequest):
    """A :class:`FeatureRequest` with what only a database can do server-side.

    ``where``: a :class:`SqlFilter` evaluated by the server. (``limit``, at most this many rows,
    lowest keys first so the same window gives the same features, is the base request's.)
    """

    where: SqlFilter | None = None


@dataclass
class FetchResult:
    frame: gpd.GeoDataFrame
    versions: pd.Series
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _bbox_in(info: TableInfo, bbox: tuple[float, ...], bbox_crs: Any) -> tuple[float, float, float, float]:
    if bbox_crs is None or info.srid is None:
        return tuple(bbox)  # type: ignore[return-value]
    from pyproj import Transformer

    from qdt.crs import parse_crs

    src = parse_crs(bbox_crs)
    dst = CRS.from_epsg(info.srid)
    if src == dst:
        return tuple(bbox)  # type: ignore[return-value]
    return Transformer.from_crs(src, dst, always_xy=True).transform_bounds(*bbox)


def select_sql(info: TableInfo, request: FeatureRequest) -> tuple[Any, list[Any]]:
    """The SELECT for ``request`` and its parameters (identifiers quoted, values bound)."""
    from psycopg import sql

    if info.pk is None:
        raise TableNeedsFix(f"table '{info.name}' has no integer primary key; QDT needs one to tell features apart "
                            f"(add one with: qdt db fix … {info.name})", schema=info.schema, table=info.table,
                            missing="primary key")
    attrs = info.attribute_columns()
    if request.columns is not None:
        unknown = [c for c in request.columns if c not in info.columns]
        if unknown:
            raise DatabaseError(f"table '{info.name}' has no column {unknown[0]!r}")
        attrs = [c for c in attrs if c in request.columns]
    version = (sql.SQL("{}::bigint").format(sql.Identifier(VERSION_COLUMN)) if info.has_version
               else sql.SQL("xmin::text::bigint"))
    items = [sql.Identifier(info.pk), version]
    items += [sql.Identifier(c) for c in attrs]
    with_geometry = info.geometry is not None and not request.no_geometry
    if with_geometry:
        items.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(info.geometry)))
    conds: list[Any] = []
    params: list[Any] = []
    if request.bbox is not None:
        if info.geometry is None:
            raise DatabaseError(f"table '{info.name}' has no geometry column to filter by area")
        xmin, ymin, xmax, ymax = _bbox_in(info, request.bbox, request.bbox_crs)
        conds.append(sql.SQL("{} && ST_MakeEnvelope(%s, %s, %s, %s, %s)").format(sql.Identifier(info.geometry)))
        params += [float(xmin), float(ymin), float(xmax), float(ymax), int(info.srid or 0)]
    if request.fids is not None:
        conds.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(info.pk)))
        params.append(list(request.fids))
    where = getattr(request, "where", None)
    if where is not None:
        conds.append(sql.SQL("({})").format(where.sql))
        params += list(where.params)
    query = sql.SQL("SELECT {} FROM {}.{}").format(sql.SQL(", ").join(items), sql.Identifier(info.schema),
                                                  sql.Identifier(info.table))
    if conds:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conds)
    query += sql.SQL(" ORDER BY {}").format(sql.Identifier(info.pk))
    limit = request.limit
    if limit is not None:
        query += sql.SQL(" LIMIT %s")
        params.append(int(limit))
    return query, params


def _column(values: tuple[Any, ...] | list[Any], pg_type: str) -> Any:
    """One fetched column as a numpy/pandas array of the layer's dtype (vectorised)."""
    kind = kind_of(pg_type)
    n = len(values)
    if kind == "int":
        arr = pd.array(values, dtype="Int64")
        if not arr.isna().any():
            return arr.to_numpy(dtype=np.int32 if pg_type in ("integer", "smallint") else np.int64)
        return arr
    if kind == "float":
        return np.array(values, dtype=np.float64) if n else np.empty(0, dtype=np.float64)
    if kind == "bool":
        arr = pd.array(values, dtype="boolean")
        return arr.to_numpy(dtype=bool) if not arr.isna().any() else arr
    if kind in ("date", "datetime"):
        stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=(kind == "datetime"))
        if kind == "datetime":
            stamps = stamps.dt.tz_localize(None)
        return stamps.to_numpy(dtype="datetime64[ms]")
    out = np.empty(n, dtype=object)
    out[:] = values
    return out


def fetch(con: Any, info: TableInfo, request: FeatureRequest, context: ReadContext | None = None) -> FetchResult:
    """Run the request's SELECT and build the GeoDataFrame (index ``fid``) and row versions."""
    started = time.perf_counter()
    query, params = select_sql(info, request)
    with con.cursor(binary=True) as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    if context is not None:
        context.check()
        context.report(0.4, f"decoding {len(rows)} features of {info.name}")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    fids = np.asarray(columns[0], dtype=np.int64)
    index = pd.Index(fids, name="fid")
    versions = pd.Series(np.asarray(columns[1], dtype=np.int64), index=index, name="version")
    with_geometry = info.geometry is not None and not request.no_geometry
    attr_names = names[2:-1] if with_geometry else names[2:]
    data = {name: _column(columns[2 + i], info.columns[name]) for i, name in enumerate(attr_names)}
    frame = pd.DataFrame(data, index=index)
    crs = CRS.from_epsg(info.srid) if info.srid else None
    if with_geometry:
        wkb = np.empty(len(fids), dtype=object)
        wkb[:] = columns[-1]
        geoms = shapely.from_wkb(wkb)
        # named "geometry" like the file readers' frames, whatever the table calls it
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=index, crs=crs), crs=crs)
    else:  # an empty geometry column, as the file readers give attribute tables
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), index=index), crs=crs)
    return FetchResult(gdf, versions, time.perf_counter() - started)


#: Seconds a table's catalogue entry is reused by reads (view windows reload often; the
#: catalogue lookup is four queries). A table that changed shape is seen after this delay.
CATALOGUE_TTL_S = 30.0
_CATALOGUE: dict[tuple[str, str, str], tuple[float, TableInfo]] = {}


def _cached_table_info(con: Any, conninfo: str, schema: str, table: str) -> TableInfo:
    key = (conninfo, schema, table)
    now = time.monotonic()
    hit = _CATALOGUE.get(key)
    if hit is not None and now - hit[0] < CATALOGUE_TTL_S:
        return hit[1]
    info = table_info(con, schema, table)
    _CATALOGUE[key] = (now, info)
    return info


def forget_catalogue() -> None:
    """Drop cached table entries (after ``qdt db fix`` or a schema change)."""
    _CATALOGUE.clear()


class PostGISDataSource(DataSource):
    """Tables of a PostGIS database (layers named ``schema.table``).

    Parameters
    ----------
    uri
        ``postgis:`` + libpq connection string without password (see :mod:`.connection`).
    schema
        Only list this schema's tables (all schemas by default); also the schema of a layer
        name given without one.
    """

    #: view windows by GiST index, filters in SQL, commits with row versions, LISTEN/NOTIFY
    capabilities = (Capability.WINDOWED_READS | Capability.QUERY_PUSHDOWN | Capability.TRANSACTIONAL_COMMIT
                    | Capability.CHANGE_NOTIFICATION)

    def __init__(self, uri: str, schema: str | None = None) -> None:
        self._uri = uri
        self.conninfo = conninfo_of(uri)
        self.schema = schema

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def kind(self) -> str:
        return "vector"

    def connect(self, *, autocommit: bool = True) -> Any:
        return connect(self.conninfo, autocommit=autocommit)

    @contextmanager
    def _named_errors(self, table: str) -> Iterator[None]:
        """Database errors inside the block as one-line DatabaseErrors naming this database and
        ``table`` (a repairable table stays a TableNeedsFix)."""
        import psycopg

        try:
            yield
        except TableNeedsFix as exc:
            raise TableNeedsFix(f"{describe(self.conninfo)}: {exc}", schema=exc.schema, table=exc.table,
                                missing=exc.missing) from exc
        except DatabaseError as exc:
            raise DatabaseError(f"{describe(self.conninfo)}: {exc}") from exc
        except psycopg.Error as exc:
            raise db_error(exc, self.conninfo, f"table '{table}'") from exc

    def table(self, layer: str | None) -> TableInfo:
        """Catalogue entry of a layer (DatabaseError naming the database if there is none)."""
        schema, table = split_layer(layer, self.schema or "public")
        with self.connect() as con, self._named_errors(f"{schema}.{table}"):
            return table_info(con, schema, table)

    def layers(self) -> list[LayerInfo]:
        import psycopg

        out = []
        with self.connect() as con:
            try:
                for schema, table in list_tables(con, self.schema):
                    info = table_info(con, schema, table)
                    bbox = None
                    if info.geometry is not None:
                        from psycopg import sql

                        ext = con.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                                  "(SELECT ST_EstimatedExtent(%s, %s, %s)::box2d AS e) s"),
                                          (schema, table, info.geometry)).fetchone()
                        bbox = [float(v) for v in ext] if ext and ext[0] is not None else None
                    out.append(LayerInfo(
                        name=info.name, kind="vector", crs=CRS.from_epsg(info.srid) if info.srid else None,
                        bbox=bbox, count=info.estimated_rows, geometry_type=info.geometry_type,
                        fields=[{"name": c, "type": info.columns[c]} for c in info.attribute_columns()],
                        extra={"primary_key": info.pk, "spatial_index": info.has_spatial_index}))
            except psycopg.Error as exc:
                raise db_error(exc, self.conninfo) from exc
        return out

    def read(self, layer: str | None = None, request: FeatureRequest | None = None,
             context: ReadContext | None = None) -> SourceData:
        import psycopg

        request = request or FeatureRequest()
        context = context or ReadContext()
        schema, table = split_layer(layer, self.schema or "public")
        name = f"{schema}.{table}"
        context.report(0.05, f"connecting to {describe(self.conninfo)}")
        with self.connect() as con:
            with self._named_errors(name):
                info = _cached_table_info(con, self.conninfo, schema, table)
            notes = []
            if info.geometry is not None and not info.has_spatial_index:
                notes.append(f"{name}: the table has no spatial index, so every view-window load scans the whole "
                             f"table; create one with: qdt db fix … {name}")
            context.check()
            try:
                result = fetch(con, info, request, context)
            except psycopg.Error as exc:
                raise db_error(exc, self.conninfo, f"table '{name}'") from exc
        metadata = {
            "postgis": {"uri": self._uri, "schema": schema, "table": table, "pk": info.pk,
                        "geometry": info.geometry, "version": info.version_expr,
                        "spatial_index": bool(info.has_spatial_index or info.geometry is None),
                        "columns": {c: info.columns[c] for c in info.attribute_columns()}},
            "row_versions": result.versions,
        }
        if request.limit is not None:
            metadata["window_limit"] = int(request.limit)
        if not metadata["postgis"]["spatial_index"]:
            metadata["needs_fix"] = "spatial index"  # the project offers to create it (qdt db fix)
        vector = VectorLayer(table, result.frame, source=self._uri, source_layer=name, metadata=metadata)
        return SourceData(vector, notes, has_geometry=info.geometry is not None and not request.no_geometry)

    def first_window(self, layer: str, project_crs: Any) -> tuple[float, float, float, float] | None:
        from qdt.io.postgis.view import extent_window

        return extent_window(self._uri, layer, project_crs, schema=self.schema)

    def edit_store(self, layer: Any, *, lock_timeout_s: float) -> EditStore:
        from qdt.io.postgis.commit import PostGISStore

        return PostGISStore(layer, lock_timeout_s=lock_timeout_s)

    def listener(self) -> Any:
        from qdt.io.postgis.commit import EditListener

        return EditListener(self._uri)

    def __repr__(self) -> str:
        return f"<PostGISDataSource {describe(self.conninfo)}>"
