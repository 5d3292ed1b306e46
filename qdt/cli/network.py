"""``qdt network {check,connected,trace,isolate,section,profile} SOURCE ...``: pipe-network analyses.

SOURCE is a survey delivery as delivered — a GeoPackage, a Shapefile pair or a folder of them
(GBK or UTF-8, Chinese field names), or a QDT project with layers of classes ``pipe_point`` and
``pipe``. Points are named by their survey numbers (物探点号), lines by the line table's fids.
Examples::

    qdt network check sample_data/qingdao_shinan.gpkg --json
    qdt network connected sample_data/qingdao_shinan.gpkg --network JS --from JS000040 --to JS000120 --json
    qdt network trace sample_data/qingdao_shinan.gpkg --network PS --from YS000120 --direction down --json
    qdt network isolate sample_data/qingdao_shinan.gpkg --network JS --line 45 --failed-valve JS000046 --json
    qdt network section sample_data/qingdao_shinan.qdt --line "534400 3992180, 534400 3992220" --json
    qdt network profile sample_data/qingdao_shinan.gpkg --network PS --from YS000120 --to YS000101 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from qdt.cli.main import UserError
from qdt.language import cli_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("network", help="pipe-network checks and analyses (连通, 追踪, 关阀, 横断面, 纵断面)",
                       description="Topology from survey point numbers (CJJ 61-2017 deliveries) and the analyses "
                                   "engineers run on it.")
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    acts.required = True

    def common(name: str, help_: str) -> argparse.ArgumentParser:
        a = acts.add_parser(name, help=help_)
        a.add_argument("source", help="GeoPackage, Shapefile (pair or folder) or project (.qdt)")
        a.add_argument("--network", metavar="N", help="network code or name (JS, 给水, PS …) for tables without one")
        a.add_argument("--tolerance", type=float, default=None, help="snapping/position tolerance in metres (0.5)")
        a.add_argument("--json", action="store_true", help="print one JSON object")
        a.set_defaults(func=run)
        return a

    common("check", "survey checks: positions, numbers, dangling ends, parts, reverse slopes, outliers, cover")
    a = common("connected", "are two points connected, and by which path (shortest by length)")
    a.add_argument("--from", dest="start", required=True, metavar="P")
    a.add_argument("--to", dest="end", required=True, metavar="P")
    a = common("trace", "upstream/downstream trace (gravity) or the part up to closed valves (pressure)")
    a.add_argument("--from", dest="start", required=True, metavar="P")
    a.add_argument("--direction", choices=("up", "down"), default="down")
    a = common("isolate", "valves to close to isolate a broken line (爆管/关阀分析)")
    a.add_argument("--line", required=True, metavar="ID", help="feature id of the broken line")
    a.add_argument("--failed-valve", action="append", default=[], metavar="P", help="a valve that fails to close")
    a = common("section", "cross-section (横断面): pipes cut by a line")
    a.add_argument("--line", required=True, metavar="\"X1 Y1, X2 Y2\"", help="the cut, project CRS metres")
    a = common("profile", "profile (纵断面) along the path between two points")
    a.add_argument("--from", dest="start", required=True, metavar="P")
    a.add_argument("--to", dest="end", required=True, metavar="P")


def run(args: argparse.Namespace) -> int:
    from qdt.network import (
        DEFAULT_TOLERANCE_M,
        NetworkError,
        build_topology,
        check,
        connected,
        isolate,
        open_delivery,
        profile,
        section,
        trace,
    )

    try:
        delivery = open_delivery(args.source, args.network)
        topo = build_topology(delivery, args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE_M)
        if args.action == "check":
            doc = check(topo, args.network)
        elif args.action == "connected":
            doc = connected(topo, args.start, args.end, args.network)
        elif args.action == "trace":
            doc = trace(topo, args.start, args.direction, args.network)
        elif args.action == "isolate":
            doc = isolate(topo, args.line, args.failed_valve, args.network)
        elif args.action == "section":
            doc = section(topo, args.line, [args.network] if args.network else None)
        else:
            doc = profile(topo, args.start, args.end, args.network)
    except NetworkError as exc:
        raise UserError(str(exc)) from None
    for note in delivery.notes[:5]:
        print(f"qdt network: {cli_text('警告')}: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, default=str))
        return 0
    _print_text(args.action, doc)
    return 0


def _print_text(action: str, doc: dict) -> None:
    from qdt.network.check import RULES

    if action == "check":
        print(cli_text("{lines} 条管线，{points} 个管点；各系统的连通部分：", lines=doc["lines"], points=doc["points"])
              + ", ".join(f"{k} {v}" for k, v in doc["components"].items()))
        for rule, n in doc["counts"].items():
            if n:
                print(f"  {cli_text(RULES.get(rule, rule))}: {n}")
        for f in doc["findings"]:
            print(f"[{cli_text(f['rule_zh'])}] {f['message']}")
    elif action == "connected":
        print(cli_text("连通") if doc["connected"] else cli_text("不连通"),
              cli_text("经 {n} 条管线共 {length} m", n=len(doc["lines"]), length=doc["length_m"])
              if doc["connected"] else "")
        if doc["connected"]:
            print(" → ".join(doc["points"]))
    elif action == "isolate":
        print(cli_text("关闭 {n} 个阀门：{valves}", n=len(doc["valves"]), valves=", ".join(doc["valves"]) or "-"))
        if doc["closed_valves"]:
            print(cli_text("已关闭：{valves}", valves=", ".join(doc["closed_valves"])))
        a = doc["affected"]
        print(cli_text("停供：{lines} 条管线，{length} m，{hydrants} 个消火栓，{consumers} 个用户", lines=a["lines"],
                       length=a["length_m"], hydrants=a["hydrants"], consumers=a["consumers"]))
    elif action == "trace":
        print(cli_text("{points} 个管点，{lines} 条管线", points=len(doc["points"]), lines=len(doc["lines"])))
    elif action == "section":
        for r in doc["pipes"]:
            print(cli_text("{distance} m  {network}  管线 {line}  管顶 {top}  管底 {invert}",
                           distance=f"{r['distance_m']:8.2f}", network=r["network"], line=r["line"], top=r["top"],
                           invert=r["invert"]))
    else:
        for s in doc["segments"]:
            print(cli_text("{start} → {end}  {length} m  坡度 {slope}‰",
                           start=s["from"], end=s["to"], length=s["length_m"], slope=s["slope_permille"]))
