"""Queries as data: :class:`Query` (saved in projects, shown in the UI, run from the CLI) and its result.

A query selects features of one vector layer by

- an attribute filter (``where``, see :mod:`qdt.query.expression`), and optionally
- a spatial predicate against another layer (filtered by ``other_where``) or against a
  geometry the user drew (``geometry``): ``intersects``, ``within``, ``contains``,
  ``touches``, ``crosses``, ``overlaps``, ``disjoint``, ``dwithin`` (with ``distance``), or
- the ``k`` nearest features of the other layer (or the drawn geometry), optionally no
  farther than ``distance``.

The attribute filter applies first: only features passing it take part in the spatial
test. Distances are in metres of the project CRS (EPSG:4549), measured in 2D.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qdt.layers import Layer, VectorLayer
from qdt.query.expression import ExpressionError, evaluate, parse_expression
from qdt.query.spatial import PREDICATES, location_mask, nearest

__all__ = ["Query", "QueryError", "QueryResult", "apply_selection", "feature_class_of", "find_layer", "run_query"]


class QueryError(ValueError):
    """A query that cannot run: unknown layer, a missing distance, a layer without geometry …

    ``str()`` is one line naming the layer or the setting at fault.
    """


@dataclass(frozen=True)
class Query:
    """What to select; plain data, saved with :meth:`to_dict` and read with :meth:`from_dict`.

    Parameters
    ----------
    layer
        Name of the layer to select from (its display name or its source layer name).
    where
        Attribute filter on ``layer`` (None: every feature).
    predicate
        Spatial predicate, one of :data:`qdt.query.spatial.PREDICATES`; needs ``other`` or ``geometry``.
    other
        The layer to test against (spatial predicate or nearest).
    other_where
        Attribute filter on ``other``.
    distance
        ``dwithin``: the distance in metres (required); nearest: the largest distance (optional).
    k
        Nearest: how many neighbours per feature. Excludes ``predicate``.
    geometry
        A shapely geometry in the project CRS (a polygon or polyline drawn by the user), used
        instead of ``other``.

    Raises
    ------
    QueryError
        When the combination is incomplete or contradictory (checked on creation).
    """

    layer: str
    where: str | None = None
    predicate: str | None = None
    other: str | None = None
    other_where: str | None = None
    distance: float | None = None
    k: int | None = None
    geometry: shapely.Geometry | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.layer, str) or not self.layer.strip():
            raise QueryError("a query needs the name of the layer to select from")
        for name in ("where", "other_where"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise QueryError(f"'{name}' must be text, not {type(value).__name__}")
            if isinstance(value, str) and not value.strip():
                object.__setattr__(self, name, None)
        if self.predicate is not None and self.predicate not in PREDICATES:
            raise QueryError(f"unknown spatial predicate '{self.predicate}' (one of {', '.join(PREDICATES)})")
        if self.predicate is not None and self.k is not None:
            raise QueryError("a query is either a spatial predicate or a nearest search, not both")
        if self.k is not None:
            if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
                raise QueryError(f"nearest: k must be a whole number of at least 1, not {self.k!r}")
        if self.distance is not None:
            try:
                dist = float(self.distance)
            except (TypeError, ValueError):
                raise QueryError(f"distance must be a number of metres, not {self.distance!r}") from None
            if not math.isfinite(dist) or dist < 0:
                raise QueryError(f"distance must be 0 m or more, not {self.distance!r}")
            object.__setattr__(self, "distance", dist)
        spatial = self.predicate is not None or self.k is not None
        if self.geometry is not None and not isinstance(self.geometry, shapely.Geometry):
            raise QueryError(f"geometry must be a shapely geometry, not {type(self.geometry).__name__}")
        if spatial and self.other is None and self.geometry is None:
            what = f"predicate '{self.predicate}'" if self.predicate else "nearest"
            raise QueryError(f"{what} needs another layer (other) or a drawn geometry")
        if self.other is not None and self.geometry is not None:
            raise QueryError("give either another layer or a drawn geometry, not both")
        if not spatial and (self.other is not None or self.geometry is not None):
            raise QueryError("another layer or a drawn geometry needs a spatial predicate or nearest (k)")
        if self.other_where is not None and self.other is None:
            raise QueryError("other_where needs another layer (other)")
        if self.predicate == "dwithin" and self.distance is None:
            raise QueryError("predicate 'dwithin' needs a distance in metres")
        if self.distance is not None and self.predicate not in ("dwithin", None):
            raise QueryError(f"distance applies to 'dwithin' and nearest, not to '{self.predicate}'")
        if self.distance is not None and not spatial:
            raise QueryError("distance needs predicate 'dwithin' or nearest (k)")

    @property
    def kind(self) -> str:
        """``"attribute"``, ``"location"`` or ``"nearest"``."""
        if self.k is not None:
            return "nearest"
        return "location" if self.predicate is not None else "attribute"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict for the project file (None values left out; geometry as WKT)."""
        out: dict[str, Any] = {"layer": self.layer}
        for name in ("where", "predicate", "other", "other_where", "distance", "k"):
            value = getattr(self, name)
            if value is not None:
                out[name] = int(value) if name == "k" else value
        if self.geometry is not None:
            out["geometry"] = shapely.to_wkt(self.geometry, rounding_precision=-1)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Query:
        """Read a dict written by :meth:`to_dict`; unknown keys are refused (a QueryError)."""
        if not isinstance(d, Mapping):
            raise QueryError(f"a query must be an object, not {type(d).__name__}")
        known = {"layer", "where", "predicate", "other", "other_where", "distance", "k", "geometry"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise QueryError(f"unknown query setting '{unknown[0]}' (known: {', '.join(sorted(known))})")
        kwargs = dict(d)
        if kwargs.get("geometry") is not None:
            try:
                kwargs["geometry"] = shapely.from_wkt(kwargs["geometry"])
            except (shapely.errors.GEOSException, TypeError) as exc:
                raise QueryError(f"query geometry is not valid WKT ({exc})") from None
        if kwargs.get("k") is not None and isinstance(kwargs["k"], float) and kwargs["k"].is_integer():
            kwargs["k"] = int(kwargs["k"])
        return cls(**kwargs)

    def check(self) -> None:
        """Parse both filters now (ExpressionError with the position if one is malformed)."""
        for name in ("where", "other_where"):
            text = getattr(self, name)
            if text is not None:
                try:
                    parse_expression(text)
                except ExpressionError as exc:
                    raise exc.in_context(f"{name}: ") from None


@dataclass
class QueryResult:
    """The features a query selected.

    Attributes
    ----------
    query
        The query that ran.
    layer
        The layer selected from.
    fids
        Feature ids (the GeoPackage fids), ascending, without repeats.
    nearest
        For nearest queries: a DataFrame with columns ``fid``, ``nearest_fid``, ``distance``
        (metres) and ``rank`` (1 = nearest), one row per pair, sorted by fid and rank; else None.
    other
        The other layer, if any.
    seconds
        How long the query took.
    """

    query: Query
    layer: VectorLayer
    fids: np.ndarray
    nearest: pd.DataFrame | None = None
    other: VectorLayer | None = None
    seconds: float = 0.0
    #: For a layer whose source runs queries (``QUERY_PUSHDOWN``, e.g. PostGIS): the matching rows
    #: of the whole table (the layer itself holds only the loaded view window); None for others.
    features: gpd.GeoDataFrame | None = None

    @property
    def count(self) -> int:
        return int(len(self.fids))

    def to_dict(self) -> dict[str, Any]:
        """``{"layer", "count", "fids"}`` (+ ``"other"`` and ``"nearest"`` rows for nearest queries)."""
        out: dict[str, Any] = {"layer": self.query.layer, "count": self.count, "fids": [int(f) for f in self.fids]}
        if self.query.other is not None:
            out["other"] = self.query.other
        if self.nearest is not None:
            out["nearest"] = [{"fid": int(f), "nearest_fid": int(o), "distance": float(d), "rank": int(r)}
                              for f, o, d, r in zip(self.nearest["fid"], self.nearest["nearest_fid"],
                                                    self.nearest["distance"], self.nearest["rank"], strict=True)]
        return out

    def frame(self) -> gpd.GeoDataFrame:
        """The selected features (index ``fid``); for nearest, one row per pair with its neighbour columns."""
        frame = (self.features if self.features is not None else self.layer.frame).loc[self.fids]
        if self.nearest is None:
            return frame
        rows = frame.loc[self.nearest["fid"].to_numpy()].copy()
        for column in ("nearest_fid", "distance", "rank"):
            rows[column] = self.nearest[column].to_numpy()
        return rows


def _layers_of(layers: Any) -> list[Layer]:
    if isinstance(layers, Layer):
        return [layers]
    if isinstance(layers, Mapping):
        return list(layers.values())
    if isinstance(layers, Iterable):
        return list(layers)
    raise TypeError(f"expected layers (a LayerList, a mapping or a list), not {type(layers).__name__}")


def find_layer(layers: Any, name: str) -> Layer:
    """The layer called ``name``: by display name, then by source layer name, then by id.

    Raises
    ------
    QueryError
        No such layer; the message lists the layers there are.
    """
    items = _layers_of(layers)
    if isinstance(layers, Mapping) and name in layers:
        return layers[name]
    for attribute in ("name", "source_layer", "id"):
        for layer in items:
            if getattr(layer, attribute, None) == name:
                return layer
    known = [f"{lyr.name} ({lyr.source_layer})" if lyr.source_layer and lyr.source_layer != lyr.name else lyr.name
             for lyr in items]
    raise QueryError(f"unknown layer '{name}' (layers: {', '.join(known) or 'none'})")


def feature_class_of(layer: Layer) -> Any:
    """The catalogue class of a layer: its declared ``feature_class``, else one guessed from its names."""
    from qdt.cim import catalogue

    cat = catalogue()
    name = getattr(layer, "feature_class", None)
    if name:
        try:
            return cat.feature_class(name)
        except KeyError:
            return None
    for guess in (layer.source_layer, layer.name):
        if guess:
            cls = cat.class_for_layer(guess)
            if cls is not None:
                return cls
    return None


def _vector(layers: Any, name: str, role: str) -> VectorLayer:
    layer = find_layer(layers, name)
    if not isinstance(layer, VectorLayer):
        raise QueryError(f"{role} layer '{name}' is a {layer.kind.value} layer; queries need a vector layer")
    return layer


def _filter(layer: VectorLayer, text: str | None, setting: str) -> np.ndarray:
    if text is None:
        return np.ones(len(layer.frame), dtype=bool)
    try:
        return evaluate(text, layer.frame, feature_class_of(layer))
    except ExpressionError as exc:
        raise exc.in_context(f"layer '{layer.name}', {setting}: ") from None


def _pushed_down(layer: VectorLayer) -> bool:
    """True when the layer's source runs filters itself (``QUERY_PUSHDOWN``): the layer may hold
    only a view window, so the query asks the source for the whole layer."""
    from qdt.io import Capability, capabilities_of

    return Capability.QUERY_PUSHDOWN in capabilities_of(layer)


def _table_rows(layer: VectorLayer, text: str | None, setting: str,
                bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """A push-down layer's matching rows from its whole source (filters pushed down to SQL),
    not only from the view window the layer has loaded (see :func:`qdt.query.sql.query_layer`)."""
    from qdt.io import ReadError
    from qdt.query.sql import query_layer

    try:
        return query_layer(layer, text, feature_class_of(layer), bbox=bbox)
    except ExpressionError as exc:
        raise exc.in_context(f"layer '{layer.name}', {setting}: ") from None
    except ReadError as exc:
        raise QueryError(f"layer '{layer.name}': {exc}") from None


def _search_box(geoms: np.ndarray, query: Query) -> tuple[float, float, float, float] | None:
    """Rectangle outside which no feature can satisfy the query (None: anywhere can)."""
    if query.predicate == "disjoint" or len(geoms) == 0 or (query.kind == "nearest" and query.distance is None):
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    if not np.isfinite([x0, y0, x1, y1]).all():
        return None
    pad = float(query.distance or 0.0)
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _geometry_of(layer: VectorLayer, name: str) -> np.ndarray:
    if not layer.has_geometry:
        raise QueryError(f"layer '{name}' has no geometry (an attribute table); spatial queries need geometry")
    return layer.geometry


def _check_crs(layer: VectorLayer, other: VectorLayer | None, query: Query) -> None:
    if other is not None and layer.crs is not None and other.crs is not None:
        from qdt.crs import same_crs

        if not same_crs(layer.crs, other.crs):
            raise QueryError(f"layers '{query.layer}' and '{query.other}' are in different CRSs; "
                             "open them in one project so both are in the project CRS")
    if (query.distance is not None or query.k is not None) and layer.crs is not None and layer.crs.is_geographic:
        raise QueryError(f"layer '{query.layer}' is in a geographic CRS; distances need a projected CRS in metres")


def run_query(query: Query, layers: Any) -> QueryResult:
    """Run ``query`` against ``layers`` (a LayerList, a name → layer mapping or a list of layers).

    Returns
    -------
    QueryResult
        Selected fids (ascending) and, for nearest, the neighbour of each.

    Raises
    ------
    QueryError
        Unknown layer, a layer that is not a vector layer, no geometry for a spatial query,
        different CRSs.
    ExpressionError
        A malformed filter or an unknown field; the message starts with the layer's name.
    """
    start = time.perf_counter()
    layer = _vector(layers, query.layer, "query")
    # a layer whose source runs queries (a database) may hold only its view window: ask the source
    database = _pushed_down(layer)
    if not database and _streamed(layer):  # a file layer streamed by view window: the whole file, in chunks
        return _run_streamed(query, layers, layer, start)
    features: gpd.GeoDataFrame | None = None
    if database and query.kind == "attribute":
        features = _table_rows(layer, query.where, "where")
        return QueryResult(query, layer, np.sort(features.index.to_numpy(dtype=np.int64)), features=features,
                           seconds=time.perf_counter() - start)
    if not database:
        fids = layer.fids
        mask = _filter(layer, query.where, "where")
        if query.kind == "attribute":
            return QueryResult(query, layer, np.sort(fids[mask]), seconds=time.perf_counter() - start)
        geoms = _geometry_of(layer, query.layer)[mask]
        fids = fids[mask]
    other_layer, other_geoms, other_fids = _other_side(query, layers)
    _check_crs(layer, other_layer, query)
    if database:
        _geometry_of(layer, query.layer)
        features = _table_rows(layer, query.where, "where", _search_box(other_geoms, query))
        fids = features.index.to_numpy(dtype=np.int64)
        geoms = features.geometry.to_numpy()
    if query.kind == "location":
        hit = location_mask(geoms, other_geoms, query.predicate, query.distance)
        return QueryResult(query, layer, np.sort(fids[hit]), other=other_layer, features=features,
                           seconds=time.perf_counter() - start)
    selected, pairs = _nearest_pairs(query, fids, geoms, other_geoms, other_fids)
    return QueryResult(query, layer, selected, nearest=pairs, other=other_layer, features=features,
                       seconds=time.perf_counter() - start)


def _nearest_pairs(query: Query, fids: np.ndarray, geoms: np.ndarray, other_geoms: np.ndarray,
                   other_fids: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    left, right, dist, rank = nearest(geoms, other_geoms, query.k, query.distance)
    pairs = pd.DataFrame({"fid": fids[left], "nearest_fid": other_fids[right], "distance": dist, "rank": rank})
    ascending = bool(np.all(np.diff(fids) > 0))  # layers read from a GeoPackage are; then the pairs already are
    if not ascending:
        pairs = pairs.sort_values(["fid", "rank"], kind="stable", ignore_index=True)
    chosen = np.zeros(len(fids), dtype=bool)
    chosen[left] = True
    selected = fids[chosen] if ascending else np.sort(fids[chosen])
    return selected, pairs


def _other_side(query: Query, layers: Any) -> tuple[VectorLayer | None, np.ndarray, np.ndarray]:
    """The other layer of a spatial query (None for a drawn shape), its matching geometries and fids."""
    if query.geometry is not None:
        return None, np.array([query.geometry], dtype=object), np.array([0], dtype=np.int64)
    other_layer = _vector(layers, query.other, "other")
    if _pushed_down(other_layer):
        _geometry_of(other_layer, query.other)
        rows = _table_rows(other_layer, query.other_where, "other_where")
        return other_layer, rows.geometry.to_numpy(), rows.index.to_numpy(dtype=np.int64)
    if _streamed(other_layer):
        _geometry_of(other_layer, query.other)
        geoms, fids = [], []
        for chunk in _chunks(other_layer, query.other_where, "other_where"):
            geoms.append(chunk.geometry.to_numpy())
            fids.append(chunk.index.to_numpy(dtype=np.int64))
        if not geoms:
            return other_layer, np.array([], dtype=object), np.array([], dtype=np.int64)
        return other_layer, np.concatenate(geoms), np.concatenate(fids)
    other_mask = _filter(other_layer, query.other_where, "other_where")
    return other_layer, _geometry_of(other_layer, query.other)[other_mask], other_layer.fids[other_mask]


def _streamed(layer: VectorLayer) -> bool:
    """True for a file layer streamed by view window (:mod:`qdt.io.window`): it holds only the
    tiles around the camera, so queries read the whole file through its index, in chunks."""
    from qdt.io.window import is_streamed

    return is_streamed(layer) and not _pushed_down(layer)


def _chunks(layer: VectorLayer, text: str | None, setting: str,
            bbox: tuple[float, float, float, float] | None = None) -> Any:
    """The rows of a streamed layer's whole file meeting ``text`` (and ``bbox``), chunk by chunk."""
    from qdt.io import ReadError
    from qdt.io.window import iter_chunks

    cls = feature_class_of(layer)
    try:
        for chunk in iter_chunks(layer, bbox=bbox):
            if text is None:
                yield chunk
                continue
            try:
                mask = evaluate(text, chunk, cls)
            except ExpressionError as exc:
                raise exc.in_context(f"layer '{layer.name}', {setting}: ") from None
            yield chunk[mask]
    except ReadError as exc:
        raise QueryError(f"layer '{layer.name}': {exc}") from None


def _run_streamed(query: Query, layers: Any, layer: VectorLayer, start: float) -> QueryResult:
    """:func:`run_query` over the whole file of a streamed layer, one chunk at a time: memory
    holds one chunk, the other side and the matches; the answer is the whole layer's."""
    if query.kind == "attribute":
        kept = list(_chunks(layer, query.where, "where"))
        features = pd.concat(kept) if kept else layer.frame.iloc[:0]
        return QueryResult(query, layer, np.sort(features.index.to_numpy(dtype=np.int64)), features=features,
                           seconds=time.perf_counter() - start)
    _geometry_of(layer, query.layer)
    other_layer, other_geoms, other_fids = _other_side(query, layers)
    _check_crs(layer, other_layer, query)
    box = _search_box(other_geoms, query)
    kept, all_pairs = [], []
    for chunk in _chunks(layer, query.where, "where", box):
        fids, geoms = chunk.index.to_numpy(dtype=np.int64), chunk.geometry.to_numpy()
        if query.kind == "location":
            hit = location_mask(geoms, other_geoms, query.predicate, query.distance)
            kept.append(chunk[hit])
        else:
            selected, pairs = _nearest_pairs(query, fids, geoms, other_geoms, other_fids)
            kept.append(chunk.loc[selected])
            all_pairs.append(pairs)
    features = pd.concat(kept) if kept else layer.frame.iloc[:0]
    features = features.sort_index()
    selected = features.index.to_numpy(dtype=np.int64)
    pairs = None
    if query.kind != "location":
        pairs = (pd.concat(all_pairs, ignore_index=True) if all_pairs else
                 pd.DataFrame({"fid": [], "nearest_fid": [], "distance": [], "rank": []}))
        pairs = pairs.sort_values(["fid", "rank"], kind="stable", ignore_index=True)
    return QueryResult(query, layer, selected, nearest=pairs, other=other_layer, features=features,
                       seconds=time.perf_counter() - start)


def apply_selection(layer: Layer, result: QueryResult | Iterable[int]) -> frozenset[int]:
    """Make the result the layer's selection (the 3D view and the attribute table follow its event).

    Returns the new selection.
    """
    fids = result.fids if isinstance(result, QueryResult) else np.asarray(list(result), dtype=np.int64)
    layer.selection = fids.tolist()
    return layer.selection
