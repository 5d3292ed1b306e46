"""One language at a time: every window and dialog is walked in Chinese and in English, and fails on
text of the other script (proper names, codes and units allowed). Also snapshots' CRS line, Qt's own
buttons and CLI messages follow the language."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QTabWidget,
    QToolBar,
    QWidget,
)

from tests.conftest import ROOT, SAMPLE_PROJECT
from tests.test_ui_attribute_table import close_window, open_sample_window

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z]{3,}")
# Latin words a Chinese interface keeps: codes, standards, formats, units, expression keywords, product names
LATIN_OK = {
    "EPSG", "CGCS", "CRS", "LOD", "DEM", "QDT", "CSV", "GeoJSON", "GeoPackage", "PDF", "PNG", "JPEG", "JPG", "glTF",
    "glb", "GLB", "gpkg", "json", "tif", "CityJSON", "IFC", "PostGIS", "SQL", "AND", "NOT", "LIKE", "NULL",
    "Ctrl", "Shift", "dpi", "IoT", "LED", "Viridis", "Magma", "Plasma", "Inferno", "Cividis", "Greys", "Blues",
    "Reds", "Greens", "Spectral", "RdYlGn", "RdBu", "Turbo", "intersects", "within", "contains", "touches",
    "crosses", "overlaps", "dwithin", "disjoint", "equals", "WGS", "UTM", "Gauss", "Kruger", "sqlite",
    "BOM", "Excel", "Shapefile", "GeoTIFF", "GPKG", "qdt",
}


def _chrome_texts(widget: QWidget) -> list[str]:
    """Texts the interface itself writes (not the project's data: layer names, values)."""
    out = [widget.windowTitle()]
    for w in widget.findChildren(QWidget):
        if isinstance(w, QLabel) and w.objectName() not in ("data",):
            out.append(w.text())
        elif isinstance(w, QAbstractButton):
            out += [w.text(), w.toolTip()]
        elif isinstance(w, QGroupBox):
            out.append(w.title())
        elif isinstance(w, QLineEdit):
            out.append(w.placeholderText())
        elif isinstance(w, QDockWidget):
            out.append(w.windowTitle().split(" — ")[0])
        elif isinstance(w, QTabWidget):
            out += [w.tabText(i) for i in range(w.count())]
    for menu in widget.findChildren(QMenu):
        out.append(menu.title())
        out += [a.text() for a in menu.actions()]
    for bar in widget.findChildren(QToolBar):
        out += [a.toolTip() for a in bar.actions()]
    return [re.sub(r"<[^>]+>", " ", t or "") for t in out]


def _wrong_script(texts: list[str], language: str, allowed: set[str]) -> list[str]:
    bad = []
    for text in texts:
        for name in sorted(allowed, key=len, reverse=True):
            if name:
                text = text.replace(name, " ")
        text = re.sub(r"#[0-9a-fA-F]{6}\b", " ", text)  # a colour's hex code is a code in both languages
        if language == "en" and CJK.search(text):
            bad.append(text)
        if language == "zh_CN":
            words = [w for w in WORD.findall(text) if w not in LATIN_OK]
            if words:
                bad.append(text)
    return sorted(set(bad))


@pytest.fixture(params=["zh_CN", "en"])
def language(request, qapp):
    from qdt.ui import i18n
    from qdt.ui.app import install_qt_translations

    i18n.set_language(request.param)
    install_qt_translations(QApplication.instance(), request.param)
    yield request.param
    from qdt import language as shared

    i18n.set_language("zh_CN")
    shared.set_language(None)  # back to the environment for the tests that follow (the CLI's)
    install_qt_translations(QApplication.instance(), "zh_CN")


def test_every_window_and_dialog_speaks_one_language(language, tmp_path):
    from qdt.ui.attribute_table import BatchEditDialog
    from qdt.ui.export_dialog import KINDS, ExportDialog
    from qdt.ui.query_panel import QueryDialog
    from qdt.ui.style_dialog import StyleDialog

    window = open_sample_window(tmp_path)
    try:
        project = window.project
        # the project's own names (layers, classes of its styles, bookmarks) are data, not interface text
        from qdt.ui.i18n import LANGUAGES

        allowed = {layer.name for layer in project.layers} | {project.name} | set(LANGUAGES.values())
        allowed.add(project.path.name if project.path else "")
        for layer in project.layers:
            allowed |= {str(label) for label, _rgb in layer.style.legend()}
        widgets = [window]
        lights = project.layers["路灯"]
        widgets.append(StyleDialog(lights, window))
        widgets.append(BatchEditDialog(lights, ["status", "power_w"], 3, window, hidden=1))
        widgets += [ExportDialog(window.workbench, kind) for kind in KINDS]
        widgets.append(QueryDialog(window.workbench, window.panels["results"]))
        bad = {}
        for widget in widgets:
            found = _wrong_script(_chrome_texts(widget), language, allowed)
            if found:
                bad[type(widget).__name__] = found
        assert not bad, bad
        for widget in widgets[1:]:
            widget.deleteLater()
    finally:
        close_window(window)


def test_qt_buttons_and_snapshot_crs_line_follow_the_language(language):
    from PySide6.QtWidgets import QDialogButtonBox

    from qdt.export.snapshot import project_crs_text
    from qdt.project import Project

    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    texts = [b.text() for b in box.buttons()]
    crs = project_crs_text(Project())
    if language == "zh_CN":
        assert "确定" in texts and "2000国家大地坐标系" in crs and "1985国家高程基准" in crs
    else:
        assert "OK" in texts and "CGCS2000" in crs and not CJK.search(crs)
    box.deleteLater()


@pytest.mark.parametrize(("lang", "expected"), [("zh_CN.UTF-8", "错误"), ("C.UTF-8", "error")])
def test_cli_messages_follow_lang(lang, expected, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "QDT_LANG")}
    env["LANG"] = lang
    done = subprocess.run([sys.executable, "-m", "qdt.cli", "snapshot", str(SAMPLE_PROJECT), "--out",
                           str(tmp_path / "x.bmp")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
