"""Application start-up: ``run(argv)`` opens the main window on a project (the sample by default)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

SAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "sample_data" / "qingdao_shinan.qdt"
CJK_FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC"]


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


def create_application(argv: Sequence[str] = ()):  # noqa: ANN201 - QApplication
    from PySide6.QtGui import QFont, QFontDatabase
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["qdt", *argv])
    app.setOrganizationName("QDT")
    app.setApplicationName("QDT")
    families = set(QFontDatabase.families())
    for family in CJK_FONTS:
        if family in families:
            font = QFont(family)
            font.setPointSize(10)
            app.setFont(font)
            break
    return app


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description="QDT 青岛数字底板 desktop GIS")
    parser.add_argument("project", nargs="?", default=str(SAMPLE_PROJECT), help="project file (.qdt)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not has_display():
        print("No display: cannot open the QDT window here. Render headless with: "
              f"qdt snapshot {args.project} --out view.png", file=sys.stderr)
        return 1
    app = create_application()
    from qdt.ui.mainwindow import MainWindow

    window = MainWindow()
    window.restore_layout()
    window.show()
    window.open_project(args.project)
    return app.exec()
