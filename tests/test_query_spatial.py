"""Location predicates and nearest: edge cases (points on edges, in holes) against GDAL's SQLite dialect."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from qdt.io import LayerSource, load_layer
from qdt.layers import LayerList, VectorLayer
from qdt.query import (
    PREDICATES,
    Query,
    QueryError,
    apply_selection,
    location_mask,
    location_pairs,
    nearest,
    run_query,
)

CRS = "EPSG:4549"
X0, Y0 = 534000.0, 3992000.0  # in Qingdao, so the data is plausible in EPSG:4549


def _shift(geom):
    return shapely.transform(geom, lambda xy: xy + [X0, Y0]) if geom is not None else None


HOLED = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(40, 40), (60, 40), (60, 60), (40, 60)]])
DIAMOND = Polygon([(200, 0), (300, 100), (200, 200), (100, 100)])  # shares the corner (100, 100) with HOLED
ZONES = [HOLED, DIAMOND, MultiPolygon([Polygon([(400, 0), (450, 0), (450, 50)]), Polygon([(500, 0), (550, 0),
                                                                                         (550, 50), (500, 50)])])]
POINTS = [
    Point(10, 10),      # inside HOLED
    Point(0, 50),       # on HOLED's outer edge
    Point(50, 0),       # on HOLED's outer edge
    Point(100, 100),    # the vertex HOLED and DIAMOND share
    Point(50, 50),      # in the hole
    Point(40, 50),      # on the hole's edge
    Point(60, 60),      # on the hole's corner
    Point(250, 50),     # on DIAMOND's slanted edge (exactly representable)
    Point(200, 100),    # inside DIAMOND
    Point(-25, 50),     # exactly 25 m from HOLED's edge x = 0
    Point(-25.001, 50),  # just over 25 m
    Point(425, 10),     # inside the first part of the multipolygon
    Point(1000, 1000),  # far away
    Point(10, 10),      # a duplicate
    None,               # no geometry
]
LINES = [
    LineString([(-10, 50), (10, 50)]),          # crosses HOLED's edge
    LineString([(0, 0), (0, 100)]),             # lies along HOLED's edge
    LineString([(100, 100), (120, 120)]),       # touches both polygons at the shared vertex
    LineString([(45, 45), (55, 55)]),           # inside the hole
    LineString([(30, 50), (70, 50)]),           # crosses the hole
    LineString([(10, 10), (30, 30)]),           # inside HOLED
    LineString([(-20, -20), (-5, -5)]),         # outside, 5*sqrt(2) m from the corner
    LineString([(150, 100), (250, 100)]),       # inside DIAMOND
    LineString([(0, 50), (20, 50)]),            # along nothing; overlaps the first line
    LineString([(400, 0), (450, 50)]),          # the triangle's hypotenuse
]


@pytest.fixture(scope="module")
def edge_gpkg(tmp_path_factory):
    path = tmp_path_factory.mktemp("edges") / "edges.gpkg"
    for name, geoms in (("zones", ZONES), ("points", POINTS), ("lines", LINES)):
        frame = gpd.GeoDataFrame({"name": [f"{name}{i}" for i in range(len(geoms))]},
                                 geometry=[_shift(g) for g in geoms], crs=CRS)
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", layer_options={"SPATIAL_INDEX": "YES"})
    return path


@pytest.fixture(scope="module")
def edge_layers(edge_gpkg):
    layers = LayerList()
    for name in ("zones", "points", "lines"):
        layers.append(load_layer(LayerSource(edge_gpkg, layer=name)).layer)
    return layers


def gdal_fids(path, sql):
    frame = pyogrio.read_dataframe(path, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    values = frame["qfid"].to_numpy() if "qfid" in frame.columns else frame.index.to_numpy()
    return sorted(int(v) for v in set(values.tolist()))


def gdal_select(path, layer, other, predicate, distance=None):
    """The reference: GDAL's SQLite dialect (SpatiaLite ST_ functions), without any index.

    SpatiaLite's predicates return -1 (true to SQLite) for a NULL geometry, hence the ``= 1``.
    """
    if predicate == "disjoint":
        return gdal_fids(path, f"SELECT a.fid AS qfid, 0 AS pad FROM {layer} a WHERE a.geom IS NOT NULL AND NOT "
                               f"EXISTS (SELECT 1 FROM {other} b WHERE ST_Intersects(a.geom, b.geom) = 1)")
    condition = (f"ST_Distance(a.geom, b.geom) <= {distance}" if predicate == "dwithin"
                 else f"ST_{predicate.capitalize()}(a.geom, b.geom) = 1")
    return gdal_fids(path, f"SELECT a.fid AS qfid, 0 AS pad FROM {layer} a WHERE EXISTS "
                           f"(SELECT 1 FROM {other} b WHERE {condition})")


def test_gdal_has_the_spatial_sql_functions(edge_gpkg):
    frame = pyogrio.read_dataframe(edge_gpkg, sql="SELECT spatialite_version() AS v, 1 AS one",
                                   sql_dialect="SQLITE", read_geometry=False)
    assert frame["v"].iloc[0]  # SpatiaLite is there: the reference is GDAL itself, not geopandas


@pytest.mark.parametrize("predicate", PREDICATES)
@pytest.mark.parametrize(("layer", "other"), [("points", "zones"), ("lines", "zones"), ("zones", "zones"),
                                              ("lines", "lines"), ("zones", "points"), ("zones", "lines")])
def test_edge_cases_equal_gdal(edge_gpkg, edge_layers, predicate, layer, other):
    distance = 25.0 if predicate == "dwithin" else None
    result = run_query(Query(layer, predicate=predicate, other=other, distance=distance), edge_layers)
    assert result.fids.tolist() == gdal_select(edge_gpkg, layer, other, predicate, distance)


def test_edge_case_answers_are_the_expected_ones(edge_layers):
    def fids(predicate, distance=None):
        return run_query(Query("points", predicate=predicate, other="zones", distance=distance), edge_layers).fids

    # fid = position + 1
    assert fids("within").tolist() == [1, 9, 12, 14]  # not on edges, not in the hole
    assert fids("intersects").tolist() == [1, 2, 3, 4, 6, 7, 8, 9, 12, 14]  # edges count, the hole does not
    assert fids("touches").tolist() == [2, 3, 4, 6, 7, 8]
    assert fids("disjoint").tolist() == [5, 10, 11, 13]  # the point without geometry is never selected
    assert 10 in fids("dwithin", 25.0) and 11 not in fids("dwithin", 25.0)


def test_location_pairs_and_masks_on_arrays():
    points = np.array([_shift(p) for p in POINTS], dtype=object)
    zones = np.array([_shift(z) for z in ZONES], dtype=object)
    i, j = location_pairs(points, zones, "intersects")
    assert list(zip(i.tolist(), j.tolist(), strict=True))[:5] == [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1)]
    brute = np.array([[p is not None and shapely.intersects(p, z) for z in zones] for p in points])
    assert np.array_equal(np.stack([i, j], 1), np.argwhere(brute))
    # the other tree orientation (fewer features on the left) with a converse predicate
    zi, pj = location_pairs(zones, points, "contains")
    contains = np.array([[p is not None and shapely.contains(z, p) for p in points] for z in zones])
    assert np.array_equal(np.stack([zi, pj], 1), np.argwhere(contains))
    assert np.array_equal(location_mask(points, zones, "intersects"), brute.any(axis=1))
    # either tree orientation gives the same answer
    assert np.array_equal(location_mask(zones, points, "contains"), location_mask(zones, points[:2], "contains")
                          | location_mask(zones, points[2:], "contains"))
    with pytest.raises(ValueError, match="needs a distance"):
        location_mask(points, zones, "dwithin")
    with pytest.raises(ValueError, match="unknown spatial predicate"):
        location_mask(points, zones, "near")


def test_against_a_drawn_polygon_and_polyline(edge_layers):
    drawn = _shift(Polygon([(-1, -1), (101, -1), (101, 30), (-1, 30)]))
    result = run_query(Query("points", predicate="within", geometry=drawn), edge_layers)
    assert result.fids.tolist() == [1, 3, 14]
    line = _shift(LineString([(0, 50), (300, 50)]))
    crossing = run_query(Query("zones", predicate="intersects", geometry=line), edge_layers)
    assert crossing.fids.tolist() == [1, 2]
    near_line = run_query(Query("points", predicate="dwithin", distance=0.0, geometry=line), edge_layers)
    assert near_line.fids.tolist() == [2, 5, 6, 8]


def test_where_filters_both_sides(edge_layers):
    q = Query("points", where="name <> 'points0'", predicate="within", other="zones", other_where="name = 'zones1'")
    assert run_query(q, edge_layers).fids.tolist() == [9]


def test_nearest_points_equals_brute_force():
    rng = np.random.default_rng(3)
    a = shapely.points(rng.uniform(0, 1000, (500, 2)))
    b = shapely.points(rng.uniform(0, 1000, (80, 2)))
    left, right, dist, rank = nearest(a, b, k=3)
    full = shapely.distance(a[:, None], b[None, :])
    order = np.argsort(full, axis=1)[:, :3]
    assert np.array_equal(left, np.repeat(np.arange(500), 3))
    assert np.array_equal(rank, np.tile([1, 2, 3], 500))
    assert np.allclose(dist, np.take_along_axis(full, order, axis=1).ravel())
    left, right, dist, rank = nearest(a, b, k=2, max_distance=60.0)
    assert np.all(dist <= 60.0) and np.array_equal(np.sort(np.unique(left)), np.flatnonzero((full <= 60).any(1)))


def test_nearest_polygons_k_equals_brute_force_and_sjoin_nearest():
    rng = np.random.default_rng(4)
    centres = rng.uniform(0, 2000, (300, 2))
    boxes = shapely.box(centres[:, 0], centres[:, 1], centres[:, 0] + rng.uniform(5, 60, 300),
                        centres[:, 1] + rng.uniform(5, 60, 300))
    lines = shapely.linestrings(np.stack([rng.uniform(0, 2000, (40, 2)), rng.uniform(0, 2000, (40, 2))], 1))
    full = shapely.distance(boxes[:, None], lines[None, :])
    for k in (1, 4):
        left, right, dist, rank = nearest(boxes, lines, k=k)
        want = np.sort(full, axis=1)[:, :k].ravel()
        assert np.array_equal(left, np.repeat(np.arange(300), k))
        assert np.allclose(dist, want)
        assert np.allclose(full[left, right], dist)
    ref = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=boxes), gpd.GeoDataFrame(geometry=lines), distance_col="d")
    left, right, dist, _ = nearest(boxes, lines, k=1)
    assert np.allclose(ref.groupby(level=0)["d"].first().to_numpy(), dist)


def test_nearest_query_result_and_fids(edge_layers):
    result = run_query(Query("points", k=2, other="zones"), edge_layers)
    rows = result.nearest
    assert list(rows.columns) == ["fid", "nearest_fid", "distance", "rank"]
    assert 15 not in rows["fid"].tolist()  # no geometry, no neighbour
    first = rows[rows["fid"] == 5].iloc[0]  # in the hole: 10 m to the hole's edge
    assert first["nearest_fid"] == 1 and first["distance"] == pytest.approx(10.0) and first["rank"] == 1
    doc = result.to_dict()
    assert doc["count"] == 14 and doc["other"] == "zones" and len(doc["nearest"]) == 28
    limited = run_query(Query("points", k=1, other="zones", distance=5.0), edge_layers)
    assert limited.nearest["distance"].max() <= 5.0 and 13 not in limited.fids


def test_apply_selection_emits_the_layer_event(edge_layers):
    layer = edge_layers["points"]
    seen = []
    edge_layers.events.selection.connect(lambda lyr, fids: seen.append((lyr.name, sorted(fids))))
    result = run_query(Query("points", predicate="within", other="zones"), edge_layers)
    assert apply_selection(layer, result) == frozenset({1, 9, 12, 14})
    assert layer.selection == frozenset({1, 9, 12, 14}) and seen[-1] == ("points", [1, 9, 12, 14])


def test_query_is_data_and_round_trips():
    drawn = Polygon([(0, 0), (10, 0), (10, 10)])
    queries = [Query("路灯", where="状态 = '故障'"),
               Query("建筑", predicate="dwithin", other="地下管线", other_where="network = 'RQ'", distance=30),
               Query("路灯", k=2, other="智慧杆", distance=100.0),
               Query("路灯", predicate="within", geometry=drawn)]
    for q in queries:
        again = Query.from_dict(q.to_dict())
        assert again == q and again.to_dict() == q.to_dict()
    assert queries[3].to_dict()["geometry"].startswith("POLYGON")
    assert Query.from_dict(queries[3].to_dict()).geometry.equals(drawn)
    assert queries[1].kind == "location" and queries[2].kind == "nearest" and queries[0].kind == "attribute"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layer": ""}, "needs the name of the layer"),
    ({"layer": "a", "predicate": "near", "other": "b"}, "unknown spatial predicate 'near'"),
    ({"layer": "a", "predicate": "within"}, "needs another layer"),
    ({"layer": "a", "predicate": "dwithin", "other": "b"}, "needs a distance"),
    ({"layer": "a", "predicate": "within", "other": "b", "distance": 5}, "not to 'within'"),
    ({"layer": "a", "predicate": "within", "other": "b", "k": 1}, "not both"),
    ({"layer": "a", "k": 0, "other": "b"}, "at least 1"),
    ({"layer": "a", "other": "b"}, "needs a spatial predicate"),
    ({"layer": "a", "other_where": "x = 1"}, "needs another layer"),
    ({"layer": "a", "predicate": "dwithin", "other": "b", "distance": -1}, "0 m or more"),
])
def test_bad_queries_are_refused_on_creation(kwargs, message):
    with pytest.raises(QueryError, match=message):
        Query(**kwargs)


def test_unknown_layer_and_field_name_the_layer(edge_layers):
    with pytest.raises(QueryError, match=r"unknown layer 'roads' \(layers: zones, points, lines\)"):
        run_query(Query("roads"), edge_layers)
    with pytest.raises(ValueError, match="layer 'points', where: unknown field 'height'"):
        run_query(Query("points", where="height > 3"), edge_layers)
    with pytest.raises(QueryError, match="unknown query setting 'filter'"):
        Query.from_dict({"layer": "a", "filter": "x"})


def test_attribute_table_without_geometry_refuses_spatial_queries():
    table = VectorLayer("devices", gpd.GeoDataFrame({"a": [1, 2]}, index=pd_index([5, 6])))
    points = VectorLayer("pts", gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs=CRS, index=pd_index([1])))
    layers = [table, points]
    assert run_query(Query("devices", where="a = 2"), layers).fids.tolist() == [6]
    with pytest.raises(QueryError, match="has no geometry"):
        run_query(Query("devices", predicate="intersects", other="pts"), layers)


def pd_index(values):
    import pandas as pd

    return pd.Index(values, name="fid")
