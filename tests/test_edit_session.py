"""Edit sessions on copies of the sample GeoPackage: buffer, undo/redo, validation, commit, change log, conflicts."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyogrio
import pytest

from qdt.edit import EditError, EditSession, editing_session, start_editing
from qdt.io import LayerSource, load_layer
from qdt.io.gpkg_write import CHANGE_LOG_TABLE, read_change_log
from tests.conftest import SAMPLE_GPKG

ORIGINAL_LAYERS = [name for name, _kind in pyogrio.list_layers(SAMPLE_GPKG)]
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def gpkg(tmp_path):
    path = tmp_path / "city.gpkg"
    shutil.copy(SAMPLE_GPKG, path)
    return path


def lights(path, name="路灯"):
    return load_layer(LayerSource(path, layer="streetlights", feature_class="streetlight", name=name)).layer


def attributes(layer):
    return pd.DataFrame(layer.frame[layer.columns]).copy()


def file_rows(path, table, columns, fids):
    con = sqlite3.connect(path)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(fids))
        rows = con.execute(f'SELECT fid, {cols} FROM "{table}" WHERE fid IN ({marks}) ORDER BY fid',
                           [int(f) for f in fids]).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


# --- undo / redo ---------------------------------------------------------------------------

def test_random_undo_redo_walk_restores_exact_values(gpkg):
    layer = lights(gpkg)
    session = start_editing(layer, user="tester")
    rng = np.random.default_rng(7)
    fids = layer.fids[:12]
    choices = {"status": [1, 2, "维修中", "停用"], "power_w": [60, 75.5, None, "150"],
               "install_date": ["2024-03-01", "2019/12/31", None], "owner": ["甲单位", "", "乙单位"],
               "heads": [1, 2, "3"], "lamp_type": ["LED", "高压钠灯", None]}
    columns = list(choices)
    states = [attributes(layer)[columns]]
    index = 0
    for _ in range(120):
        op = rng.choice(["edit", "edit", "batch", "undo", "redo"])
        if op in ("edit", "batch"):
            field = str(rng.choice(columns))
            value = choices[field][int(rng.integers(len(choices[field])))]
            if op == "edit":
                session.set_value(int(rng.choice(fids)), field, value)
            else:
                session.set_values(rng.choice(fids, size=5, replace=False), {field: value})
            del states[index + 1:]
            states.append(attributes(layer)[columns])
            index += 1
        elif op == "undo" and session.stack.can_undo:
            session.undo()
            index -= 1
        elif op == "redo" and session.stack.can_redo:
            session.redo()
            index += 1
        assert session.stack.index == index
        pd.testing.assert_frame_equal(attributes(layer)[columns], states[index])
    session.stack.set_index(0)
    pd.testing.assert_frame_equal(attributes(layer)[columns], states[0])
    assert not session.has_changes
    assert not any(session.buffer.modified_mask(c).any() for c in columns)
    session.stack.set_index(session.stack.count)
    pd.testing.assert_frame_equal(attributes(layer)[columns], states[-1])


def test_batch_edit_of_a_query_result_is_one_undo_step(gpkg):
    layer = lights(gpkg)
    before = attributes(layer)
    result = layer.fids[(layer.frame["status"] == 1).to_numpy() & (layer.frame["power_w"] > 100).to_numpy()]
    assert len(result) > 100
    session = start_editing(layer)
    command = session.set_values(result, {"status": "维修中"})
    assert session.stack.count == 1
    assert command.text() == f"状态 (status) = 3 维修中 · {len(result)} 个要素"
    assert (layer.frame.loc[result, "status"] == 3).all()
    untouched = ~layer.frame.index.isin(result)
    pd.testing.assert_frame_equal(attributes(layer)[untouched], before[untouched])
    assert session.buffer.modified_mask("status").sum() == len(result)
    session.undo()
    pd.testing.assert_frame_equal(attributes(layer), before)
    assert not session.has_changes


def test_layer_shows_buffered_values_events_and_rollback(gpkg):
    layer = lights(gpkg)
    before = attributes(layer)
    session = start_editing(layer)
    data_events: list[int] = []
    changed: list[tuple] = []
    layer.events.data.connect(lambda: data_events.append(1))
    session.events.changed.connect(lambda fids, fields: changed.append((fids.tolist(), fields)))
    session.set_value(7, "status", "故障")
    session.set_values([8, 9], {"owner": "青岛市测试单位", "install_date": "2024-05-06"})
    assert layer.frame.loc[7, "status"] == 2 and session.value(7, "status") == 2
    assert session.original(7, "status") == before.loc[7, "status"]
    assert session.is_modified(7, "status") and not session.is_modified(7, "owner") and session.is_modified(8)
    assert layer.frame.loc[9, "install_date"] == pd.Timestamp("2024-05-06")
    assert changed == [([7], ("status",)), ([8, 9], ("owner", "install_date"))]
    assert len(data_events) == 2
    cells = session.buffer.modified_cells()
    assert sorted(zip(cells["fid"], cells["field"], strict=True)) == [
        (7, "status"), (8, "install_date"), (8, "owner"), (9, "install_date"), (9, "owner")]
    session.rollback()
    pd.testing.assert_frame_equal(attributes(layer), before)
    assert not session.has_changes and session.stack.count == 0 and len(data_events) == 3
    session.set_value(7, "status", 1 if before.loc[7, "status"] != 1 else 2)
    session.set_value(7, "status", int(before.loc[7, "status"]))  # back to the original: not modified
    assert not session.is_modified(7, "status") and session.stack.count == 2


# --- validation ----------------------------------------------------------------------------

CODES = "设施状态 (1 正常, 2 故障, 3 维修中, 4 停用)"


@pytest.mark.parametrize(("field", "value", "rule", "message"), [
    ("status", "坏了", "codelist", f"路灯: field 'status' (状态): '坏了' is not in the code list {CODES}"),
    ("status", 7, "codelist", f"路灯: field 'status' (状态): 7 is not in the code list {CODES}"),
    ("status", None, "required", "路灯: field 'status' (状态): a value is required (got None)"),
    ("code", " ", "required", "路灯: field 'code' (对象编码): a value is required (got '')"),
    ("power_w", "abc", "type", "路灯: field 'power_w' (额定功率): 'abc' is not a number"),
    ("power_w", -5, "range", "路灯: field 'power_w' (额定功率): -5 is below the minimum 5 W"),
    ("power_w", 5000, "range", "路灯: field 'power_w' (额定功率): 5000 is above the maximum 2000 W"),
    ("heads", 1.5, "type", "路灯: field 'heads' (灯头数): 1.5 is not a whole number"),
    ("install_date", "2024-02-30", "type",
     "路灯: field 'install_date' (安装日期): '2024-02-30' is not a date (use YYYY-MM-DD)"),
    ("code", "ABC", "pattern", "路灯: field 'code' (对象编码): 'ABC' does not match the pattern ^\\d{16}$"),
    ("pole_code", "X" * 33, "length", f"路灯: field 'pole_code' (灯杆编号): '{'X' * 33}' is longer than 32 characters"),
    ("lamp_type", "氙灯", "codelist",
     "路灯: field 'lamp_type' (光源类型): '氙灯' is not in the code list 光源类型 (LED LED, HPS 高压钠灯, MH 金卤灯, "
     "IND 无极灯)"),
    ("nope", 1, "field", "路灯: no field 'nope' (fields: code, pole_code, lamp_type, power_w, pole_height, arm_length, "
     "heads, colour_temp, control_mode, status, install_date, owner, maintainer, circuit, cabinet_code, "
     "pole_material, road_name)"),
    ("geometry", None, "field", "路灯: field 'geometry' is the geometry; attribute editing cannot change it"),
])
def test_rejected_values_name_field_value_and_rule_and_change_nothing(gpkg, field, value, rule, message):
    layer = lights(gpkg)
    before = attributes(layer)
    session = start_editing(layer)
    with pytest.raises(EditError) as caught:
        session.set_values([3, 4], {field: value})
    assert str(caught.value) == message
    assert caught.value.rule == rule and caught.value.field == field
    assert session.stack.count == 0 and not session.has_changes
    pd.testing.assert_frame_equal(attributes(layer), before)


def test_unknown_fid_is_refused_and_labels_are_stored_as_codes(gpkg):
    layer = lights(gpkg)
    session = start_editing(layer)
    with pytest.raises(EditError, match=r"^路灯: no feature with fid 99999, 123456$") as caught:
        session.set_values([1, 99999, 123456], {"status": 2})
    assert caught.value.rule == "feature" and not session.has_changes
    assert session.set_value(1, "status", "Under repair").value == 3  # English label
    assert session.set_value(1, "status", "停用").value == 4  # Chinese label
    assert session.set_value(1, "lamp_type", "高压钠灯").value == "HPS"
    assert session.set_value(1, "install_date", "2023/07/08").value == pd.Timestamp("2023-07-08")
    assert session.set_value(1, "power_w", "88").value == 88.0


# --- commit --------------------------------------------------------------------------------

def test_commit_then_reopen_with_pyogrio_shows_new_values_and_change_log(gpkg):
    layer = lights(gpkg)
    session = start_editing(layer, user="张工")
    old = pyogrio.read_dataframe(gpkg, layer="streetlights", fid_as_index=True)
    session.set_value(1, "status", "维修中")
    session.set_values([2, 3], {"install_date": "2024-03-01", "owner": "青岛市市南区测试中心"})
    session.set_value(4, "power_w", None)
    started = datetime.now(timezone.utc)
    result = session.commit()
    assert result.ok and result.features == 4 and result.cells == 6
    assert UUID4.match(result.commit_id)
    assert not session.has_changes and session.stack.is_clean

    new = pyogrio.read_dataframe(gpkg, layer="streetlights", fid_as_index=True)
    assert new.loc[1, "status"] == 3
    assert (new.loc[[2, 3], "install_date"] == pd.Timestamp("2024-03-01")).all()
    assert (new.loc[[2, 3], "owner"] == "青岛市市南区测试中心").all()
    assert pd.isna(new.loc[4, "power_w"])
    untouched = ~new.index.isin([1, 2, 3, 4])
    pd.testing.assert_frame_equal(new[untouched], old[untouched])
    assert new.geometry.equals(old.geometry)

    log = pyogrio.read_dataframe(gpkg, layer=CHANGE_LOG_TABLE)
    assert len(log) == 6
    assert set(log["commit_id"]) == {result.commit_id} and set(log["user"]) == {"张工"}
    assert set(log["layer"]) == {"streetlights"}
    stamp = log["committed_at"].iloc[0]
    assert str(stamp.tz) == "UTC" and started - timedelta(seconds=1) <= stamp <= datetime.now(timezone.utc)
    cells = {(int(r.feature_fid), r.field): (r.old_value, r.new_value) for r in log.itertuples()}
    assert cells[(1, "status")] == (str(old.loc[1, "status"]), "3")
    assert cells[(2, "install_date")] == (old.loc[2, "install_date"].strftime("%Y-%m-%dT%H:%M:%S.000"),
                                          "2024-03-01T00:00:00.000")
    assert cells[(3, "owner")] == (old.loc[3, "owner"], "青岛市市南区测试中心")
    assert cells[(4, "power_w")][0] == repr(float(old.loc[4, "power_w"])) and pd.isna(cells[(4, "power_w")][1])
    assert read_change_log(gpkg, commit_id=result.commit_id)[0]["commit_id"] == result.commit_id

    # a fresh load shows exactly what the session showed
    reloaded = lights(gpkg)
    pd.testing.assert_frame_equal(attributes(reloaded), attributes(layer))


def test_undo_after_commit_buffers_the_reverse_change(gpkg):
    layer = lights(gpkg)
    original = int(layer.frame.loc[10, "status"])
    session = start_editing(layer)
    session.set_value(10, "status", 4 if original != 4 else 2)
    first = session.commit()
    session.undo()
    assert session.has_changes and layer.frame.loc[10, "status"] == original
    second = session.commit()
    assert second.commit_id != first.commit_id and second.cells == 1
    assert file_rows(gpkg, "streetlights", ["status"], [10])[10] == (original,)


def test_gdal_still_reads_the_edited_geopackage(gpkg):
    before_info = {n: pyogrio.read_info(gpkg, layer=n)["features"] for n in ORIGINAL_LAYERS}
    con = sqlite3.connect(gpkg)
    geom_hash = hashlib.sha256(b"".join(r[0] for r in con.execute("SELECT geom FROM streetlights ORDER BY fid")))
    rtree_before = con.execute("SELECT * FROM rtree_streetlights_geom ORDER BY id").fetchall()
    con.close()
    layer = lights(gpkg)
    session = start_editing(layer)
    session.set_values(layer.fids, {"status": "故障", "maintainer": "测试"})
    cells = session.buffer.cell_count  # cells already holding the new value are not changes
    result = session.commit()
    assert result.features == len(layer.fids) and result.cells == cells > len(layer.fids)

    names = [str(n) for n in pyogrio.list_layers(gpkg)[:, 0]]
    assert names == ORIGINAL_LAYERS + [CHANGE_LOG_TABLE]
    assert {n: pyogrio.read_info(gpkg, layer=n)["features"] for n in ORIGINAL_LAYERS} == before_info
    assert pyogrio.read_info(gpkg, layer=CHANGE_LOG_TABLE)["features"] == cells
    con = sqlite3.connect(gpkg)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert hashlib.sha256(b"".join(r[0] for r in con.execute("SELECT geom FROM streetlights ORDER BY fid"))
                          ).digest() == geom_hash.digest()
    assert con.execute("SELECT * FROM rtree_streetlights_geom ORDER BY id").fetchall() == rtree_before
    assert con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = ?",
                       (CHANGE_LOG_TABLE,)).fetchone() == ("attributes",)
    con.close()
    # GDAL's own client, when installed, lists the same layers and counts
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo:
        out = subprocess.run([ogrinfo, "-so", "-al", str(gpkg)], capture_output=True, text=True, check=True).stdout
        counts = dict(re.findall(r"Layer name: (\S+)\n(?:.*\n)*?Feature Count: (\d+)", out))
        assert {n: int(counts[n]) for n in ORIGINAL_LAYERS} == before_info
        assert int(counts[CHANGE_LOG_TABLE]) == cells


def test_attribute_table_without_geometry_can_be_edited(gpkg):
    src = LayerSource(gpkg, layer="smart_pole_devices", feature_class="smart_pole_device", name="杆载设备")
    layer = load_layer(src).layer
    session = start_editing(layer)
    session.set_values([1, 2], {"device_type": layer.frame.loc[3, "device_type"], "mount_height": 7.5})
    result = session.commit()
    assert result.features == 2
    frame = pyogrio.read_dataframe(gpkg, layer="smart_pole_devices", fid_as_index=True)
    assert (frame.loc[[1, 2], "mount_height"] == 7.5).all()


def test_failed_commit_keeps_the_buffer_for_a_retry(gpkg):
    layer = lights(gpkg)
    session = EditSession(layer, busy_timeout_s=0.05)
    session.set_value(5, "status", 2 if layer.frame.loc[5, "status"] != 2 else 3)
    other = sqlite3.connect(gpkg, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program is writing
    with pytest.raises(EditError, match=r"^路灯: commit failed, nothing written, edits kept: .*locked"):
        session.commit()
    assert session.has_changes and session.is_modified(5, "status")
    other.execute("ROLLBACK")
    other.close()
    assert session.commit().features == 1
    assert not session.has_changes


# --- conflicts -----------------------------------------------------------------------------

def test_two_sessions_on_one_file_refuse_conflicting_features_and_commit_the_rest(gpkg):
    mine = start_editing(lights(gpkg, "路灯A"), user="甲")
    theirs = start_editing(lights(gpkg, "路灯B"), user="乙")
    mine.set_values([1, 2], {"status": 2})
    mine.set_value(3, "owner", "甲单位")  # they change another field of the same feature: no conflict
    mine.set_value(4, "power_w", 99)  # they set the same value: no conflict
    mine.set_value(6, "status", 3)
    theirs.set_value(1, "status", 4)
    theirs.set_value(3, "maintainer", "乙单位")
    theirs.set_value(4, "power_w", 99)
    theirs.set_value(6, "status", 4)
    assert theirs.commit().features == 4

    result = mine.commit()
    assert sorted(result.committed_fids.tolist()) == [2, 3, 4]
    assert result.refused_fids.tolist() == [1, 6]
    assert [(c.fid, c.field, c.original, c.mine, c.theirs) for c in result.conflicts] == [
        (1, "status", 1, 2, 4), (6, "status", 1, 3, 4)]
    assert str(result.conflicts[0]) == ("路灯A: feature 1 field 'status' (状态): changed by another program from "
                                        "1 正常 to 4 停用; your value 2 故障 was not saved")
    assert mine.is_modified(1, "status") and mine.is_modified(6, "status") and not mine.is_modified(2)
    rows = file_rows(gpkg, "streetlights", ["status", "owner", "maintainer", "power_w"], [1, 2, 3, 4, 6])
    assert rows[1][0] == 4 and rows[6][0] == 4 and rows[2][0] == 2
    assert rows[3][1:3] == ("甲单位", "乙单位") and rows[4][3] == 99.0
    assert not result.ok and "2 feature(s) refused" in result.summary()

    mine.resolve([1], keep="mine")
    mine.resolve([6], keep="theirs")
    assert mine.value(6, "status") == 4 and not mine.is_modified(6)
    again = mine.commit()
    assert again.ok and again.committed_fids.tolist() == [1]
    assert file_rows(gpkg, "streetlights", ["status"], [1, 6]) == {1: (2,), 6: (4,)}
    log = read_change_log(gpkg)
    assert [(r["user"], r["feature_fid"], r["old_value"], r["new_value"]) for r in log
            if r["field"] == "status" and r["feature_fid"] == 1] == [("乙", 1, "1", "4"), ("甲", 1, "4", "2")]


def test_feature_deleted_by_another_program_is_reported(gpkg):
    session = start_editing(lights(gpkg))
    session.set_values([11, 12], {"status": 2})
    con = sqlite3.connect(gpkg)
    con.execute("DELETE FROM streetlights WHERE fid = 11")
    con.commit()
    con.close()
    result = session.commit()
    assert result.committed_fids.tolist() == [12] and result.refused_fids.tolist() == [11]
    assert result.conflicts[0].deleted and "deleted by another program" in str(result.conflicts[0])
    session.resolve(keep="mine")  # nothing to keep: the edit of the deleted feature is dropped
    assert not session.has_changes


# --- session rules -------------------------------------------------------------------------

def test_session_rules(gpkg, tmp_path):
    layer = lights(gpkg)
    with start_editing(layer) as session:
        assert editing_session(layer) is session
        with pytest.raises(EditError, match="already in edit mode"):
            start_editing(layer)
        session.set_value(1, "owner", "某单位")
        with pytest.raises(EditError, match=r"1 uncommitted edit\(s\)"):
            session.close()
    assert editing_session(layer) is None and layer.frame.loc[1, "owner"] != "某单位"
    with pytest.raises(EditError, match="session is closed"):
        session.set_value(1, "owner", "x")
    geojson = tmp_path / "lights.geojson"
    pyogrio.write_dataframe(layer.frame.head(3).reset_index(), geojson)
    plain = load_layer(LayerSource(geojson)).layer
    with pytest.raises(EditError, match=r"'lights.geojson' is not a GeoPackage; only GeoPackage layers"):
        start_editing(plain)


def test_layer_without_catalogue_class_is_checked_by_column_type(gpkg):
    layer = load_layer(LayerSource(gpkg, layer="smart_pole_devices")).layer  # no feature class
    assert str(layer.frame["status"].dtype) == "int32"
    original = int(layer.frame.loc[1, "status"])
    session = start_editing(layer)
    with pytest.raises(EditError, match=r"^smart_pole_devices: field 'status': 'abc' is not a number$"):
        session.set_value(1, "status", "abc")
    with pytest.raises(EditError, match=r"^smart_pole_devices: field 'install_date': 'soon' is not a date"):
        session.set_value(1, "install_date", "soon")
    session.set_values([1, 2], {"status": None, "mount_height": "6.5", "install_date": "2025-01-02"})
    assert str(layer.frame["status"].dtype) == "Int64" and pd.isna(layer.frame.loc[1, "status"])
    session.undo()
    assert layer.frame.loc[1, "status"] == original and not session.has_changes
    session.redo()
    assert session.commit().features == 2
    rows = file_rows(gpkg, "smart_pole_devices", ["status", "mount_height", "install_date"], [1, 2])
    assert rows[1] == (None, 6.5, "2025-01-02T00:00:00.000")
