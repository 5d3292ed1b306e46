"""Pipe-network analyses against an independent networkx computation on the same two tables.

The references below read the point and line tables themselves (point numbers as text, valve
states, the 流向 field) and never call QDT's graph code.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from qdt.cli.main import main as cli
from qdt.network import (
    PipeDelivery,
    build_topology,
    check,
    connected,
    isolate,
    open_delivery,
    profile,
    section,
    trace,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_GPKG = ROOT / "sample_data" / "qingdao_shinan.gpkg"


# --- a generated delivery: grid networks, several parts, valves of every state, text numbers with zeros --------
def generated(seed: int, network: str = "JS", size: int = 9, parts: int = 3) -> PipeDelivery:
    rng = np.random.default_rng(seed)
    rows_p, rows_l = [], []
    serial = 0
    for part in range(parts):
        ids = {}
        for i in range(size):
            for j in range(size):
                serial += 1
                no = f"{serial:05d}"  # leading zeros: "00012"
                ids[i, j] = no
                r = rng.random()
                appurt = "valve" if r < 0.35 else "hydrant" if r < 0.45 else "water_meter" if r < 0.5 else None
                status = ("关" if rng.random() < 0.15 else "开") if appurt == "valve" else None
                operable = (rng.random() > 0.15) if appurt == "valve" else None
                rows_p.append({"物探点号": no, "附属物": appurt, "阀门状态": status, "可操作": operable,
                               "地面高程": 10.0 + 0.01 * (i + j),
                               "geometry": shapely.Point(part * 1000 + i * 50, j * 50)})
        for i in range(size):
            for j in range(size):
                for di, dj in ((1, 0), (0, 1)):
                    if (i + di, j + dj) in ids and rng.random() < 0.8:
                        a, b = ids[i, j], ids[i + di, j + dj]
                        if rng.random() < 0.5:
                            a, b = b, a
                        rows_l.append({"起点点号": a, "终点点号": b, "起点埋深": round(rng.uniform(1.0, 2.0), 2),
                                       "终点埋深": round(rng.uniform(1.0, 2.0), 2), "管径": 300.0,
                                       "流向": int(rng.integers(1, 3)) if network == "PS" else None})
    pts = gpd.GeoDataFrame(rows_p, geometry="geometry", crs="EPSG:4549")
    coords = {r["物探点号"]: r["geometry"] for r in rows_p}
    geoms = [shapely.LineString([coords[r["起点点号"]], coords[r["终点点号"]]]) for r in rows_l]
    lns = gpd.GeoDataFrame(rows_l, geometry=geoms, crs="EPSG:4549")
    lns.index = pd.RangeIndex(1, len(lns) + 1, name="fid")
    if network != "PS":
        lns = lns.drop(columns=["流向"])
    return PipeDelivery.from_frames(pts, lns, network=network)


# --- independent references (networkx on the raw tables) -------------------------------------------------------------
def tables(delivery: PipeDelivery) -> tuple[pd.DataFrame, pd.DataFrame]:
    p = delivery.points.copy()
    p["no"] = p["point_no"].astype(str)
    lines = delivery.lines.copy()
    lines["a"], lines["b"] = lines["start_point"].astype(str), lines["end_point"].astype(str)
    lines["length"] = lines.geometry.length
    return p.set_index("no", drop=False), lines


def ref_graph(lines: pd.DataFrame) -> nx.Graph:
    g = nx.Graph()
    for fid, r in lines.iterrows():
        if g.has_edge(r.a, r.b) and g[r.a][r.b]["weight"] <= r.length:
            continue
        g.add_edge(r.a, r.b, weight=r.length, fid=fid)
    return g


def ref_valves(p: pd.DataFrame) -> tuple[set[str], set[str], set[str]]:
    valve = p["appurtenance"].isin(["valve", "valve_chamber"])
    closed = set(p.index[valve & (p["valve_status"] == "closed")])
    inoperable = set(p.index[valve & (p["operable"] == False)])  # noqa: E712 - nullable boolean
    return set(p.index[valve]), closed, inoperable


def ref_isolate(p: pd.DataFrame, lines: pd.DataFrame, fid: int, failed: set[str]) -> dict:
    valves, closed, inoperable = ref_valves(p)
    bounding = {v for v in valves if v in closed or (v not in inoperable and v not in failed)}
    g = nx.MultiGraph()
    for f, r in lines.iterrows():
        g.add_edge(r.a, r.b, key=f)
    seen_nodes: set[str] = set()
    part_lines = {fid}
    stack = [n for n in (lines.loc[fid].a, lines.loc[fid].b) if n not in bounding]
    while stack:
        n = stack.pop()
        if n in seen_nodes:
            continue
        seen_nodes.add(n)
        for _, other, key in g.edges(n, keys=True):
            part_lines.add(key)
            if other not in bounding and other not in seen_nodes:
                stack.append(other)
    ends = set(lines.loc[list(part_lines), "a"]) | set(lines.loc[list(part_lines), "b"])
    boundary = ends & bounding
    return {"valves": sorted(boundary - closed), "closed_valves": sorted(boundary & closed),
            "lines": sorted(int(x) for x in part_lines), "points": sorted(ends - boundary)}


def ref_trace_pressure(p: pd.DataFrame, lines: pd.DataFrame, start: str) -> set[str]:
    _, closed, _ = ref_valves(p)
    g = nx.DiGraph()
    for _, r in lines.iterrows():
        for u, v in ((r.a, r.b), (r.b, r.a)):
            if u not in closed or u == start:
                g.add_edge(u, v)
    return ({start} | nx.descendants(g, start)) if start in g else {start}


def ref_trace_gravity(lines: pd.DataFrame, start: str, direction: str) -> set[str]:
    g = nx.DiGraph()
    for _, r in lines.iterrows():
        u, v = (r.a, r.b) if r["flow"] == 1 else (r.b, r.a)
        g.add_edge(u, v)
    if start not in g:
        return {start}
    return {start} | (nx.descendants(g, start) if direction == "down" else nx.ancestors(g, start))


# --- tests ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_isolation_equals_networkx_with_closed_failed_and_inoperable_valves(seed):
    delivery = generated(seed)
    topo = build_topology(delivery)
    p, lines = tables(delivery)
    valves, closed, inoperable = ref_valves(p)
    assert closed and inoperable, "the generated network has closed and seized valves"
    rng = np.random.default_rng(seed)
    open_valves = sorted(valves - closed)
    for fid in rng.choice(lines.index.to_numpy(), 25, replace=False):
        failed = set(rng.choice(open_valves, 2, replace=False)) if rng.random() < 0.5 else set()
        got = isolate(topo, int(fid), sorted(failed))
        want = ref_isolate(p, lines, int(fid), failed)
        assert got["valves"] == want["valves"]
        assert got["closed_valves"] == want["closed_valves"]
        assert got["lines"] == want["lines"]
        assert got["points"] == want["points"]
        hydrants = int(p.loc[want["points"], "appurtenance"].eq("hydrant").sum())
        assert got["affected"]["hydrants"] == hydrants
        assert got["affected"]["length_m"] == pytest.approx(lines.loc[want["lines"], "length"].sum(), abs=0.01)


@pytest.mark.parametrize("seed", [4, 5])
def test_connected_and_pressure_trace_equal_networkx(seed):
    delivery = generated(seed)
    topo = build_topology(delivery)
    p, lines = tables(delivery)
    g = ref_graph(lines)
    rng = np.random.default_rng(seed)
    names = sorted(p.index)
    assert names[0].startswith("0000"), "point numbers keep their leading zeros"
    parts = nx.number_connected_components(g)
    assert parts >= 3
    for _ in range(30):
        a, b = rng.choice(names, 2, replace=False)
        got = connected(topo, a, b)
        reachable = a in g and b in g and nx.has_path(g, a, b)
        assert got["connected"] == reachable
        if reachable:
            assert got["length_m"] == pytest.approx(nx.shortest_path_length(g, a, b, weight="weight"), abs=1e-3)
            assert got["points"][0] == a and got["points"][-1] == b
            assert sum(lines.loc[got["lines"], "length"]) == pytest.approx(got["length_m"], abs=1e-3)
        got = trace(topo, a, "down")
        assert set(got["points"]) == ref_trace_pressure(p, lines, a)
        assert trace(topo, a, "up")["points"] == got["points"]


def test_gravity_trace_follows_the_surveyed_flow_and_finds_reverse_slopes():
    delivery = generated(6, network="PS")
    topo = build_topology(delivery)
    p, lines = tables(delivery)
    rng = np.random.default_rng(6)
    for start in rng.choice(sorted(p.index), 20, replace=False):
        for direction in ("up", "down"):
            assert set(trace(topo, start, direction)["points"]) == ref_trace_gravity(lines, start, direction)
    # reverse slope: invert rising along the surveyed flow, by the tables' own numbers
    ground = p["ground_elev"]
    inv_a = ground.loc[lines.a].to_numpy() - lines["depth_start"].to_numpy() - 0.0
    inv_b = ground.loc[lines.b].to_numpy() - lines["depth_end"].to_numpy()
    up = np.where(lines["flow"] == 1, inv_a, inv_b)
    down = np.where(lines["flow"] == 1, inv_b, inv_a)
    want = sorted(int(f) for f in lines.index[down > up + 0.005])
    found = sorted(f["lines"][0] for f in check(topo)["findings"] if f["rule"] == "reverse_slope")
    assert want and found == want


@pytest.fixture(scope="module")
def sample():
    delivery = open_delivery(SAMPLE_GPKG)
    return delivery, build_topology(delivery)


def test_sample_analyses_equal_networkx(sample):
    delivery, topo = sample
    p, lines = tables(delivery)
    water = lines[lines.network == "JS"]
    rng = np.random.default_rng(7)
    for fid in rng.choice(water.index.to_numpy(), 15, replace=False):
        assert isolate(topo, int(fid))["valves"] == ref_isolate(p[p.network == "JS"], water, int(fid), set())["valves"]
    storm = lines[(lines.network == "PS") & lines["flow"].notna()]
    for start in rng.choice(sorted(set(storm.a)), 5, replace=False):
        assert set(trace(topo, start, "up", "PS")["points"]) == ref_trace_gravity(storm, start, "up")
    g = ref_graph(water)
    a, b = "JS000100", "JS000200"
    got = connected(topo, a, b, "JS")
    assert got["connected"] == nx.has_path(g, a, b)
    if got["connected"]:
        assert got["length_m"] == pytest.approx(nx.shortest_path_length(g, a, b, weight="weight"), abs=1e-3)


def test_sample_check_finds_every_planted_survey_error(sample):
    _, topo = sample
    report = check(topo)
    counts = report["counts"]
    for rule in ("end_off_point", "missing_point", "unnumbered_end", "duplicate_point", "dangling_end",
                 "components", "reverse_slope", "depth_outlier", "shallow_cover"):
        assert counts[rule] >= 1, rule
    shallow = [f for f in report["findings"] if f["rule"] == "shallow_cover"]
    assert shallow[0]["source"] == "GB 50289-2016 Table 4.1.1" and shallow[0]["verified"] is False
    assert counts["reverse_slope"] == 1 and counts["shallow_cover"] == 1


def test_profile_and_section_on_the_sample(sample):
    delivery, topo = sample
    storm = delivery.lines[(delivery.lines.network == "PS") & (delivery.lines.subtype == "YS")]
    line = storm.iloc[40]
    down = trace(topo, line.start_point if line["flow"] == 1 else line.end_point, "down", "PS")
    outfall = [n for n in down["points"] if topo.appurtenance[topo.node_index(n, "PS")] == "outfall"]
    start = line.start_point if line["flow"] == 1 else line.end_point
    prof = profile(topo, start, outfall[0], "PS")
    assert prof["points"][-1]["appurtenance"] == "outfall"
    # drainage depths are invert depths: the invert is ground − depth at the first point
    seg = prof["segments"][0]
    first = delivery.lines.loc[seg["line"]]
    ground = topo.ground[topo.node_index(prof["points"][0]["point"], "PS")]
    depth = first.depth_start if first.start_point == prof["points"][0]["point"] else first.depth_end
    assert seg["invert_from"] == pytest.approx(ground - depth, abs=1e-3)
    assert seg["top_from"] == pytest.approx(seg["invert_from"] + (first.diameter_mm + 2 * first.wall_mm) / 1000 -
                                            first.wall_mm / 1000, abs=1e-3)
    # a cut across 香港中路 (district x 300) meets every network under it, in order
    x = 533600 + 300.0
    cut = section(topo, f"{x} {3991500 + 660}, {x} {3991500 + 740}")
    order = [r["distance_m"] for r in cut["pipes"]]
    assert order == sorted(order) and {"JS", "PS", "RQ", "TX", "DL"} <= {r["network"] for r in cut["pipes"]}
    assert any(pair["unchecked"] for pair in cut["neighbours"]) or all(pair["required_m"] for pair in cut["neighbours"])
    gas_water = [pr for pr in cut["neighbours"] if set(pr["networks"]) == {"JS", "RQ"}]
    assert gas_water and gas_water[0]["below_minimum"]  # the planted 0.30 m water/gas run (needs 0.5 m)


def test_gbk_shapefile_delivery_with_chinese_fields_opens_and_analyses(tmp_path, sample):
    """A survey firm's delivery: one network, point and line Shapefiles in GBK, Chinese field names, no .cpg."""
    delivery, topo = sample
    pts = delivery.points[delivery.points.network == "JS"]
    lns = delivery.lines[delivery.lines.network == "JS"]
    feature_zh = {"tee": "三通", "cross": "四通", "straight": "直线点", "stub": "预留口"}
    appurt_zh = {"valve": "阀门", "hydrant": "消防栓", "water_meter": "水表"}
    point_table = gpd.GeoDataFrame({
        "物探点号": pts.point_no.astype(str).to_numpy(), "特征": pts.feature.map(feature_zh).to_numpy(),
        "附属物": pts.appurtenance.map(appurt_zh).to_numpy(), "地面高程": pts.ground_elev.to_numpy(),
        "阀门状态": pts.valve_status.map({"open": "开", "closed": "关"}).to_numpy(),
        "可操作": pts.operable.map({True: "是", False: "否"}).astype(object).to_numpy(),
        "所在道路": pts.road_name.to_numpy()}, geometry=pts.geometry.to_numpy(), crs=pts.crs)
    line_table = gpd.GeoDataFrame({
        "起点点号": lns.start_point.astype(str).to_numpy(), "终点点号": lns.end_point.astype(str).to_numpy(),
        "起点埋深": lns.depth_start.to_numpy(), "终点埋深": lns.depth_end.to_numpy(),
        "管径": lns.diameter_mm.to_numpy(), "材质": "球墨铸铁", "埋设方式": "直埋"},
        geometry=lns.geometry.to_numpy(), crs=lns.crs)
    folder = tmp_path / "给水"
    folder.mkdir()
    pyogrio.write_dataframe(point_table, folder / "JS_POINT.shp", encoding="GBK")
    pyogrio.write_dataframe(line_table, folder / "JS_LINE.shp", encoding="GBK")
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()  # as many survey deliveries come: no code page file
    raw = (folder / "JS_POINT.dbf").read_bytes()
    assert "物探点号".encode("gbk") in raw
    fid = int(lns.index[10])
    want = isolate(topo, fid, network="JS")
    shp = open_delivery(folder / "JS_LINE.shp")
    assert set(shp.lines["network"]) == {"JS"}  # from the layer name
    assert shp.points["feature"].dropna().isin(list(feature_zh)).all()  # labels became codes
    got = isolate(build_topology(shp), int(shp.lines.index[10]))  # the same line, by its Shapefile fid
    assert got["valves"] == want["valves"] and got["lines"] != []


def test_cli_json(capsys, tmp_path):
    assert cli(["network", "isolate", str(SAMPLE_GPKG), "--network", "JS", "--line", "45", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"valves", "lines", "points", "affected"} and 45 in doc["lines"]
    assert cli(["network", "connected", str(SAMPLE_GPKG), "--network", "JS", "--from", "JS000046",
                "--to", "JS000047", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"connected", "points", "lines", "length_m"}
    assert cli(["network", "trace", str(SAMPLE_GPKG), "--network", "JS", "--from", "JS000099", "--json"]) == 0
    capsys.readouterr()
    assert cli(["network", "connected", str(SAMPLE_GPKG), "--from", "NOPE", "--to", "JS000047"]) == 2
    assert "no survey point 'NOPE'" in capsys.readouterr().err
    assert cli(["network", "check", str(tmp_path / "missing.gpkg")]) == 2


def test_geopackage_delivery_with_pinyin_abbreviations_and_network_from_layer_names(tmp_path, sample):
    """Field names as survey firms abbreviate them (WTDH, TZ, FSW, QDDH, ZDDH, QDMS, ZDMS, GJ, CZ); the network
    only in the layer names (给水管点 / 给水管线); UTF-8 GeoPackage."""
    delivery, topo = sample
    pts = delivery.points[delivery.points.network == "JS"]
    lns = delivery.lines[delivery.lines.network == "JS"]
    point_table = gpd.GeoDataFrame({
        "WTDH": pts.point_no.astype(str).to_numpy(), "TZ": pts.feature.to_numpy(), "FSW": pts.appurtenance.to_numpy(),
        "DMGC": pts.ground_elev.to_numpy(), "FMZT": pts.valve_status.map({"open": "开", "closed": "关"}).to_numpy(),
        "KCZ": pts.operable.astype(object).to_numpy()}, geometry=pts.geometry.to_numpy(), crs=pts.crs)
    line_table = gpd.GeoDataFrame({
        "QDDH": lns.start_point.astype(str).to_numpy(), "ZDDH": lns.end_point.astype(str).to_numpy(),
        "QDMS": lns.depth_start.to_numpy(), "ZDMS": lns.depth_end.to_numpy(), "GJ": lns.diameter_mm.to_numpy(),
        "CZ": "球墨铸铁"}, geometry=lns.geometry.to_numpy(), crs=lns.crs)
    line_table.index = lns.index
    gpkg = tmp_path / "delivery.gpkg"
    pyogrio.write_dataframe(point_table, gpkg, layer="给水管点")
    pyogrio.write_dataframe(line_table.reset_index(drop=True), gpkg, layer="给水管线")
    got = open_delivery(gpkg)
    assert got.networks == ["JS"] and set(got.lines.material) == {"DI"}
    shp_topo = build_topology(got)
    rng = np.random.default_rng(3)
    for k in rng.choice(len(lns), 10, replace=False):
        want = isolate(topo, int(lns.index[k]), network="JS")
        mine = isolate(shp_topo, int(got.lines.index[k]))
        assert mine["valves"] == want["valves"] and mine["points"] == want["points"]


def test_cli_section_profile_and_check_on_the_project(capsys):
    project = ROOT / "sample_data" / "qingdao_shinan.qdt"
    x = 533600 + 300.0
    assert cli(["network", "section", str(project), "--line", f"{x} 3992176, {x} 3992226", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["distance_m"] for p in doc["pipes"]] == sorted(p["distance_m"] for p in doc["pipes"])
    assert all(p["ground"] is not None for p in doc["pipes"])  # the project's DEM
    assert cli(["network", "profile", str(project), "--network", "PS", "--from", "YS000340", "--to", "YS000332",
                "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["points"][0]["point"] == "YS000340" and doc["points"][-1]["appurtenance"] == "outfall"
    assert all(s["slope_permille"] > 0 for s in doc["segments"])  # falling toward the outfall
    assert cli(["network", "check", str(project), "--network", "给水", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["networks"] == ["JS"] and doc["counts"]["shallow_cover"] == 1
    assert cli(["network", "section", str(project), "--line", "1 2 3"]) == 2
    assert "X1 Y1, X2 Y2" in capsys.readouterr().err
