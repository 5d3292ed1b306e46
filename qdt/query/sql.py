"""Pushing query filters down to PostGIS: the expression tree → a parameterised WHERE.

:func:`to_sql` walks a parsed :class:`~qdt.query.expression.Expression` and builds a psycopg
``sql.Composable`` for the parts whose SQL meaning is the same as the column-wise evaluator's:

- comparisons of a number column with a number (or with a code-list label, turned into its
  code), ``=`` / ``<>`` of a text or boolean column with a value, ``IN`` / ``NOT IN`` lists,
  ``BETWEEN`` on numbers, ``LIKE`` on plain text columns (``ESCAPE ''``: ``%`` and ``_`` only,
  as the evaluator reads them), ``IS [NOT] NULL``, and ``NOT`` / ``AND`` / ``OR`` of those;
- column names resolved by :class:`~qdt.query.expression.FieldResolver` against the table's
  catalogue columns (Chinese names and aliases included) and quoted with ``sql.Identifier``;
  every value is a bound parameter — user text is never pasted into SQL.

Anything else (arithmetic, dates, ``ILIKE``, ordering of text, which depends on the server's
collation) is not translated. A top-level ``AND`` keeps its translatable terms, so the SQL
selects a superset of the answer; :func:`query_table` then evaluates the whole expression on
the rows that came back, so the result is exactly the evaluator's, only with less data moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qdt.io.postgis.catalogue import kind_of
from qdt.io.postgis.source import SqlFilter
from qdt.query.expression import (
    And,
    Between,
    Compare,
    Expression,
    Field,
    FieldResolver,
    In,
    IsNull,
    Like,
    Literal,
    Node,
    Not,
    Or,
    evaluate,
    parse_expression,
)

_SQL_OPS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass
class Translation:
    """``filter``: the server-side part (None: nothing translatable); ``exact``: the SQL alone
    gives the answer (else the client evaluates the rest)."""

    filter: SqlFilter | None
    exact: bool


class _Translator:
    def __init__(self, columns: dict[str, str], feature_class: Any) -> None:
        from psycopg import sql

        self.sql = sql
        self.columns = columns
        self.resolver = FieldResolver(list(columns), feature_class)

    # a column: (identifier, kind, codelist or None)
    def column(self, node: Node) -> tuple[Any, str, Any] | None:
        if not isinstance(node, Field):
            return None
        name = self.resolver.resolve(node.name)
        if name is None or name not in self.columns:
            return None
        kind = kind_of(self.columns[name])
        codelist = None
        fd = self.resolver.field_def(name)
        if fd is not None and fd.codelist:
            from qdt.cim import catalogue

            try:
                codelist = catalogue().codelist(fd.codelist)
            except KeyError:
                codelist = None
        return self.sql.Identifier(name), kind, codelist

    def value(self, literal: Node, kind: str, codelist: Any) -> tuple[bool, Any]:
        """(ok, parameter) of a literal compared with a column of ``kind``."""
        if not isinstance(literal, Literal) or literal.value is None:
            return False, None
        v = literal.value
        if isinstance(v, str) and codelist is not None:
            code = codelist.code_for(v)
            if code is not None:
                v = code
        if kind in ("int", "float"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return False, None
            return True, float(v)
        if kind == "text":
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                return False, None
            if not isinstance(v, str):
                return False, None
            return True, v
        if kind == "bool":
            return (True, v) if isinstance(v, bool) else (False, None)
        return False, None

    def exact(self, node: Node) -> tuple[Any, list[Any]] | None:
        sql = self.sql
        if isinstance(node, Not):
            inner = self.exact(node.operand)
            return None if inner is None else (sql.SQL("NOT ({})").format(inner[0]), inner[1])
        if isinstance(node, (And, Or)):
            parts = [self.exact(item) for item in node.items]
            if any(p is None for p in parts):
                return None
            joiner = sql.SQL(" AND " if isinstance(node, And) else " OR ")
            return (sql.SQL("({})").format(joiner.join(p[0] for p in parts)),  # type: ignore[index]
                    [x for p in parts for x in p[1]])  # type: ignore[index]
        if isinstance(node, IsNull):
            col = self.column(node.operand)
            if col is None:
                return None
            return sql.SQL("{} IS NOT NULL" if node.negated else "{} IS NULL").format(col[0]), []
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, In):
            col = self.column(node.operand)
            if col is None or not node.items:
                return None
            values = []
            for item in node.items:
                ok, v = self.value(item, col[1], col[2])
                if not ok:
                    return None
                values.append(v)
            cast = {"int": "float8[]", "float": "float8[]", "text": "text[]", "bool": "boolean[]"}[col[1]]
            cond = sql.SQL("{} = ANY(%s::" + cast + ")").format(col[0])
            return (sql.SQL("NOT ({})").format(cond) if node.negated else cond), [values]
        if isinstance(node, Between):
            col = self.column(node.operand)
            if col is None or col[1] not in ("int", "float"):
                return None
            ok1, lo = self.value(node.low, col[1], None)
            ok2, hi = self.value(node.high, col[1], None)
            if not (ok1 and ok2):
                return None
            text = "{} NOT BETWEEN %s AND %s" if node.negated else "{} BETWEEN %s AND %s"
            return sql.SQL(text).format(col[0]), [lo, hi]
        if isinstance(node, Like):
            col = self.column(node.operand)
            if col is None or col[1] != "text" or col[2] is not None or node.case_insensitive:
                return None
            text = "{} NOT LIKE %s ESCAPE ''" if node.negated else "{} LIKE %s ESCAPE ''"
            return sql.SQL(text).format(col[0]), [node.pattern]
        return None

    def compare(self, node: Compare) -> tuple[Any, list[Any]] | None:
        sql = self.sql
        op = _SQL_OPS.get(node.op)
        if op is None:
            return None
        left, right = self.column(node.left), self.column(node.right)
        if left is not None and right is not None:
            if left[1] in ("int", "float") and right[1] in ("int", "float"):
                return sql.SQL("{} " + op + " {}").format(left[0], right[0]), []
            return None
        if left is None and right is not None:  # literal op column → column op' literal
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
            return self.compare(Compare(node.pos, flipped, node.right, node.left, node.op_pos))
        if left is None:
            return None
        ident, kind, codelist = left
        ok, v = self.value(node.right, kind, codelist)
        if not ok:
            return None
        if kind in ("text", "bool") and op not in ("=", "<>"):
            return None  # text order depends on the server's collation: leave it to the client
        if kind == "text" and codelist is not None and isinstance(node.right, Literal) \
                and isinstance(node.right.value, str) and codelist.code_for(node.right.value) is None:
            return None  # not a code or label: let the evaluator produce its message
        return sql.SQL("{} " + op + " %s").format(ident), [v]

    def superset(self, node: Node) -> tuple[tuple[Any, list[Any]] | None, bool]:
        if isinstance(node, And):
            parts = [self.exact(item) for item in node.items]
            kept = [p for p in parts if p is not None]
            if not kept:
                return None, False
            joined = self.sql.SQL(" AND ").join(p[0] for p in kept)
            return (self.sql.SQL("({})").format(joined), [x for p in kept for x in p[1]]), len(kept) == len(parts)
        whole = self.exact(node)
        return whole, whole is not None


def to_sql(expression: Expression | str, columns: dict[str, str], feature_class: Any = None) -> Translation:
    """Translate what can be translated of ``expression`` for a table with ``columns``
    (name → PostgreSQL type, from the catalogue). See the module docstring."""
    expr = parse_expression(expression) if isinstance(expression, str) else expression
    if isinstance(feature_class, str):
        from qdt.cim import catalogue

        feature_class = catalogue().feature_class(feature_class)
    translator = _Translator(columns, feature_class)
    part, exact = translator.superset(expr.root)
    if part is None:
        return Translation(None, False)
    return Translation(SqlFilter(part[0], tuple(part[1])), exact)


@dataclass
class TableQueryResult:
    """Features of a database table matching an expression (project CRS), and how it was run."""

    layer: Any
    pushed_down: bool
    exact_in_sql: bool
    fetched: int


def query_table(uri: str, table: str, expression: Expression | str | None, *,
                bbox: tuple[float, ...] | None = None, feature_class: Any = None,
                project_crs: Any = "EPSG:4549") -> TableQueryResult:
    """Run a filter on a PostGIS table: translatable parts in SQL (with ``bbox`` as
    ``geom && envelope``), the whole expression checked on the rows fetched.
    ``expression`` None: every row (meeting ``bbox``); ``feature_class``: a catalogue class or its name.

    Raises ExpressionError (bad expression; nothing is sent to the server) or ReadError.
    """
    import numpy as np

    from qdt.io import LayerSource, load_layer, open_datasource
    from qdt.io.postgis.source import PgFeatureRequest

    expr = parse_expression(expression) if isinstance(expression, str) else expression
    if isinstance(feature_class, str):
        from qdt.cim import catalogue

        try:
            feature_class = catalogue().feature_class(feature_class)
        except KeyError:
            feature_class = None
    info = open_datasource(uri).table(table)
    columns = {c: info.columns[c] for c in info.attribute_columns()}
    translation = to_sql(expr, columns, feature_class) if expr is not None else Translation(None, True)
    request = PgFeatureRequest(bbox=tuple(bbox) if bbox is not None else None,
                               bbox_crs=project_crs if bbox is not None else None, where=translation.filter)
    class_name = getattr(feature_class, "name", None)
    layer = load_layer(LayerSource(uri, layer=info.name, kind="vector", feature_class=class_name),
                       project_crs, request=request).layer
    fetched = layer.feature_count
    if expr is None:
        return TableQueryResult(layer, False, True, fetched)
    mask = evaluate(expr, layer.frame, feature_class)
    if not mask.all():
        layer.frame = layer.frame[mask]
        versions = layer.metadata.get("row_versions")
        if versions is not None:
            layer.metadata["row_versions"] = versions[np.isin(versions.index, layer.frame.index)]
    return TableQueryResult(layer, translation.filter is not None, translation.exact, fetched)


def query_layer(layer: Any, expression: Expression | str | None, feature_class: Any = None, *,
                bbox: tuple[float, ...] | None = None) -> Any:
    """The rows of the whole table behind a project layer read from PostGIS (its
    ``metadata["postgis"]``) that meet ``expression`` (None: all) and ``bbox``, as a
    GeoDataFrame (index ``fid``, the layer's CRS) — not only the view window loaded in the layer.
    Used by :func:`qdt.query.run_query` for database layers."""
    meta = layer.metadata["postgis"]
    crs = getattr(layer, "crs", None) or "EPSG:4549"
    result = query_table(meta["uri"], f"{meta['schema']}.{meta['table']}", expression, bbox=bbox,
                         feature_class=feature_class if feature_class is not None else layer.feature_class,
                         project_crs=crs)
    return result.layer.frame
