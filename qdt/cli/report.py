"""``qdt report PROJECT --out FILE.pdf``: a PDF report with the 3D view, legend, statistics and tables.

Each ``--query-layer LAYER`` (with an optional ``--where EXPR`` after it) adds a table of the
features selected, with summary statistics and a chart. Examples::

    qdt report sample_data/qingdao_shinan.qdt --out report.pdf --title "故障路灯" \\
        --query-layer 路灯 --where "状态 = '故障'" --query-layer 建筑 --where "height > 60"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qdt.cli.main import UserError
from qdt.language import cli_text


class _QueryAction(argparse.Action):
    """Collects ``--query-layer L [--where E]`` pairs in order."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        queries = list(getattr(namespace, "queries", None) or [])
        if option_string == "--query-layer":
            queries.append([values, None])
        else:
            if not queries or queries[-1][1] is not None:
                parser.error("--where must follow a --query-layer")
            queries[-1][1] = values
        namespace.queries = queries


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a PDF report of a project (view, legend, query tables)",
                       description="Write a landscape PDF report: title block, the 3D view with north arrow and "
                                   "scale, the legend, and for each --query-layer a table with statistics and a chart.")
    p.add_argument("project", help="project file (.qdt)")
    p.add_argument("--out", required=True, help="output PDF file")
    p.add_argument("--title", help="report title (default: the template's)")
    p.add_argument("--author", help="author shown in the title block")
    p.add_argument("--page-size", choices=("A4", "A3"), help="landscape page size (default: the template's)")
    p.add_argument("--template", metavar="JSON", help="report template (default assets/report_template.json)")
    p.add_argument("--bookmark", metavar="NAME", help="the view of this project bookmark")
    p.add_argument("--query-layer", metavar="LAYER", action=_QueryAction, dest="queries",
                   help="add a table of this layer's features (repeatable)")
    p.add_argument("--where", metavar="EXPR", action=_QueryAction, dest="queries",
                   help="attribute filter of the preceding --query-layer")
    p.add_argument("--poles", nargs="?", type=float, const=15.0, metavar="D",
                   help="add the 多杆合一 consolidation section (link distance D m, default 15)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run, queries=None)


def run(args: argparse.Namespace) -> int:
    from qdt.cli.snapshot import open_project_to_render, progress_printer
    from qdt.export import ExportError
    from qdt.export.report import ReportTable, load_template, report_task

    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise UserError(cli_text("输出“{out}”必须是 .pdf 文件", out=out))
    if not out.parent.is_dir():
        raise UserError(cli_text("输出文件夹“{folder}”不存在", folder=out.parent))
    try:
        template = load_template(args.template)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    project = open_project_to_render("report", args.project)
    tables = [ReportTable.from_query(project.layers, layer, where) for layer, where in (args.queries or [])]
    snapshot = None
    if args.bookmark:
        from qdt.export.snapshot import SnapshotOptions, snapshot_project

        shot = template["snapshot"]
        snapshot = snapshot_project(project, SnapshotOptions(width=int(shot["width"]), height=int(shot["height"]),
                                                             dpi=int(shot["dpi"]), overlays=tuple(shot["overlays"]),
                                                             bookmark=args.bookmark,
                                                             highlight={t.layer.id: t.fids for t in tables}))
    sections = []
    if args.poles is not None:
        from qdt.export.poles_report import ConsolidationSection
        from qdt.poles import ConsolidationError, consolidate_layers

        try:
            sections.append(ConsolidationSection(consolidate_layers(list(project.layers), args.poles)))
        except ConsolidationError as exc:
            raise UserError(f"{args.project}: {exc}") from None
    task = report_task(project, out, title=args.title, author=args.author, tables=tables, template=template,
                       page_size=args.page_size, snapshot=snapshot, sections=sections)
    written = task.run_sync(progress_printer("report", args.quiet))
    print(cli_text("已写入 {path}（{n} 个表）", path=written, n=len(tables)))
    return 0
