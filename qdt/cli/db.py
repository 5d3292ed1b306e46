"""``qdt db``: the shared base map in PostGIS.

::

    qdt db init   --service qdt [--schema city]                 # schema, change log, version trigger
    qdt db import sample_data/qingdao_shinan.gpkg --service qdt --schema city [--layer L …] [--replace]
    qdt db fix    city.my_table --service qdt                   # add a primary key / spatial index
    qdt db tables --service qdt [--schema city] [--json]

The server is named by ``--service`` (a section of ``~/.pg_service.conf``) or ``--dsn`` (a libpq
connection string or URL without password); with neither, libpq's environment applies
(``PGSERVICE``, ``PGHOST``, ``PGDATABASE`` …). Passwords come from ``~/.pgpass`` or ``PGPASSWORD``.
"""

from __future__ import annotations

import argparse
import json
import sys

from qdt.cli.main import UserError
from qdt.language import cli_text


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", help="libpq service name (~/.pg_service.conf)")
    p.add_argument("--dsn", help="libpq connection string or postgresql:// URL, without password")
    p.add_argument("--schema", default="public", help="database schema (default: public)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="shared base map in PostGIS: init, import, fix, tables",
                       description="Create and fill the shared PostGIS base map.")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = dbsub.add_parser("init", help="create the schema, change-log table and version trigger")
    _connection_args(init)
    init.set_defaults(func=run_init)
    imp = dbsub.add_parser("import", help="copy a GeoPackage's layers into PostGIS (EPSG:4549)")
    imp.add_argument("source", help="GeoPackage file")
    _connection_args(imp)
    imp.add_argument("--layer", action="append", help="only this layer (repeatable)")
    imp.add_argument("--replace", action="store_true", help="drop and recreate tables that exist")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imp.set_defaults(func=run_import)
    fix = dbsub.add_parser("fix", help="add a missing primary key or spatial index to a table")
    fix.add_argument("table", help="schema.table")
    _connection_args(fix)
    fix.set_defaults(func=run_fix)
    tables = dbsub.add_parser("tables", help="list the tables with geometry")
    _connection_args(tables)
    tables.add_argument("--json", action="store_true", help="print one JSON object")
    tables.set_defaults(func=run_tables)
    approve = dbsub.add_parser("approve", help="trust a database server named in shared projects",
                               description="Remember a server as approved: projects naming it then connect "
                                           "(and libpq may offer it your stored password) without asking.")
    _connection_args(approve)
    approve.set_defaults(func=run_approve)


def _conninfo(args: argparse.Namespace) -> str:
    from qdt.io.postgis import conninfo_of, make_uri

    return conninfo_of(make_uri(dsn=args.dsn, service=args.service))


def _schema(args: argparse.Namespace) -> str:
    schema = str(args.schema or "").strip()
    if not schema:
        raise UserError(cli_text("--schema 不能为空"))
    return schema


def run_init(args: argparse.Namespace) -> int:
    from qdt.io.postgis import describe, init_schema

    conninfo = _conninfo(args)
    init_schema(conninfo, _schema(args))
    print(cli_text("{database}：模式“{schema}”已就绪（变更日志、行版本触发器）", database=describe(conninfo),
                   schema=args.schema))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from qdt.io.postgis import describe, import_geopackage

    conninfo = _conninfo(args)

    def progress(fraction: float, message: str) -> None:
        if not args.json:
            print(f"[{fraction * 100:3.0f}%] {cli_text(message)}", file=sys.stderr)

    report = import_geopackage(conninfo, args.source, schema=_schema(args), layers=args.layer,
                               replace=args.replace, progress=progress)
    if args.json:
        print(json.dumps({"schema": report.schema, "tables": report.tables, "warnings": report.warnings,
                          "seconds": round(report.seconds, 3)}, ensure_ascii=False))
        return 0
    for w in report.warnings:
        print(f"{cli_text('警告')}: {w}", file=sys.stderr)
    for table, count in report.tables.items():
        print(cli_text("{table}：{count} 行", table=f"{report.schema}.{table}", count=count))
    print(cli_text("{database}：用时 {seconds} 秒导入 {n} 个表", database=describe(conninfo), n=len(report.tables),
                   seconds=f"{report.seconds:.1f}"))
    return 0


def run_fix(args: argparse.Namespace) -> int:
    from qdt.io.postgis import fix_table, split_layer

    conninfo = _conninfo(args)
    schema, table = split_layer(args.table, _schema(args))
    done = fix_table(conninfo, schema, table)
    print("\n".join(done) if done else cli_text("{table}：主键和空间索引都已存在", table=f"{schema}.{table}"))
    return 0


def run_tables(args: argparse.Namespace) -> int:
    from qdt.io import open_datasource
    from qdt.io.postgis import URI_PREFIX

    conninfo = _conninfo(args)
    infos = open_datasource(URI_PREFIX + conninfo, schema=_schema(args)).layers()
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], ensure_ascii=False))
        return 0
    for i in infos:
        extra = [] if i.extra.get("primary_key") else [cli_text("没有主键")]
        extra += [] if i.extra.get("spatial_index") else [cli_text("没有空间索引")]
        rows = cli_text("约 {count} 行", count=i.count)
        print(f"{i.name}\t{i.geometry_type}\t{rows}" + (f"\t({', '.join(extra)})" if extra else ""))
    return 0


def run_approve(args: argparse.Namespace) -> int:
    from qdt.io.postgis.connection import approvals_file, approve_server

    servers = approve_server(_conninfo(args), remember=True)
    if not servers:
        print(cli_text("无需批准：本机服务器和服务名总是受信任的"))
        return 0
    print(cli_text("已批准 {servers}（记录在 {file}）", servers=", ".join(servers), file=approvals_file()))
    return 0
