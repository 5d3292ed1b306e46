"""Catalogue consistency, column mapping, coercion and validation messages (model tier, no display)."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pytest

from qdt.cim import catalogue, coerce_table, component_codes, load_catalogue, pipe_networks, validate_table
from qdt.cim import validate_value as check_value
from qdt.cim.schema import DATA_DIR, CatalogueError
from qdt.cim.validate import MAX_ROW_ISSUES


def table(data, fids=None):
    n = len(next(iter(data.values())))
    return pd.DataFrame(data, index=pd.Index(list(fids) if fids is not None else range(1, n + 1), name="fid"))


def messages(issues):
    return [i.message for i in issues]


# --- the catalogue as data ------------------------------------------------------------------------------
def test_catalogue_is_consistent():
    cat = catalogue()
    assert set(cat.categories) == {"时空基础", "资源调查", "规划管控", "工程建设项目", "物联感知", "公共专题"}
    assert list(cat.levels) == [f"CIM{i}" for i in range(1, 8)]
    for cls in cat.classes.values():
        assert cls.category in cat.categories and cls.level in cat.levels, cls.name
        seen: dict[str, str] = {}
        for f in cls.fields:
            assert f.zh and f.en and f.type in ("str", "int", "float", "date", "bool"), (cls.name, f.name)
            if f.codelist:
                assert cat.codelist(f.codelist).dtype == f.type, (cls.name, f.name)
            for alias in (f.name, *f.aliases):
                assert seen.setdefault(alias.lower(), f.name) == f.name, f"{cls.name}: {alias} used twice"
    for cl in cat.codelists.values():
        codes = [str(e.code) for e in cl.entries]
        assert len(codes) == len(set(codes)) and all(e.zh and e.en for e in cl.entries), cl.name
        for e in cl.entries:
            assert e.colour is None or (len(e.colour) == 3 and all(0 <= c <= 255 for c in e.colour)), cl.name
    # levels after CIM.md: LOD1 buildings and roads are CIM2, facilities and pipe segments CIM6 components
    assert cat.feature_class("building").level == cat.feature_class("road").level == "CIM2"
    assert {cat.feature_class(n).level for n in ("streetlight", "pipe", "manhole", "cabinet", "smart_pole")} == {"CIM6"}
    assert cat.feature_class("smart_pole_device").geometry is None


def test_status_colours_and_lamp_types():
    cat = catalogue()
    status = cat.codelist("facility_status")
    assert [(e.code, e.zh, e.en) for e in status.entries] == [
        (1, "正常", "Normal"), (2, "故障", "Fault"), (3, "维修中", "Under repair"), (4, "停用", "Out of service")]
    green, red, orange, grey = (status.colour(c) for c in (1, 2, 3, 4))
    assert green[1] > max(green[0], green[2]) and red[0] > max(red[1], red[2]) and orange[0] > orange[1] > orange[2]
    assert max(grey) - min(grey) < 30
    assert {e.zh for e in cat.codelist("lamp_type").entries} == {"LED", "高压钠灯", "金卤灯", "无极灯"}
    assert [e.zh for e in cat.codelist("road_class").entries] == ["快速路", "主干路", "次干路", "支路"]


def test_pipe_code_lists_agree_with_the_cjj61_table():
    cat = catalogue()
    nets = pipe_networks()
    network = cat.codelist("pipe_network")
    assert [e.code for e in network.entries] == list(nets) == ["JS", "PS", "RQ", "RL", "DL", "TX", "GY", "QT"]
    for e in network.entries:
        net = nets[e.code]
        assert (e.colour, e.zh, e.extra["cjj_code"]) == (net.colour, net.zh, net.cjj_code)
    subtype = cat.codelist("pipe_subtype")
    assert subtype.parent == "pipe_network"
    assert {(e.parent, e.code, e.zh) for e in subtype.entries} == {
        (n.code, s.code, s.zh) for n in nets.values() for s in n.subtype_table}
    assert [(s.code, s.zh) for s in nets["PS"].subtype_table] == [("YS", "雨水"), ("WS", "污水"), ("HS", "雨污合流")]
    assert nets["DL"].subtype("LD").zh == "路灯" and nets["QT"].subtype("ZH").zh == "综合管沟"


def test_manhole_covers_are_gbt_30428_components():
    codes = component_codes()
    for e in catalogue().codelist("manhole_cover_type").entries:
        assert codes[e.code]["zh"] == e.zh
    assert codes["0101"]["verified"] and codes["0102"]["verified"] and not codes["0105"]["verified"]


def test_a_broken_catalogue_is_refused_with_one_line(tmp_path):
    doc = json.loads((DATA_DIR / "catalogue.json").read_text("utf-8"))
    doc["classes"]["streetlight"]["fields"][2]["codelist"] = "lamp_typo"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert str(caught.value) == "class 'streetlight' field 'lamp_type': unknown code list 'lamp_typo'"
    doc["classes"]["streetlight"]["fields"][2]["codelist"] = "lamp_type"
    doc["codelists"]["facility_status"]["entries"][1]["colour"] = [300, 0, 0]
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    with pytest.raises(CatalogueError, match=r"code list 'facility_status' code 2: colour \[300, 0, 0\]"):
        load_catalogue(path)


# --- column mapping ---------------------------------------------------------------------------------------
def test_map_columns_finds_chinese_abbreviated_and_shapefile_names():
    lights = catalogue().feature_class("streetlight")
    mapping = lights.map_columns(["BM", "灯杆编号", " 状态 ", "INSTALL_DA", "POLE_HEIGH", "gl", "CABINET_CO", "备注"])
    assert mapping == {"BM": "code", "灯杆编号": "pole_code", " 状态 ": "status", "INSTALL_DA": "install_date",
                       "POLE_HEIGH": "pole_height", "gl": "power_w", "CABINET_CO": "cabinet_code"}
    buildings = catalogue().feature_class("building")
    assert buildings.map_columns(["HEIGHT", "高度", "GD"]) == {"HEIGHT": "height"}  # one column per field
    assert buildings.map_columns(["GD", "FLOORS", "BASE_ELEVA"]) == {"GD": "height", "FLOORS": "floors",
                                                                    "BASE_ELEVA": "base_elevation"}
    pipes = catalogue().feature_class("pipe")
    assert pipes.map_columns(["管径", "DEPTH_STAR", "终点埋深", "管线小类"]) == {
        "管径": "diameter_mm", "DEPTH_STAR": "depth_start", "终点埋深": "depth_end", "管线小类": "subtype"}


# --- coercion --------------------------------------------------------------------------------------------
def test_coerce_accepts_labels_text_numbers_and_date_forms():
    cls = catalogue().feature_class("streetlight")
    frame = table({
        "status": ["故障", "Out of service", "3", 1.0, "fault", None],
        "lamp_type": ["高压钠灯", "LED", "metal halide", None, "HPS", ""],
        "power_w": ["120", " 80.5 ", 60, None, "", 150.0],
        "heads": ["2", 1.0, None, 2, "1", 1],
        "install_date": ["2021-05-03", "2021/05/03", "20210503", datetime.date(2021, 5, 3), 20210503, "2021年5月3日"],
    })
    out, issues = coerce_table(cls, frame, "路灯")
    assert issues == []
    assert out["status"].tolist()[:5] == [2, 4, 3, 1, 2] and pd.isna(out["status"].iloc[5])
    assert str(out["status"].dtype) == "Int64"
    assert out["lamp_type"].tolist() == ["HPS", "LED", "MH", None, "HPS", None]
    assert out["power_w"].tolist()[:3] == [120.0, 80.5, 60.0] and out["power_w"].isna().tolist()[3:5] == [True, True]
    assert out["heads"].tolist()[:2] == [2, 1]
    assert (out["install_date"] == pd.Timestamp("2021-05-03")).all()
    # a code read from a DBF numeric column keeps no '.0'
    out, _ = coerce_table(cls, table({"code": [3702020110000001.0, np.nan]}), "路灯")
    assert out["code"].tolist() == ["3702020110000001", None]


def test_coerce_reports_what_it_cannot_convert():
    out, issues = coerce_table(catalogue().feature_class("building"),
                               table({"height": ["12.5", "abc", 30], "floors": [3, 4.5, "x"]}), "buildings")
    assert messages(issues) == [
        "buildings: field 'height' (高度) of feature 2: 'abc' is not a number",
        "buildings: field 'floors' (层数) of feature 3: 'x' is not a number",
        "buildings: field 'floors' (层数) of feature 2: 4.5 is not a whole number",
    ]
    assert [(i.fid, i.value, i.rule) for i in issues] == [(2, "abc", "type"), (3, "x", "type"), (2, 4.5, "type")]
    assert out["height"].iloc[0] == 12.5 and out["height"].isna().tolist() == [False, True, False]
    assert out["floors"].isna().tolist() == [False, True, True]
    _, issues = coerce_table(catalogue().feature_class("streetlight"),
                             table({"install_date": ["2021-13-40", "yesterday"]}, [7, 8]), "路灯")
    assert messages(issues) == [
        "路灯: field 'install_date' (安装日期) of feature 7: '2021-13-40' is not a date (use YYYY-MM-DD)",
        "路灯: field 'install_date' (安装日期) of feature 8: 'yesterday' is not a date (use YYYY-MM-DD)"]


# --- validation rules -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cls_name", "column", "value", "rule", "message"), [
    ("building", "height", "abc", "type", "buildings: field 'height' (高度) of feature 5: 'abc' is not a number"),
    ("building", "height", 800.0, "range",
     "buildings: field 'height' (高度) of feature 5: 800 is above the maximum 700 m"),
    ("building", "height", -2.5, "range",
     "buildings: field 'height' (高度) of feature 5: -2.5 is below the minimum 0 m"),
    ("building", "height", None, "required", "buildings: field 'height' (高度) of feature 5: a value is required"),
    ("streetlight", "status", 7, "codelist", "buildings: field 'status' (状态) of feature 5: 7 is not in the code list "
                                             "设施状态 (1 正常, 2 故障, 3 维修中, 4 停用)"),
    ("streetlight", "install_date", "2021-02-30", "type", "buildings: field 'install_date' (安装日期) of feature 5: "
                                                          "'2021-02-30' is not a date (use YYYY-MM-DD)"),
    ("streetlight", "code", "37020201100001", "pattern", "buildings: field 'code' (对象编码) of feature 5: "
                                                         "'37020201100001' does not match the pattern ^\\d{16}$"),
    ("streetlight", "pole_code", "P" * 40, "length", "buildings: field 'pole_code' (灯杆编号) of feature 5: "
                                                     f"'{'P' * 40}' is longer than 32 characters"),
    ("streetlight", "heads", 1.5, "type", "buildings: field 'heads' (灯头数) of feature 5: 1.5 is not a whole number"),
])
def test_each_rule_has_its_message(cls_name, column, value, rule, message):
    cls = catalogue().feature_class(cls_name)
    issues = [i for i in validate_table(cls, table({column: np.array([value], dtype=object)}, [5]), "buildings")
              if i.field == column]
    assert [(i.rule, i.message, i.fid) for i in issues] == [(rule, message, 5)]


def test_missing_required_fields_are_named_once():
    cls = catalogue().feature_class("streetlight")
    issues = validate_table(cls, table({"pole_code": ["A", "B"]}), "路灯")
    assert messages(issues) == ["路灯: required field 'code' (对象编码) is missing",
                                "路灯: required field 'status' (状态) is missing"]
    assert all(i.fid is None and i.rule == "required" for i in issues)


def test_subtype_must_belong_to_the_network_and_network_fields_to_their_network():
    cls = catalogue().feature_class("pipe")
    frame = table({"network": ["JS", "PS", "RQ", "DL"], "subtype": ["YS", "YS", "TR", "LD"],
                   "pressure": [None, "MA", "MA", None], "voltage_kv": [10.0, None, None, 0.38]}, [11, 12, 13, 14])
    issues = validate_table(cls, frame, "pipes")
    parent = [i for i in issues if i.rule == "parent"]
    assert messages(parent) == ["pipes: field 'subtype' (管线小类) of feature 11: 'YS' is a sub-type of network "
                                "'PS' (排水), not of the row's network"]
    # gas pressure and voltage are only checked where they apply; elsewhere they are not judged
    assert not [i for i in issues if i.field in ("pressure", "voltage_kv")]
    bad = table({"network": ["RQ", "JS"], "pressure": ["XX", "XX"]}, [1, 2])
    assert [i.fid for i in validate_table(cls, bad, "pipes") if i.field == "pressure"] == [1]


def test_many_bad_rows_give_capped_messages_and_one_summary():
    cls = catalogue().feature_class("streetlight")
    n = 50_000
    frame = table({"status": np.where(np.arange(n) % 2 == 0, 9, 1), "code": ["3702020110000001"] * n,
                   "pole_code": ["SN-001"] * n})
    issues = validate_table(cls, frame, "路灯")
    assert len(issues) == MAX_ROW_ISSUES + 1
    assert issues[0].message.startswith("路灯: field 'status' (状态) of feature 1: 9 is not in the code list")
    assert issues[-1].fid is None and issues[-1].message == (
        f"路灯: field 'status' (状态): {n // 2 - MAX_ROW_ISSUES} more features break the same rule "
        "(codelist; e.g. features 41, 43, 45, 47, 49)")


def test_validate_value_is_what_an_editor_asks():
    cls = catalogue().feature_class("streetlight")
    assert check_value(cls, "status", "维修中") is None and check_value(cls, "status", 3) is None
    assert check_value(cls, "power_w", "150") is None
    issue = check_value(cls, "power_w", "12 W")
    assert (issue.fid, issue.rule, issue.message) == (
        None, "type", "streetlight: field 'power_w' (额定功率): '12 W' is not a number")
    assert check_value(cls, "pole_height", 60).message == \
        "streetlight: field 'pole_height' (灯杆高度): 60 is above the maximum 40 m"
    with pytest.raises(KeyError, match="class 'streetlight' has no field 'height'"):
        check_value(cls, "height", 3)


def test_former_codes_are_read_as_the_current_ones():
    """Sub-types moved to the CJJ 61 letters and device types to readable codes; old data still loads."""
    cat = catalogue()
    subtype, device = cat.codelist("pipe_subtype"), cat.codelist("device_type")
    assert [subtype.code_for(v) for v in ("PEI", "XF", "ZHGG", "jp", "配水")] == ["JP", "XS", "ZH", "JP", "JP"]
    assert [device.code_for(v) for v in ("LIGHT", "CAM", "5G", "SIGNAL", "交通信号灯")] == [
        "lighting", "camera", "5g", "traffic_signal", "traffic_signal"]
    assert subtype.code_for("YX") == "YX"  # a current code (乙烯) wins over a former meaning
    out, issues = coerce_table(cat.feature_class("pipe"), table({"network": ["JS", "TX"], "subtype": ["PEI", "DX"]}),
                               "pipes")
    assert issues == [] and out["subtype"].tolist() == ["JP", "DH"]
    assert [i.rule for i in validate_table(cat.feature_class("pipe"), out, "pipes")] == ["required"]  # only 'code'
