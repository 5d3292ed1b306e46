"""``qdt snapshot PROJECT --out FILE.png``: render a project offscreen (no Qt window)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qdt.cli.main import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="render a project offscreen to a PNG",
                       description="Render the project's 3D view offscreen (EGL/OSMesa, no window) and write a PNG.")
    p.add_argument("project", help="project file (.qdt)")
    p.add_argument("--out", required=True, help="output PNG file")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels (default 1600)")
    p.add_argument("--height", type=int, default=1000, help="image height in pixels (default 1000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qdt.project import open_project
    from qdt.render.offscreen import render_offscreen

    if not (16 <= args.width <= 16384 and 16 <= args.height <= 16384):
        raise UserError(f"image size {args.width}x{args.height} is out of range (16–16384 pixels per side)")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UserError(f"output '{out}' must be a .png file")
    if not out.parent.exists():
        raise UserError(f"output folder '{out.parent}' does not exist")
    project = open_project(args.project)
    for entry in project.unavailable:
        print(f"qdt snapshot: warning: {entry.error}", file=sys.stderr)
    if len(project.layers) == 0:
        raise UserError(f"project '{args.project}' has no layer that could be opened")
    render_offscreen(project.layers, args.width, args.height, out_path=str(out), camera=project.camera)
    print(f"wrote {out} ({args.width}x{args.height})")
    return 0
