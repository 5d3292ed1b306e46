"""``python -m qdt.bench db`` runs end to end on a small city and prints its figures (no timing asserted)."""

from __future__ import annotations

import json

from qdt.bench.__main__ import main as bench


def test_bench_db_prints_json_figures(pg_dsn, capsys):
    assert bench(["db", "--scale", "300", "--repeat", "2", "--json", "--dsn", pg_dsn]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    for key in ("import_s", "window_s", "gpkg_s", "speedup", "commit_100_ms", "window_features", "gpkg_features"):
        assert key in figures
    assert 0 < figures["window_features"] < figures["gpkg_features"]
    assert figures["commit_features"] == 100
    assert figures["rows"]["buildings"] > 0
