"""``qdt query SOURCE --layer LAYER [...]``: select features by attributes, location or nearness.

SOURCE is a project file (.qdt: its layers as the project sets them up) or a GeoPackage (its
layers taken as they are, in the project CRS). A layer is named by its project name (路灯)
or its source layer name (streetlights). Examples::

    qdt query sample_data/qingdao_shinan.qdt --layer 路灯 --where "状态 = '故障'" --json
    qdt query city.gpkg --layer buildings --predicate dwithin --distance 30 \\
        --other pipes --other-where "network = 'RQ'" --out near_gas.geojson
    qdt query city.gpkg --layer streetlights --nearest 1 --other smart_poles --json

``--json`` prints ``{"layer", "count", "fids"}`` (fids ascending), plus ``"other"`` and one
``{"fid", "nearest_fid", "distance", "rank"}`` row per pair for ``--nearest``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qdt.cli.main import UserError
from qdt.language import cli_text


class SourceLayers:
    """The layers of a project file or a GeoPackage, opened on first use through the one
    loading path (:mod:`qdt.project.loading`).

    Parameters
    ----------
    path
        A ``.qdt`` project or a vector dataset (GeoPackage).
    """

    def __init__(self, path: str | Path) -> None:
        from qdt.io import list_layers
        from qdt.project import LayerEntry

        self.path = Path(path)
        if not self.path.exists():
            raise UserError(cli_text("“{path}”不存在", path=self.path))
        self._opened: dict[tuple[int, bool], Any] = {}
        self.warnings: list[str] = []
        if self.path.suffix.lower() == ".qdt":
            from qdt.project import load_project

            project = load_project(self.path)
            self.crs = project.crs
            self.entries: list[Any] = list(project.entries)
        else:
            # a dataset is queried in its own metric CRS, chosen when its first layer opens
            self.crs = None
            source = str(self.path.resolve())
            self.entries = [LayerEntry(name=name, kind="vector", source=source, layer_name=name)
                            for name in list_layers(self.path)]

    def names(self) -> list[str]:
        return [e.name if not e.layer_name or e.layer_name == e.name else f"{e.name} ({e.layer_name})"
                for e in self.entries]

    def index_of(self, name: str) -> int:
        for key in ("name", "layer_name"):
            for n, entry in enumerate(self.entries):
                if getattr(entry, key) == name:
                    return n
        raise UserError(cli_text("“{path}”中没有图层“{name}”（图层：{layers}）", name=name, path=self.path,
                                 layers=", ".join(self.names())))

    def open(self, index: int, *, pushdown: bool = False) -> Any:
        """The layer of entry ``index``. ``pushdown``: the caller runs queries through
        :func:`qdt.query.run_query`, so a layer whose source runs them itself (a database table)
        is opened without features (never the whole table); other layers are read whole."""
        from qdt.io import Capability, FeatureRequest, open_datasource
        from qdt.project.loading import layer_source, open_entry

        entry = self.entries[index]
        if self.crs is None:
            from qdt.io.loader import dataset_metric_crs

            self.crs, note = dataset_metric_crs(self.path, entry.layer_name)
            if note:
                self.warnings.append(note)
        source = open_datasource(layer_source(entry))
        # a GeoPackage layer big enough to stream is queried from the file in chunks (qdt.io.window)
        streamed = pushdown and entry.kind == "vector" and source.streams(entry.layer_name)
        structure_only = pushdown and (source.has(Capability.QUERY_PUSHDOWN) or streamed)
        key = (index, structure_only)
        if key not in self._opened:
            request = FeatureRequest(limit=0) if structure_only else FeatureRequest()
            result = open_entry(entry, self.crs, request=request)
            self.warnings.extend(result.warnings)
            if streamed and not source.has(Capability.QUERY_PUSHDOWN):
                result.layer.metadata["windowed"] = True
            self._opened[key] = result.layer
        return self._opened[key]

    def layer(self, name: str, *, pushdown: bool = False) -> Any:
        """The layer called ``name`` (display or source layer name), opened now if needed."""
        return self.open(self.index_of(name), pushdown=pushdown)

    def dem(self) -> Any:
        """The project's DEM layer, or None (a GeoPackage has none)."""
        for n, entry in enumerate(self.entries):
            if entry.kind == "raster" and entry.role == "dem":
                return self.open(n)
        return None


def print_warnings(command: str, warnings: list[str]) -> None:
    for line in warnings:
        print(f"qdt {command}: {cli_text('警告')}: {line}", file=sys.stderr)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from qdt.query import EXPORT_SUFFIXES, PREDICATES

    p = sub.add_parser("query", help="select features by attributes, location or nearest neighbours",
                       description="Select features of one layer by an attribute expression, a spatial predicate "
                                   "against another layer, or the nearest features of another layer.",
                       epilog="Expressions: docs/expressions.md (e.g. \"状态 = '故障' AND power_w >= 100\").")
    p.add_argument("source", help="project file (.qdt) or GeoPackage")
    p.add_argument("--layer", required=True, help="layer to select from (project name or source layer name)")
    p.add_argument("--where", metavar="EXPR", help="attribute filter on --layer")
    p.add_argument("--predicate", choices=PREDICATES, metavar="P",
                   help=f"spatial predicate against --other: {', '.join(PREDICATES)}")
    p.add_argument("--other", metavar="LAYER2", help="layer to test against (with --predicate or --nearest)")
    p.add_argument("--other-where", metavar="EXPR", help="attribute filter on --other")
    p.add_argument("--distance", type=float, metavar="METRES",
                   help="dwithin: the distance (required); nearest: the largest distance")
    p.add_argument("--nearest", type=int, metavar="K", help="the K nearest features of --other for each feature")
    p.add_argument("--out", metavar="FILE", help=f"also write the result ({', '.join(EXPORT_SUFFIXES)})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qdt.query import Query, export_result, run_query

    query = Query(layer=args.layer, where=args.where, predicate=args.predicate, other=args.other,
                  other_where=args.other_where, distance=args.distance, k=args.nearest)
    query.check()
    if args.out and Path(args.out).suffix.lower() not in (".csv", ".geojson", ".gpkg"):
        raise UserError(cli_text("无法写入“{out}”：请使用以 .csv、.geojson 或 .gpkg 结尾的文件", out=args.out))
    source = SourceLayers(args.source)
    layers = {args.layer: source.layer(args.layer, pushdown=True)}
    if args.other:
        layers[args.other] = source.layer(args.other, pushdown=True)
    print_warnings("query", source.warnings)
    result = run_query(query, layers)
    out = export_result(result, args.out, inputs=[args.source]) if args.out else None
    if args.json:
        doc = result.to_dict()
        if out is not None:
            doc["out"] = str(out)
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    layer = result.layer
    label = layer.name if not layer.source_layer or layer.source_layer == layer.name \
        else f"{layer.name} ({layer.source_layer})"
    if result.features is not None:  # pushed down to the source: the layer holds no features
        print(cli_text("{label}：选中 {count} 个要素", label=label, count=result.count))
    else:
        print(cli_text("{label}：{total} 个要素中选中 {count} 个", label=label, count=result.count,
                       total=layer.feature_count))
    if result.nearest is not None:
        print("fid\tnearest_fid\tdistance_m\trank")
        for fid, other, dist, rank in zip(result.nearest["fid"].tolist(), result.nearest["nearest_fid"].tolist(),
                                          result.nearest["distance"].tolist(), result.nearest["rank"].tolist(),
                                          strict=True):
            print(f"{fid}\t{other}\t{dist:.3f}\t{rank}")
    elif result.count:
        print("fids: " + " ".join(str(f) for f in result.fids.tolist()))
    if out is not None:
        print(f"{cli_text('已写入')} {out}")
    return 0
