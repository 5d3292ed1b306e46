"""The 管线分析 menu and panel driven as a person does: menu action, a click on a pipe in the view,
the 分析 button; results listed, selected in the view, charted and exported."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from qdt.network import isolate
from tests.test_ui_mainwindow import click_world, close_window, load, open_window


@pytest.fixture
def window(qtbot):
    win = open_window(qtbot)
    load(win, qtbot)
    yield win
    close_window(win)


def layer_of(window, feature_class):
    return next(lyr for lyr in window.project.layers if getattr(lyr, "feature_class", None) == feature_class)


def test_isolation_from_the_menu_with_a_pipe_picked_in_the_view(window, qtbot, tmp_path):
    pipes, points = layer_of(window, "pipe"), layer_of(window, "pipe_point")
    window.panels["network"].actions["isolate"].trigger()  # 管线分析 → 爆管关阀分析
    panel = window.panels["network"]
    assert panel.isVisible() and panel.mode == "isolate"
    # the water line to break: a DN≥100 line in the middle of a run; the camera looks at it from above
    water = pipes.frame[(pipes.frame.network == "JS") & (pipes.frame.road_name == "闽江路")]
    fid = int(water.index[8])
    window.fly_to_feature(pipes, fid)
    window.act_underground.trigger()
    qtbot.wait(300)
    mid = water.geometry.loc[fid].interpolate(0.5, normalized=True)
    dem = next(lyr for lyr in window.project.layers if getattr(lyr, "role", None) == "dem")
    row = water.loc[fid]
    z = float(dem.sample(np.array([mid.x]), np.array([mid.y]))[0]) - (row.depth_start + row.depth_end) / 2 \
        - row.diameter_mm / 2000
    panel.start_pick(panel.line_edit)  # the 拾取 button beside the line field
    result = click_world(window, qtbot, (mid.x, mid.y, z))
    assert result is not None and result.layer is pipes, result
    assert panel.line_edit.text() == str(result.fid)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    got = panel.result
    assert got is not None and got["valves"]
    want = isolate(panel.topology, int(panel.line_edit.text()), network="JS")
    assert got == want
    # listed, selected in the view (lines and the valves), exportable
    assert panel.table.rowCount() == len(got["valves"]) + len(got["closed_valves"])
    assert pipes.selection == set(got["lines"])
    numbers = points.frame.loc[sorted(points.selection), "point_no"].astype(str)
    assert set(got["valves"]) <= set(numbers)
    out = panel.export_rows(tmp_path / "isolate.csv")
    with open(out, encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == panel.table.rowCount()


def test_profile_and_section_charts(window, qtbot, tmp_path):
    panel = window.panels["network"]
    window.panels["network"].actions["profile"].trigger()
    topo = panel.ensure_topology()
    storm = layer_of(window, "pipe").frame
    storm = storm[(storm.subtype == "YS") & (storm.road_name == "南京路")]
    first = storm.iloc[6]
    panel._select_network("PS")
    panel.from_edit.setText(str(first.start_point))
    panel.to_edit.setText(str(storm.iloc[1].start_point))
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.result is not None and panel.result["segments"], panel.summary.text()
    assert panel.plot.isVisible() and panel.table.rowCount() == len(panel.result["segments"])
    pdf = panel.export_chart(tmp_path / "profile.pdf")
    assert pdf.stat().st_size > 5000 and pdf.read_bytes()[:4] == b"%PDF"
    window.panels["network"].actions["section"].trigger()
    x = 533600 + 420.0  # 南京路 in the first district, cut across it
    panel.cut_edit.setText(f"{x - 20} {3991500 + 800}, {x + 20} {3991500 + 800}")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.result["pipes"] and panel.table.rowCount() == len(panel.result["pipes"])
    assert topo is panel.topology  # built once per project
