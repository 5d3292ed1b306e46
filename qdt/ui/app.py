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


def first_start_project(data_dir: Path, sample: Path = SAMPLE_PROJECT) -> Path:
    """The user's own copy of the sample project, made on the first start.

    Trying the app must not edit the tracked sample (a commit and save would change files the
    repository's tests check): the sample folder is copied once into ``data_dir`` (the user's
    data folder, Qt's ``AppDataLocation``) and the copy is opened from then on, keeping the
    user's edits. The copy is made in a temporary folder and renamed into place, so an
    interrupted first start leaves no half copy.
    """
    import shutil
    import tempfile

    target = data_dir / "sample"
    project = target / sample.name
    if project.is_file():
        return project
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sample-", dir=data_dir))
    try:
        for item in sample.parent.iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, staging / item.name)
                os.chmod(staging / item.name, 0o644)  # writable even when the checkout is read-only
        if target.exists():
            shutil.rmtree(target)  # a copy without its project file: incomplete, start again
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return project


def user_data_dir() -> Path:
    """Qt's application data folder (``~/.local/share/QDT/QDT`` on Linux); needs the QApplication."""
    from PySide6.QtCore import QStandardPaths

    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def run(argv: Sequence[str] | None = None) -> int:
    from qdt.ui.i18n import LANGUAGES

    parser = argparse.ArgumentParser(prog="main.py", description="QDT 青岛数字底板 desktop GIS")
    parser.add_argument("project", nargs="?", default=None,
                        help="project file (.qdt; default: your copy of the sample project)")
    parser.add_argument("--lang", choices=sorted(LANGUAGES), help="interface language (default: the saved setting)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not has_display():
        print("No display: cannot open the QDT window here. Render headless with: "
              f"qdt snapshot {args.project or SAMPLE_PROJECT} --out view.png", file=sys.stderr)
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
    project = args.project
    if project is None and SAMPLE_PROJECT.is_file():
        try:
            project = first_start_project(user_data_dir())
        except OSError as exc:  # a full or read-only home: open the sample itself, read-mostly
            print(f"main.py: cannot copy the sample project ({exc}); opening it in place", file=sys.stderr)
            project = SAMPLE_PROJECT
    if project is not None:
        window.open_project(project)
    return app.exec()
