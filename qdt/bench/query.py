"""Time the query engine against geopandas and GDAL's SQLite dialect on a generated city.

Run::

    python -m qdt.bench query [--scale 100000] [--repeat 3] [--data DIR] [--json]

The city is written by :func:`qdt.cim.sample.generate` (``--scale`` buildings; default
100 000) into a temporary folder, or read from ``--data DIR`` (a folder a previous
generation wrote). Each query runs three ways on the same data in the same process:

- **qdt**: :func:`qdt.query.run_query` / :func:`qdt.query.check_clearances` on the loaded layers
  (STRtree built inside the timing);
- **sjoin**: ``geopandas.sjoin`` / ``sjoin_nearest`` on fresh GeoDataFrames (their spatial
  index built inside the timing), or plain pandas for the attribute filter;
- **gdal**: the same question in GDAL's SQLite dialect on the GeoPackage through pyogrio,
  using the GeoPackage's R-tree (run once: it is slow).

qdt and sjoin take the best of ``--repeat`` runs. The answers (selected fids) of the three
are compared and a mismatch is printed. With ``--json`` the last line is one JSON object:
seconds keyed ``attribute``, ``within``, ``intersects``, ``dwithin``, ``nearest``,
``clearance`` and their counterparts ``pandas_attribute``, ``sjoin_within``,
``sjoin_intersects``, ``sjoin_dwithin``, ``sjoin_nearest``, ``gdal_attribute``, ``gdal_within``,
``gdal_intersects``, ``gdal_dwithin``, ``gdal_nearest``; plus ``features`` (count per layer)
and ``agree`` (whether the answers matched, per query). Benchmarks print; tests never
assert on these times.

``gdal_nearest`` is a correlated sub-query per feature that searches the R-tree within
``NEAREST_WINDOW_M`` (SQLite has no unbounded k-nearest operator on a GeoPackage); features
with no pole in that window get no answer there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_SCALE = 100_000
NEAREST_WINDOW_M = 500.0
ATTRIBUTE_WHERE = "状态 = '故障' AND power_w >= 100"
ATTRIBUTE_SQL = "status = 2 AND power_w >= 100"
DWITHIN_M = 25.0
LAYERS = ("streetlights", "smart_poles", "zones", "buildings", "pipes")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="query engine vs geopandas sjoin vs GDAL SQLite",
                       description=__doc__.splitlines()[0])
    _arguments(p)
    p.set_defaults(func=run, prog="python -m qdt.bench query")


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="buildings in the generated city (default 100000)")
    p.add_argument("--repeat", type=int, default=3, help="best of N for qdt and sjoin (default 3)")
    p.add_argument("--data", metavar="DIR", help="use the city a previous generation wrote into DIR")
    p.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _gdal_fids(path: Path, sql: str) -> np.ndarray:
    """Ascending distinct fids that a SQLite-dialect query returns in a column ``qfid``.

    GDAL may take such a column as the result's feature id; it is then read from the index.
    """
    import pyogrio

    frame = pyogrio.read_dataframe(path, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    values = frame["qfid"].to_numpy() if "qfid" in frame.columns else frame.index.to_numpy()
    return np.unique(values.astype(np.int64))


def _gdal_exists_sql(layer: str, other: str, condition: str, grow: float = 0.0, other_where: str = "") -> str:
    """Features of ``layer`` with at least one feature of ``other`` meeting ``condition``, through other's R-tree.

    SpatiaLite's predicates return -1 for a NULL geometry, which SQLite takes as true: write ``ST_X(...) = 1``.
    """
    extra = f" AND ({other_where})" if other_where else ""
    return (f"SELECT a.fid AS qfid, 0 AS pad FROM {layer} a WHERE EXISTS (SELECT 1 FROM rtree_{other}_geom r "
            f"JOIN {other} b ON b.fid = r.id WHERE r.minx <= ST_MaxX(a.geom) + {grow} "
            f"AND r.maxx >= ST_MinX(a.geom) - {grow} AND r.miny <= ST_MaxY(a.geom) + {grow} "
            f"AND r.maxy >= ST_MinY(a.geom) - {grow} AND {condition}{extra})")


def _gdal_nearest_sql(layer: str, other: str, window: float) -> str:
    return (f"SELECT a.fid AS qfid, (SELECT b.fid FROM rtree_{other}_geom r JOIN {other} b ON b.fid = r.id "
            f"WHERE r.minx <= ST_MaxX(a.geom) + {window} AND r.maxx >= ST_MinX(a.geom) - {window} "
            f"AND r.miny <= ST_MaxY(a.geom) + {window} AND r.maxy >= ST_MinY(a.geom) - {window} "
            f"ORDER BY ST_Distance(a.geom, b.geom) LIMIT 1) AS nfid FROM {layer} a")


def _fresh(layer: Any) -> Any:
    """A GeoDataFrame of the layer's geometry with no spatial index built yet (so sjoin pays for its own)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(index=layer.frame.index.copy(),
                            geometry=gpd.GeoSeries(layer.geometry.copy(), index=layer.frame.index, crs=layer.crs))


def run(args: argparse.Namespace) -> int:
    from qdt.io import LayerSource, load_layer
    from qdt.query import Query, check_clearances, run_query

    temp = None
    if args.data:
        folder = Path(args.data)
    else:
        from qdt.cim.sample import generate

        temp = Path(tempfile.mkdtemp(prefix="qdt-bench-query-"))
        folder = temp
        start = time.perf_counter()
        generate(folder, scale=args.scale)
        print(f"generated --scale {args.scale} in {time.perf_counter() - start:.1f} s")
    try:
        gpkg = folder / "qingdao_shinan.gpkg"
        start = time.perf_counter()
        layers = {name: load_layer(LayerSource(gpkg, layer=name)).layer for name in LAYERS}
        dem = load_layer(LayerSource(folder / "dem.tif", role="dem")).layer
        features = {name: layer.feature_count for name, layer in layers.items()}
        print(f"loaded in {time.perf_counter() - start:.1f} s: "
              + ", ".join(f"{n} {c}" for n, c in features.items()))
        figures: dict[str, Any] = {}
        agree: dict[str, bool] = {}
        repeat = args.repeat

        def record(name: str, ours: tuple[float, np.ndarray], other_key: str, other: tuple[float, np.ndarray],
                   gdal: tuple[float, np.ndarray]) -> None:
            figures[name], figures[other_key], figures[f"gdal_{name}"] = ours[0], other[0], gdal[0]
            same = bool(np.array_equal(ours[1], other[1]) and np.array_equal(ours[1], gdal[1]))
            agree[name] = same
            print(f"{name:<11} qdt {ours[0]:7.3f} s | {other_key:<17} {other[0]:7.3f} s ({other[0] / ours[0]:5.1f}x) | "
                  f"gdal {gdal[0]:8.3f} s ({gdal[0] / ours[0]:6.1f}x) | {len(ours[1])} selected"
                  + ("" if same else f"  ANSWERS DIFFER: {len(ours[1])} / {len(other[1])} / {len(gdal[1])}"))

        lights, poles, zones, buildings = (layers[n] for n in ("streetlights", "smart_poles", "zones", "buildings"))

        # attribute filter
        q = Query("streetlights", where=ATTRIBUTE_WHERE)
        ours = _best(lambda: run_query(q, layers).fids, repeat)
        frame = lights.frame
        pandas = _best(lambda: np.sort(frame.index.to_numpy()[((frame["status"] == 2)
                                                                 & (frame["power_w"] >= 100)).to_numpy()]), repeat)
        gdal = _best(lambda: _gdal_fids(gpkg, f"SELECT fid AS qfid, 0 AS pad FROM streetlights WHERE {ATTRIBUTE_SQL}"),
                     1)
        record("attribute", ours, "pandas_attribute", pandas, gdal)

        cases = [
            ("within", Query("streetlights", predicate="within", other="zones"), lights, zones, {"predicate": "within"},
             _gdal_exists_sql("streetlights", "zones", "ST_Within(a.geom, b.geom) = 1")),
            ("intersects", Query("buildings", predicate="intersects", other="zones"), buildings, zones,
             {"predicate": "intersects"}, _gdal_exists_sql("buildings", "zones", "ST_Intersects(a.geom, b.geom) = 1")),
            ("dwithin", Query("streetlights", predicate="dwithin", other="smart_poles", distance=DWITHIN_M), lights,
             poles, {"predicate": "dwithin", "distance": DWITHIN_M},
             _gdal_exists_sql("streetlights", "smart_poles", f"ST_Distance(a.geom, b.geom) <= {DWITHIN_M}", DWITHIN_M)),
        ]
        for name, query, left, right, kw, sql in cases:
            ours = _best(lambda query=query: run_query(query, layers).fids, repeat)
            fresh_left, fresh_right = (lambda left=left: _fresh(left)), (lambda right=right: _fresh(right))
            theirs = _best_fresh(fresh_left, fresh_right, kw, repeat)
            gdal = _best(lambda sql=sql: _gdal_fids(gpkg, sql), 1)
            record(name, ours, f"sjoin_{name}", theirs, gdal)

        # nearest pole for every light: answers compared as the distance to the nearest (ties may pick either pole)
        q = Query("streetlights", k=1, other="smart_poles")
        t_ours, result = _best(lambda: run_query(q, layers), repeat)
        ours_d = result.nearest.set_index("fid")["distance"]
        t_sjoin, joined = _best_fresh_nearest(lambda: _fresh(lights), lambda: _fresh(poles), repeat)
        sjoin_d = joined.groupby(level=0)["distance"].first()
        start = time.perf_counter()
        import pyogrio

        near = pyogrio.read_dataframe(gpkg, sql=_gdal_nearest_sql("streetlights", "smart_poles", NEAREST_WINDOW_M),
                                      sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
        t_gdal = time.perf_counter() - start
        near = near.dropna()
        near_fids = near["qfid"].to_numpy(np.int64) if "qfid" in near.columns else near.index.to_numpy(np.int64)
        gdal_d = _distances(lights, poles, near_fids, near["nfid"].to_numpy(np.int64))
        same = bool(np.allclose(ours_d.loc[sjoin_d.index].to_numpy(), sjoin_d.to_numpy())
                    and np.allclose(ours_d.loc[near_fids].to_numpy(), gdal_d))
        figures["nearest"], figures["sjoin_nearest"], figures["gdal_nearest"] = t_ours, t_sjoin, t_gdal
        agree["nearest"] = same
        print(f"{'nearest':<11} qdt {t_ours:7.3f} s | {'sjoin_nearest':<17} {t_sjoin:7.3f} s "
              f"({t_sjoin / t_ours:5.1f}x) | gdal {t_gdal:8.3f} s ({t_gdal / t_ours:6.1f}x) | {len(ours_d)} matched"
              + ("" if same else "  NEAREST DISTANCES DIFFER"))

        t_clear, report = _best(lambda: check_clearances(layers["pipes"], dem), repeat)
        figures["clearance"] = t_clear
        print(f"{'clearance':<11} qdt {t_clear:7.3f} s over {report.segments} pipe segments: "
              f"{report.count} pairs below the minimum ({report.horizontal_checked} alongside, "
              f"{report.vertical_checked} crossing pairs checked)")
        figures["features"] = features
        figures["agree"] = agree
        print("command:", _command(args))
        if args.json:
            print(json.dumps(figures, ensure_ascii=False))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


def _command(args: argparse.Namespace) -> str:
    parts = [getattr(args, "prog", "python -m qdt.bench query"), f"--scale {args.scale}", f"--repeat {args.repeat}"]
    if args.data:
        parts.append(f"--data {args.data}")
    if args.json:
        parts.append("--json")
    return " ".join(parts)


def _best_fresh(left: Callable[[], Any], right: Callable[[], Any], kw: dict[str, Any],
                repeat: int) -> tuple[float, np.ndarray]:
    import geopandas as gpd

    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        a, b = left(), right()
        start = time.perf_counter()
        result = np.unique(gpd.sjoin(a, b, how="inner", **kw).index.to_numpy())
        best = min(best, time.perf_counter() - start)
    return best, result


def _best_fresh_nearest(left: Callable[[], Any], right: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    import geopandas as gpd

    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        a, b = left(), right()
        start = time.perf_counter()
        result = gpd.sjoin_nearest(a, b, how="inner", distance_col="distance")
        best = min(best, time.perf_counter() - start)
    return best, result


def _distances(layer: Any, other: Any, fids: np.ndarray, other_fids: np.ndarray) -> np.ndarray:
    import shapely

    return shapely.distance(layer.frame.geometry.loc[fids].to_numpy(), other.frame.geometry.loc[other_fids].to_numpy())


def main(argv: list[str] | None = None) -> int:
    """``python -m qdt.bench.query``: the same benchmark without the ``qdt.bench`` dispatcher."""
    parser = argparse.ArgumentParser(prog="python -m qdt.bench.query", description=__doc__.splitlines()[0])
    _arguments(parser)
    parser.set_defaults(prog="python -m qdt.bench.query")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
