"""One language at a time (issue 14.8) in what QDT writes outside the window: the PDF report's
body and the command line's messages follow the language (the window's, else ``LANGUAGE``/``LC_ALL``/
``LANG``); English comes from the same Chinese-keyed catalogues as the window's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pypdf
import pytest

from qdt import language
from qdt.cli.main import main
from qdt.export.report import DEFAULT_TEMPLATE, ReportTable, write_report
from qdt.project import open_project
from tests.conftest import SAMPLE_PROJECT

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]+")
CATALOGUE_CALL = re.compile(r'\b(?:translate|cli_text)\((["\'])(.*?)\1')


def _report(tmp_path: Path, code: str) -> tuple[str, object]:
    language.set_language(code)
    template = json.loads(DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    template["snapshot"].update(width=480, height=270, dpi=72)
    template["logo"] = str(DEFAULT_TEMPLATE.parent / template["logo"])
    template["table"]["max_rows"] = 15
    project = open_project(SAMPLE_PROJECT)
    buildings, pipes = project.layers["建筑"], project.layers["地下管线"]
    tall = np.sort(buildings.frame.index[buildings.frame["height"] > 100].to_numpy())
    tables = [ReportTable.from_query(project.layers, "路灯", "status = 2"),
              ReportTable(buildings, tall, "建筑: height > 100"), ReportTable.from_selection(pipes)]
    tables[-1].fids = np.sort(pipes.frame.index[:30].to_numpy())
    out = tmp_path / f"report_{code}.pdf"
    from qdt.export.poles_report import ConsolidationSection
    from qdt.poles import consolidate_layers

    sections = [ConsolidationSection(consolidate_layers(list(project.layers)))]  # 多杆合一, another engineer's section
    write_report(project, out, tables=tables, template=template, sections=sections)
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(out).pages), project


def _names_and_values(project) -> str:
    """Text a report prints as it is in any language: the project's and layers' names, string data."""
    from qdt.layers import VectorLayer

    parts = [project.name] + [layer.name for layer in project.layers]
    for layer in project.layers:
        if isinstance(layer, VectorLayer):
            for column in layer.columns:
                values = layer.frame[column]
                if values.dtype == object or str(values.dtype).startswith("string"):
                    parts += [str(v) for v in values.dropna().unique()]
    return "\n".join(parts)


def test_english_report_has_no_chinese_outside_names_and_data(tmp_path):
    text, project = _report(tmp_path, language.ENGLISH)
    for heading in ("Layers", "Legend", "Query result", "Features", "Field", "Mean", "Total", "Visible",
                    "Vector", "Raster (", "Project", "CRS", "CGCS2000", "Page 1", "Status", "Normal",
                    "Multi-pole consolidation plan", "poles afterwards"):
        assert heading in text, heading
    names = _names_and_values(project)
    stray = sorted({run for run in CJK.findall(text) if run not in names})
    assert not stray, f"Chinese in the English report: {stray}"


def test_chinese_report_has_chinese_headings(tmp_path):
    text, _ = _report(tmp_path, language.CHINESE)
    for heading in ("图层概况", "图例", "查询结果", "要素明细", "字段", "平均值", "合计", "矢量", "坐标系",
                    "2000国家大地坐标系", "第 1 页", "状态", "多杆合一合杆方案"):
        assert heading in text, heading
    for english in ("Layers", "Legend", "Query result", "Mean", "Visible", "Page 1"):
        assert english not in text, english


@pytest.mark.parametrize(("env", "expected", "other"), [
    ({"LANG": "zh_CN.UTF-8"}, ["错误", "不存在"], "does not exist"),
    ({"LANG": "en_US.UTF-8"}, ["error", "does not exist"], "不存在"),
    ({"LANG": "C.UTF-8"}, ["error", "does not exist"], "不存在"),  # no language named: English, as before
    ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, ["错误", "不存在"], "does not exist"),
    ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "en_GB:en"}, ["error", "does not exist"], "不存在"),
])
def test_cli_errors_follow_the_locale(monkeypatch, capsys, tmp_path, env, expected, other):
    for name in ("QDT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    language.set_language(None)
    missing = tmp_path / "nowhere.qdt"
    assert main(["info", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err
    for word in expected:
        assert word in err, err
    assert other not in err, err


def test_cli_follows_the_window_language_when_one_is_chosen(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    language.set_language(language.CHINESE)  # the window's choice (qdt.ui.i18n.set_language) wins
    assert main(["report", str(SAMPLE_PROJECT), "--out", str(tmp_path / "r.txt")]) == 2
    assert "必须是 .pdf 文件" in capsys.readouterr().err


def test_every_catalogue_literal_outside_the_window_has_an_english_entry():
    catalogue = language.english_catalogue()
    files = sorted((ROOT / "qdt" / "cli").glob("*.py")) + sorted((ROOT / "qdt" / "export").glob("*.py"))
    missing = []
    for path in files:
        for match in CATALOGUE_CALL.finditer(path.read_text(encoding="utf-8")):
            if CJK.search(match.group(2)) and match.group(2) not in catalogue:
                missing.append(f"{path.name}: {match.group(2)!r}")
    assert not missing, "no English entry for:\n" + "\n".join(missing)
    from qdt.export.report import LAYER_KINDS, RASTER_ROLES

    assert all(label in catalogue for label in [*LAYER_KINDS.values(), *RASTER_ROLES.values()])


@pytest.mark.parametrize("code", ["zh_CN.UTF-8", "en_US.UTF-8"])
def test_clearance_findings_speak_one_language(monkeypatch, capsys, code):
    for name in ("QDT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", code)
    language.set_language(None)
    assert main(["clearance", str(SAMPLE_PROJECT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3
    if code.startswith("zh"):
        assert "净距不足" in lines[0] and "平行敷设" in "\n".join(lines) and "未检查" in "\n".join(lines)
        assert not re.search(r"\b(pipe|pairs|below|unchecked|alongside)\b", "\n".join(lines))
    else:
        assert "below the standard's minimum clearance" in lines[0]
        layer = lines[0].split(":")[0]  # the layer's name (data) is the only Chinese left
        assert not CJK.search("\n".join(lines).replace(layer, "")), lines
