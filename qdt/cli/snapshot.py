"""``qdt snapshot PROJECT --out FILE.png``: render a project offscreen (no Qt window) with overlays.

Any size up to 16384 pixels a side (rendered in tiles, same framing as a small image);
PNG or JPEG with the DPI recorded. Examples::

    qdt snapshot sample_data/qingdao_shinan.qdt --out view.png
    qdt snapshot city.qdt --out poster.jpg --width 7680 --height 4320 --dpi 300 --title "五四广场片区"
    qdt snapshot city.qdt --out pipes.png --bookmark 五四广场 --underground --no-overlays
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qdt.cli.main import UserError
from qdt.language import cli_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="render a project offscreen to a PNG or JPEG",
                       description="Render the project's 3D view offscreen (EGL/OSMesa, no window) with a title, "
                                   "north arrow, scale bar, legend, CRS and date, and write a PNG or JPEG.")
    p.add_argument("project", help="project file (.qdt)")
    p.add_argument("--out", required=True, help="output image (.png, .jpg)")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels (default 1600)")
    p.add_argument("--height", type=int, default=1000, help="image height in pixels (default 1000)")
    p.add_argument("--dpi", type=int, default=150, help="dots per inch recorded in the file (default 150)")
    p.add_argument("--bookmark", metavar="NAME", help="render this project bookmark's view")
    p.add_argument("--underground", action="store_true", help="the underground view (pipes through faded ground)")
    p.add_argument("--title", help="title overlay (default: the project name)")
    p.add_argument("--no-overlays", action="store_true", help="the bare 3D view, without title, legend, etc.")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def progress_printer(command: str, quiet: bool):  # noqa: ANN201 - ProgressFn
    """Progress lines on stderr (the CLI's progress bar), one per new message."""
    last = [""]

    def report(fraction: float, message: str) -> None:
        if quiet or message == last[0]:
            return
        last[0] = message
        print(f"qdt {command}: {fraction * 100:3.0f}% {cli_text(message)}", file=sys.stderr)

    return report


def open_project_to_render(command: str, path: str):  # noqa: ANN201 - qdt.project.Project
    """Open a project for ``qdt COMMAND``: each layer's load warnings and the unavailable layers
    are printed on stderr; a project with no layer that opens is a user error."""
    from qdt.project import open_project

    project = open_project(path)
    for entry in project.entries:  # the same warnings `qdt query` prints: CRS, area, repairs …
        for line in getattr(entry, "warnings", None) or []:
            print(f"qdt {command}: {cli_text('警告')}: {line}", file=sys.stderr)
    for entry in project.unavailable:
        print(f"qdt {command}: {cli_text('警告')}: {entry.error}", file=sys.stderr)
    if len(project.layers) == 0:
        raise UserError(cli_text("项目“{path}”没有能打开的图层", path=path))
    return project


def run(args: argparse.Namespace) -> int:
    from qdt.export import ExportError, SnapshotOptions, snapshot_task

    out = Path(args.out)
    options = SnapshotOptions(width=args.width, height=args.height, dpi=args.dpi, title=args.title,
                              overlays=() if args.no_overlays else SnapshotOptions().overlays,
                              underground=args.underground, bookmark=args.bookmark)
    try:
        options.check()
        from qdt.export.snapshot import check_image_path

        check_image_path(out)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    project = open_project_to_render("snapshot", args.project)
    written = snapshot_task(project, options, out).run_sync(progress_printer("snapshot", args.quiet))
    print(f"{cli_text('已写入')} {written} ({args.width}x{args.height}, {args.dpi} dpi)")
    return 0
