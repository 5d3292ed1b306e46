"""Queries on the base map: attribute expressions, location predicates, nearest, pipe clearance, export.

No Qt, no VTK: everything here runs headless and is what the UI, the CLI (``qdt query``,
``qdt clearance``) and the benchmarks (``python -m qdt.bench query``) call.

Public API::

    from qdt.query import Query, run_query, apply_selection
    result = run_query(Query("路灯", where="状态 = '故障'", predicate="within", other="网格",
                             other_where="name LIKE '湛山%'"), project.layers)
    apply_selection(result.layer, result)          # the view and the attribute table follow
    export_result(result, "faulty.geojson")         # CSV, GeoJSON (WGS84) or GeoPackage

    report = check_clearances(pipes_layer, dem=dem_layer)   # GB 50289-2016 minimum clearances
    report.violations                                        # one row per pair below the minimum
"""

from qdt.query.clearance import ClearanceError, ClearanceReport, check_clearances
from qdt.query.export import EXPORT_SUFFIXES, ExportError, export_frame, export_result
from qdt.query.expression import Expression, ExpressionError, FieldResolver, evaluate, parse_expression
from qdt.query.model import (
    Query,
    QueryError,
    QueryResult,
    apply_selection,
    feature_class_of,
    find_layer,
    run_query,
)
from qdt.query.spatial import PREDICATES, location_mask, location_pairs, nearest

__all__ = [
    "EXPORT_SUFFIXES",
    "PREDICATES",
    "ClearanceError",
    "ClearanceReport",
    "ExportError",
    "Expression",
    "ExpressionError",
    "FieldResolver",
    "Query",
    "QueryError",
    "QueryResult",
    "apply_selection",
    "check_clearances",
    "evaluate",
    "export_frame",
    "export_result",
    "feature_class_of",
    "find_layer",
    "location_mask",
    "location_pairs",
    "nearest",
    "parse_expression",
    "run_query",
]
