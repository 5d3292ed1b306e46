"""The query benchmark runs at a tiny scale and prints its JSON figures last (no timing asserts)."""

from __future__ import annotations

import json

from qdt.bench.__main__ import BENCHES
from qdt.bench.query import main

QUERIES = ("attribute", "within", "intersects", "dwithin", "nearest", "clearance")
COUNTERPARTS = ("pandas_attribute", "sjoin_within", "sjoin_intersects", "sjoin_dwithin", "sjoin_nearest",
                "gdal_attribute", "gdal_within", "gdal_intersects", "gdal_dwithin", "gdal_nearest")


def test_bench_query_json_keys(capsys):
    assert BENCHES["query"] == "qdt.bench.query"
    assert main(["--scale", "1", "--repeat", "1", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in QUERIES + COUNTERPARTS:
        assert isinstance(figures[key], float) and figures[key] > 0, key
    assert figures["features"]["streetlights"] > 0 and figures["features"]["pipes"] > 0
    assert figures["agree"] == {"attribute": True, "within": True, "intersects": True, "dwithin": True,
                                "nearest": True}
    assert any(line.startswith("command: python -m qdt.bench.query --scale 1 --repeat 1") for line in lines)
