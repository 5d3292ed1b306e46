"""Standards tables kept as data: GB 50289-2016 clearances, CJJ 61-2017 networks (model tier)."""

from __future__ import annotations

import pytest

from qdt.cim import clearance_rules, pipe_networks, required_clearance
from qdt.cim.standards import network_code


@pytest.mark.parametrize(("diameter", "expected"), [(100, 1.0), (200, 1.0), (201, 1.5), (600, 1.5)])
def test_water_to_sewer_depends_on_the_water_diameter(diameter, expected):
    """GB 50289-2016 Table 4.1.9: 1.0 m for water d ≤ 200 mm, 1.5 m above."""
    assert required_clearance("JS", "PS", diameter_mm=diameter).min_m == expected
    assert required_clearance("WS", "给水", attrs_b={"diameter_mm": diameter}).min_m == expected  # either order
    assert required_clearance("YS", "JS", attrs_b={"diameter_mm": diameter}).min_m == expected  # storm too


def test_unknown_deciding_attribute_gives_the_strictest_row():
    assert required_clearance("JS", "PS").min_m == 1.5
    assert required_clearance("PS", "RQ").min_m == 2.0


@pytest.mark.parametrize(("pressure", "expected"), [
    ("L", 1.0), ("低压", 1.0), ("MB", 1.2), ("中压A", 1.2), ("SHB", 1.5), ("次高压A", 2.0)])
def test_sewer_to_gas_depends_on_the_pressure_class(pressure, expected):
    rule = required_clearance("RQ", "PS", attrs_a={"pressure": pressure})
    assert rule.min_m == expected and rule.table == "4.1.9" and rule.verified


def test_gas_to_telecom_depends_on_burial_and_pressure():
    assert required_clearance("RQ", "TX", attrs_a={"pressure": "MA"}, attrs_b={"burial": "ZM"}).min_m == 0.5
    assert required_clearance("RQ", "TX", attrs_a={"pressure": "MA"}, attrs_b={"burial": "管块"}).min_m == 1.0
    rule = required_clearance("TX", "RQ", attrs_a={"burial": "ZM"}, attrs_b={"pressure": "L"})
    assert rule.min_m == 0.5 and not rule.verified and rule.citation == "GB 50289-2016 Table 4.1.9"
    # sub-high pressure gas is outside the rows CIM.md lists for telecom: no rule rather than a guess
    assert required_clearance("RQ", "TX", attrs_a={"pressure": "SHA"}) is None


def test_vertical_clearances_and_pairs_without_rules():
    assert required_clearance("JS", "PS", kind="vertical").min_m == 0.40
    assert required_clearance("燃气", "热力", kind="vertical").min_m == 0.15
    assert required_clearance("RQ", "DL", kind="vertical", attrs_b={"burial": "ZM"}).min_m == 0.50
    assert required_clearance("DL", "TX", kind="vertical").citation == "GB 50289-2016 Table 4.1.14"
    # cables: the vertical rule depends on the burial (direct-buried 0.50 m, in conduit or duct 0.25 m)
    direct, conduit = {"burial": "ZM"}, {"burial": "GM"}
    assert required_clearance("DL", "TX", kind="vertical", attrs_a=direct, attrs_b=direct).min_m == 0.50
    assert required_clearance("DL", "TX", kind="vertical", attrs_a=conduit, attrs_b=direct).min_m == 0.25
    assert required_clearance("RQ", "DL", kind="vertical", attrs_b={"burial": "GK"}).min_m == 0.25
    assert required_clearance("building", "WS").min_m == 2.5
    assert required_clearance("JS", "TX") is None and required_clearance("JS", "JS") is None
    with pytest.raises(ValueError, match="kind must be 'horizontal' or 'vertical', not 'diagonal'"):
        required_clearance("JS", "PS", kind="diagonal")


def test_rules_are_data_with_source_and_verified_flag():
    rules = clearance_rules()
    assert {r.kind for r in rules} == {"horizontal", "vertical"}
    assert all(r.source == "GB 50289-2016" and r.table in ("4.1.9", "4.1.14") for r in rules)
    verified = {(r.network_a, r.network_b) for r in rules if r.verified}
    # CIM.md marks only the drainage rows of Table 4.1.9 (and building ↔ drainage) as verified
    assert verified == {("JS", "PS"), ("PS", "RQ"), ("PS", "TX"), ("PS", "DL"), ("BLDG", "PS")}
    assert not any(r.verified for r in rules if r.kind == "vertical")


def test_network_names():
    assert [network_code(v) for v in ("PS", "js", "ys", "污水", "Gas", "LD", "建筑", "nonsense")] == \
        ["PS", "JS", "PS", "PS", "RQ", "DL", "BLDG", "nonsense"]


def test_cjj61_network_table():
    nets = pipe_networks()
    assert [(n.code, n.cjj_code, n.zh) for n in nets.values()] == [
        ("JS", 1, "给水"), ("PS", 2, "排水"), ("RQ", 3, "燃气"), ("RL", 4, "热力"), ("DL", 5, "电力"),
        ("TX", 6, "通信"), ("GY", 7, "工业"), ("QT", 8, "其他")]
    assert [n.colour for n in nets.values()] == [(0, 255, 255), (76, 57, 38), (255, 0, 255), (255, 128, 0),
                                                 (255, 0, 0), (0, 255, 0), (0, 0, 0), (102, 0, 204)]
    assert nets["PS"].gravity and not nets["JS"].gravity
    assert nets["TX"].typical_depth_m == (0.6, 1.0) and nets["RQ"].typical_depth_m == (0.8, 1.5)
    assert all(n.source.startswith("CJJ 61-2017") and n.verified is False for n in nets.values())
    assert [s.cjj_code for s in nets["JS"].subtype_table] == [f"{i:02d}" for i in range(1, 9)]
