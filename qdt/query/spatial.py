"""Spatial predicates and nearest neighbours between geometry arrays, with shapely 2 STRtree bulk queries.

Everything works on whole arrays: one STRtree query answers a predicate for every feature
at once, a KD-tree (scipy) answers point-to-point nearest, and k-nearest between other
geometries is a bounded ``dwithin`` query followed by a sort — there is no per-feature loop.

Semantics are GEOS's, the same as GDAL's and PostGIS's ``ST_`` functions: a point on a
polygon's edge (outer ring or a hole's ring) *intersects* and *touches* it but is not
*within* it; a point inside a hole is *disjoint* from the polygon. "Select by location"
selects a feature when the predicate holds against **at least one** of the other
features, except ``disjoint``, which (as in QGIS) selects features that intersect **none**
of them. Missing or empty geometries are never selected.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["PREDICATES", "location_mask", "location_pairs", "nearest"]

PREDICATES = ("intersects", "within", "contains", "touches", "crosses", "overlaps", "disjoint", "dwithin")
# predicate(a, b) == _CONVERSE[predicate](b, a)
_CONVERSE = {"within": "contains", "contains": "within"}
_POINT = 0  # shapely type id of Point


def _as_array(geoms: object) -> np.ndarray:
    if isinstance(geoms, shapely.Geometry):
        return np.array([geoms], dtype=object)
    return np.asarray(geoms, dtype=object).reshape(-1)


def _present(geoms: np.ndarray) -> np.ndarray:
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))


def _check(predicate: str, distance: float | None) -> None:
    if predicate not in PREDICATES:
        raise ValueError(f"unknown spatial predicate {predicate!r} (one of {', '.join(PREDICATES)})")
    if predicate == "dwithin":
        if distance is None or not np.isfinite(distance) or distance < 0:
            raise ValueError(f"'dwithin' needs a distance of 0 m or more, not {distance!r}")


def location_pairs(geoms: object, other: object, predicate: str,
                   distance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``predicate(geoms[i], other[j])`` true, sorted by ``i`` then ``j``.

    ``disjoint`` is not offered here (its pairs are almost the full cross product); use
    :func:`location_mask`. ``dwithin`` means ``distance(a, b) <= distance`` (metres in a
    projected CRS).

    The STRtree is built on the larger array and queried with the smaller one (with the
    converse predicate where the roles swap): the query geometries are prepared once each,
    which is the expensive part for polygons, and the tree is cheap to build.
    """
    _check(predicate, distance)
    if predicate == "disjoint":
        raise ValueError("location_pairs does not list disjoint pairs; use location_mask")
    a, b = _as_array(geoms), _as_array(other)
    if len(a) == 0 or len(b) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    kwargs = {"distance": float(distance)} if predicate == "dwithin" else {}
    if len(a) >= len(b):
        tree = shapely.STRtree(a)
        j, i = tree.query(b, predicate=_CONVERSE.get(predicate, predicate), **kwargs)
    else:
        tree = shapely.STRtree(b)
        i, j = tree.query(a, predicate=predicate, **kwargs)
    order = np.lexsort((j, i))
    return i[order].astype(np.int64), j[order].astype(np.int64)


def location_mask(geoms: object, other: object, predicate: str, distance: float | None = None) -> np.ndarray:
    """For each geometry in ``geoms``: does ``predicate`` hold against any geometry of ``other``?

    Parameters
    ----------
    geoms
        The features to select from (array of shapely geometries, None allowed).
    other
        The features (or the single drawn geometry) to test against.
    predicate
        One of :data:`PREDICATES`.
    distance
        For ``dwithin``: the largest distance, inclusive, in CRS units (metres).

    Returns
    -------
    numpy.ndarray
        Boolean mask aligned with ``geoms``.
    """
    _check(predicate, distance)
    a, b = _as_array(geoms), _as_array(other)
    mask = np.zeros(len(a), dtype=bool)
    if predicate == "disjoint":
        return _present(a) & ~location_mask(a, b, "intersects")
    if len(a) == 0 or len(b) == 0:
        return mask
    kwargs = {"distance": float(distance)} if predicate == "dwithin" else {}
    if len(a) >= len(b):
        hits = shapely.STRtree(a).query(b, predicate=_CONVERSE.get(predicate, predicate), **kwargs)[1]
    else:
        hits = shapely.STRtree(b).query(a, predicate=predicate, **kwargs)[0]
    mask[hits] = True
    return mask


def nearest(geoms: object, other: object, k: int = 1,
            max_distance: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` nearest geometries of ``other`` for each geometry of ``geoms``.

    Points against points use a KD-tree (``scipy.spatial.cKDTree``); other geometry types
    use ``STRtree.query_nearest`` for ``k == 1``, and for ``k > 1`` a bounded search: a
    KD-tree on representative points gives, per feature, ``k`` distinct candidates whose
    exact distances bound the k-th nearest distance from above; one ``dwithin`` query with
    those per-feature radii then returns every feature that can be among the k nearest,
    and a sort keeps the k closest.

    Parameters
    ----------
    geoms, other
        Arrays of shapely geometries (None or empty ones are skipped).
    k
        How many neighbours per feature (fewer when ``other`` has fewer).
    max_distance
        Ignore neighbours farther than this (inclusive), if given.

    Returns
    -------
    (left, right, distance, rank)
        Indices into ``geoms`` and ``other``, the 2D distance and the rank (1 = nearest),
        sorted by ``left`` then ``rank``. Between equally distant neighbours the order is
        the lower index first, except for point-to-point queries, where the KD-tree's order
        stands.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, not {k!r}")
    k = int(k)
    if max_distance is not None and (not np.isfinite(max_distance) or max_distance < 0):
        raise ValueError(f"the largest distance must be 0 m or more, not {max_distance!r}")
    a, b = _as_array(geoms), _as_array(other)
    a_ok, b_ok = _present(a), _present(b)
    a_idx, b_idx = np.flatnonzero(a_ok), np.flatnonzero(b_ok)
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=np.int64))
    if len(a_idx) == 0 or len(b_idx) == 0:
        return empty
    ga, gb = a[a_idx], b[b_idx]
    kk = min(k, len(gb))
    points = bool(np.all(shapely.get_type_id(ga) == _POINT) and np.all(shapely.get_type_id(gb) == _POINT))
    if points:
        left, right, dist, rank = _kd_nearest(ga, gb, kk, max_distance)
        return a_idx[left], b_idx[right], dist, rank
    if kk == 1:
        tree = shapely.STRtree(gb)
        (left, right), dist = tree.query_nearest(ga, max_distance=max_distance, return_distance=True,
                                                 all_matches=False)
        if max_distance is not None:
            keep = dist <= max_distance
            left, right, dist = left[keep], right[keep], dist[keep]
    else:
        left, right, dist = _bounded_k_nearest(ga, gb, kk, max_distance)
    order = np.lexsort((right, dist, left))
    left, right, dist = left[order], right[order], dist[order]
    starts = np.r_[0, np.flatnonzero(np.diff(left)) + 1]
    counts = np.diff(np.r_[starts, len(left)])
    rank = np.arange(len(left)) - np.repeat(starts, counts) + 1
    keep = rank <= kk
    return (a_idx[left[keep]].astype(np.int64), b_idx[right[keep]].astype(np.int64), dist[keep].astype(float),
            rank[keep].astype(np.int64))


def _kd_nearest(ga: np.ndarray, gb: np.ndarray, k: int, max_distance: float | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """KD-tree k-nearest between points; rows come out ordered by query point and distance."""
    from scipy.spatial import cKDTree

    xa, xb = shapely.get_coordinates(ga), shapely.get_coordinates(gb)
    # cKDTree's bound is exclusive; nudge it up and apply the inclusive bound afterwards
    bound = np.inf if max_distance is None else np.nextafter(float(max_distance), np.inf)
    dist, right = cKDTree(xb).query(xa, k=k, distance_upper_bound=bound, workers=-1)
    dist, right = dist.reshape(-1), right.reshape(-1)
    left = np.repeat(np.arange(len(xa), dtype=np.int64), k)
    rank = np.tile(np.arange(1, k + 1, dtype=np.int64), len(xa))
    keep = right < len(xb)  # missing neighbours come back as index len(xb) and distance inf
    if max_distance is not None:
        keep &= dist <= max_distance
    if keep.all():
        return left, right.astype(np.int64), dist, rank
    return left[keep], right[keep].astype(np.int64), dist[keep], rank[keep]


def _bounded_k_nearest(ga: np.ndarray, gb: np.ndarray, k: int,
                       max_distance: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    rep_a = shapely.get_coordinates(shapely.point_on_surface(ga))
    rep_b = shapely.get_coordinates(shapely.point_on_surface(gb))
    _, guess = cKDTree(rep_b).query(rep_a, k=k, workers=-1)
    guess = guess.reshape(len(ga), k)
    # k distinct features at these exact distances: the k-th nearest is no farther than the largest
    radius = shapely.distance(ga[:, None], gb[guess]).max(axis=1)
    if max_distance is not None:
        radius = np.minimum(radius, max_distance)
    left, right = shapely.STRtree(gb).query(ga, predicate="dwithin", distance=radius)
    dist = shapely.distance(ga[left], gb[right])
    keep = dist <= radius[left]
    return left[keep], right[keep], dist[keep]
