"""``qdt clearance SOURCE [--layer PIPES] [--out FILE.csv] [--json]``: pipes closer than GB 50289-2016 asks.

Every pair of pipe segments is checked against the minimum horizontal (Table 4.1.9) and
vertical (Table 4.1.14) clearances kept in ``qdt/cim/data/clearances.csv``; see
:mod:`qdt.query.clearance` for how pairs are judged. With a project file the project's DEM
gives the ground heights; a GeoPackage is checked with flat ground.

The pipes layer defaults to the one of catalogue class ``pipe`` (or named ``pipes``).
"""

from __future__ import annotations

import argparse
import json

from qdt.cli.main import UserError
from qdt.cli.query import SourceLayers, print_warnings
from qdt.language import message as in_language


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clearance", help="find pipes closer than the GB 50289-2016 minimum clearances",
                       description="Check horizontal and vertical clearances between pipes of different networks "
                                   "against GB 50289-2016 Tables 4.1.9 and 4.1.14.")
    p.add_argument("source", help="project file (.qdt) or GeoPackage")
    p.add_argument("--layer", metavar="PIPES", help="the pipes layer (default: the layer of class 'pipe')")
    p.add_argument("--out", metavar="FILE", help="also write the findings (.csv; .geojson and .gpkg as points)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _pipes_name(source: SourceLayers) -> str:
    for e in source.entries:
        if e.kind == "vector" and (e.feature_class == "pipe" or e.layer_name == "pipes" or e.name == "pipes"):
            return e.name
    raise UserError(f"no pipes layer in '{source.path}'; name it with --layer (layers: {', '.join(source.names())})")


def run(args: argparse.Namespace) -> int:
    from qdt.query import check_clearances, export_frame
    from qdt.safe_output import input_files

    if args.out and not args.out.lower().endswith((".csv", ".geojson", ".gpkg")):
        raise UserError(f"cannot write '{args.out}': use a file ending in .csv (or .geojson, .gpkg)")
    source = SourceLayers(args.source)
    name = args.layer or _pipes_name(source)
    pipes = source.layer(name)
    if getattr(pipes, "frame", None) is None or not pipes.has_geometry:
        raise UserError(f"layer '{name}' is not a layer of pipe lines")
    dem = source.dem()
    print_warnings("clearance", source.warnings)
    report = check_clearances(pipes, dem, name=name)
    out = export_frame(report.violations, args.out, layer_name="clearance",
                       inputs=input_files([pipes, dem] if dem is not None else [pipes], args.source)) \
        if args.out else None
    if args.json:
        doc = report.to_dict()
        if out is not None:
            doc["out"] = str(out)
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    ground = "DEM" if report.ground == "dem" else "flat ground"
    print(f"{name}: {report.count} pipe pairs below the standard's minimum clearance "
          f"({report.segments} segments, {report.horizontal_checked} alongside and {report.vertical_checked} "
          f"crossing pairs checked; heights from {ground})")
    for message, x, y in zip(report.violations["message"].tolist(), report.violations["x"].tolist(),
                             report.violations["y"].tolist(), strict=True):
        print(f"{message} at ({x:.2f}, {y:.2f})")
    for u in report.unchecked:
        print(f"unchecked: {u['pairs']} {u['kind']} pairs of {' and '.join(u['names'])} — {u['reason']}")
    if report.crossings_without_depth:
        print(f"{report.crossings_without_depth} crossings could not be judged: a pipe has no depth")
    if out is not None:
        print(f"{in_language('已写入', 'wrote')} {out}")
    return 0
