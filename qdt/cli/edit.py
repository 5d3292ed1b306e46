"""``qdt edit DATASET_OR_PROJECT --layer LAYER (--fid N | --where EXPR) --set FIELD=VALUE …``.

Scripted maintenance: set attributes of some features of a GeoPackage layer, validated
against the CIM catalogue, written atomically in one transaction with change-log rows
(see :mod:`qdt.edit`). Prints how many features changed. Invalid input (unknown layer,
field or fid, a value the schema refuses, a bad expression) prints one line on stderr,
exits with status 2 and leaves the file untouched. Features another program changed
between reading and writing are not written: they are listed on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from qdt.cli.main import UserError
from qdt.language import cli_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="set attribute values of features in a GeoPackage layer (validated, atomic)",
                       description="Set attributes of features chosen by fid or by an expression; values are checked "
                                   "against the CIM catalogue (code-list labels such as 维修中 are accepted and "
                                   "stored as codes) and written in one transaction with a change log.")
    p.add_argument("path", metavar="DATASET_OR_PROJECT", help="GeoPackage (.gpkg) or project file (.qdt)")
    p.add_argument("--layer", required=True,
                   help="layer: table name in the GeoPackage, or a project layer's name or table name")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--fid", action="append", metavar="N",
                       help="feature id; repeat or separate with commas (--fid 3 --fid 5,8)")
    which.add_argument("--where", metavar="EXPR",
                       help="filter expression, e.g. \"状态 = '故障' AND road_name = '香港中路'\"")
    p.add_argument("--set", action="append", required=True, metavar="FIELD=VALUE", dest="assignments",
                   help="field and new value; repeatable; an empty VALUE sets null")
    p.add_argument("--user", help="author recorded in the change log (default: $QDT_USER or the login name)")
    p.add_argument("--class", dest="feature_class", metavar="CLASS",
                   help="CIM feature class of a GeoPackage layer (default: guessed from the layer name)")
    p.set_defaults(func=run)


def _entry(args: argparse.Namespace) -> tuple[Any, str, str]:
    """The layer entry to edit, a label for messages and the CRS to read it in."""
    from qdt.cim import catalogue
    from qdt.crs import PROJECT_CRS
    from qdt.project import LayerEntry

    path = Path(args.path)
    if not path.exists():
        raise UserError(cli_text("“{path}”不存在", path=path))
    if path.suffix.lower() == ".qdt":
        from qdt.project import load_project

        project = load_project(path)
        vectors = [e for e in project.entries if e.kind == "vector"]
        entry = next((e for e in vectors if e.name == args.layer), None) or \
            next((e for e in vectors if e.layer_name == args.layer), None)
        if entry is None:
            names = ", ".join(f"{e.name} ({e.layer_name})" if e.layer_name else e.name for e in vectors)
            raise UserError(cli_text("项目“{project}”没有矢量图层“{layer}”（图层：{layers}）", project=path.name,
                                     layer=args.layer, layers=names))
        if args.feature_class:
            entry.feature_class = args.feature_class
        return entry, entry.name, project.crs
    feature_class = args.feature_class
    if feature_class is None:
        guessed = catalogue().class_for_layer(args.layer)
        feature_class = guessed.name if guessed is not None else None
    entry = LayerEntry(name=args.layer, kind="vector", source=str(path.resolve()), layer_name=args.layer,
                       feature_class=feature_class)
    return entry, args.layer, PROJECT_CRS


def _open(args: argparse.Namespace, entry: Any, crs: str) -> tuple[Any, np.ndarray, dict[str, str]]:
    """The layer to edit, the fids chosen and the values to set. A source that runs queries
    itself (a database table) is asked for the chosen features only, never the whole table."""
    from qdt.io import Capability, FeatureRequest, open_datasource
    from qdt.project.loading import layer_source, open_entry

    if not open_datasource(layer_source(entry)).has(Capability.QUERY_PUSHDOWN):
        layer = open_entry(entry, crs, request=FeatureRequest()).layer
        return layer, _select(args, layer), _parse_assignments(args.assignments, layer)
    structure = open_entry(entry, crs, request=FeatureRequest(limit=0)).layer
    values = _parse_assignments(args.assignments, structure)
    if args.fid:
        wanted = _parse_fids(args.fid)
    else:
        from qdt.query import ExpressionError
        from qdt.query.sql import query_layer

        try:
            wanted = query_layer(structure, args.where).index.to_numpy(dtype=np.int64)
        except ExpressionError as exc:
            raise UserError(cli_text("图层“{layer}”，--where：{error}", layer=structure.name, error=exc)) from exc
    layer = open_entry(entry, crs, request=FeatureRequest(fids=tuple(int(f) for f in wanted))).layer
    return layer, _select(args, layer) if args.fid else wanted, values


def _parse_fids(values: list[str]) -> np.ndarray:
    out: list[int] = []
    for text in values:
        for part in text.split(","):
            part = part.strip()
            try:
                fid = int(part)
            except ValueError:
                raise UserError(f"--fid {part!r} is not a feature id (a whole number)") from None
            if not -2**63 <= fid < 2**63:
                raise UserError(f"--fid {part!r} is not a feature id (beyond the 64-bit range of feature ids)")
            out.append(fid)
    return np.asarray(out, dtype=np.int64)


def _parse_assignments(assignments: list[str], layer: Any) -> dict[str, str]:
    """``FIELD=VALUE`` → {column: value}; FIELD may be a column, or a catalogue field's Chinese or English name."""
    from qdt.query import FieldResolver

    cls = None
    if layer.feature_class:
        from qdt.cim import catalogue

        cls = catalogue().feature_class(layer.feature_class)
    resolver = FieldResolver(layer.columns, cls)
    values: dict[str, str] = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise UserError(cli_text("--set {text} 应写成 字段=值", text=repr(text)))
        column = resolver.resolve(name.strip())
        if column is None:
            raise UserError(cli_text("图层“{layer}”没有字段“{field}”（字段：{fields}）", layer=layer.name,
                                     field=name.strip(), fields=", ".join(layer.columns)))
        if column in values:
            raise UserError(cli_text("--set 两次指定了字段“{field}”", field=column))
        values[column] = value
    return values


def _select(args: argparse.Namespace, layer: Any) -> np.ndarray:
    if args.fid:
        fids = _parse_fids(args.fid)
        unknown = fids[~np.isin(fids, layer.fids)]
        if len(unknown):
            shown = ", ".join(str(int(f)) for f in unknown[:5])
            raise UserError(cli_text("图层“{layer}”没有 fid 为 {fid} 的要素", layer=layer.name, fid=shown))
        return fids
    from qdt.query import ExpressionError, evaluate

    try:
        mask = evaluate(args.where, layer.frame, layer.feature_class)
    except ExpressionError as exc:
        raise UserError(cli_text("图层“{layer}”，--where：{error}", layer=layer.name, error=exc)) from exc
    return layer.fids[mask]


def run(args: argparse.Namespace) -> int:
    from qdt.edit import EditError, EditSession

    entry, label, crs = _entry(args)
    layer, fids, values = _open(args, entry, crs)
    if len(fids) == 0:
        print(cli_text("{label}：没有匹配的要素，未作修改", label=label))
        return 0
    try:
        session = EditSession(layer, user=args.user)
    except EditError as exc:
        raise UserError(str(exc)) from exc
    try:
        try:
            session.set_values(fids, values)
        except EditError as exc:
            raise UserError(str(exc)) from exc
        try:
            result = session.commit()
        except EditError as exc:
            raise UserError(str(exc)) from exc
    finally:
        session.close(discard=True)
    print(f"{label}: {result.summary()}" if result.cells
          else cli_text("{label}：{n} 个要素已是这些值，未作修改", label=label, n=len(fids)))
    if result.conflicts or len(result.refused_fids):
        for conflict in result.conflicts[:20]:
            print(f"qdt edit: {cli_text('冲突')}: {conflict}", file=sys.stderr)
        return 1
    return 0
