"""The scene benchmark runs end to end on a tiny generated city and prints its figures (no timing asserted)."""

from __future__ import annotations

import json
import math

from qdt.bench.__main__ import main

KEYS = ("scale", "load_s", "build_s", "naive_build_s", "first_frame_s", "frame_ms", "overview_frame_ms",
        "pick_ms_median", "peak_rss_mb", "build_layer_s")


def test_scene_benchmark_prints_one_json_object_last(tmp_path, capsys):
    city = tmp_path / "city"
    code = main(["scene", "--scale", "300", "--json", "--keep", str(city), "--naive-subset", "10",
                 "--orbit-steps", "3", "--picks", "5", "--width", "400", "--height", "250"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert key in figures, key
    assert figures["scale"] == 300
    for key in KEYS[1:-1]:
        assert isinstance(figures[key], (int, float)) and math.isfinite(figures[key]) and figures[key] > 0, key
    layers = figures["build_layer_s"]
    assert "建筑" in layers and all(v >= 0 for v in layers.values())
    assert figures["naive_build_s"] > 0 and figures["features"]["建筑"] > 0
    assert figures["labelled_features"] >= figures["features"]["建筑"]  # every building named, with and without labels
    assert figures["labels_frame_ms"] > 0 and figures["no_labels_frame_ms"] > 0 and figures["labels_placed"] > 0
    assert (city / "qingdao_shinan.qdt").is_file()  # --keep keeps the generated city where asked
    assert any(line.startswith("command: python -m qdt.bench scene") for line in lines)
