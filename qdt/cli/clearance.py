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
from qdt.language import ENGLISH, cli_text, language


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
    raise UserError(cli_text("“{path}”中没有管线图层；请用 --layer 指定（图层：{layers}）", path=source.path,
                             layers=", ".join(source.names())))


def run(args: argparse.Namespace) -> int:
    from qdt.query import check_clearances, export_frame
    from qdt.safe_output import input_files

    if args.out and not args.out.lower().endswith((".csv", ".geojson", ".gpkg")):
        raise UserError(cli_text("无法写入“{out}”：请使用以 .csv 结尾的文件（或 .geojson、.gpkg）", out=args.out))
    source = SourceLayers(args.source)
    name = args.layer or _pipes_name(source)
    pipes = source.layer(name)
    if getattr(pipes, "frame", None) is None or not pipes.has_geometry:
        raise UserError(cli_text("图层“{layer}”不是管线图层", layer=name))
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
    ground = cli_text("数字高程模型") if report.ground == "dem" else cli_text("平地")
    print(cli_text(
        "{name}：{count} 对管线净距不足（{segments} 段；{horizontal} 对平行、{vertical} 对交叉；高程：{ground}）",
        name=name, count=report.count, segments=report.segments,
        horizontal=report.horizontal_checked, vertical=report.vertical_checked, ground=ground))
    english = language(ENGLISH) == ENGLISH  # the command line's language (English unless one is named)
    column = "message" if english else "message_zh"
    for message, x, y in zip(report.violations[column].tolist(), report.violations["x"].tolist(),
                             report.violations["y"].tolist(), strict=True):
        print(cli_text("{message}，位于 ({x}, {y})", message=message, x=f"{x:.2f}", y=f"{y:.2f}"))
    for u in report.unchecked:
        kind = u["kind"] if english else u.get("kind_zh", u["kind"])
        print(cli_text("未检查：{names} 之间 {pairs} 对{kind} — {reason}", pairs=u["pairs"], kind=kind,
                       names=cli_text("、").join(u["names_en"] if english else u["names"]),
                       reason=u["reason"] if english else u.get("reason_zh", u["reason"])))
    if report.crossings_without_depth:
        print(cli_text("{n} 处交叉无法判断：有管线没有埋深", n=report.crossings_without_depth))
    if out is not None:
        print(f"{cli_text('已写入')} {out}")
    return 0
