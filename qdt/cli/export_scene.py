"""``qdt export-scene PROJECT --out FILE.glb``: the visible 3D scene as binary glTF 2.0.

One node per visible layer under a root node that turns QDT's z-up into glTF's y-up; the
local origin (project CRS) is in the root node's ``extras.qdt.origin``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qdt.cli.main import UserError
from qdt.language import cli_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-scene", help="export the visible 3D scene to glTF (.glb)",
                       description="Export the project's visible 3D scene (full detail) to a binary glTF file.")
    p.add_argument("project", help="project file (.qdt)")
    p.add_argument("--out", required=True, help="output .glb file")
    p.add_argument("--underground", action="store_true", help="the underground view (faded ground and buildings)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qdt.cli.snapshot import open_project_to_render, progress_printer
    from qdt.export.gltf import export_gltf_task

    out = Path(args.out)
    if out.suffix.lower() != ".glb":
        raise UserError(cli_text("输出“{out}”必须是 .glb 文件", out=out))
    if not out.parent.is_dir():
        raise UserError(cli_text("输出文件夹“{folder}”不存在", folder=out.parent))
    project = open_project_to_render("export-scene", args.project)
    summary = export_gltf_task(project, out, underground=args.underground).run_sync(
        progress_printer("export-scene", args.quiet))
    origin = f"{summary.origin[0]:.1f} {summary.origin[1]:.1f} {summary.origin[2]:.1f}"
    print(cli_text("已写入 {path}（{layers} 个图层节点，{triangles} 个三角形，原点 {origin}，{crs}）",
                   path=summary.path,
                   layers=len(summary.layers), triangles=summary.triangle_count, origin=origin, crs=project.crs))
    return 0
