"""Application start-up: ``run(argv)`` opens the main window on a project (the sample by default).

The interface language is chosen before any widget is built: ``--lang``, else the environment's
``QDT_LANG``, else the ``ui/language`` setting (Settings → 界面语言), else Chinese.
"""

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
    from qdt.ui.i18n import language

    install_qt_translations(app, language())  # Qt's own buttons and dialogs in the same language
    return app


def choose_language(requested: str | None = None) -> str:
    """Pick and set the interface language (see the module docstring); raises ValueError for an
    unknown code. Needs the QApplication (for QSettings)."""
    from PySide6.QtCore import QSettings

    from qdt.ui import i18n

    code = requested or os.environ.get("QDT_LANG") or str(QSettings().value("ui/language", i18n.DEFAULT_LANGUAGE))
    i18n.set_language(code)
    return code


def install_qt_translations(app, code: str) -> None:  # noqa: ANN001 - QApplication
    """Qt's own texts (standard buttons, file dialogs) in the interface language."""
    from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator

    old = getattr(app, "_qdt_translator", None)
    if old is not None:
        if getattr(app, "_qdt_translator_code", None) == code:
            return
        app.removeTranslator(old)
        app._qdt_translator = None
    app._qdt_translator_code = code
    if code == "en":
        return
    translator = QTranslator(app)
    if translator.load(QLocale(code), "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        app.installTranslator(translator)
        app._qdt_translator = translator  # keep it alive with the application


def run(argv: Sequence[str] | None = None) -> int:
    from qdt.ui.i18n import LANGUAGES

    parser = argparse.ArgumentParser(prog="main.py", description="QDT 青岛数字底板 desktop GIS")
    parser.add_argument("project", nargs="?", default=str(SAMPLE_PROJECT), help="project file (.qdt)")
    parser.add_argument("--lang", choices=sorted(LANGUAGES), help="interface language (default: the saved setting)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not has_display():
        print("No display: cannot open the QDT window here. Render headless with: "
              f"qdt snapshot {args.project} --out view.png", file=sys.stderr)
        return 1
    app = create_application()
    try:
        code = choose_language(args.lang)
    except ValueError as exc:
        print(f"main.py: {exc}", file=sys.stderr)
        return 2
    install_qt_translations(app, code)
    from qdt.ui.mainwindow import MainWindow

    window = MainWindow()
    window.restore_layout()
    window.show()
    window.open_project(args.project)
    return app.exec()
