"""Answers on the sample and on a second generated city equal GDAL's SQLite dialect (ST_Within, ST_Intersects,
ST_Distance) on the same GeoPackage — the issue's reference for "right"."""

from __future__ import annotations

import pyogrio
import pytest

from qdt.cim.sample import generate
from qdt.cli.query import SourceLayers
from qdt.query import Query, run_query
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two districts from another seed: a different city from the committed sample."""
    folder = tmp_path_factory.mktemp("city")
    generate(folder, scale=800, seed=7)
    return folder / "qingdao_shinan.gpkg"


def gdal_fids(path, sql):
    frame = pyogrio.read_dataframe(path, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    values = frame["qfid"].to_numpy() if "qfid" in frame.columns else frame.index.to_numpy()
    return sorted(int(v) for v in set(values.tolist()))


def exists(layer, other, condition, where="", other_where=""):
    """GDAL reference: features of ``layer`` with some feature of ``other`` meeting ``condition``.

    The R-tree only narrows the candidates to boxes within the distance; the ST_ function decides.
    """
    grow = 0.0
    if condition.startswith("dwithin "):
        grow = float(condition.split()[1])
        condition = f"ST_Distance(a.geom, b.geom) <= {grow}"
    else:
        condition = f"ST_{condition}(a.geom, b.geom) = 1"
    return (f"SELECT a.fid AS qfid, 0 AS pad FROM {layer} a WHERE {where or '1'} AND EXISTS (SELECT 1 FROM "
            f"rtree_{other}_geom r JOIN {other} b ON b.fid = r.id WHERE r.minx <= ST_MaxX(a.geom) + {grow} "
            f"AND r.maxx >= ST_MinX(a.geom) - {grow} AND r.miny <= ST_MaxY(a.geom) + {grow} "
            f"AND r.maxy >= ST_MinY(a.geom) - {grow} AND {other_where or '1'} AND {condition})")


CASES = [
    # (query, GDAL reference SQL parts)
    (Query("streetlights", predicate="within", other="zones"), ("streetlights", "zones", "Within")),
    (Query("manholes", predicate="within", other="zones", where="status = 2"),
     ("manholes", "zones", "Within", "a.status = 2")),
    (Query("buildings", predicate="intersects", other="zones"), ("buildings", "zones", "Intersects")),
    (Query("pipes", predicate="intersects", other="zones"), ("pipes", "zones", "Intersects")),
    (Query("pipes", predicate="crosses", other="zones"), ("pipes", "zones", "Crosses")),
    (Query("zones", predicate="touches", other="zones"), ("zones", "zones", "Touches")),
    (Query("zones", predicate="contains", other="cabinets"), ("zones", "cabinets", "Contains")),
    (Query("buildings", predicate="dwithin", distance=30, other="pipes", other_where="network = 'RQ'"),
     ("buildings", "pipes", "dwithin 30", "", "b.network = 'RQ'")),
    (Query("streetlights", predicate="dwithin", distance=25, other="smart_poles"),
     ("streetlights", "smart_poles", "dwithin 25")),
    (Query("cabinets", predicate="dwithin", distance=2.5, other="streetlights", where="cabinet_type = 'PD'"),
     ("cabinets", "streetlights", "dwithin 2.5", "a.cabinet_type = 'PD'")),
]


def _check(gpkg, layers):
    for query, parts in CASES:
        ours = run_query(query, layers).fids.tolist()
        theirs = gdal_fids(gpkg, exists(*parts))
        assert ours == theirs, query
        assert 0 < len(ours), query  # every case selects something, so equality means something
    return True


def test_sample_answers_equal_gdal():
    source = SourceLayers(SAMPLE_PROJECT)
    names = {q.layer for q, _ in CASES} | {q.other for q, _ in CASES}
    layers = {name: source.layer(name) for name in names}  # project layers, found by source layer name
    gpkg = source.entries[source.index_of("streetlights")].source
    assert _check(gpkg, layers)


def test_generated_city_answers_equal_gdal(generated):
    source = SourceLayers(generated)
    layers = {name: source.layer(name) for name in {q.layer for q, _ in CASES} | {q.other for q, _ in CASES}}
    assert layers["buildings"].feature_count > 1000  # two districts
    assert _check(generated, layers)


def test_not_everything_is_selected(generated):
    source = SourceLayers(generated)
    layers = {name: source.layer(name) for name in ("buildings", "pipes")}
    near_gas = run_query(Query("buildings", predicate="dwithin", distance=30, other="pipes",
                               other_where="network = 'RQ'"), layers)
    assert 0 < near_gas.count < layers["buildings"].feature_count
