"""View-window loading of database tables: the PostGIS side of :mod:`qdt.io.window`.

The loader, its tiles, cache, prefetch and budget are :mod:`qdt.io.window` (one mechanism for
GeoPackage layers and database tables, re-exported here); this module adds what only a
database needs: the first window from the planner's extent estimate (:func:`extent_window`).
"""

from __future__ import annotations

import math
from typing import Any

from qdt.io.postgis.connection import DatabaseError
from qdt.io.window import (  # noqa: F401 - re-exported: the PostGIS API kept its names
    _LOAD_LOCK,
    DEFAULT_BUDGET,
    DEFAULT_MARGIN,
    MAX_VIEW_SIDE_M,
    ViewWindow,
    ViewWindowLoader,
    apply_window,
    capped,
    loader_for,
)


def camera_ground_bbox(position: Any, focal_point: Any, view_angle: float = 30.0,
                       aspect: float = 1.5) -> tuple[float, float, float, float]:
    """Ground rectangle a saved camera looks at: around the focal point, as wide as the view
    cone is at the focal distance (``tan(view_angle)`` × distance, ``aspect`` wider than high),
    capped to :data:`MAX_VIEW_SIDE_M`. Used before a 3D view exists (opening a project)."""
    fx, fy = float(focal_point[0]), float(focal_point[1])
    distance = math.dist(tuple(float(v) for v in position), tuple(float(v) for v in focal_point))
    half = max(distance * math.tan(math.radians(float(view_angle))), 1.0)
    return capped((fx - half * aspect, fy - half, fx + half * aspect, fy + half))


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


