"""``qdt export-tiles PROJECT --out DIR [--layers NAME ...]``: layers as 3D Tiles 1.1 for web twins (Cesium).

glb content with ``EXT_mesh_features`` / ``EXT_structural_metadata`` (feature ids and attributes),
a quadtree with ``region`` volumes; see :mod:`qdt.export.tiles3d`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qdt.cli.main import UserError
from qdt.language import cli_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-tiles", help="export layers as 3D Tiles 1.1 (tileset.json + glb)",
                       description="Export the project's visible 3D layers (or the named ones) as a 3D Tiles 1.1 "
                                   "tileset with feature ids and attributes, for Cesium and other web clients.")
    p.add_argument("project", help="project file (.qdt)")
    p.add_argument("--out", required=True, help="output folder (created; an earlier QDT export there is replaced)")
    p.add_argument("--layers", nargs="+", metavar="NAME", help="layer names to export (default: visible 3D layers)")
    p.add_argument("--max-features", type=int, default=None, help="most features per tile (default 1500)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qdt.cli.snapshot import open_project_to_render, progress_printer
    from qdt.export.tiles3d import MAX_FEATURES_PER_TILE, export_tiles_task

    out = Path(args.out)
    if not out.parent.is_dir():
        raise UserError(cli_text("输出文件夹“{folder}”不存在", folder=out.parent))
    if args.max_features is not None and args.max_features < 1:
        raise UserError(cli_text("--max-features 至少为 1"))
    project = open_project_to_render("export-tiles", args.project)
    summary = export_tiles_task(project, out, names=args.layers,
                                max_features=args.max_features or MAX_FEATURES_PER_TILE).run_sync(
        progress_printer("export-tiles", args.quiet))
    print(cli_text(
        "已写入 {path}：{tiles} 瓦片 {contents} glb {features} 要素 {triangles} 三角形 {mb} MB {seconds} s（{layers}）",
        path=f"{summary.folder}/tileset.json", tiles=summary.tiles,
        contents=summary.contents, features=summary.features, triangles=summary.triangles,
        mb=f"{summary.bytes / 1e6:.1f}", seconds=f"{summary.seconds:.1f}", layers=", ".join(summary.layers)))
    return 0
