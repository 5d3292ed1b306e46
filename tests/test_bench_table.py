"""The attribute-table benchmark runs end to end on the sample data and prints its figures (no timing asserted)."""

from __future__ import annotations

import json
import math

import pyogrio

from qdt.bench.__main__ import main
from tests.conftest import SAMPLE_DIR

KEYS = ("load_s", "model_s", "sort_number_s", "sort_text_s", "sort_code_s", "filter_s", "paint_ms", "scroll_ms",
        "peak_rss_mb")


def test_table_benchmark_prints_one_json_object_last(qapp, capsys):
    code = main(["table", "--data", str(SAMPLE_DIR), "--json"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert isinstance(figures[key], (int, float)) and math.isfinite(figures[key]) and figures[key] >= 0, key
    manholes = pyogrio.read_dataframe(SAMPLE_DIR / "qingdao_shinan.gpkg", layer="manholes", read_geometry=False)
    assert figures["rows"] == len(manholes) and figures["columns"] == len(manholes.columns)
    # the default filter (状态 = 故障 AND 井深 > 2) shows exactly the rows pandas finds
    assert figures["filter_rows"] == int(((manholes["status"] == 2) & (manholes["depth"] > 2)).sum())
