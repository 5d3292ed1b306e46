"""Report content a planner reads: no nan/<NA>, histograms for continuous fields, wrapped cells, sums only
of additive fields, layer kinds in Chinese; every page rasterised with pdftoppm."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pypdf
import pytest
from PIL import Image

from qdt.export.report import DEFAULT_TEMPLATE, ReportTable, _additive_fields, _histogram, write_report
from qdt.project import open_project
from tests.conftest import SAMPLE_PROJECT

LONG_ADDRESS = ("青岛市市南区东海西路十三号海韵花园二号楼东单元"
                "（临街商铺一层，东侧入口，物业管理处旁）备注很长的地址文字")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    data = json.loads(DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    data["snapshot"].update(width=800, height=450, dpi=100)
    data["logo"] = str(DEFAULT_TEMPLATE.parent / data["logo"])
    data["table"]["max_rows"] = 40
    template = tmp / "template.json"
    template.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    project = open_project(SAMPLE_PROJECT)
    buildings = project.layers["建筑"]
    tall = buildings.frame.index[buildings.frame["height"] > 100].to_numpy()
    buildings.frame.loc[tall[0], "address"] = LONG_ADDRESS
    pipes = project.layers["地下管线"]
    gas = np.sort(pipes.frame.index[pipes.frame["network"] == "RQ"].to_numpy())
    tables = [ReportTable(buildings, np.sort(tall), "建筑: height > 100"), ReportTable(pipes, gas, "地下管线: 燃气")]
    out = tmp / "report.pdf"
    write_report(project, out, tables=tables, template=template)
    return out, project, tables


def test_report_text_has_no_raw_values(report):
    out, project, tables = report
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    for bad in ("nan", "<NA>", "None", "raster", "vector", "citymodel"):
        assert bad not in text, bad
    assert "矢量" in text and "栅格（高程）" in text and "三维城市模型" in text
    assert "NULL" in text  # missing values (pipes' voltage) are written NULL
    assert "高度 (m)分布" in text  # a continuous style field: a histogram, not a bar per value
    # pipe lengths add up; the sum of the building years is never printed
    pipes = tables[1]
    length = pipes.layer.frame.loc[pipes.fids].geometry.length.sum()
    assert f"{length:.6g}" in text
    years = tables[0].layer.frame.loc[tables[0].fids, "year_built"].sum()
    assert f"{years:.6g}" not in text
    # long text wraps in its cell instead of being cut or running into the next column
    flat = text.replace("\n", "")
    assert LONG_ADDRESS[-10:] in flat


def test_every_page_rasterises_and_is_not_blank(report, tmp_path):
    out, _, _ = report
    assert shutil.which("pdftoppm"), "poppler-utils missing: run tools/system_deps.sh"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")], check=True,
                   capture_output=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(pypdf.PdfReader(out).pages) >= 3
    for page in pages:
        image = np.asarray(Image.open(page).convert("L"), dtype=float)
        assert image.std() > 5, page.name


def test_histogram_bins_are_round_and_count_everything():
    values = pd.Series(np.linspace(12.3, 247.0, 200))
    counts = _histogram(values)
    assert counts.sum() == 200 and 4 <= len(counts) <= 12
    first = counts.index[0]
    assert first.split("–")[0] in ("0", "10", "12.5")


def test_additive_fields_come_from_the_catalogue(report):
    _, project, _ = report
    assert {"power_w", "heads"} <= _additive_fields(project.layers["路灯"])
    pipes = _additive_fields(project.layers["地下管线"])
    assert "holes" in pipes and "year_built" not in pipes and "diameter_mm" not in pipes
