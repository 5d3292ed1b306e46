"""``qdt poles consolidate SOURCE [--distance D] [--json] [--out FILE]``: 多杆合一 consolidation candidates.

Poles of different kinds (streetlights, smart poles, traffic-signal, sign and camera poles)
within ``D`` metres of each other on the same side of the road form a group that one smart pole
could replace; see :mod:`qdt.poles.consolidate` for the rule. Pole layers and the road
centrelines are found by catalogue class (or their usual layer names in a bare GeoPackage).
"""

from __future__ import annotations

import argparse
import json

from qdt.cli.main import UserError
from qdt.cli.query import SourceLayers, print_warnings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("poles", help="pole planning (多杆合一): consolidation candidates",
                       description="Pole planning for 多杆合一 (multi-pole consolidation).")
    actions = p.add_subparsers(dest="poles_command", metavar="ACTION")
    actions.required = True
    c = actions.add_parser("consolidate", help="groups of nearby poles of different kinds one smart pole can replace",
                           description="Find groups of poles of at least two kinds within --distance of each other "
                                       "(single linkage) on the same side of the road; an existing smart pole is the "
                                       "group's site, else the member nearest the others.")
    c.add_argument("source", help="project file (.qdt) or GeoPackage")
    c.add_argument("--distance", type=float, default=15.0, metavar="D", help="link distance in metres (default 15)")
    c.add_argument("--out", metavar="FILE", help="also write the groups (.gpkg: sites, links, members; .csv: groups)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qdt.poles import ConsolidationError, consolidate_layers, export_plan

    if not args.distance > 0 or args.distance != args.distance:
        raise UserError(f"--distance must be a positive number of metres, not {args.distance}")
    if args.out and not args.out.lower().endswith((".gpkg", ".csv")):
        raise UserError(f"cannot write '{args.out}': use a file ending in .gpkg or .csv")
    source = SourceLayers(args.source)
    layers = [source.open(i) for i, entry in enumerate(source.entries) if entry.kind == "vector"]
    print_warnings("poles", source.warnings)
    try:
        plan = consolidate_layers(layers, args.distance)
        out = export_plan(plan, args.out) if args.out else None
    except ConsolidationError as exc:
        raise UserError(f"{source.path}: {exc}") from None
    if args.json:
        doc = plan.to_dict()
        if out is not None:
            doc["out"] = str(out)
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    print(f"{plan.poles_before} poles, {len(plan.groups)} consolidation groups within {plan.distance:g} m: "
          f"{plan.poles_removed} poles removed, {plan.poles_after} after")
    for row in plan.per_road().itertuples(index=False):
        print(f"  {row.road or '(no road)'}: {row.groups} groups, {row.removed} poles removed, "
              f"{row.new_smart_poles} new smart poles")
    if out is not None:
        print(f"wrote {out}")
    return 0
