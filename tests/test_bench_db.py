"""``python -m qdt.bench db`` runs end to end on a small city and prints its figures (no timing asserted)."""

from __future__ import annotations

import json

from qdt.bench.__main__ import main as bench


def test_bench_db_prints_json_figures(pg_dsn, capsys):
    assert bench(["db", "--scale", "300", "--repeat", "2", "--width", "320", "--height", "200", "--json",
                  "--dsn", pg_dsn]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    for key in ("import_s", "window_s", "gpkg_s", "speedup", "load_speedup", "commit_100_ms", "window_features",
                "gpkg_features", "first_frame_window_s", "first_frame_gpkg_s"):
        assert key in figures
    # the first frame comes after the loads it needs
    assert figures["first_frame_window_s"] >= figures["window_s"] > 0
    assert figures["first_frame_gpkg_s"] >= figures["gpkg_s"] > 0
    assert 0 < figures["window_features"] < figures["gpkg_features"]
    assert figures["commit_features"] == 100
    assert figures["rows"]["buildings"] > 0
