"""PostGIS view windows: the generic loading of :mod:`qdt.io.window` (re-exported here), and a
table's first window from its extent statistics.
"""

from __future__ import annotations

from typing import Any

from qdt.io.postgis.connection import DatabaseError
from qdt.io.window import (
    _LOAD_LOCK,
    DEFAULT_BUDGET,
    DEFAULT_MARGIN,
    MAX_VIEW_SIDE_M,
    ViewWindow,
    ViewWindowLoader,
    apply_window,
    camera_ground_bbox,
    capped,
    window_loader_for,
)
from qdt.layers.vector import VectorLayer

__all__ = ["_LOAD_LOCK", "DEFAULT_BUDGET", "DEFAULT_MARGIN", "MAX_VIEW_SIDE_M", "ViewWindow", "ViewWindowLoader",
           "apply_window", "camera_ground_bbox", "capped", "extent_window", "loader_for"]


def extent_window(uri: str, layer: str, project_crs: Any = "EPSG:4549", *,
                  schema: str | None = None) -> tuple[float, float, float, float] | None:
    """A first window for a table when there is no camera: its extent (``ST_EstimatedExtent``,
    from the planner statistics, so no scan) in the project CRS, capped to
    :data:`MAX_VIEW_SIDE_M` around the centre. Without statistics (a table never analysed):
    a window around the feature with the lowest key (one index lookup). None: no geometry/rows."""
    import psycopg
    from psycopg import sql
    from pyproj import CRS

    from qdt.crs import parse_crs
    from qdt.io.datasource import open_datasource
    from qdt.io.postgis.catalogue import split_layer
    from qdt.io.postgis.connection import db_error
    from qdt.io.postgis.source import _cached_table_info

    ds = open_datasource(uri)
    schema, table = split_layer(layer, schema or "public")
    with ds.connect() as con:
        try:
            info = _cached_table_info(con, ds.conninfo, schema, table)
            if info.geometry is None:
                return None
            geom = sql.Identifier(info.geometry)
            try:  # autocommit connection: a failed estimate does not spoil the next statement
                row = con.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                  "(SELECT ST_EstimatedExtent(%s, %s, %s)::box2d AS e) s",
                                  (schema, table, info.geometry)).fetchone()
            except psycopg.DatabaseError:  # older PostGIS: an error instead of NULL without statistics
                row = None
            if row is None or row[0] is None:
                query = sql.SQL("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT {}::box2d AS b "
                                "FROM {}.{} WHERE {} IS NOT NULL ORDER BY {} LIMIT 1) s").format(
                    geom, sql.Identifier(schema), sql.Identifier(table), geom, sql.Identifier(info.pk or "ctid"))
                row = con.execute(query).fetchone()
        except DatabaseError as exc:
            raise DatabaseError(f"{describe_uri(uri)}: {exc}") from exc
        except psycopg.Error as exc:
            raise db_error(exc, ds.conninfo, f"table '{schema}.{table}'") from exc
    if row is None or row[0] is None:
        return None
    bbox = tuple(float(v) for v in row)
    if info.srid:
        dst = parse_crs(project_crs)
        src = CRS.from_epsg(info.srid)
        if src != dst:
            from pyproj import Transformer

            bbox = Transformer.from_crs(src, dst, always_xy=True).transform_bounds(*bbox)
    x0, y0, x1, y1 = bbox
    if x1 - x0 < 1.0 and y1 - y0 < 1.0:  # one point: a street-sized window around it
        x0, y0, x1, y1 = x0 - 250.0, y0 - 250.0, x1 + 250.0, y1 + 250.0
    return capped((x0, y0, x1, y1))


def describe_uri(uri: str) -> str:
    from qdt.io.postgis.connection import conninfo_of, describe

    return describe(conninfo_of(uri))


def loader_for(layer: VectorLayer, **kwargs: Any) -> ViewWindowLoader:
    """A :class:`ViewWindowLoader` for a project layer read from PostGIS (same table, class, name)."""
    return window_loader_for(layer, **kwargs)
