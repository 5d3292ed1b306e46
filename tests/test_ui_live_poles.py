"""The window's 多杆合一 panel and live feed, driven as a user: menus, buttons, rows, a real broker."""

from __future__ import annotations

import json

import numpy as np
import paho.mqtt.client as mqtt
import pyogrio
import pytest
import shapely
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog

from qdt.live import Broker, read_alarms
from qdt.live.broker import Mosquitto
from tests.test_ui_mainwindow import click_world, close_window, load, open_window


@pytest.fixture
def window(qtbot):
    win = open_window(qtbot)
    yield win
    close_window(win)


def layer_of(window, feature_class):
    return next(layer for layer in window.project.layers if getattr(layer, "feature_class", None) == feature_class)


def test_consolidation_panel_lists_groups_draws_the_planning_layer_and_exports(window, qtbot, sample_copy,
                                                                               tmp_path, monkeypatch):
    load(window, qtbot, sample_copy / "qingdao_shinan.qdt")
    dock = window.workbench.panels["poles"]
    dock.act_open.trigger()
    assert dock.isVisible()
    qtbot.mouseClick(dock.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.plan is not None, timeout=60_000)
    plan = dock.plan
    assert dock.table.rowCount() == len(plan.groups) > 100
    sites, links = dock.planning
    assert sites in window.project.layers and links in window.project.layers
    assert sites.feature_count == len(plan.groups) and links.feature_count == plan.poles_removed
    qtbot.waitUntil(lambda: window.scene.visual(sites) is not None and window.scene.visual(links) is not None)
    # a row selects the group's poles in their layers and frames its site
    row = next(i for i, g in enumerate(plan.groups) if g.site_is_smart_pole)
    group = plan.groups[row]
    dock.table.selectRow(row)
    for name, fid in group.members:
        assert fid in window.project.layers[name].selection
    assert sites.selection == {row + 1}
    focal = np.array(window.scene.camera_state()["focal_point"][:2])  # world coordinates
    assert np.hypot(*(focal - np.array(group.site))) < 5.0
    # the planning layer can be hidden
    dock.show_layer.setChecked(False)
    assert not sites.visible and not links.visible
    # export through the button and the file dialog
    out = tmp_path / "plan.gpkg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(dock.export_button, Qt.MouseButton.LeftButton)
    assert dict(pyogrio.list_layers(out)) == {"consolidation_sites": "Point", "consolidation_links": "LineString",
                                              "consolidation_members": "Point"}
    written = pyogrio.read_dataframe(out, layer="consolidation_sites")
    assert np.allclose(shapely.get_coordinates(written.geometry.to_numpy()), [g.site for g in plan.groups])
    # the report dialog offers the plan as a section with counts per road
    import pypdf

    from qdt.ui.export_dialog import ExportDialog

    report = ExportDialog(window.workbench, "report")
    qtbot.addWidget(report)
    assert report.poles_check.isEnabled() and report.poles_check.isChecked()
    report.path_edit.setText(str(tmp_path / "plan.pdf"))
    report.export_button.click()
    assert report.handle is not None, report.status.text()
    qtbot.waitUntil(lambda: report.handle.done and report.export_button.isEnabled(), timeout=120_000)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(tmp_path / "plan.pdf").pages)
    road = plan.per_road().iloc[0].road
    assert "合杆点" in text and road in text


def test_live_feed_recolours_raises_alarms_and_shows_history(window, qtbot, sample_copy, monkeypatch):
    load(window, qtbot, sample_copy / "qingdao_shinan.qdt")
    lights, holes = layer_of(window, "streetlight"), layer_of(window, "manhole")
    normal = lights.frame.index[lights.frame["status"].to_numpy() == 1]
    fid = int(normal[0])
    code = str(lights.frame.loc[fid, "code"])
    hole_code = str(holes.frame["code"].iloc[0])
    label = window.statusBar().findChild(object, "LiveStateLabel")
    assert "未连接" in label.text()
    with Mosquitto() as broker:
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (broker.url, True))
        window.workbench.panels["alarms"].actions_by_name["connect"].trigger()
        qtbot.waitUntil(lambda: "已连接" in label.text(), timeout=20_000)
        b = Broker.parse(broker.url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ui-test")
        client.connect(b.host, b.port)
        client.loop_start()
        try:
            for k, status in enumerate((1, 3, 2)):
                ts = f"2026-05-04T08:0{k}:00+08:00"
                client.publish(f"qdt/streetlight/{code}/status", json.dumps({"status": status, "ts": ts,
                                                                             "power_w": 0.0 if status == 2 else 118.0}),
                               qos=1).wait_for_publish(10)
            client.publish(f"qdt/manhole/{hole_code}/status",
                           json.dumps({"status": 1, "ts": "2026-05-04T08:05:00+08:00", "cover": "open"}),
                           qos=1).wait_for_publish(10)
            client.publish("qdt/streetlight/nope/status", "{bad", qos=1).wait_for_publish(10)
            alarms = window.workbench.panels["alarms"]
            qtbot.waitUntil(lambda: alarms.table.rowCount() == 2, timeout=20_000)
            assert alarms.isVisible()
            assert int(lights.frame.loc[fid, "status"]) == 2  # the layer shows the live state
            kinds = {alarms.table.item(r, 3).text() for r in range(2)}
            assert kinds == {"故障", "井盖开启"}
            qtbot.waitUntil(lambda: "1 条错误" in label.text() and "2 条未确认告警" in label.text(), timeout=10_000)
            # acknowledge the first row with the button
            alarms.table.selectRow(0)
            qtbot.mouseClick(alarms.ack_button, Qt.MouseButton.LeftButton)
            assert alarms.table.item(0, 4).text().startswith("已确认")
            still_open = alarms.table.item(1, 3).text()
            qtbot.waitUntil(lambda: read_alarms(sample_copy / "qingdao_shinan.gpkg")["acknowledged"].notna().sum() == 1,
                            timeout=10_000)
            # clicking the light in the view shows its history chart in the inspector
            window.scene.fly_to_feature(lights, fid, min_size=40.0)
            window.view.request_render()
            qtbot.wait(200)
            x, y = lights.frame.geometry.loc[fid].coords[0]
            ground = window.scene.context.ground(np.array([x]), np.array([y]), default=np.zeros(1))[0]
            hit = click_world(window, qtbot, (x, y, ground + 9.0))
            assert hit is not None and hit.layer is lights and hit.fid == fid
            chart = alarms.chart
            qtbot.waitUntil(chart.isVisible, timeout=5_000)
            assert chart.status == [1, 3, 2] and code in chart.title.text()
        finally:
            client.disconnect()
            client.loop_stop()
    # the broker is gone: the status bar says so and the last states stay
    qtbot.waitUntil(lambda: "离线" in label.text(), timeout=20_000)
    assert int(lights.frame.loc[fid, "status"]) == 2
    window.workbench.panels["alarms"].actions_by_name["disconnect"].trigger()
    assert "未连接" in label.text()
    # next morning, offline: the open alarm is listed again and can be acknowledged without a broker
    load(window, qtbot, sample_copy / "qingdao_shinan.qdt")
    alarms = window.workbench.panels["alarms"]
    qtbot.waitUntil(lambda: alarms.table.rowCount() == 1, timeout=10_000)  # the one nobody acknowledged
    assert alarms.table.item(0, 3).text() == still_open
    assert int(layer_of(window, "streetlight").frame.loc[fid, "status"]) == 2  # last known state, offline
    alarms.table.selectRow(0)
    qtbot.mouseClick(alarms.ack_button, Qt.MouseButton.LeftButton)
    gpkg = sample_copy / "qingdao_shinan.gpkg"
    qtbot.waitUntil(lambda: read_alarms(gpkg)["acknowledged"].notna().sum() == 2, timeout=20_000)
