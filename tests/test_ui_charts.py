"""Statistics panel: facility counts by status and pipe length by network equal the data (read
back with pyogrio), for the whole project and for the current selection; the bars show them."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely

from qdt.ui.charts import pipe_lengths, status_counts
from tests.conftest import SAMPLE_GPKG
from tests.test_ui_attribute_table import close_window, open_sample_window, wait_until

STATUS = {1: "正常", 2: "故障", 3: "维修中", 4: "停用"}
FACILITIES = {"路灯": "streetlights", "智慧杆": "smart_poles", "地下管线": "pipes", "检查井": "manholes",
              "设施箱柜": "cabinets", "杆载设备": "smart_pole_devices"}


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = open_sample_window(tmp_path_factory.mktemp("charts"))
    yield win
    close_window(win)


def test_status_counts_equal_the_file(window):
    table = status_counts(window.project.layers)
    for name, layer_name in FACILITIES.items():
        disk = pyogrio.read_dataframe(SAMPLE_GPKG, layer=layer_name, read_geometry=False)
        if name not in table.columns:
            continue
        expected = disk["status"].map(lambda c: STATUS.get(int(c))).value_counts()
        got = table[name][table[name] > 0]
        assert got.sort_index().to_dict() == expected.sort_index().to_dict(), name
    assert {"路灯", "智慧杆", "地下管线", "检查井"} <= set(table.columns)
    assert list(table.index[:4]) == ["正常", "故障", "维修中", "停用"]


def test_pipe_length_by_network_equals_the_file(window):
    lengths = pipe_lengths(window.project.layers)
    disk = pyogrio.read_dataframe(SAMPLE_GPKG, layer="pipes")
    from qdt.cim import catalogue

    labels = {e.code: e.zh for e in catalogue().codelist("pipe_network").entries}
    expected = disk.assign(length=shapely.length(disk.geometry.to_numpy()),
                           net=disk["network"].map(labels)).groupby("net")["length"].sum()
    assert set(lengths.index) == set(expected.index)
    for net, metres in expected.items():
        assert abs(lengths[net] - metres) < 1e-6
    assert np.all(np.diff(lengths.to_numpy()) <= 0)  # longest first


def test_charts_dock_draws_the_counts_and_follows_the_selection(window):
    dock = window.panels["charts"]
    assert dock.isVisible()
    dock.scope_box.setCurrentIndex(0)
    table = status_counts(window.project.layers)
    assert dock.counts.equals(table)
    heights = {bar.opts["name"]: np.asarray(bar.opts["height"]) for bar in dock.bars}
    # each class's share of its features (%), so big classes do not flatten small ones
    np.testing.assert_allclose(heights["路灯"], 100.0 * table["路灯"].to_numpy() / table["路灯"].sum())
    assert set(heights) == set(table.columns)
    assert len(dock.legend.items) == len(table.columns)  # every series in the legend
    np.testing.assert_allclose(np.asarray(dock.pipe_bar.opts["width"]),  # horizontal bars
                               pipe_lengths(window.project.layers).to_numpy() / 1000)
    ticks = [label for _, label in dock.status_plot.getAxis("bottom")._tickLevels[0]]
    assert ticks[:2] == ["正常", "故障"]
    # current selection only
    lights = window.project.layers["路灯"]
    chosen = lights.frame.index[lights.frame["status"].to_numpy() == 2][:7]
    lights.selection = chosen.tolist()
    dock.scope_box.setCurrentIndex(1)
    assert int(dock.counts["路灯"].sum()) == 7 and int(dock.counts.loc["故障", "路灯"]) == 7
    assert int(dock.counts.drop(columns="路灯").to_numpy().sum()) == 0
    lights.selection = chosen[:3].tolist()
    assert wait_until(lambda: int(dock.counts["路灯"].sum()) == 3, 5)
    lights.selection = ()
    dock.scope_box.setCurrentIndex(0)


def test_english_mode_labels_statuses_and_networks_in_english(window):
    from qdt.cim import catalogue
    from qdt.ui import i18n

    chinese_status = status_counts(window.project.layers)
    chinese_pipes = pipe_lengths(window.project.layers)
    networks = catalogue().codelist(catalogue().feature_class("pipe").field("network").codelist)
    before = i18n.language()
    i18n.set_language("en")
    try:
        english_status = status_counts(window.project.layers)
        english_pipes = pipe_lengths(window.project.layers)
    finally:
        i18n.set_language(before)
    assert list(english_status.index[:4]) == ["Normal", "Fault", "Under repair", "Out of service"]
    # the same counts, only the labels differ
    assert np.array_equal(english_status.to_numpy(), chinese_status.to_numpy())
    zh_to_en = {e.zh: e.en for e in networks.entries}
    expected = {zh_to_en.get(name, name): length for name, length in chinese_pipes.items()}
    assert english_pipes.to_dict() == pytest.approx(expected)
    assert not any("\u4e00" <= ch <= "\u9fff" for name in english_pipes.index for ch in str(name))
