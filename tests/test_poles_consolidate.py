"""多杆合一 consolidation candidates: the model against an independent computation, the CLI and the exports."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from qdt.cli.main import main as qdt_main
from qdt.layers import VectorLayer
from qdt.poles import ConsolidationError, consolidate_layers, export_plan
from tests.conftest import SAMPLE_GPKG, SAMPLE_PROJECT

POLE_LAYERS = {"smart_poles": "smart_pole", "streetlights": "streetlight",
               "traffic_signal_poles": "traffic_signal_pole", "sign_poles": "sign_pole", "camera_poles": "camera_pole"}
KIND_ORDER = list(POLE_LAYERS.values())


def read(layer):
    return pyogrio.read_dataframe(SAMPLE_GPKG, layer=layer, fid_as_index=True)


def sample_layers():
    layers = [VectorLayer(name, read(name), feature_class=cls) for name, cls in POLE_LAYERS.items()]
    layers.append(VectorLayer("roads", read("roads"), feature_class="road"))
    return layers


# --- the independent computation: plain Python, no scipy, no shapely predicates ---------------------------
def _orient(ax, ay, bx, by, cx, cy):
    v = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    return 0 if abs(v) < 1e-9 else (1 if v > 0 else -1)


def _on_segment(ax, ay, bx, by, cx, cy):
    return min(ax, bx) - 1e-9 <= cx <= max(ax, bx) + 1e-9 and min(ay, by) - 1e-9 <= cy <= max(ay, by) + 1e-9


def segments_touch(p, q, r, s):
    """Do segments pq and rs share a point (touching counts: a pole on the centreline is on both sides)?"""
    o1, o2 = _orient(*p, *q, *r), _orient(*p, *q, *s)
    o3, o4 = _orient(*r, *s, *p), _orient(*r, *s, *q)
    if o1 != o2 and o3 != o4:
        return True
    return ((o1 == 0 and _on_segment(*p, *q, *r)) or (o2 == 0 and _on_segment(*p, *q, *s))
            or (o3 == 0 and _on_segment(*r, *s, *p)) or (o4 == 0 and _on_segment(*r, *s, *q)))


def reference_groups(poles, road_segments, distance):
    """Single linkage within ``distance`` on the same side of every road centreline; groups of ≥ 2 kinds.

    ``poles``: list of (layer, fid, kind, x, y). Returns {frozenset of (layer, fid): (layer, fid) of the site}.
    """
    cells = defaultdict(list)
    for i, (_, _, _, x, y) in enumerate(poles):
        cells[(math.floor(x / distance), math.floor(y / distance))].append(i)
    parent = list(range(len(poles)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (_, _, _, x, y) in enumerate(poles):
        cx, cy = math.floor(x / distance), math.floor(y / distance)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in cells[(cx + dx, cy + dy)]:
                    if j <= i:
                        continue
                    xj, yj = poles[j][3], poles[j][4]
                    if math.hypot(x - xj, y - yj) > distance:
                        continue
                    if any(segments_touch((x, y), (xj, yj), a, b) for a, b in road_segments):
                        continue  # the road centreline separates them
                    parent[find(i)] = find(j)
    components = defaultdict(list)
    for i in range(len(poles)):
        components[find(i)].append(i)
    out = {}
    for members in components.values():
        if len({poles[i][2] for i in members}) < 2:
            continue
        smart = [i for i in members if poles[i][2] == "smart_pole"]
        candidates = smart or members

        def total(i, members=members):
            return sum(math.hypot(poles[i][3] - poles[j][3], poles[i][4] - poles[j][4]) for j in members)

        best = min(candidates, key=lambda i: (round(total(i), 9), KIND_ORDER.index(poles[i][2]), poles[i][1]))
        out[frozenset((poles[i][0], poles[i][1]) for i in members)] = (poles[best][0], poles[best][1])
    return out


def reference_inputs():
    poles = []
    for name, kind in POLE_LAYERS.items():
        frame = read(name)
        xy = shapely.get_coordinates(frame.geometry.to_numpy())
        poles += [(name, int(fid), kind, float(x), float(y)) for fid, (x, y) in zip(frame.index, xy, strict=True)]
    segments = []
    for line in read("roads").geometry:
        coords = list(line.coords)
        segments += [((a[0], a[1]), (b[0], b[1])) for a, b in zip(coords[:-1], coords[1:], strict=True)]
    return poles, segments


@pytest.mark.parametrize("distance", [15.0, 25.0])
def test_groups_equal_an_independent_single_linkage_with_the_side_rule(distance):
    plan = consolidate_layers(sample_layers(), distance)
    poles, segments = reference_inputs()
    expected = reference_groups(poles, segments, distance)
    got = {frozenset(g.members): g.site_member for g in plan.groups}
    assert len(expected) > 50  # the sample plants many candidates
    assert reference_groups(poles, [], distance) != expected  # the side rule changes the groups here
    assert got == expected
    assert plan.poles_before == len(poles)
    assert plan.poles_after == len(poles) - sum(len(m) - 1 for m in expected)
    for g in plan.groups:
        assert len(set(g.member_kinds)) >= 2 and set(g.removed) == set(g.members) - {g.site_member}
        if "smart_pole" in g.kinds:
            assert g.site_is_smart_pole and g.site_member[0] == "smart_poles"


def test_the_road_centreline_separates_sides_and_links_chain():
    """Two poles 6 m apart across a centreline never group; a chain of 10 m links groups three poles 20 m apart."""
    road = gpd.GeoDataFrame({"name": ["测试路"]}, geometry=[shapely.LineString([(0, 0), (200, 0)])], crs="EPSG:4549")
    lights = gpd.GeoDataFrame({"devices": [None, None, None]},
                              geometry=shapely.points([(50, 3), (100, 4), (120, 4)]), crs="EPSG:4549",
                              index=pd.Index([1, 2, 3], name="fid"))
    signs = gpd.GeoDataFrame({"devices": ["交通标志", "交通标志"]}, geometry=shapely.points([(50, -3), (110, 4)]),
                             crs="EPSG:4549", index=pd.Index([1, 2], name="fid"))
    layers = [VectorLayer("lights", lights, feature_class="streetlight"),
              VectorLayer("signs", signs, feature_class="sign_pole"),
              VectorLayer("roads", road, feature_class="road")]
    plan = consolidate_layers(layers, 15.0)
    assert [sorted(g.members) for g in plan.groups] == [[("lights", 2), ("lights", 3), ("signs", 2)]]
    group = plan.groups[0]
    assert group.site_member == ("signs", 2)  # the middle pole: least total distance
    assert group.devices == ["lighting", "traffic_sign"] and group.road == "测试路"
    without_road = consolidate_layers(layers[:2], 15.0)
    assert len(without_road.groups) == 2  # now the pair across the (missing) road links


def test_errors_name_the_problem():
    with pytest.raises(ConsolidationError, match="no pole layers"):
        consolidate_layers([VectorLayer("roads", read("roads"), feature_class="road")])
    with pytest.raises(ConsolidationError, match="positive"):
        consolidate_layers(sample_layers(), -1.0)


def test_cli_json_shape_and_exports(tmp_path, capsys):
    out = tmp_path / "groups.gpkg"
    assert qdt_main(["poles", "consolidate", str(SAMPLE_PROJECT), "--json", "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["distance"] == 15.0 and doc["poles_before"] > doc["poles_after"] > 0
    group = doc["groups"][0]
    assert {"members", "site", "devices"} <= set(group)
    assert set(group["members"][0]) == {"layer", "fid"} and len(group["site"]) == 2
    removed = sum(len(g["members"]) - 1 for g in doc["groups"])
    assert doc["poles_before"] - doc["poles_after"] == removed
    layers = dict(pyogrio.list_layers(out))
    assert layers == {"consolidation_sites": "Point", "consolidation_links": "LineString",
                      "consolidation_members": "Point"}
    sites = pyogrio.read_dataframe(out, layer="consolidation_sites")
    links = pyogrio.read_dataframe(out, layer="consolidation_links")
    assert len(sites) == len(doc["groups"]) and len(links) == removed
    assert np.allclose(shapely.get_coordinates(sites.geometry.to_numpy()), [g["site"] for g in doc["groups"]])
    csv = tmp_path / "groups.csv"
    assert qdt_main(["poles", "consolidate", str(SAMPLE_GPKG), "--out", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "consolidation groups within 15 m" in text and "香港中路" in text
    table = pd.read_csv(csv, encoding="utf-8-sig")
    assert len(table) == len(doc["groups"]) and table["member_count"].sum() == removed + len(doc["groups"])


def test_cli_user_errors(tmp_path, capsys):
    assert qdt_main(["poles", "consolidate", str(SAMPLE_GPKG), "--distance", "0"]) == 2
    assert "--distance must be a positive" in capsys.readouterr().err
    assert qdt_main(["poles", "consolidate", str(SAMPLE_GPKG), "--out", str(tmp_path / "x.shp")]) == 2
    assert "use a file ending in .gpkg or .csv" in capsys.readouterr().err
    plan = consolidate_layers(sample_layers())
    with pytest.raises(ConsolidationError, match="does not exist"):
        export_plan(plan, tmp_path / "missing" / "x.gpkg")


def test_report_section_counts_per_road(tmp_path):
    """``qdt report --poles`` adds the section; its rows add up to the plan (read back with pdftotext)."""
    import subprocess

    from qdt.export.poles_report import ConsolidationSection

    plan = consolidate_layers(sample_layers())
    rows = ConsolidationSection(plan).rows()
    body, total = rows[1:-1], rows[-1]
    assert sum(int(r[1]) for r in body) == len(plan.groups) == int(total[1])
    assert sum(int(r[3]) for r in body) == plan.poles_removed == int(total[3])
    assert {r[0] for r in body} >= {"香港中路", "山东路"}
    out = tmp_path / "report.pdf"
    assert qdt_main(["report", str(SAMPLE_PROJECT), "--out", str(out), "--poles", "--quiet"]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "多杆合一合杆方案" in text and f"拆除 {plan.poles_removed} 根" in text
