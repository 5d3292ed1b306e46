"""PDF reports: pypdf reads them (pages, title, Chinese field names), pdftoppm rasterises them."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pypdf
import pytest
from PIL import Image

from qdt.cli.main import main
from qdt.export import ExportError
from qdt.export.report import DEFAULT_TEMPLATE, ReportTable, load_template, write_report
from qdt.project import open_project
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture
def small_template(tmp_path):
    """The shipped template with a small snapshot, so tests render fast."""
    data = json.loads(DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    data["snapshot"].update(width=800, height=450, dpi=100)
    data["logo"] = str(DEFAULT_TEMPLATE.parent / data["logo"])
    path = tmp_path / "template.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _text(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def test_cli_report_with_queries(tmp_path, small_template):
    out = tmp_path / "report.pdf"
    code = main(["report", str(SAMPLE_PROJECT), "--out", str(out), "--title", "故障路灯专题报告", "--author", "张工",
                 "--template", str(small_template), "--quiet",
                 "--query-layer", "路灯", "--where", "状态 = '故障'",
                 "--query-layer", "建筑", "--where", "height > 100"])
    assert code == 0
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) >= 3
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert width > height and width == pytest.approx(841.89, abs=1)  # A4 landscape
    text = _text(reader)
    for expected in ("故障路灯专题报告", "张工", "EPSG:4549", "青岛市南区·五四广场片区", "状态", "额定功率", "灯杆编号",
                     "2 故障", "查询结果", "要素明细", "图例", "高度 (m)"):
        assert expected in text, expected
    # the font is embedded (a subset), so every reader shows the Chinese text
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = [fonts[name].get_object() for name in fonts]
    embedded = [f for f in embedded if "/FontDescriptor" in f and "/FontFile2" in f["/FontDescriptor"].get_object()]
    assert embedded and all("WenQuanYi" in str(f["/BaseFont"]) for f in embedded)
    # pages rasterise with poppler
    assert shutil.which("pdftoppm"), "poppler-utils missing: run tools/system_deps.sh"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True,
                   capture_output=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(reader.pages)
    first = np.asarray(Image.open(pages[0]).convert("RGB"))
    assert first.std() > 20  # not blank: the snapshot and the title block are there


def test_every_faulty_light_is_listed(tmp_path, small_template):
    project = open_project(SAMPLE_PROJECT)
    table = ReportTable.from_query(project.layers, "路灯", "状态 = '故障'")
    out = write_report(project, tmp_path / "r.pdf", tables=[table], template=small_template)
    text = _text(pypdf.PdfReader(out))
    codes = project.layers["路灯"].frame.loc[table.fids, "pole_code"].tolist()
    assert len(codes) > 10
    assert all(code in text for code in codes)
    assert f"本次选中 {len(codes)} 个" in text


def test_template_page_size_and_errors(tmp_path, small_template):
    data = json.loads(small_template.read_text(encoding="utf-8"))
    data["page_size"] = "A3"
    a3 = tmp_path / "a3.json"
    a3.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    project = open_project(SAMPLE_PROJECT)
    project.layers["智慧杆"].selection = [1, 2, 3]  # no tables given: the selections are listed
    out = write_report(project, tmp_path / "a3.pdf", template=a3)
    reader = pypdf.PdfReader(out)
    assert float(reader.pages[0].mediabox[2]) == pytest.approx(1190.55, abs=1)
    assert "智慧杆: 当前选择" in _text(reader)
    data["colour"] = "red"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ExportError, match="unknown setting 'colour'"):
        load_template(bad)
    assert main(["report", str(SAMPLE_PROJECT), "--out", str(tmp_path / "x.pdf"), "--template", str(bad)]) == 2
    assert main(["report", str(SAMPLE_PROJECT), "--out", str(tmp_path / "x.pdf"), "--quiet",
                 "--query-layer", "路灯", "--where", "状态 = "]) == 2
    assert main(["report", str(SAMPLE_PROJECT), "--out", str(tmp_path / "x.pdf"), "--quiet",
                 "--query-layer", "无此图层"]) == 2
    assert not (tmp_path / "x.pdf").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".qdt-")] == []


def test_shipped_template_loads():
    template = load_template()
    assert template["page_size"] == "A4"
    assert template["logo"] and template["logo"].endswith("report_logo.png")


def test_report_snapshot_lights_up_the_listed_rows(tmp_path, small_template, monkeypatch):
    """The report's view shows the query result in the selection colour without touching the layer."""
    import qdt.export.snapshot as snapshot_module

    seen = {}
    real = snapshot_module.snapshot_layers

    def spy(layers, options, **kwargs):
        snap = real(layers, options, **kwargs)
        seen["image"], seen["options"] = snap.image, options
        return snap

    monkeypatch.setattr(snapshot_module, "snapshot_layers", spy)
    project = open_project(SAMPLE_PROJECT)
    buildings = project.layers["建筑"]
    table = ReportTable.from_query(project.layers, "建筑", "height > 40")
    write_report(project, tmp_path / "r.pdf", tables=[table], template=small_template)
    assert buildings.selection == frozenset()
    assert set(seen["options"].highlight[buildings.id]) == set(table.fids.tolist())
    image = seen["image"]
    yellow = ((image[..., 0] > 200) & (image[..., 1] > 200) & (image[..., 2] < 90)).sum()
    assert yellow > 500
    assert "选中要素" in _text(pypdf.PdfReader(tmp_path / "r.pdf"))
