"""The city benchmark (issue 17) runs end to end on a small generated city and prints exactly the
issue's figures as its last line (no timing asserted)."""

from __future__ import annotations

import json
import math

from qdt.bench.__main__ import main
from qdt.bench.city import KEYS


def test_city_benchmark_prints_the_issues_keys_last(tmp_path, capsys):
    code = main(["city", "--scale", "2000", "--json", "--keep", str(tmp_path / "city"), "--width", "400",
                 "--height", "250"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert tuple(figures) == KEYS == ("scale", "generate_s", "open_s", "first_frame_s", "street_frame_ms",
                                      "overview_frame_ms", "pan_load_ms", "pick_ms_median", "peak_rss_mb",
                                      "query_s", "query_count", "gdal_query_count")
    assert figures["scale"] == 2000
    for key in KEYS[1:-2]:
        assert isinstance(figures[key], (int, float)) and math.isfinite(figures[key]) and figures[key] > 0, key
    assert figures["query_count"] == figures["gdal_query_count"] > 0
    assert any("streamed: " in line and "地下管线" in line for line in lines)  # pipes stream at this size
