"""Deterministic generator of the Qingdao sample base map (a 市南区-style coastal district near 五四广场).

Run ``python -m qdt.cim.sample --out sample_data [--scale N]``. Without ``--scale`` it writes the
committed sample (one district, about 2 km x 1.5 km in EPSG:4549 on the shore of 浮山湾); ``--scale
N`` tiles districts side by side until there are about N buildings (for benchmarks; never commit it).

Everything is built with numpy and shapely array functions; the only Python loops run over roads,
districts and the few landmark buildings, never over features.

Planted clearance violations (for the query issue's clearance check), in every district:

- 香港中路: the gas main (RQ, DN200, medium-pressure B) runs 0.30 m clear of the water main
  (JS, DN300) — GB 50289-2016 Table 4.1.9 asks 0.5 m;
- at the 香港中路 × 山东路 junction the 山东路 gas main crosses 0.05 m below the 香港中路 water main —
  Table 4.1.14 asks 0.15 m.

Elsewhere pipes keep the standard's clearances: fixed lateral positions under each road and, where
roads cross, a depth layer per network (see ``JUNCTION_TOP``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qdt.crs import PROJECT_CRS

SEED = 20260522
DISTRICT_W, DISTRICT_H = 2000.0, 1500.0
ORIGIN = (533600.0, 3991500.0)  # south-west corner of district (0, 0), EPSG:4549
COAST_Y = 400.0  # mean shoreline, metres north of the district's south edge
DEM_CELL, ORTHO_CELL = 2.0, 1.0
# GeoPackage 1.2 rather than GDAL 3.12's default 1.4, so older GDAL (QGIS LTR, Debian 12) reads it without warnings
GPKG_OPTIONS = {"VERSION": "1.2"}

# East-west roads (south to north): name, y offset from the south edge, width, class, lanes
EW_ROADS = [("东海西路", 470.0, 30.0, "ART", 6), ("香港中路", 700.0, 40.0, "ART", 8), ("闽江路", 930.0, 20.0, "SEC", 4),
            ("宁夏路", 1160.0, 24.0, "SEC", 4), ("延安三路", 1390.0, 16.0, "BRA", 2)]
# North-south roads (west to east): name, x offset, width, class, lanes
NS_ROADS = [("福州南路", 150.0, 20.0, "SEC", 4), ("南京路", 420.0, 24.0, "SEC", 4), ("山东路", 690.0, 30.0, "ART", 6),
            ("澳门路", 960.0, 16.0, "BRA", 2), ("燕儿岛路", 1230.0, 30.0, "ART", 6), ("江西路", 1500.0, 16.0, "BRA", 2),
            ("彰化路", 1770.0, 20.0, "SEC", 4)]
STREETS = ["八大湖街道", "香港中路街道", "湛山街道", "金门路街道"]
SURNAMES = list("王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗")
GIVEN = ["建国", "海燕", "志强", "丽华", "晓明", "秀英", "国庆", "文静", "俊杰", "海涛", "玉兰", "德胜"]

# Pipe networks under a road: code, subtype, offset from the centreline (in units of half the
# carriageway for sidewalk networks, else metres), diameter range (mm), top depth range (m), spacing of
# manholes/chambers (m), material, owner, cover type (GB/T 30428.2 minor class)
NETWORKS = [
    ("JS", "PEI", -5.0, (100, 600), (0.9, 1.4), 120.0, "DI", "青岛水务集团有限公司", "0101"),
    ("PS", "YS", 0.0, (400, 1200), (1.2, 2.0), 50.0, "RC", "青岛市市政工程管理处", "0103"),
    ("PS", "WS", -2.4, (300, 600), (1.5, 2.4), 50.0, "HDPE", "青岛市市政工程管理处", "0102"),
    ("RQ", "TR", 3.0, (100, 300), (0.9, 1.3), 120.0, "PE", "华润燃气(青岛)有限公司", "0108"),
    ("RL", "RS", 5.5, (200, 500), (1.0, 1.5), 120.0, "ST", "青岛能源热电集团有限公司", "0109"),
    ("DL", "GD", "sidewalk_east", (200, 300), (0.8, 1.2), 120.0, "CU", "国网山东省电力公司青岛供电公司", "0105"),
    ("DL", "LD", "kerb_east", (50, 100), (0.7, 0.9), 120.0, "CU", "青岛市市政设施服务中心", "0106"),
    ("TX", "XX", "sidewalk_west", (100, 150), (0.7, 1.0), 120.0, "OF",
     "中国移动通信集团山东有限公司青岛分公司", "0107"),
]
TX_OWNERS = ["中国移动通信集团山东有限公司青岛分公司", "中国联合网络通信有限公司青岛市分公司",
             "中国电信股份有限公司青岛分公司"]
DEVICES = [("LIGHT", 9.0, 120.0), ("CAM", 6.0, 25.0), ("5G", 11.0, 450.0), ("WIFI", 5.0, 20.0), ("ENV", 4.0, 10.0),
           ("LED", 3.5, 300.0), ("BRD", 5.5, 60.0), ("EV", 0.0, 7000.0), ("SOS", 1.4, 15.0), ("SIGN", 5.0, 0.0),
           ("SIGNAL", 6.0, 80.0), ("GW", 3.0, 30.0)]
DEVICE_OPERATORS = {"CAM": "青岛市公安局市南分局", "5G": "中国铁塔股份有限公司青岛市分公司",
                    "WIFI": "中国电信股份有限公司青岛分公司", "SIGNAL": "青岛市公安局交通警察支队",
                    "SIGN": "青岛市公安局交通警察支队", "EV": "青岛特来电新能源科技有限公司"}
# Landmark buildings (CityJSON LOD2): name, use, (x, y) offset in the district, (w, d), height, roof
LANDMARKS = [("青岛市人民政府办公大楼", "PUB", (585.0, 1045.0), (110.0, 60.0), 48.0, "stepped"),
             ("颐中皇冠假日酒店", "HOT", (820.0, 770.0), (46.0, 40.0), 118.0, "stepped"),
             ("海信广场", "COM", (1090.0, 780.0), (90.0, 60.0), 36.0, "flat"),
             ("青岛音乐厅", "CUL", (1355.0, 1040.0), (60.0, 44.0), 24.0, "gable"),
             ("市南区文化馆", "CUL", (285.0, 1270.0), (40.0, 30.0), 16.0, "gable")]


def coast_y(x: np.ndarray) -> np.ndarray:
    """Shoreline northing offset (m from the district's south edge) at district x offsets: a curved bay."""
    return COAST_Y + 45.0 * np.sin(x / DISTRICT_W * 2.0 * np.pi * 1.3) - 60.0 * np.exp(-((x - 1100.0) / 260.0) ** 2)


def ground(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Height (1985 datum) at district offsets: beach at 0–2 m rising north to ~45 m, two hills, sea floor."""
    above = y - coast_y(x)
    land = 1.2 + 0.026 * np.clip(above, 0, None) + 14.0 * np.exp(-(((x - 1650) / 230) ** 2 + ((y - 1250) / 200) ** 2))
    land += 9.0 * np.exp(-(((x - 300) / 200) ** 2 + ((y - 1300) / 180) ** 2))
    sea = np.maximum(-8.0, -0.8 + 0.03 * above)
    return np.where(above >= 0, land, sea)


def _names(prefix: list[str] | np.ndarray, numbers: np.ndarray, suffix: str) -> list[str]:
    return [f"{p}{n}{suffix}" for p, n in zip(prefix, numbers, strict=True)]


def _dates(rng: np.random.Generator, n: int, first: int, last: int) -> np.ndarray:
    start = np.datetime64(f"{first}-01-01")
    days = (np.datetime64(f"{last}-12-31") - start).astype(int)
    return (start + rng.integers(0, days, n).astype("timedelta64[D]")).astype("datetime64[ms]")


def _status(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([1, 2, 3, 4], size=n, p=[0.88, 0.05, 0.04, 0.03]).astype(np.int32)


def _code(division: str, major_minor: str, serial: np.ndarray) -> list[str]:
    """16-digit object code: division (6) + major and minor class (4) + serial (6) — GB/T 30428.2."""
    return [f"{division}{major_minor}{s:06d}" for s in serial]


class District:
    """One district tile at offset (dx, dy) in metres from ORIGIN."""

    def __init__(self, index: int, dx: float, dy: float) -> None:
        self.index, self.dx, self.dy = index, dx, dy

    def world(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x + ORIGIN[0] + self.dx, y + ORIGIN[1] + self.dy


def _roads(d: District) -> pd.DataFrame:
    rows = []
    for name, y, w, cls, lanes in EW_ROADS:
        x0 = 0.0 if name != "东海西路" else 0.0
        rows.append((name, "EW", x0, y, DISTRICT_W, y, w, cls, lanes))
    for name, x, w, cls, lanes in NS_ROADS:
        rows.append((name, "NS", x, EW_ROADS[0][1], x, DISTRICT_H, w, cls, lanes))  # from the coastal road north
    return pd.DataFrame(rows, columns=["name", "dir", "x0", "y0", "x1", "y1", "width", "road_class", "lanes"])


def _along(roads: pd.DataFrame, spacing: float, offset: np.ndarray, phase: float = 0.5,
           junction_gap: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` m along each road at lateral ``offset`` (per road); returns x, y, road index.

    Points within ``junction_gap`` (+ half the crossing road's width) of a crossing road are dropped.
    """
    xs, ys, ri = [], [], []
    for i, r in enumerate(roads.itertuples()):
        length = abs(r.x1 - r.x0) + abs(r.y1 - r.y0)
        t = np.arange(phase * spacing, length, spacing)
        if r.dir == "EW":
            x, y = r.x0 + t, np.full_like(t, r.y0 + offset[i])
            cross = roads[roads.dir == "NS"]
            keep = np.ones(len(t), dtype=bool)
            for c in cross.itertuples():
                keep &= ~((np.abs(x - c.x0) < c.width / 2 + junction_gap) & (y > c.y0) & (y < c.y1))
        else:
            x, y = np.full_like(t, r.x0 + offset[i]), r.y0 + t
            cross = roads[roads.dir == "EW"]
            keep = np.ones(len(t), dtype=bool)
            for c in cross.itertuples():
                keep &= ~(np.abs(y - c.y0) < c.width / 2 + junction_gap)
        xs.append(x[keep])
        ys.append(y[keep])
        ri.append(np.full(int(keep.sum()), i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ri)


def _footprints(d: District, roads: pd.DataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Lots in the blocks between roads → rectangles, L shapes and courtyard buildings."""
    ew = roads[roads.dir == "EW"].sort_values("y0")
    ns = roads[roads.dir == "NS"].sort_values("x0")
    edges_x = [0.0, *ns.x0.tolist(), DISTRICT_W]
    half_x = [0.0, *(ns.width / 2).tolist(), 0.0]
    edges_y = ew.y0.tolist() + [DISTRICT_H]
    half_y = (ew.width / 2).tolist() + [0.0]
    cx, cy, road_name = [], [], []
    for i in range(len(edges_x) - 1):
        bx0, bx1 = edges_x[i] + half_x[i] + 12, edges_x[i + 1] - half_x[i + 1] - 12
        for j in range(len(edges_y) - 1):
            by0, by1 = edges_y[j] + half_y[j] + 12, edges_y[j + 1] - half_y[j + 1] - 12
            if bx1 - bx0 < 30 or by1 - by0 < 30:
                continue
            nx, ny = max(1, int((bx1 - bx0) // 34)), max(1, int((by1 - by0) // 34))
            gx, gy = np.meshgrid(bx0 + (np.arange(nx) + 0.5) * (bx1 - bx0) / nx,
                                 by0 + (np.arange(ny) + 0.5) * (by1 - by0) / ny)
            cx.append(gx.ravel())
            cy.append(gy.ravel())
            road_name += [ew.name.iloc[j]] * gx.size
    cx, cy = np.concatenate(cx), np.concatenate(cy)
    road_name = np.array(road_name)
    keep = rng.random(cx.size) < 0.82
    # keep the landmarks' sites free
    for _, _, (lx, ly), (lw, ld), _, _ in LANDMARKS:
        keep &= ~((np.abs(cx - lx) < lw / 2 + 30) & (np.abs(cy - ly) < ld / 2 + 30))
    cx, cy, road_name = cx[keep], cy[keep], road_name[keep]
    n = cx.size
    w = rng.uniform(14, 28, n)
    dpt = rng.uniform(13, 26, n)
    x, y = d.world(cx, cy)
    boxes = shapely.box(x - w / 2, y - dpt / 2, x + w / 2, y + dpt / 2)
    kind = rng.choice([0, 1, 2], size=n, p=[0.62, 0.26, 0.12])  # rectangle, L shape, courtyard
    corner = shapely.box(x, y, x + w / 2 + 1, y + dpt / 2 + 1)
    court = shapely.box(x - w / 4, y - dpt / 4, x + w / 4, y + dpt / 4)
    shapes = np.where(kind == 1, shapely.difference(boxes, corner), boxes)
    shapes = np.where(kind == 2, shapely.difference(boxes, court), shapes)
    # heights: towers along 香港中路, offices near the arterials, residential elsewhere
    near_hk = np.abs(cy - 700.0) < 90
    use = np.where(near_hk, rng.choice(["OFF", "COM", "HOT", "MIX"], n, p=[0.45, 0.25, 0.1, 0.2]),
                   rng.choice(["RES", "MIX", "PUB", "COM", "OFF", "OTH"], n, p=[0.6, 0.12, 0.08, 0.08, 0.08, 0.04]))
    tower = near_hk & (rng.random(n) < 0.45)
    height = np.where(tower, rng.uniform(60, 230, n), rng.gamma(4.0, 7.0, n) + 9)
    height = np.where(kind == 2, np.minimum(height, 30.0), height)  # courtyard blocks are low
    storey = rng.uniform(3.0, 3.6, n)
    floors = np.maximum(1, np.round(height / storey)).astype(np.int32)
    height = np.round(floors * storey, 1)
    base = np.round(ground(cx - w / 2, cy - dpt / 2), 2)
    serial = np.arange(n) + 1 + d.index * 1_000_000 % 900_000
    number = rng.integers(1, 300, n)
    return gpd.GeoDataFrame({
        "code": _code("370202", "0201", serial),
        "name": [f"{r}{k}号{'大厦' if u in ('OFF', 'COM', 'HOT') else '楼'}"
                 for r, k, u in zip(road_name, number, use, strict=True)],
        "height": height, "floors": floors, "use": use,
        "year_built": rng.integers(1985, 2025, n).astype(np.int32),
        "address": [f"青岛市市南区{r}{k}号" for r, k in zip(road_name, number, strict=True)],
        "base_elevation": base,
    }, geometry=shapes, crs=PROJECT_CRS)


def _road_frame(d: District, roads: pd.DataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    x0, y0 = d.world(roads.x0.to_numpy(), roads.y0.to_numpy())
    x1, y1 = d.world(roads.x1.to_numpy(), roads.y1.to_numpy())
    coords = np.stack([np.stack([x0, y0], -1), np.stack([x1, y1], -1)], 1)
    return gpd.GeoDataFrame({
        "code": [f"370202DL{d.index:03d}{i:03d}" for i in range(len(roads))],
        "name": roads.name.to_list(), "road_class": roads.road_class.to_list(),
        "width": roads.width.to_numpy(float), "lanes": roads.lanes.to_numpy(np.int32),
        "surface": rng.choice(["LQ", "LQ", "LQ", "SN"], len(roads)),
    }, geometry=shapely.linestrings(coords), crs=PROJECT_CRS)


def _lights(d: District, roads: pd.DataFrame, rng: np.random.Generator, serial0: int) -> gpd.GeoDataFrame:
    parts = []
    for side in (-1.0, 1.0):
        off = side * (roads.width.to_numpy() / 2 + 1.0)
        x, y, ri = _along(roads, 32.0, off, phase=0.5 if side < 0 else 1.0, junction_gap=8.0)
        parts.append((x, y, ri))
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    ri = np.concatenate([p[2] for p in parts])
    n = x.size
    road = roads.name.to_numpy()[ri]
    small = roads.road_class.to_numpy()[ri] == "BRA"
    lamp = rng.choice(["LED", "HPS", "MH", "IND"], n, p=[0.82, 0.12, 0.04, 0.02])
    serial = serial0 + np.arange(n) + 1
    per_road = pd.Series(ri).groupby(ri).cumcount().to_numpy() + 1
    abbrev = {name: f"R{k:02d}" for k, name in enumerate(roads.name)}
    ab = np.array([abbrev[r] for r in road])
    circuit_no = (per_road - 1) // 24 + 1
    wx, wy = d.world(x, y)
    return gpd.GeoDataFrame({
        "code": _code("370202", "0110", serial),
        "pole_code": [f"SN-{a}-{k:04d}" for a, k in zip(ab, per_road, strict=True)],
        "lamp_type": lamp,
        "power_w": np.where(lamp == "LED", rng.choice([60.0, 90.0, 120.0, 150.0], n), rng.choice([150.0, 250.0], n)),
        "pole_height": np.where(small, 6.0, rng.choice([8.0, 10.0, 12.0], n, p=[0.3, 0.5, 0.2])),
        "arm_length": np.where(small, 0.5, rng.choice([1.0, 1.5, 2.0], n)),
        "heads": rng.choice([1, 2], n, p=[0.85, 0.15]).astype(np.int32),
        "colour_temp": np.where(lamp == "HPS", 2000, rng.choice([3000, 4000, 5000], n)).astype(np.int32),
        "control_mode": rng.choice(["TIME", "LIGHT", "REMOTE"], n, p=[0.3, 0.2, 0.5]),
        "status": _status(rng, n),
        "install_date": _dates(rng, n, 2005, 2025),
        "owner": rng.choice(["青岛市市南区城市管理局", "青岛市市政设施服务中心"], n),
        "maintainer": rng.choice(["青岛市政路灯工程有限公司", "青岛海湾照明工程有限公司"], n),
        "circuit": [f"{a}-{c:02d}" for a, c in zip(ab, circuit_no, strict=True)],
        "cabinet_code": _code("370202", "0114", serial0 + pd.factorize(pd.Series(ab) + circuit_no.astype(str))[0] + 1),
        "pole_material": rng.choice(["ST", "AL", "FRP"], n, p=[0.7, 0.25, 0.05]),
        "road_name": road,
    }, geometry=shapely.points(wx, wy), crs=PROJECT_CRS)


def _junctions(roads: pd.DataFrame) -> pd.DataFrame:
    ew, ns = roads[roads.dir == "EW"], roads[roads.dir == "NS"]
    j = ew.merge(ns, how="cross", suffixes=("_ew", "_ns"))
    j = j[(j.y0_ew > j.y0_ns) & (j.y0_ew < j.y1_ns)]
    return pd.DataFrame({"x": j.x0_ns.to_numpy(), "y": j.y0_ew.to_numpy(), "w_ns": j.width_ns.to_numpy(),
                         "w_ew": j.width_ew.to_numpy(), "name": (j.name_ew + "-" + j.name_ns).to_numpy()})


def _poles(d: District, roads: pd.DataFrame, rng: np.random.Generator, serial0: int
           ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    j = _junctions(roads)
    corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    per = rng.integers(1, 5, len(j))  # 1–4 poles a junction
    ji = np.repeat(np.arange(len(j)), per)
    ci = pd.Series(ji).groupby(ji).cumcount().to_numpy()
    x = j.x.to_numpy()[ji] + corners[ci, 0] * (j.w_ns.to_numpy()[ji] / 2 + 1.5)
    y = j.y.to_numpy()[ji] + corners[ci, 1] * (j.w_ew.to_numpy()[ji] / 2 + 1.5)
    n = x.size
    code = np.array(_code("370202", "0113", serial0 + np.arange(n) + 1))
    # devices: LIGHT nearly always, plus 1–5 others
    ndev = rng.integers(2, 7, n)
    pi = np.repeat(np.arange(n), ndev)
    k = pd.Series(pi).groupby(pi).cumcount().to_numpy()
    others = rng.integers(1, len(DEVICES), pi.size)
    dtype = np.where(k == 0, 0, others)
    dev = pd.DataFrame({"pi": pi, "t": dtype}).drop_duplicates()
    types = np.array([t for t, _, _ in DEVICES])[dev.t.to_numpy()]
    mount = np.array([h for _, h, _ in DEVICES])[dev.t.to_numpy()]
    power = np.array([p for _, _, p in DEVICES])[dev.t.to_numpy()]
    operators = np.array([DEVICE_OPERATORS.get(t, "青岛市市南区城市管理局") for t in types])
    from qdt.cim import catalogue

    labels = {e.code: e.zh for e in catalogue().codelist("device_type").entries}
    summary = pd.Series([labels[t] for t in types]).groupby(dev.pi.to_numpy()).agg("、".join)
    devices = pd.DataFrame({
        "pole_code": code[dev.pi.to_numpy()], "device_type": types, "mount_height": mount,
        "operator": operators, "power_w": power, "status": _status(rng, len(dev)),
        "install_date": _dates(rng, len(dev), 2019, 2025),
        "model": rng.choice(["HW-AP7060", "HK-DS2CD", "ZTE-QCell", "SZ-ENV300", "LS-P3"], len(dev)),
    })
    wx, wy = d.world(x, y)
    poles = gpd.GeoDataFrame({
        "code": code,
        "name": [f"{nm} 智慧杆{c + 1:02d}" for nm, c in zip(j.name.to_numpy()[ji], ci, strict=True)],
        "pole_height": rng.choice([10.0, 12.0, 15.0], n, p=[0.3, 0.5, 0.2]),
        "status": _status(rng, n),
        "install_date": _dates(rng, n, 2019, 2025),
        "owner": rng.choice(["青岛市大数据发展管理局", "青岛市市南区城市管理局"], n),
        "operator": rng.choice(["中国铁塔股份有限公司青岛市分公司", "青岛华通智能科技研究院有限公司"], n),
        "cabinet_code": [f"ZH-{d.index:03d}-{i:04d}" for i in ji],
        "devices": summary.reindex(np.arange(n)).to_numpy(),
        "device_count": pd.Series(dev.pi.to_numpy()).value_counts().reindex(np.arange(n)).to_numpy(np.int32),
    }, geometry=shapely.points(wx, wy), crs=PROJECT_CRS)
    return poles, devices


# Top depth (m) of each network where roads cross, layered so that crossing pipes keep the vertical
# clearances of GB 50289-2016 Table 4.1.14 (with 0.05 m to spare) for the largest diameters generated
# (TX ≤ 150 mm, DL ≤ 200, RQ ≤ 300, JS ≤ 600, RL ≤ 500) and the 0–0.05 m depth jitter.
JUNCTION_TOP = {"TX": 0.60, "DL": 1.35, "RQ": 2.15, "JS": 2.70, "RL": 3.50, "PS": 4.20}
JUNCTION_HALF = 25.0  # m either side of a junction centre where the layering holds


def _junction_positions(roads: pd.DataFrame, road: object) -> np.ndarray:
    """Distances along ``road`` (from its start) of the roads crossing it."""
    if road.dir == "EW":  # type: ignore[attr-defined]
        cross = roads[(roads.dir == "NS") & (roads.y0 <= road.y0) & (roads.y1 >= road.y0)]  # type: ignore[attr-defined]
        return cross.x0.to_numpy(float) - road.x0  # type: ignore[attr-defined]
    cross = roads[(roads.dir == "EW") & (roads.y0 >= road.y0) & (roads.y0 <= road.y1)]  # type: ignore[attr-defined]
    return cross.y0.to_numpy(float) - road.y0  # type: ignore[attr-defined]


def _pipes(d: District, roads: pd.DataFrame, rng: np.random.Generator, serial0: int
           ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    segs, holes = [], []
    for net, sub, offset, (dmin, dmax), (zmin, zmax), spacing, material, owner, cover in NETWORKS:
        use = roads if net != "RL" else roads[roads.road_class == "ART"]
        use = use.reset_index(drop=True)
        half = use.width.to_numpy() / 2
        if offset == "sidewalk_east":
            off = half + 1.5
        elif offset == "kerb_east":
            off = half - 0.6
        elif offset == "sidewalk_west":
            off = -(half + 1.8)
        else:
            off = np.full(len(use), float(offset))
        planted = (net == "RQ") & (use.name.to_numpy() == "香港中路")
        for i, r in enumerate(use.itertuples()):
            length = abs(r.x1 - r.x0) + abs(r.y1 - r.y0)
            junctions = _junction_positions(roads, r)
            breaks = np.concatenate([np.arange(0.0, length, spacing), [length], junctions - JUNCTION_HALF,
                                     junctions + JUNCTION_HALF])
            t = np.unique(np.round(np.clip(breaks, 0.0, length), 3))
            at_junction = (np.abs(t[:, None] - junctions[None, :]) <= JUNCTION_HALF + 1e-6).any(axis=1)
            m = t.size - 1
            if r.dir == "EW":
                x, y = r.x0 + t, np.full_like(t, r.y0 + off[i])
            else:
                x, y = np.full_like(t, r.x0 + off[i]), r.y0 + t
            dia = float(np.round(rng.uniform(dmin, dmax) / 50) * 50) if net != "DL" else float(dmin)
            if net == "JS" and r.name == "香港中路":
                dia = 300.0
            if planted[i]:
                dia = 200.0
                y = np.full_like(t, r.y0 - 5.0 + 0.15 + 0.10 + 0.30)  # 0.30 m clear of the DN300 water main
            depth = rng.uniform(zmin, zmax, m + 1)
            if net == "PS" and r.dir == "NS":  # gravity sewers deepen downhill towards the sea
                depth = zmin + (zmax - zmin) * (1 - t / max(length, 1.0)) + rng.uniform(0, 0.2, m + 1)
            # where roads cross, every network dips to its own layer so crossing pipes keep their
            # vertical clearances (GB 50289-2016 Table 4.1.14; pressure pipes pass over gravity sewers)
            depth = np.where(at_junction, JUNCTION_TOP[net] + rng.uniform(0.0, 0.05, m + 1), depth)
            if net == "RQ" and r.name == "山东路":
                # planted vertical conflict: 0.05 m below 香港中路's water main (top 2.70 m, DN300 → bottom 3.00 m)
                dia = 200.0
                hk = np.abs(y - 700.0) <= JUNCTION_HALF + 1e-6
                depth = np.where(hk, 3.05, depth)
            if net == "JS" and r.name == "香港中路":
                depth = np.where(at_junction, JUNCTION_TOP["JS"], depth)
            segs.append(pd.DataFrame({
                "x0": x[:-1], "y0": y[:-1], "x1": x[1:], "y1": y[1:], "network": net, "subtype": sub,
                "diameter_mm": dia, "depth_start": np.round(depth[:-1], 2), "depth_end": np.round(depth[1:], 2),
                "material": material, "owner": owner, "road_name": r.name,
                "pressure": ("MB" if planted[i] else rng.choice(["L", "MB", "MA"])) if net == "RQ" else None,
                "voltage_kv": (10.0 if sub == "GD" else 0.38) if net == "DL" else np.nan,
                "holes": int(rng.choice([6, 9, 12, 18, 24])) if net in ("TX", "DL") and sub != "LD" else -1,
                "burial": "GK" if net in ("TX", "DL") and sub != "LD" else ("GG" if net == "RL" else "ZM"),
            }))
            holes.append(pd.DataFrame({"x": x, "y": y, "network": net, "cover_type": cover, "owner": owner,
                                       "road_name": r.name, "depth": np.round(depth + dia / 1000 + 0.3, 2)}))
    p = pd.concat(segs, ignore_index=True)
    n = len(p)
    if "TX" in set(p.network):
        tx = (p.network == "TX").to_numpy()
        p.loc[tx, "owner"] = rng.choice(TX_OWNERS, int(tx.sum()))
    wx0, wy0 = d.world(p.x0.to_numpy(), p.y0.to_numpy())
    wx1, wy1 = d.world(p.x1.to_numpy(), p.y1.to_numpy())
    geom = shapely.linestrings(np.stack([np.stack([wx0, wy0], -1), np.stack([wx1, wy1], -1)], 1))
    holes_df = pd.concat(holes, ignore_index=True).drop_duplicates(["network", "x", "y"], ignore_index=True)
    pipes = gpd.GeoDataFrame({
        "code": _code("370202", "0120", serial0 + np.arange(n) + 1),
        "network": p.network.to_numpy(), "subtype": p.subtype.to_numpy(), "material": p.material.to_numpy(),
        "diameter_mm": p.diameter_mm.to_numpy(float), "depth_start": p.depth_start.to_numpy(float),
        "depth_end": p.depth_end.to_numpy(float), "pressure": p.pressure.to_numpy(),
        "voltage_kv": p.voltage_kv.to_numpy(float),
        "holes": pd.array(np.where(p.holes.to_numpy() < 0, pd.NA, p.holes.to_numpy()), dtype="Int32"),
        "burial": p.burial.to_numpy(), "year_built": rng.integers(1990, 2025, n).astype(np.int32),
        "owner": p.owner.to_numpy(), "status": _status(rng, n), "road_name": p.road_name.to_numpy(),
    }, geometry=geom, crs=PROJECT_CRS)
    m = len(holes_df)
    hx, hy = d.world(holes_df.x.to_numpy(), holes_df.y.to_numpy())
    manholes = gpd.GeoDataFrame({
        "code": [f"370202{c}{s:06d}" for c, s in zip(holes_df.cover_type, serial0 + np.arange(m) + 1, strict=True)],
        "network": holes_df.network.to_numpy(), "cover_type": holes_df.cover_type.to_numpy(),
        "depth": holes_df.depth.to_numpy(float), "status": _status(rng, m), "owner": holes_df.owner.to_numpy(),
        "road_name": holes_df.road_name.to_numpy(),
    }, geometry=shapely.points(hx, hy), crs=PROJECT_CRS)
    return pipes, manholes


def _cabinets(d: District, lights: gpd.GeoDataFrame, roads: pd.DataFrame, rng: np.random.Generator,
              serial0: int) -> gpd.GeoDataFrame:
    # one 配电箱 per streetlight circuit, beside the circuit's first light
    first = lights.drop_duplicates("cabinet_code")
    xy = shapely.get_coordinates(first.geometry.to_numpy())
    j = _junctions(roads).iloc[::3]
    jx, jy = d.world(j.x.to_numpy() + j.w_ns.to_numpy() / 2 + 3.0, j.y.to_numpy() - j.w_ew.to_numpy() / 2 - 3.0)
    n_pd, n_j = len(first), len(j)
    x = np.concatenate([xy[:, 0] + 1.2, jx])
    y = np.concatenate([xy[:, 1] + 1.2, jy])
    kind = np.concatenate([np.full(n_pd, "PD"), rng.choice(["JJ", "XK"], n_j)])
    names = np.concatenate([[f"{c} 路灯配电箱" for c in first.circuit],
                            [f"{nm} {'通讯交接箱' if k == 'JJ' else '信号控制箱'}"
                             for nm, k in zip(j.name, kind[n_pd:], strict=True)]])
    codes = np.concatenate([first.cabinet_code.to_numpy(),
                            np.array(_code("370202", "0111", serial0 + np.arange(n_j) + 1))])
    return gpd.GeoDataFrame({
        "code": codes, "name": names, "cabinet_type": kind, "status": _status(rng, len(x)),
        "owner": np.where(kind == "PD", "青岛市市政设施服务中心",
                          np.where(kind == "JJ", "中国电信股份有限公司青岛分公司", "青岛市公安局交通警察支队")),
        "install_date": _dates(rng, len(x), 2008, 2024),
        "circuits": pd.array(np.where(kind == "PD", rng.integers(2, 9, len(x)), pd.NA), dtype="Int32"),
    }, geometry=shapely.points(x, y), crs=PROJECT_CRS)


def _zones(d: District, rng: np.random.Generator) -> gpd.GeoDataFrame:
    xs = np.linspace(0, DISTRICT_W, 4)
    ys = np.array([0.0, 850.0, DISTRICT_H])
    gx0, gy0 = np.meshgrid(xs[:-1], ys[:-1])
    gx1, gy1 = np.meshgrid(xs[1:], ys[1:])
    x0, y0 = d.world(gx0.ravel(), gy0.ravel())
    x1, y1 = d.world(gx1.ravel(), gy1.ravel())
    cells = shapely.box(x0, y0, x1, y1)
    shore_x = np.linspace(0, DISTRICT_W, 81)
    sx, sy = d.world(shore_x, coast_y(shore_x))
    nx, ny = d.world(np.array([DISTRICT_W, 0.0]), np.array([DISTRICT_H, DISTRICT_H]))
    land = shapely.polygons(np.column_stack([np.r_[sx, nx], np.r_[sy, ny]]))
    zones = shapely.intersection(cells, land)
    n = len(zones)
    street = np.array(STREETS)[np.arange(n) % len(STREETS)]
    return gpd.GeoDataFrame({
        "grid_code": [f"370202{d.index:03d}{i + 1:03d}" for i in range(n)],
        "name": [f"{s}第{i + 1}网格" for i, s in enumerate(street)],
        "district_code": "370202", "street": street,
        "manager": [f"{a}{b}" for a, b in zip(rng.choice(SURNAMES, n), rng.choice(GIVEN, n), strict=True)],
        "area_m2": np.round(shapely.area(zones), 1),
    }, geometry=zones, crs=PROJECT_CRS)


def _landmarks(d: District) -> tuple[list[list[float]], dict[str, dict]]:
    """LOD2 solids with semantics: stepped towers, flat blocks, gable roofs."""
    verts: list[list[float]] = []
    objects: dict[str, dict] = {}

    def add(v: list[tuple[float, float, float]]) -> list[int]:
        start = len(verts)
        verts.extend([list(p) for p in v])
        return list(range(start, start + len(v)))

    def prism(x0: float, y0: float, x1: float, y1: float, z0: float, z1: float, roof: str
              ) -> tuple[list, list]:
        b = add([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)])
        if roof == "gable":
            ridge = (y0 + y1) / 2
            t = add([(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)])
            r = add([(x0, ridge, z1 + (y1 - y0) * 0.35), (x1, ridge, z1 + (y1 - y0) * 0.35)])
            faces = [[[b[0], b[3], b[2], b[1]]],
                     [[b[0], b[1], t[1], t[0]]], [[b[1], b[2], t[2], r[1], t[1]]],
                     [[b[2], b[3], t[3], t[2]]], [[b[3], b[0], t[0], r[0], t[3]]],
                     [[t[0], t[1], r[1], r[0]]], [[t[2], t[3], r[0], r[1]]]]
            sem = [2, 1, 1, 1, 1, 0, 0]
        else:
            t = add([(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)])
            faces = [[[b[0], b[3], b[2], b[1]]], [[b[0], b[1], t[1], t[0]]], [[b[1], b[2], t[2], t[1]]],
                     [[b[2], b[3], t[3], t[2]]], [[b[3], b[0], t[0], t[3]]], [[t[0], t[1], t[2], t[3]]]]
            sem = [2, 1, 1, 1, 1, 0]
        return faces, sem

    surfaces = [{"type": "RoofSurface"}, {"type": "WallSurface"}, {"type": "GroundSurface"}]
    for k, (name, use, (cx, cy), (w, dd), height, roof) in enumerate(LANDMARKS):
        x, y = d.world(np.array([cx]), np.array([cy]))
        x, y = float(x[0]), float(y[0])
        z0 = float(np.round(ground(np.array([cx - w / 2]), np.array([cy - dd / 2]))[0] - 0.3, 3))
        shells = []
        if roof == "stepped":
            f1, s1 = prism(x - w / 2, y - dd / 2, x + w / 2, y + dd / 2, z0, z0 + height * 0.75, "flat")
            f2, s2 = prism(x - w / 3, y - dd / 3, x + w / 3, y + dd / 3, z0 + height * 0.75, z0 + height, "flat")
            # two solids stacked: shells of one CompositeSolid-like MultiSurface kept as two solids
            shells = [(f1, s1), (f2, s2)]
        else:
            shells = [prism(x - w / 2, y - dd / 2, x + w / 2, y + dd / 2, z0, z0 + height, roof)]
        geoms = [{"type": "Solid", "lod": "2", "boundaries": [faces],
                  "semantics": {"surfaces": surfaces, "values": [sem]}} for faces, sem in shells]
        objects[f"QD-LM-{d.index:03d}-{k + 1:02d}"] = {
            "type": "Building",
            "attributes": {"name": name, "名称": name, "use": use, "measuredHeight": height,
                           "yearOfConstruction": [1997, 1999, 2008, 2013, 1987][k], "address": "青岛市市南区"},
            "geometry": geoms,
        }
    return verts, objects


def _write_cityjson(path: Path, verts: list[list[float]], objects: dict[str, dict]) -> None:
    v = np.asarray(verts, dtype=np.float64)
    translate = np.floor(v.min(axis=0))
    ints = np.round((v - translate) / 0.001).astype(np.int64)
    doc = {"type": "CityJSON", "version": "2.0",
           "transform": {"scale": [0.001, 0.001, 0.001], "translate": translate.tolist()},
           "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4549",
                        "title": "青岛市南区 五四广场片区 地标建筑 LOD2 "
                                 "(heights: 1985 national height datum, EPSG:5737)"},
           "CityObjects": objects, "vertices": ints.tolist()}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _rasters(out: Path, districts: list[District], layers: dict[str, gpd.GeoDataFrame], scaled: bool) -> None:
    import rasterio
    from affine import Affine
    from rasterio.features import rasterize

    xmax = max(d.dx for d in districts) + DISTRICT_W
    ymax = max(d.dy for d in districts) + DISTRICT_H
    dem_cell = DEM_CELL if not scaled else max(DEM_CELL, math.sqrt(xmax * ymax / 4e6))
    cols, rows = int(round(xmax / dem_cell)), int(round(ymax / dem_cell))
    transform = Affine(dem_cell, 0.0, ORIGIN[0], 0.0, -dem_cell, ORIGIN[1] + ymax)
    cx = (np.arange(cols) + 0.5) * dem_cell
    cy = ymax - (np.arange(rows) + 0.5) * dem_cell
    xx, yy = np.meshgrid(cx % DISTRICT_W, cy % DISTRICT_H)
    z = ground(xx, yy).astype(np.float32)
    z[-6:, -10:] = -9999.0  # a patch of missing soundings at the far sea edge
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32", "crs": PROJECT_CRS,
               "transform": transform, "nodata": -9999.0, "compress": "deflate", "predictor": 3, "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    with rasterio.open(out / "dem.tif", "w", **profile) as dst:
        dst.write(z, 1)
        dst.update_tags(VERTICAL_DATUM="1985 national height datum (EPSG:5737)")

    ortho_cell = ORTHO_CELL if not scaled else max(ORTHO_CELL, math.sqrt(xmax * ymax / 6e6))
    cols, rows = int(round(xmax / ortho_cell)), int(round(ymax / ortho_cell))
    transform = Affine(ortho_cell, 0.0, ORIGIN[0], 0.0, -ortho_cell, ORIGIN[1] + ymax)
    rng = np.random.default_rng(SEED + 7)
    cx = (np.arange(cols) + 0.5) * ortho_cell
    cy = ymax - (np.arange(rows) + 0.5) * ortho_cell
    xx, yy = np.meshgrid(cx % DISTRICT_W, cy % DISTRICT_H)
    h = ground(xx, yy)
    above = yy - coast_y(xx)
    noise = rng.normal(0, 1, (rows, cols))
    img = np.empty((3, rows, cols), dtype=np.float32)
    land = np.array([96, 132, 70], dtype=np.float32)  # parks and gardens
    for b in range(3):
        img[b] = land[b] + 14 * noise
    trees = rng.random((rows, cols)) < 0.08
    img[:, trees] *= 0.7
    beach = (above >= 0) & (above < 45)
    sea = above < 0
    for b, (s, deep) in enumerate(zip((214, 200, 160), (60, 110, 150), strict=True)):
        img[b][beach] = s + 8 * noise[beach]
        depth = np.clip(-h[sea] / 8.0, 0, 1)
        img[b][sea] = (1 - depth) * (90, 150, 170)[b] + depth * deep + 4 * noise[sea]

    def burn(geoms: np.ndarray, colour: tuple[int, int, int], jitter: float = 6.0) -> None:
        if len(geoms) == 0:
            return
        mask = rasterize(((g, 1) for g in geoms), out_shape=(rows, cols), transform=transform, fill=0,
                         dtype="uint8").astype(bool)
        for b in range(3):
            img[b][mask] = colour[b] + jitter * noise[mask]

    roads = layers["roads"]
    burn(shapely.buffer(roads.geometry.to_numpy(), roads.width.to_numpy() / 2 + 4.0, cap_style="flat"),
         (188, 186, 180))  # sidewalks
    burn(shapely.buffer(roads.geometry.to_numpy(), roads.width.to_numpy() / 2, cap_style="flat"), (72, 74, 78), 3.0)
    burn(shapely.buffer(roads.geometry.to_numpy(), 0.25, cap_style="flat"), (235, 232, 220), 2.0)  # centre lines
    b = layers["buildings"]
    roof_colours = np.array([(150, 150, 152), (178, 96, 72), (120, 124, 130), (196, 190, 178), (95, 110, 125)])
    pick = np.random.default_rng(SEED + 8).integers(0, len(roof_colours), len(b))
    for k, colour in enumerate(roof_colours):
        burn(b.geometry.to_numpy()[pick == k], tuple(int(c) for c in colour), 4.0)
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 3, "dtype": "uint8", "crs": PROJECT_CRS,
               "transform": transform, "compress": "jpeg", "jpeg_quality": 85, "photometric": "ycbcr",
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(out / "ortho.tif", "w", **profile) as dst:
        dst.write(rgb)


PROJECT_LAYERS = [
    {"name": "数字高程模型", "kind": "raster", "source": "dem.tif", "role": "dem"},
    {"name": "正射影像", "kind": "raster", "source": "ortho.tif", "role": "ortho"},
    {"name": "网格", "kind": "vector", "layer": "zones", "feature_class": "zone"},
    {"name": "道路", "kind": "vector", "layer": "roads", "feature_class": "road"},
    {"name": "建筑", "kind": "vector", "layer": "buildings", "feature_class": "building"},
    {"name": "地标建筑(LOD2)", "kind": "citymodel", "source": "landmarks.city.json"},
    {"name": "路灯", "kind": "vector", "layer": "streetlights", "feature_class": "streetlight"},
    {"name": "智慧杆", "kind": "vector", "layer": "smart_poles", "feature_class": "smart_pole"},
    {"name": "杆载设备", "kind": "vector", "layer": "smart_pole_devices", "feature_class": "smart_pole_device"},
    {"name": "地下管线", "kind": "vector", "layer": "pipes", "feature_class": "pipe"},
    {"name": "检查井", "kind": "vector", "layer": "manholes", "feature_class": "manhole"},
    {"name": "设施箱柜", "kind": "vector", "layer": "cabinets", "feature_class": "cabinet"},
]


def _styles(buildings: gpd.GeoDataFrame) -> dict[str, dict]:
    from qdt.cim import catalogue

    cat = catalogue()

    def by_codes(field: str, codelist: str) -> dict:
        cl = cat.codelist(codelist)
        return {"kind": "categorised", "field": field,
                "categories": {str(e.code): [e.zh, list(e.colour)] for e in cl.entries if e.colour}}

    q = np.quantile(buildings.height.to_numpy(), [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    return {"buildings": {"kind": "graduated", "field": "height", "breaks": [float(round(v, 1)) for v in q],
                          "ramp": "YlOrRd"},
            "streetlights": by_codes("status", "facility_status"), "smart_poles": by_codes("status", "facility_status"),
            "pipes": by_codes("network", "pipe_network"), "manholes": by_codes("network", "pipe_network"),
            "roads": by_codes("road_class", "road_class")}


def generate(out_dir: str | Path, scale: int | None = None, seed: int = SEED,
             progress: Callable[[float, str], None] | None = None) -> dict[str, int]:
    """Write the sample base map into ``out_dir``; returns feature counts per layer.

    ``scale`` is the wanted number of buildings (districts are tiled side by side); None
    writes the single district of the committed sample.
    """
    import pyogrio

    report = progress or (lambda f, m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    per_district = 740  # about the buildings of one district (the sample has 749)
    n_districts = 1 if scale is None else max(1, math.ceil(scale / per_district))
    ncol = max(1, math.ceil(math.sqrt(n_districts * DISTRICT_H / DISTRICT_W)))
    districts = [District(i, (i % ncol) * DISTRICT_W, (i // ncol) * DISTRICT_H) for i in range(n_districts)]
    parts: dict[str, list] = {k: [] for k in ("buildings", "roads", "streetlights", "smart_poles", "smart_pole_devices",
                                              "pipes", "manholes", "cabinets", "zones")}
    verts: list[list[float]] = []
    objects: dict[str, dict] = {}
    for d in districts:
        report(0.6 * d.index / n_districts, f"district {d.index + 1}/{n_districts}")
        rng = np.random.default_rng([seed, d.index])
        roads = _roads(d)
        serial0 = d.index * 100_000
        parts["buildings"].append(_footprints(d, roads, rng))
        parts["roads"].append(_road_frame(d, roads, rng))
        lights = _lights(d, roads, rng, serial0)
        parts["streetlights"].append(lights)
        poles, devices = _poles(d, roads, rng, serial0)
        parts["smart_poles"].append(poles)
        parts["smart_pole_devices"].append(devices)
        pipes, manholes = _pipes(d, roads, rng, serial0)
        parts["pipes"].append(pipes)
        parts["manholes"].append(manholes)
        parts["cabinets"].append(_cabinets(d, lights, roads, rng, serial0))
        parts["zones"].append(_zones(d, rng))
        if d.index < 50:  # landmarks only in the first districts; the CityJSON stays small
            v, o = _landmarks(d)
            base = len(verts)
            for obj in o.values():
                for g in obj["geometry"]:
                    g["boundaries"] = [[[[i + base for i in ring] for ring in face] for face in shell]
                                       for shell in g["boundaries"]]
            verts += v
            objects.update(o)
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="fid")
        layers[name] = frame
    gpkg = out / "qingdao_shinan.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    for i, (name, frame) in enumerate(layers.items()):
        report(0.6 + 0.25 * i / len(layers), f"writing {name}")
        if isinstance(frame, gpd.GeoDataFrame):
            geometry_type = {"buildings": "MultiPolygon", "zones": "MultiPolygon"}.get(name)
            if geometry_type:
                frame = frame.set_geometry(shapely.force_2d(_to_multi(frame.geometry.to_numpy())))
            pyogrio.write_dataframe(frame.reset_index(drop=True), gpkg, layer=name, driver="GPKG",
                                    geometry_type=geometry_type, layer_options={"SPATIAL_INDEX": "YES"},
                                    dataset_options=GPKG_OPTIONS if i == 0 else None)
        else:
            pyogrio.write_dataframe(frame.reset_index(drop=True), gpkg, layer=name, driver="GPKG")
    report(0.86, "rasters")
    _rasters(out, districts, layers, scaled=scale is not None)
    _write_cityjson(out / "landmarks.city.json", verts, objects)
    styles = _styles(layers["buildings"])
    project_layers = []
    for entry in PROJECT_LAYERS:
        e = dict(entry)
        if "layer" in e:
            e["source"] = gpkg.name
            e = {"name": e["name"], "kind": e["kind"], "source": e["source"], "layer": e["layer"],
                 "feature_class": e["feature_class"]}
            if entry["layer"] in styles:
                e["style"] = styles[entry["layer"]]
        project_layers.append(e)
    project = {"format": "qdt-project", "version": 1,
               "name": "青岛市南区·五四广场片区" + ("" if scale is None else f"（{n_districts} 个片区）"),
               "crs": PROJECT_CRS, "height_datum": "EPSG:5737", "layers": project_layers,
               "camera": None, "bookmarks": []}
    (out / "qingdao_shinan.qdt").write_text(json.dumps(project, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    report(1.0, "")
    counts = {name: len(frame) for name, frame in layers.items()}
    counts["landmarks"] = len(objects)
    return counts


def _to_multi(geoms: np.ndarray) -> np.ndarray:
    single = shapely.get_type_id(geoms) == 3
    out = geoms.copy()
    out[single] = shapely.multipolygons(geoms[single][:, None].tolist()) if single.any() else out[single]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdt.cim.sample", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--scale", type=int, help="about this many buildings (tiles districts); default: the sample")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = generate(args.out, args.scale, args.seed)
    print(json.dumps(counts, ensure_ascii=False))
    print(f"generated in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
