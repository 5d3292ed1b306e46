"""CIM catalogue, validation messages and standards tables (model tier, no display)."""

from __future__ import annotations

import pandas as pd
import pytest

from qdt.cim import (
    catalogue,
    clearance_rules,
    coerce_table,
    component_codes,
    pipe_networks,
    required_clearance,
    validate_table,
    validate_value,
)

CLASSES = ["building", "road", "streetlight", "smart_pole", "smart_pole_device", "pipe", "manhole", "cabinet", "zone"]


def frame(data, fids):
    return pd.DataFrame(data, index=pd.Index(fids, name="fid"))


def test_every_class_is_complete_and_consistent():
    cat = catalogue()
    assert set(CLASSES) <= set(cat.classes)
    for name in CLASSES:
        cls = cat.feature_class(name)
        assert cls.zh and cls.en and cls.category and cls.level.startswith("CIM"), name
        for f in cls.fields:
            assert f.zh and f.en, (name, f.name)
            if f.codelist:
                assert cat.codelist(f.codelist).entries, f.codelist
            if f.min is not None and f.max is not None:
                assert f.min < f.max
    assert cat.feature_class("building").level == "CIM2"
    assert cat.feature_class("pipe").level == "CIM6"
    with pytest.raises(KeyError, match="unknown feature class 'lamp'"):
        cat.feature_class("lamp")


def test_status_code_list_has_codes_and_chinese_labels():
    status = catalogue().codelist("facility_status")
    assert [(e.code, e.zh) for e in status.entries] == [(1, "正常"), (2, "故障"), (3, "维修中"), (4, "停用")]
    assert status.label(2) == "故障" and status.label("3") == "维修中" and status.label(2, "en") == "Fault"
    assert status.code_for("停用") == 4 and status.code_for("Fault") == 2 and status.code_for("x") is None


def test_pipe_colours_follow_cjj_61():
    nets = pipe_networks()
    assert nets["JS"].colour == (0, 255, 255) and nets["RQ"].colour == (255, 0, 255)
    assert nets["PS"].colour == (76, 57, 38) and nets["DL"].colour == (255, 0, 0)
    assert catalogue().codelist("pipe_network").colours()["TX"] == (0, 255, 0)
    assert {"YS", "WS"} <= set(nets["PS"].subtypes)


def test_map_columns_by_chinese_and_dbf_aliases():
    cls = catalogue().feature_class("streetlight")
    mapping = cls.map_columns(["BM", "杆号", "状态", "GL", "安装日期", "unrelated"])
    assert mapping == {"BM": "code", "杆号": "pole_code", "状态": "status", "GL": "power_w", "安装日期": "install_date"}
    # a canonical column is never displaced by an alias column
    assert catalogue().feature_class("building").map_columns(["GD", "height"]) == {"height": "height"}


def test_coerce_converts_text_labels_and_dates():
    cls = catalogue().feature_class("streetlight")
    df = frame({"status": ["故障", "1", None], "power_w": ["120", "80.5", ""],
                "install_date": ["2021-05-03", "2019/07/01", "20200102"]}, [5, 6, 7])
    out, issues = coerce_table(cls, df, "路灯")
    assert issues == []
    assert out["status"].tolist()[:2] == [2, 1] and pd.isna(out["status"].iloc[2])
    assert out["power_w"].tolist()[:2] == [120.0, 80.5]
    assert [d.strftime("%Y-%m-%d") for d in out["install_date"]] == ["2021-05-03", "2019-07-01", "2020-01-02"]


def test_text_height_gives_message_naming_layer_field_fid_and_value():
    cls = catalogue().feature_class("building")
    out, issues = coerce_table(cls, frame({"height": ["12.5", "abc"]}, [1, 2]), "buildings")
    assert [i.message for i in issues] == ["buildings: field 'height' (高度) of feature 2: 'abc' is not a number"]
    assert issues[0].fid == 2 and issues[0].value == "abc" and issues[0].rule == "type"
    assert out["height"].iloc[0] == 12.5 and pd.isna(out["height"].iloc[1])


@pytest.mark.parametrize(
    ("cls_name", "data", "expected"),
    [
        ("streetlight", {"status": [9]}, "field 'status' (状态) of feature 3: 9 is not in the code list 设施状态"),
        ("streetlight", {"pole_height": [55.0]},
         "field 'pole_height' (灯杆高度) of feature 3: 55 is above the maximum 40 m"),
        ("streetlight", {"power_w": [-1.0]}, "field 'power_w' (额定功率) of feature 3: -1 is below the minimum 5 W"),
        ("streetlight", {"code": ["12345"]},
         "field 'code' (对象编码) of feature 3: '12345' does not match the pattern"),
        ("streetlight", {"code": [None]}, "field 'code' (对象编码) of feature 3: a value is required"),
        ("streetlight", {"install_date": ["soon"]},
         "field 'install_date' (安装日期) of feature 3: 'soon' is not a date"),
    ],
)
def test_validation_messages_per_rule(cls_name, data, expected):
    cls = catalogue().feature_class(cls_name)
    messages = [i.message for i in validate_table(cls, frame(data, [3]), "路灯")]
    assert any(m.startswith("路灯: " + expected) for m in messages), messages


def test_missing_required_field_is_reported_once():
    cls = catalogue().feature_class("building")
    issues = validate_table(cls, frame({"name": ["x", "y"]}, [1, 2]), "buildings")
    assert [i.message for i in issues] == ["buildings: required field 'height' (高度) is missing"]


def test_conditional_fields_apply_only_to_their_network():
    cls = catalogue().feature_class("pipe")
    df = frame({"network": ["RQ", "JS"], "pressure": ["XX", "XX"]}, [1, 2])
    bad = [i for i in validate_table(cls, df, "pipes") if i.field == "pressure"]
    assert [i.fid for i in bad] == [1]


def test_many_bad_rows_are_capped_with_a_summary():
    cls = catalogue().feature_class("streetlight")
    df = frame({"status": [7] * 100}, range(100))
    issues = [i for i in validate_table(cls, df, "路灯") if i.field == "status"]
    assert len(issues) == 21 and "80 more features" in issues[-1].message


def test_validate_value_for_editors():
    cls = catalogue().feature_class("streetlight")
    assert validate_value(cls, "status", "维修中") is None
    issue = validate_value(cls, "status", 9)
    assert issue.message.startswith("streetlight: field 'status' (状态): 9 is not in the code list")
    assert validate_value(cls, "pole_height", "abc").rule == "type"


def test_clearance_table_gb50289():
    assert required_clearance("JS", "PS", attrs_a={"diameter_mm": 150}).min_m == 1.0
    assert required_clearance("PS", "JS", attrs_b={"diameter_mm": 300}).min_m == 1.5
    assert required_clearance("JS", "PS").min_m == 1.5  # unknown diameter: the stricter row
    assert required_clearance("PS", "RQ", attrs_b={"pressure": "L"}).min_m == 1.0
    assert required_clearance("RQ", "PS", attrs_a={"pressure": "MA"}).min_m == 1.2
    assert required_clearance("RQ", "PS", attrs_a={"pressure": "SHA"}).min_m == 2.0
    rule = required_clearance("PS", "DL")
    assert rule.min_m == 0.5 and rule.table == "4.1.9" and rule.verified
    vertical = required_clearance("JS", "RQ", kind="vertical")
    assert vertical.min_m == 0.15 and not vertical.verified and vertical.citation == "GB 50289-2016 Table 4.1.14"
    assert required_clearance("GY", "QT") is None
    assert all(r.source.startswith("GB 50289") for r in clearance_rules())


def test_component_codes_are_a_loadable_dictionary():
    codes = component_codes()
    assert codes["0101"]["zh"] == "上水井盖" and codes["0101"]["verified"] is True
    assert codes["0103"]["verified"] is False
