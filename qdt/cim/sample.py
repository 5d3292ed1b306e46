"""Deterministic generator of the Qingdao sample base map (a 市南区-style coastal district near 五四广场).

Run ``python -m qdt.cim.sample --out sample_data [--scale N]``. Without ``--scale`` it writes the
committed sample (one district, about 2 km x 1.5 km in EPSG:4549 on the shore of 浮山湾); ``--scale
N`` tiles districts side by side until there are about N buildings (for benchmarks; never commit it).
A scaled city spans Qingdao's districts (370202 市南区 … 370215 即墨区, :data:`CITY_DISTRICTS`), each
with its own component-code serials, and is generated and written a few tiles at a time
(:data:`CHUNK_TILES`), so a million buildings fit in a workstation's memory.

The district's layout — roads, lots, lamp positions, pipe runs, manhole sites, grid zones — is
computed once (:func:`layout`); every district of a scaled city reuses it with its own random
buildings and attributes, drawn for all districts at once with one seeded numpy Generator. The
only Python loops run over roads, blocks and landmarks while the layout is built, never over
features. The GeoPackage is byte-identical between runs (GDAL's ``OGR_CURRENT_DATE`` pins the
timestamps it writes).

Planted clearance violations (for the query issue's clearance check), in every district:

- 香港中路: the gas main (RQ, DN200, medium-pressure B) runs 0.30 m clear of the water main
  (JS, DN300) — GB 50289-2016 Table 4.1.9 asks 0.5 m;
- at the 香港中路 × 山东路 junction the 山东路 gas main crosses 0.05 m below the 香港中路 water main —
  Table 4.1.14 asks 0.15 m.

Pipes come as survey deliveries (CJJ 61-2017): a point table ``pipe_points`` (物探点号 such as ``JS000012``,
特征, 附属物, 地面高程, valve status and operability) and a line table ``pipes`` naming its start and end
points; drainage depths are invert depths falling toward the outfalls (流向 recorded), the others depths to
the top. Planted survey errors for ``qdt network check``, in every district: one storm line rising 0.15 m
downstream, a water line with 0.45 m cover, a gas line drawn 3 m short of its end point, a heat line naming a
point that does not exist, a telecom point number used twice, a telecom depth with a slipped decimal, a power
line without a start number (joined by position) and a water end point without a terminal feature.

Elsewhere pipes keep the standard's clearances: fixed lateral positions under each road and, where
roads cross, a depth layer per network (see ``JUNCTION_TOP``).
"""

from __future__ import annotations

import argparse
import contextvars
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
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
DIVISION = "370202"  # 市南区, GB/T 2260
# GeoPackage 1.2 rather than GDAL 3.12's default 1.4, so older GDAL (QGIS LTR, Debian 12) reads it without warnings
GPKG_OPTIONS = {"VERSION": "1.2"}
# GDAL stamps gpkg_contents.last_change with the time of writing; a fixed stamp keeps the file byte-identical
FIXED_TIMESTAMP = "2025-01-01T00:00:00Z"
KEEP_LOT = 0.82  # share of lots with a building; the others are gardens and car parks
LOT_PITCH = 34.0  # m between lot centres in a block
SETBACK = 12.0  # m from the road edge to the first lot
LIGHT_SPACING = 32.0  # m between streetlights on each side of a road
LIGHTS_PER_CIRCUIT = 24
MAX_SERIAL = 999_999  # GB/T 30428.2 object codes end in a 6-digit serial
# Qingdao's districts (GB/T 2260) a scaled city fills in this order, each with its own component-code serials
CITY_DISTRICTS = [("370202", "市南区"), ("370203", "市北区"), ("370211", "黄岛区"), ("370212", "崂山区"),
                  ("370213", "李沧区"), ("370214", "城阳区"), ("370215", "即墨区")]
MIN_DISTRICT_TILES = 10  # 市南区 is about 30 km²: ten 2 km x 1.5 km tiles before a city spills into 市北区
CHUNK_TILES = 24  # tiles generated and written at once (about 17 000 buildings): memory stays flat with --scale
LANDMARK_DISTRICTS = 50  # landmarks only in the first districts of a scaled city; the CityJSON stays small

# East-west roads (south to north): name, y offset from the south edge, width, class, lanes
EW_ROADS = [("东海西路", 470.0, 30.0, "ART", 6), ("香港中路", 700.0, 40.0, "ART", 8), ("闽江路", 930.0, 20.0, "SEC", 4),
            ("宁夏路", 1160.0, 24.0, "SEC", 4), ("延安三路", 1390.0, 16.0, "BRA", 2)]
# North-south roads (west to east): name, x offset, width, class, lanes
NS_ROADS = [("福州南路", 150.0, 20.0, "SEC", 4), ("南京路", 420.0, 24.0, "SEC", 4), ("山东路", 690.0, 30.0, "ART", 6),
            ("澳门路", 960.0, 16.0, "BRA", 2), ("燕儿岛路", 1230.0, 30.0, "ART", 6), ("江西路", 1500.0, 16.0, "BRA", 2),
            ("彰化路", 1770.0, 20.0, "SEC", 4)]
# 五四广场: the block between 山东路, 澳门路, 东海西路 and 香港中路 (road edges), facing the city hall
PLAZA = (705.0, 485.0, 952.0, 680.0)
MAY_WIND = (828.0, 560.0, 11.0)  # 五月的风, the red spiral sculpture: centre and radius (m), painted on the plaza
STREETS = ["湛山街道", "香港中路街道", "八大湖街道", "金门路街道"]  # west to east
SURNAMES = list("王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗")
GIVEN = ["建国", "海燕", "志强", "丽华", "晓明", "秀英", "国庆", "文静", "俊杰", "海涛", "玉兰", "德胜"]
ESTATES = ["海韵花园", "东海花园", "浮山湾花园", "银海苑", "闽江苑", "燕岛花园", "海信花苑", "青岛花园", "颐和国际",
           "海天公寓", "香港花园", "彰化小区", "宁夏路小区", "江西路小区", "南京路小区", "延安三路小区"]

# Pipe networks under a road: code, subtype (CJJ 61 letters), offset from the centreline (metres, or
# relative to the road edge for sidewalk networks), diameter range (mm), top depth range (m), spacing of
# manholes/chambers (m), material, owner, cover type (GB/T 30428.2 minor class)
NETWORKS = [
    ("JS", "JP", -5.0, (100, 600), (0.9, 1.4), 120.0, "DI", "青岛水务集团有限公司", "0101"),
    ("PS", "YS", 0.0, (400, 1200), (1.2, 2.0), 50.0, "RC", "青岛市市政工程管理处", "0103"),
    ("PS", "WS", -2.4, (300, 600), (1.5, 2.4), 50.0, "HDPE", "青岛市市政工程管理处", "0102"),
    ("RQ", "TR", 3.0, (100, 300), (0.9, 1.3), 120.0, "PE", "华润燃气(青岛)有限公司", "0111"),
    ("RL", "RS", 5.5, (200, 500), (1.0, 1.5), 120.0, "ST", "青岛能源热电集团有限公司", "0110"),
    ("DL", "GD", "sidewalk_east", (200, 300), (0.8, 1.2), 120.0, "CU", "国网山东省电力公司青岛供电公司", "0105"),
    ("DL", "LD", "kerb_east", (50, 100), (0.7, 0.9), 120.0, "CU", "青岛市市政设施服务中心", "0106"),
    ("TX", "XX", "sidewalk_west", (100, 150), (0.7, 1.0), 120.0, "OF",
     "中国移动通信集团山东有限公司青岛分公司", "0107"),
]
TX_OWNERS = ["中国移动通信集团山东有限公司青岛分公司", "中国联合网络通信有限公司青岛市分公司",
             "中国电信股份有限公司青岛分公司"]
# Smart-pole devices (device_type codes of the catalogue): code, mounting height (m), rated power (W)
DEVICES = [("lighting", 9.0, 120.0), ("camera", 6.0, 25.0), ("5g", 11.0, 450.0), ("wifi", 5.0, 20.0),
           ("env_sensor", 4.0, 10.0), ("display", 3.5, 300.0), ("broadcast", 5.5, 60.0), ("ev_charger", 0.0, 7000.0),
           ("emergency", 1.4, 15.0), ("traffic_sign", 5.0, 0.0), ("traffic_signal", 6.0, 80.0), ("gateway", 3.0, 30.0)]
DEVICE_OPERATORS = {"camera": "青岛市公安局市南分局", "5g": "中国铁塔股份有限公司青岛市分公司",
                    "wifi": "中国电信股份有限公司青岛分公司", "traffic_signal": "青岛市公安局交通警察支队",
                    "traffic_sign": "青岛市公安局交通警察支队", "ev_charger": "青岛特来电新能源科技有限公司"}
# Landmark buildings (CityJSON LOD2): name, use, (x, y) offset in the district, (w, d), height, roof, year built.
# Placed as they stand around 五四广场: the city hall facing the square across 香港中路, the hotel further east
# on 香港中路, the mall near the shore.
LANDMARKS = [("青岛市人民政府办公大楼", "PUB", (828.0, 810.0), (110.0, 50.0), 48.0, "stepped", 1997),
             ("颐中皇冠假日酒店", "HOT", (1090.0, 790.0), (46.0, 40.0), 118.0, "stepped", 1999),
             ("海信广场", "COM", (1360.0, 580.0), (90.0, 60.0), 36.0, "flat", 2008),
             ("青岛音乐厅", "CUL", (1355.0, 1040.0), (60.0, 44.0), 24.0, "gable", 2013),
             ("市南区文化馆", "CUL", (285.0, 1270.0), (40.0, 30.0), 16.0, "gable", 1987)]

# Top depth (m) of each network where roads cross, layered so that crossing pipes keep the vertical
# clearances of GB 50289-2016 Table 4.1.14 (with 0.05 m to spare) for the largest diameters generated
# (TX ≤ 150 mm, DL ≤ 200, RQ ≤ 300, JS ≤ 600, RL ≤ 500) and the 0–0.05 m depth jitter.
JUNCTION_TOP = {"TX": 0.60, "DL": 1.35, "RQ": 2.15, "JS": 2.70, "RL": 3.50, "PS": 4.20}
JUNCTION_HALF = 25.0  # m either side of a junction centre where the layering holds


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


# --- vectorised text ---------------------------------------------------------------------------------
def _text(values: object) -> np.ndarray:
    return np.asarray(values).astype(str)


def _join(*parts: object) -> np.ndarray:
    """Element-wise concatenation of arrays and scalars as text (numpy string ufuncs, no Python loop)."""
    out = _text(parts[0])
    for p in parts[1:]:
        out = np.strings.add(out, _text(p))
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    return np.strings.zfill(np.asarray(values, dtype=np.int64).astype(str), width)


@dataclass
class _Division:
    """The administrative district a chunk of tiles belongs to, and the serials its earlier chunks used."""

    code: str = DIVISION
    name: str = "市南区"
    tile0: int = 0  # index of the chunk's first tile among the district's tiles
    used: dict[str, int] = field(default_factory=dict)  # highest serial per class in earlier chunks
    pending: dict[str, int] = field(default_factory=dict)  # ... including the chunk being built

    def next_chunk(self, tile0: int) -> None:
        self.used.update(self.pending)
        self.tile0 = tile0


_DIVISION: contextvars.ContextVar[_Division | None] = contextvars.ContextVar("sample_division", default=None)


def _division() -> _Division:
    """The district being built (市南区 outside :func:`build_chunks`)."""
    div = _DIVISION.get()
    if div is None:
        div = _Division()
        _DIVISION.set(div)
    return div


def _code(major_minor: object, serial: np.ndarray) -> np.ndarray:
    """16-digit object code: division (6) + major and minor class (4) + serial (6) — GB/T 30428.2.

    Serials count per district and class (``serial`` numbers the chunk's features from 1; the
    district's earlier chunks are added), so every district of a city starts again at 000001.
    """
    div = _division()
    key = major_minor if isinstance(major_minor, str) else "*"
    serial = np.asarray(serial, dtype=np.int64) + div.used.get(key, 0)
    if serial.size:
        if serial.max() > MAX_SERIAL:
            raise ValueError(f"sample: {serial.max()} features of one class in {div.code} {div.name} do not fit "
                             "a 6-digit serial; ask for a smaller --scale")
        div.pending[key] = max(div.pending.get(key, 0), int(serial.max()))
    return _join(div.code, major_minor, _digits(serial, 6))


def _dates(rng: np.random.Generator, n: int, first: int, last: int) -> np.ndarray:
    start = np.datetime64(f"{first}-01-01")
    days = (np.datetime64(f"{last}-12-31") - start).astype(int)
    return (start + rng.integers(0, days, n).astype("timedelta64[D]")).astype("datetime64[ms]")


def _status(rng: np.random.Generator, n: int) -> np.ndarray:
    """Facility status codes, mostly 1 正常 with some 2 故障, 3 维修中, 4 停用."""
    return rng.choice([1, 2, 3, 4], size=n, p=[0.88, 0.05, 0.04, 0.03]).astype(np.int32)


def _people(rng: np.random.Generator, n: int) -> np.ndarray:
    return _join(rng.choice(SURNAMES, n), rng.choice(GIVEN, n))


def _nullable(values: np.ndarray, present: np.ndarray) -> pd.arrays.IntegerArray:
    """Int32 values with nulls where ``present`` is False (a field that does not apply to the row)."""
    return pd.arrays.IntegerArray(np.where(present, values, 0).astype(np.int32), ~np.asarray(present, dtype=bool))


def _rank(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each run of equal values of a sorted-by-group array (a vectorised cumcount)."""
    groups = np.asarray(groups)
    if groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    return np.arange(groups.size) - first


# --- the layout of one district (local metres from its south-west corner) ---------------------------
@dataclass(frozen=True)
class Layout:
    """Everything about a district that does not change between districts."""

    roads: pd.DataFrame  # name, dir, x0, y0, x1, y1, width, road_class, lanes
    junctions: pd.DataFrame  # x, y, w_ns, w_ew, name
    lots: pd.DataFrame  # cx, cy, road_name (south side of the block), estate, rank (number in the block)
    lights: pd.DataFrame  # x, y, road, seq, abbrev, circuit
    runs: pd.DataFrame  # one pipe run per (network, road): net, road, name, dir, length, flags
    points: pd.DataFrame  # pipe points: run, t, x, y, at_junction, hk (planted crossing zone), vertex
    segment_start: np.ndarray  # run point at the start of each surveyed line (consecutive points of a run)
    segment_end: np.ndarray  # … and at its end
    holes: np.ndarray  # point index of each manhole (first pipe point at a site of a network)
    junction_boxes: pd.DataFrame  # x, y, name (every third junction gets a cabinet)
    zones: gpd.GeoDataFrame  # local polygons with street, street_no and community
    survey_point: np.ndarray  # survey point (管点) of each run point; crossings of one network share one
    survey_first: np.ndarray  # run point standing for each survey point


def _roads() -> pd.DataFrame:
    rows = []
    for name, y, w, cls, lanes in EW_ROADS:
        rows.append((name, "EW", 0.0, y, DISTRICT_W, y, w, cls, lanes))
    for name, x, w, cls, lanes in NS_ROADS:
        rows.append((name, "NS", x, EW_ROADS[0][1], x, DISTRICT_H, w, cls, lanes))  # from the coastal road north
    return pd.DataFrame(rows, columns=["name", "dir", "x0", "y0", "x1", "y1", "width", "road_class", "lanes"])


def _junctions(roads: pd.DataFrame) -> pd.DataFrame:
    """Where a north-south road meets an east-west one (T-junctions at the coastal road included)."""
    ew, ns = roads[roads.dir == "EW"], roads[roads.dir == "NS"]
    j = ew.merge(ns, how="cross", suffixes=("_ew", "_ns"))
    j = j[(j.y0_ew >= j.y0_ns) & (j.y0_ew <= j.y1_ns)]
    return pd.DataFrame({"x": j.x0_ns.to_numpy(), "y": j.y0_ew.to_numpy(), "w_ns": j.width_ns.to_numpy(),
                         "w_ew": j.width_ew.to_numpy(), "name": (j.name_ew + "与" + j.name_ns).to_numpy()})


def _along(roads: pd.DataFrame, spacing: float, offset: np.ndarray, phase: float,
           junction_gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` m along each road at lateral ``offset`` (per road); returns x, y, road index.

    Points on a crossing road (its half width plus ``junction_gap``) are dropped.
    """
    xs, ys, ri = [], [], []
    for i, r in enumerate(roads.itertuples()):
        length = abs(r.x1 - r.x0) + abs(r.y1 - r.y0)
        t = np.arange(phase * spacing, length, spacing)
        keep = np.ones(len(t), dtype=bool)
        if r.dir == "EW":
            x, y = r.x0 + t, np.full_like(t, r.y0 + offset[i])
            for c in roads[roads.dir == "NS"].itertuples():
                keep &= ~((np.abs(x - c.x0) < c.width / 2 + junction_gap) & (y > c.y0) & (y < c.y1))
        else:
            x, y = np.full_like(t, r.x0 + offset[i]), r.y0 + t
            for c in roads[roads.dir == "EW"].itertuples():
                keep &= ~(np.abs(y - c.y0) < c.width / 2 + junction_gap)
        xs.append(x[keep])
        ys.append(y[keep])
        ri.append(np.full(int(keep.sum()), i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ri)


def _lots(roads: pd.DataFrame) -> pd.DataFrame:
    """Lot centres on a ~34 m pitch in every block between roads, leaving the plaza and landmark sites free."""
    ew = roads[roads.dir == "EW"].sort_values("y0")
    ns = roads[roads.dir == "NS"].sort_values("x0")
    edges_x = [0.0, *ns.x0.tolist(), DISTRICT_W]
    half_x = [0.0, *(ns.width / 2).tolist(), 0.0]
    edges_y = ew.y0.tolist() + [DISTRICT_H]
    half_y = (ew.width / 2).tolist() + [0.0]
    cx, cy, road, block = [], [], [], []
    for i in range(len(edges_x) - 1):
        bx0, bx1 = edges_x[i] + half_x[i] + SETBACK, edges_x[i + 1] - half_x[i + 1] - SETBACK
        for j in range(len(edges_y) - 1):
            by0, by1 = edges_y[j] + half_y[j] + SETBACK, edges_y[j + 1] - half_y[j + 1] - SETBACK
            if bx1 - bx0 < 30 or by1 - by0 < 30:
                continue
            nx, ny = max(1, int((bx1 - bx0) // LOT_PITCH)), max(1, int((by1 - by0) // LOT_PITCH))
            gx, gy = np.meshgrid(bx0 + (np.arange(nx) + 0.5) * (bx1 - bx0) / nx,
                                 by0 + (np.arange(ny) + 0.5) * (by1 - by0) / ny)
            cx.append(gx.ravel())
            cy.append(gy.ravel())
            road += [ew.name.iloc[j]] * gx.size
            block += [i * 10 + j] * gx.size
    cx, cy = np.concatenate(cx), np.concatenate(cy)
    road_arr, block_arr = np.array(road), np.array(block)
    free = ~((cx > PLAZA[0] - 20) & (cx < PLAZA[2] + 20) & (cy > PLAZA[1] - 20) & (cy < PLAZA[3] + 20))
    for _, _, (lx, ly), (lw, ld), *_ in LANDMARKS:
        free &= ~((np.abs(cx - lx) < lw / 2 + 30) & (np.abs(cy - ly) < ld / 2 + 30))
    block_id = np.unique(block_arr[free], return_inverse=True)[1]
    return pd.DataFrame({"cx": cx[free], "cy": cy[free], "road_name": road_arr[free],
                         "estate": np.array(ESTATES)[block_id % len(ESTATES)],
                         "rank": _rank(block_id) + 1})


def _light_sites(roads: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for side in (-1.0, 1.0):
        off = side * (roads.width.to_numpy() / 2 + 1.0)  # 1 m behind the kerb, on the sidewalk
        x, y, ri = _along(roads, LIGHT_SPACING, off, phase=0.5 if side < 0 else 1.0, junction_gap=8.0)
        parts.append(pd.DataFrame({"x": x, "y": y, "road": ri}))
    lights = pd.concat(parts, ignore_index=True)
    lights["seq"] = lights.groupby("road").cumcount().to_numpy() + 1
    lights["abbrev"] = _join("R", _digits(lights.road.to_numpy(), 2))
    lights["circuit"] = (lights.seq.to_numpy() - 1) // LIGHTS_PER_CIRCUIT + 1
    return lights


def _junction_positions(roads: pd.DataFrame, road: object) -> np.ndarray:
    """Distances along ``road`` (from its start) of the roads crossing it."""
    if road.dir == "EW":  # type: ignore[attr-defined]
        cross = roads[(roads.dir == "NS") & (roads.y0 <= road.y0) & (roads.y1 >= road.y0)]  # type: ignore[attr-defined]
        return cross.x0.to_numpy(float) - road.x0  # type: ignore[attr-defined]
    cross = roads[(roads.dir == "EW") & (roads.y0 >= road.y0) & (roads.y0 <= road.y1)]  # type: ignore[attr-defined]
    return cross.y0.to_numpy(float) - road.y0  # type: ignore[attr-defined]


def _run_offset(net: str, offset: object, half: float, name: str) -> float:
    if net == "RQ" and name == "香港中路":
        return -5.0 + 0.15 + 0.10 + 0.30  # planted: 0.30 m clear of the DN300 water main (centre at -5 m)
    if isinstance(offset, str):
        return {"sidewalk_east": half + 1.5, "kerb_east": half - 0.6, "sidewalk_west": -(half + 1.8)}[offset]
    return float(offset)


def _pipe_runs(roads: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run of survey points per network and road.

    Points: the road's ends, 25 m either side of each junction (so every network can dip to its
    own layer where roads cross), manhole/chamber sites every ``spacing`` m, and the crossing with
    the same network under the crossing road (a tee or cross: the networks are joined there,
    except the planted clearance runs, which stay on their own). Storm runs on north-south roads
    get an outfall 30 m south of the coastal road.
    """
    runs, points, meta = [], [], []
    for k, (net, _sub, offset, *_rest) in enumerate(NETWORKS):
        use = roads[roads.road_class == "ART"] if net == "RL" else roads  # district heating under arterials only
        for i, r in use.iterrows():
            off = _run_offset(net, offset, r.width / 2, r["name"])
            planted = net == "RQ" and r["name"] == "香港中路"
            runs.append((k, i, r["name"], r.dir, abs(r.x1 - r.x0) + abs(r.y1 - r.y0), planted,
                         net == "RQ" and r["name"] == "山东路", net == "JS" and r["name"] == "香港中路"))
            meta.append((k, r, off))
    runs_df = pd.DataFrame(runs, columns=["net", "road", "name", "dir", "length", "planted", "sd_gas", "hk_water"])
    lonely = (runs_df.planted | runs_df.sd_gas | runs_df.hk_water).to_numpy()
    # crossings of the same network: EW run at y0 + off_ew meets NS run at x0 + off_ns
    cross_t: list[list[float]] = [[] for _ in runs]
    for a, (ka, ra, offa) in enumerate(meta):
        if ra.dir != "EW" or lonely[a]:
            continue
        for b, (kb, rb, offb) in enumerate(meta):
            if kb != ka or rb.dir != "NS" or lonely[b]:
                continue
            x, y = rb.x0 + offb, ra.y0 + offa
            # a north-south run reaches across the coastal road to meet the run on its far side
            if ra.x0 <= x <= ra.x1 and rb.y0 - ra.width / 2 <= y <= rb.y1:
                cross_t[a].append(round(x - ra.x0, 3))
                cross_t[b].append(round(y - rb.y0, 3))
    for run, (k, r, off) in enumerate(meta):
        net, spacing = NETWORKS[k][0], NETWORKS[k][5]
        length = abs(r.x1 - r.x0) + abs(r.y1 - r.y0)
        junctions = _junction_positions(roads, r)
        vertices = np.union1d(np.unique(np.round(np.clip(np.concatenate(
            [[0.0, length], junctions - JUNCTION_HALF, junctions + JUNCTION_HALF]), 0.0, length), 3)), cross_t[run])
        sites = np.round(np.arange(0.0, length, spacing), 3)
        t = np.union1d(vertices, sites)
        outfall = NETWORKS[k][1] == "YS" and r.dir == "NS"
        if outfall:
            t = np.r_[-30.0, t]
        at_junction = (np.abs(t[:, None] - junctions[None, :]) <= JUNCTION_HALF + 1e-6).any(axis=1)
        if r.dir == "EW":
            x, y = r.x0 + t, np.full_like(t, r.y0 + off)
        else:
            x, y = np.full_like(t, r.x0 + off), r.y0 + t
        # planted vertical conflict: 山东路's gas main dips under 香港中路's water main at their junction
        hk = np.abs(y - 700.0) <= JUNCTION_HALF + 1e-6 if runs_df.sd_gas.iloc[run] else np.zeros(t.size, dtype=bool)
        points.append(pd.DataFrame({"run": run, "t": t, "x": x, "y": y, "at_junction": at_junction, "hk": hk,
                                    "vertex": np.isin(t, vertices) | (t < 0), "site": np.isin(t, sites),
                                    "junction_valve": np.isin(t, np.round(junctions + JUNCTION_HALF, 3))
                                    | np.isin(t, np.round(junctions - JUNCTION_HALF, 3)),
                                    "crossing": np.isin(t, cross_t[run]), "outfall": outfall & (t == -30.0)}))
    return runs_df, pd.concat(points, ignore_index=True)


def _zones(roads: pd.DataFrame) -> gpd.GeoDataFrame:
    """单元网格: the land between neighbouring roads, one grid cell each; the shore strip joins the cells
    reaching up to 香港中路 (the promenade belongs to the first row of blocks)."""
    xs = np.r_[0.0, np.sort(roads.x0[roads.dir == "NS"].to_numpy()), DISTRICT_W]
    ys = np.r_[0.0, np.sort(roads.y0[roads.dir == "EW"].to_numpy())[1:], DISTRICT_H]
    gx0, gy0 = np.meshgrid(xs[:-1], ys[:-1])
    gx1, gy1 = np.meshgrid(xs[1:], ys[1:])
    cells = shapely.box(gx0.ravel(), gy0.ravel(), gx1.ravel(), gy1.ravel())
    shore_x = np.linspace(0, DISTRICT_W, 81)
    land = shapely.polygons(np.column_stack([np.r_[shore_x, DISTRICT_W, 0.0],
                                             np.r_[coast_y(shore_x), DISTRICT_H, DISTRICT_H]]))
    cells = shapely.intersection(cells, land)
    keep = shapely.area(cells) > 500.0
    cells = cells[keep]
    cx = ((gx0 + gx1) / 2).ravel()[keep]
    row = np.searchsorted(ys, ((gy0 + gy1) / 2).ravel()[keep]) - 1
    street = np.minimum((cx / (DISTRICT_W / len(STREETS))).astype(int), len(STREETS) - 1)
    ew_names = [n for n, *_ in EW_ROADS]  # a cell's community is named after the road along its south side
    community = _join(np.array(ew_names)[np.clip(row, 0, len(ew_names) - 1)], "社区")
    order = np.lexsort((row, street))
    return gpd.GeoDataFrame({"street": np.array(STREETS)[street[order]], "street_no": street[order] + 1,
                             "community": community[order]}, geometry=cells[order])


@lru_cache(maxsize=1)
def layout() -> Layout:
    """The district layout, built once per process."""
    roads = _roads()
    junctions = _junctions(roads)
    runs, points = _pipe_runs(roads)
    run_of = points.run.to_numpy()
    same_run = run_of[1:] == run_of[:-1]
    starts, ends = np.flatnonzero(same_run), np.flatnonzero(same_run) + 1
    kind = runs.net.to_numpy()[run_of]
    sites = pd.DataFrame({"kind": kind, "x": points.x.round(3), "y": points.y.round(3)})
    # survey point of each run point: crossings of two runs of the same network are one point
    survey_point = sites.groupby(["kind", "x", "y"], sort=False).ngroup().to_numpy()
    first = np.flatnonzero(~sites.duplicated().to_numpy())
    holes = first[points.site.to_numpy()[first] & ~points.crossing.to_numpy()[first]]
    return Layout(roads, junctions, _lots(roads), _light_sites(roads), runs, points, starts, ends, holes,
                  junctions.iloc[::3].reset_index(drop=True), _zones(roads), survey_point, first)


def per_district_buildings() -> float:
    """Expected buildings per district (lots × the share that carries a building)."""
    return len(layout().lots) * KEEP_LOT


# --- features of all districts at once ----------------------------------------------------------------
@dataclass(frozen=True)
class Districts:
    """Offsets (m from ORIGIN) of the districts of a city, district 0 at ORIGIN."""

    dx: np.ndarray
    dy: np.ndarray

    @classmethod
    def grid(cls, n: int) -> Districts:
        ncol = max(1, math.ceil(math.sqrt(n * DISTRICT_H / DISTRICT_W)))
        i = np.arange(n)
        return cls((i % ncol) * DISTRICT_W, (i // ncol) * DISTRICT_H)

    def __len__(self) -> int:
        return len(self.dx)

    def world(self, district: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x + ORIGIN[0] + self.dx[district], y + ORIGIN[1] + self.dy[district]


def _tile(n_per: int, d: Districts) -> tuple[np.ndarray, np.ndarray]:
    """(district, item) index pairs for ``n_per`` items in every district, district-major."""
    return np.repeat(np.arange(len(d)), n_per), np.tile(np.arange(n_per), len(d))


def _buildings(lay: Layout, d: Districts, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Rectangles, L and U shapes and courtyard blocks on the lots; towers along 香港中路."""
    di, li = _tile(len(lay.lots), d)
    keep = rng.random(di.size) < KEEP_LOT
    di, li = di[keep], li[keep]
    lots = lay.lots.iloc[li]
    cx, cy = lots.cx.to_numpy(), lots.cy.to_numpy()
    n = cx.size
    w = rng.uniform(14, 28, n)
    dpt = rng.uniform(13, 26, n)
    x, y = d.world(di, cx, cy)
    boxes = shapely.box(x - w / 2, y - dpt / 2, x + w / 2, y + dpt / 2)
    kind = rng.choice([0, 1, 2, 3], size=n, p=[0.55, 0.22, 0.11, 0.12])  # rectangle, L, U, courtyard
    sx, sy = rng.choice([-1.0, 1.0], n), rng.choice([-1.0, 1.0], n)
    # L: one quadrant cut away; U: a notch a third wide and 30–50 % deep in one side; courtyard: a hole
    corner = shapely.box(np.minimum(x, x + sx * (w / 2 + 1)), np.minimum(y, y + sy * (dpt / 2 + 1)),
                         np.maximum(x, x + sx * (w / 2 + 1)), np.maximum(y, y + sy * (dpt / 2 + 1)))
    notch_depth = dpt * rng.uniform(0.3, 0.5, n)
    edge = y + sy * dpt / 2
    notch = shapely.box(x - w / 6, np.minimum(edge, edge - sy * notch_depth) - (sy < 0),
                        x + w / 6, np.maximum(edge, edge - sy * notch_depth) + (sy > 0))
    court = shapely.box(x - w / 4, y - dpt / 4, x + w / 4, y + dpt / 4)
    shapes = boxes.copy()
    for k, cut in ((1, corner), (2, notch), (3, court)):
        sel = kind == k
        shapes[sel] = shapely.difference(boxes[sel], cut[sel])
    shapes = shapely.orient_polygons(shapes)
    near_hk = np.abs(cy - 700.0) < 90
    use = np.where(near_hk, rng.choice(["OFF", "COM", "HOT", "MIX"], n, p=[0.45, 0.25, 0.1, 0.2]),
                   rng.choice(["RES", "MIX", "PUB", "COM", "OFF", "OTH"], n, p=[0.6, 0.12, 0.08, 0.08, 0.08, 0.04]))
    tower = near_hk & (rng.random(n) < 0.45)
    height = np.where(tower, rng.uniform(100, 250, n), rng.gamma(4.0, 7.0, n) + 9)
    height = np.where(kind >= 2, np.minimum(height, 30.0), height)  # U and courtyard blocks are low
    storey = np.where(tower | (use == "OFF"), rng.uniform(3.6, 4.2, n), rng.uniform(2.9, 3.3, n))
    floors = np.maximum(1, np.round(height / storey)).astype(np.int32)
    height = np.round(floors * storey + np.where(tower, 4.0, 1.2), 1)  # plus the parapet / roof plant
    corners_x = cx[:, None] + np.array([-0.5, 0.5, 0.5, -0.5]) * w[:, None]
    corners_y = cy[:, None] + np.array([-0.5, -0.5, 0.5, 0.5]) * dpt[:, None]
    base = np.round(ground(corners_x, corners_y).min(axis=1), 2)  # the lowest corner: no floating buildings
    number = rng.integers(1, 300, n)
    residential = (use == "RES") | (use == "MIX")
    names = np.where(residential, _join(lots.estate.to_numpy(), lots["rank"].to_numpy(), "号楼"),
                     _join(lots.road_name.to_numpy(), number, "号", np.where(use == "PUB", "综合楼", "大厦")))
    return gpd.GeoDataFrame({
        "code": _code("0201", np.arange(n) + 1),
        "name": names, "height": height, "floors": floors, "use": use,
        "year_built": np.where(tower, rng.integers(1995, 2024, n), rng.integers(1985, 2025, n)).astype(np.int32),
        "address": _join("青岛市", _division().name, lots.road_name.to_numpy(), number, "号"),
        "base_elevation": base,
    }, geometry=shapes, crs=PROJECT_CRS)


def _road_frame(lay: Layout, d: Districts, rng: np.random.Generator) -> gpd.GeoDataFrame:
    roads = lay.roads
    di, ri = _tile(len(roads), d)
    r = roads.iloc[ri]
    x0, y0 = d.world(di, r.x0.to_numpy(), r.y0.to_numpy())
    x1, y1 = d.world(di, r.x1.to_numpy(), r.y1.to_numpy())
    coords = np.stack([np.stack([x0, y0], -1), np.stack([x1, y1], -1)], 1)
    return gpd.GeoDataFrame({
        "code": _join(_division().code, "DL", _digits(di + _division().tile0, 3), _digits(ri, 3)),
        "name": r["name"].to_numpy(), "road_class": r.road_class.to_numpy(),
        "width": r.width.to_numpy(float), "lanes": r.lanes.to_numpy(np.int32),
        "surface": rng.choice(["LQ", "LQ", "LQ", "SN"], len(ri)),
    }, geometry=shapely.linestrings(coords), crs=PROJECT_CRS)


def _lights(lay: Layout, d: Districts, rng: np.random.Generator) -> gpd.GeoDataFrame:
    sites = lay.lights
    di, si = _tile(len(sites), d)
    s = sites.iloc[si]
    n = si.size
    road = lay.roads.name.to_numpy()[s.road.to_numpy()]
    small = lay.roads.road_class.to_numpy()[s.road.to_numpy()] == "BRA"
    lamp = rng.choice(["LED", "HPS", "MH", "IND"], n, p=[0.82, 0.12, 0.04, 0.02])
    n_circuits = int(sites.groupby(["abbrev", "circuit"]).ngroups)
    circuit_id = pd.factorize(pd.Series(s.abbrev.to_numpy()) + "-" + s.circuit.astype(str).to_numpy())[0]
    circuit_serial = di * n_circuits + (circuit_id % n_circuits) + 1
    wx, wy = d.world(di, s.x.to_numpy(), s.y.to_numpy())
    return gpd.GeoDataFrame({
        "code": _code("0110", np.arange(n) + 1),
        "pole_code": _join("SN-", _digits(di + _division().tile0, 3), "-", s.abbrev.to_numpy(), "-",
                           _digits(s.seq.to_numpy(), 4)),
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
        "circuit": _join(s.abbrev.to_numpy(), "-", _digits(s.circuit.to_numpy(), 2)),
        "cabinet_code": _code("0114", circuit_serial),
        "pole_material": rng.choice(["ST", "AL", "FRP"], n, p=[0.7, 0.25, 0.05]),
        "road_name": road,
    }, geometry=shapely.points(wx, wy), crs=PROJECT_CRS)


def _poles(lay: Layout, d: Districts, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """2–4 smart poles at the corners of every junction (always the NE and SW corners), each carrying 2–6 devices."""
    j = lay.junctions
    dj, jj = _tile(len(j), d)
    per = rng.integers(2, 5, dj.size)
    di, ji = np.repeat(dj, per), np.repeat(jj, per)
    ci = _rank(np.repeat(np.arange(dj.size), per))
    corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    x = j.x.to_numpy()[ji] + corners[ci, 0] * (j.w_ns.to_numpy()[ji] / 2 + 1.5)
    y = j.y.to_numpy()[ji] + corners[ci, 1] * (j.w_ew.to_numpy()[ji] / 2 + 1.5)
    n = x.size
    code = _code("0113", np.arange(n) + 1)
    # devices: lighting first, then 1–5 others (duplicates dropped)
    ndev = rng.integers(2, 7, n)
    pi = np.repeat(np.arange(n), ndev)
    k = _rank(pi)
    dtype = np.where(k == 0, 0, rng.integers(1, len(DEVICES), pi.size))
    dev = pd.DataFrame({"pi": pi, "t": dtype}).drop_duplicates()
    types = np.array([t for t, _, _ in DEVICES])[dev.t.to_numpy()]
    mount = np.array([h for _, h, _ in DEVICES])[dev.t.to_numpy()]
    power = np.array([p for _, _, p in DEVICES])[dev.t.to_numpy()]
    operators = pd.Series(types).map(DEVICE_OPERATORS).fillna("青岛市市南区城市管理局").to_numpy()
    from qdt.cim.schema import catalogue

    labels = {e.code: e.zh for e in catalogue().codelist("device_type").entries}
    summary = pd.Series(pd.Series(types).map(labels).to_numpy()).groupby(dev.pi.to_numpy()).agg("、".join)
    devices = pd.DataFrame({
        "pole_code": code[dev.pi.to_numpy()], "device_type": types, "mount_height": mount,
        "operator": operators, "power_w": power, "status": _status(rng, len(dev)),
        "install_date": _dates(rng, len(dev), 2019, 2025),
        "model": rng.choice(["HW-AP7060", "HK-DS2CD", "ZTE-QCell", "SZ-ENV300", "LS-P3"], len(dev)),
    })
    wx, wy = d.world(di, x, y)
    poles = gpd.GeoDataFrame({
        "code": code,
        "name": _join(j.name.to_numpy()[ji], "路口智慧杆", _digits(ci + 1, 2)),
        "pole_height": rng.choice([10.0, 12.0, 15.0], n, p=[0.3, 0.5, 0.2]),
        "status": _status(rng, n),
        "install_date": _dates(rng, n, 2019, 2025),
        "owner": rng.choice(["青岛市大数据发展管理局", "青岛市市南区城市管理局"], n),
        "operator": rng.choice(["中国铁塔股份有限公司青岛市分公司", "青岛华通智能科技研究院有限公司"], n),
        "cabinet_code": _join("ZH-", _digits(di, 3), "-", _digits(ji, 4)),
        "devices": summary.reindex(np.arange(n)).to_numpy(),
        "device_count": np.bincount(dev.pi.to_numpy(), minlength=n).astype(np.int32),
    }, geometry=shapely.points(wx, wy), crs=PROJECT_CRS)
    return poles, devices


# --- pole kinds consolidated into smart poles (多杆合一): signal, sign and camera poles -----------------
SIGNAL_CORNER = (2.5, 4.0)  # m beyond the kerbs of the NS and EW road: ~2.7 m from the corner's smart pole
SIGN_SPACING, SIGN_PHASE = 150.0, 0.37  # sign poles on both sidewalks; the phase puts many 5–10 m from a light
CAMERA_SPACING, CAMERA_PHASE = 250.0, 0.6  # camera poles on the east/north sidewalk of arterials
POLE_SEED_KEY = 18  # the pole kinds draw from their own stream: the other layers stay as they were
POLE_OWNERS = {"traffic_signal_pole": "青岛市公安局交通警察支队", "sign_pole": "青岛市公安局交通警察支队",
               "camera_pole": "青岛市公安局市南分局"}
POLE_MAINTAINERS = ["青岛市交通设施维护有限公司", "青岛海信网络科技股份有限公司"]


def _signal_pole_sites(lay: Layout) -> pd.DataFrame:
    """Four signal poles at every junction of two roads wider than 16 m (branch-road crossings are unsignalised)."""
    j = lay.junctions
    signalised = np.flatnonzero(np.maximum(j.w_ns.to_numpy(), j.w_ew.to_numpy()) > 16.0)
    ji = np.repeat(signalised, 4)
    corner = np.tile(np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float), (signalised.size, 1))
    x = j.x.to_numpy()[ji] + corner[:, 0] * (j.w_ns.to_numpy()[ji] / 2 + SIGNAL_CORNER[0])
    y = j.y.to_numpy()[ji] + corner[:, 1] * (j.w_ew.to_numpy()[ji] / 2 + SIGNAL_CORNER[1])
    road = np.array(j.name.str.split("与").str[0])[ji]  # the signal heads face the east-west road
    return pd.DataFrame({"x": x, "y": y, "road_name": road, "junction": ji})


def _sign_pole_sites(lay: Layout) -> pd.DataFrame:
    roads = lay.roads
    parts = []
    for side in (-1.0, 1.0):
        off = side * (roads.width.to_numpy() / 2 + 1.5)
        x, y, ri = _along(roads, SIGN_SPACING, off, phase=SIGN_PHASE, junction_gap=8.0)
        parts.append(pd.DataFrame({"x": x, "y": y, "road": ri}))
    sites = pd.concat(parts, ignore_index=True)
    sites["road_name"] = roads.name.to_numpy()[sites.road.to_numpy()]
    return sites


def _camera_pole_sites(lay: Layout) -> pd.DataFrame:
    roads = lay.roads
    arterial = roads[roads.road_class == "ART"].reset_index(drop=True)
    x, y, ri = _along(arterial, CAMERA_SPACING, arterial.width.to_numpy() / 2 + 2.0, phase=CAMERA_PHASE,
                      junction_gap=8.0)
    return pd.DataFrame({"x": x, "y": y, "road_name": arterial.name.to_numpy()[ri]})


def _pole_frame(kind: str, minor: str, prefix: str, sites: pd.DataFrame, d: Districts,
                rng: np.random.Generator, devices: np.ndarray, extra: dict[str, np.ndarray]) -> gpd.GeoDataFrame:
    di, si = _tile(len(sites), d)
    s = sites.iloc[si]
    n = si.size
    wx, wy = d.world(di, s.x.to_numpy(), s.y.to_numpy())
    return gpd.GeoDataFrame({
        "code": _code(minor, np.arange(n) + 1),
        "pole_code": _join(prefix, "-", _digits(di, 3), "-", _digits(si + 1, 4)),
        "pole_height": extra.pop("pole_height"),
        "arm_length": extra.pop("arm_length"),
        "devices": devices,
        **extra,
        "status": _status(rng, n),
        "install_date": _dates(rng, n, 2003, 2024),
        "owner": np.full(n, POLE_OWNERS[kind]),
        "maintainer": rng.choice(POLE_MAINTAINERS, n),
        "pole_material": rng.choice(["ST", "AL"], n, p=[0.85, 0.15]),
        "road_name": s.road_name.to_numpy(),
    }, geometry=shapely.points(wx, wy), crs=PROJECT_CRS)


def _pole_kinds(lay: Layout, d: Districts, seed: int) -> dict[str, gpd.GeoDataFrame]:
    """Traffic-signal, sign and camera poles of every district (the poles 多杆合一 consolidates)."""
    rng = np.random.default_rng([seed, POLE_SEED_KEY])
    signal_sites, sign_sites, camera_sites = _signal_pole_sites(lay), _sign_pole_sites(lay), _camera_pole_sites(lay)
    n_sig, n_sign, n_cam = (len(s) * len(d) for s in (signal_sites, sign_sites, camera_sites))
    with_camera = rng.random(n_sig) < 0.3  # some signal poles carry an enforcement camera
    signals = _pole_frame("traffic_signal_pole", "0151", "XH", signal_sites, d, rng,
                          np.where(with_camera, "交通信号灯、视频监控", "交通信号灯"), {
                              "pole_height": rng.choice([6.0, 7.5], n_sig),
                              "arm_length": rng.choice([6.0, 8.0, 10.0], n_sig),
                              "signal_heads": rng.integers(2, 6, n_sig).astype(np.int32),
                              "cabinet_code": _join("XK-", _digits(np.repeat(np.arange(len(d)), len(signal_sites)), 3),
                                                    "-", _digits(np.tile(signal_sites.junction.to_numpy(), len(d)), 4)),
                          })
    support = rng.choice(["COL", "CANT", "GANTRY"], n_sign, p=[0.7, 0.25, 0.05])
    signs = _pole_frame("sign_pole", "0152", "BZ", sign_sites, d, rng, np.full(n_sign, "交通标志"), {
        "pole_height": np.where(support == "COL", 3.5, np.where(support == "CANT", 7.0, 7.5)),
        "arm_length": np.where(support == "COL", 0.0, np.where(support == "CANT", 6.0, 12.0)),
        "sign_type": rng.choice(["WARN", "BAN", "MAND", "GUIDE", "NOTICE"], n_sign, p=[0.2, 0.25, 0.2, 0.3, 0.05]),
        "support_form": support,
    })
    cameras = _pole_frame("camera_pole", "0153", "JK", camera_sites, d, rng, np.full(n_cam, "视频监控"), {
        "pole_height": rng.choice([6.0, 8.0], n_cam),
        "arm_length": rng.choice([1.0, 2.0], n_cam),
        "camera_count": rng.integers(1, 4, n_cam).astype(np.int32),
        "camera_use": rng.choice(["SEC", "TRAFFIC", "ENF"], n_cam, p=[0.5, 0.3, 0.2]),
    })
    return {"traffic_signal_poles": signals, "sign_poles": signs, "camera_poles": cameras}


# Survey deliveries (CJJ 61-2017): point prefixes of the 物探点号 per network run, how far drainage inverts
# fall per metre toward the outfall, and the planted survey errors the network check must find
DRAIN_SLOPE = 0.002  # 2‰: above GB 50014-2021's minimum slopes for the diameters generated (to confirm)
DRAIN_TOP = 4.25  # m: at junctions drainage tops stay below the layers of the pressure networks (JUNCTION_TOP)
DRAIN_COVER = 1.8  # m: cover of drainage between junctions before the fall toward the outfall deepens it
CLOSED_VALVES = 0.05  # share of valves found closed
UPHILL_TOLL = 400.0  # m of detour a sewer would rather take than climb 1 m of ground
END_FEATURE = {"JS": "stub", "RQ": "cap", "RL": "cap", "DL": "riser", "TX": "stub", "PS": "stub"}


def _survey_points(lay: Layout) -> dict[str, np.ndarray]:
    """Per survey point (layout level): kind, degree, feature, appurtenance, flow distance to the sink."""
    from scipy import sparse
    from scipy.sparse import csgraph

    pts, runs = lay.points, lay.runs
    sp, first = lay.survey_point, lay.survey_first
    n = first.size
    kind = runs.net.to_numpy()[pts.run.to_numpy()[first]]
    net = np.array([k[0] for k in NETWORKS])[kind]
    sub = np.array([k[1] for k in NETWORKS])[kind]
    a, b = sp[lay.segment_start], sp[lay.segment_end]
    degree = np.bincount(np.r_[a, b], minlength=n)
    any_of = lambda col: np.bincount(sp, weights=pts[col].to_numpy(float), minlength=n) > 0  # noqa: E731
    site, jvalve, outfall = any_of("site"), any_of("junction_valve"), any_of("outfall")
    feature = np.where(degree >= 4, "cross", np.where(degree == 3, "tee", "straight")).astype(object)
    ends = degree == 1
    feature[ends] = pd.Series(net[ends]).map(END_FEATURE).to_numpy()
    feature[outfall] = None
    appurt = np.full(n, None, dtype=object)
    serial = np.cumsum(site) % 3
    water, gas, heat = net == "JS", net == "RQ", net == "RL"
    appurt[water & site] = np.array(["valve", "hydrant", "water_meter"], dtype=object)[serial[water & site]]
    appurt[(water | gas | heat) & jvalve] = "valve"
    appurt[heat & site & ~jvalve] = "manhole"
    appurt[(net == "PS") & (degree >= 2)] = "manhole"
    appurt[np.isin(net, ["DL", "TX"]) & site] = "cable_manhole"
    appurt[outfall] = "outfall"
    # drainage flows to the outfalls (storm) and to the interceptor stubs at the coastal road (sewage)
    length = np.hypot(pts.x.to_numpy()[lay.segment_end] - pts.x.to_numpy()[lay.segment_start],
                      pts.y.to_numpy()[lay.segment_end] - pts.y.to_numpy()[lay.segment_start])
    run_start = np.r_[True, pts.run.to_numpy()[1:] != pts.run.to_numpy()[:-1]]
    south_end = np.bincount(sp, weights=(run_start & (runs.dir.to_numpy()[pts.run.to_numpy()] == "NS")).astype(float),
                            minlength=n) > 0
    sink = (outfall | (south_end & (sub == "WS"))) & (net == "PS")
    # cost of flowing a → b: its length plus a heavy toll for every metre the ground rises (sewers follow the land)
    g = ground(pts.x.to_numpy()[first], pts.y.to_numpy()[first])
    cost_ab = length + UPHILL_TOLL * np.maximum(0.0, g[b] - g[a])
    cost_ba = length + UPHILL_TOLL * np.maximum(0.0, g[a] - g[b])
    # reversed edges: from a sink back up the flow
    graph = sparse.csr_matrix((np.r_[cost_ab, cost_ba], (np.r_[b, a], np.r_[a, b])), shape=(n, n))
    dist = csgraph.dijkstra(graph, directed=True, indices=np.flatnonzero(sink), min_only=True) if sink.any() \
        else np.full(n, np.inf)
    return {"kind": kind, "net": net, "sub": sub, "degree": degree, "feature": feature, "appurt": appurt,
            "dist": dist, "seg_a": a, "seg_b": b, "seg_len": length, "sink": sink}


def _point_numbers(prefix: np.ndarray, di: np.ndarray) -> np.ndarray:
    """物探点号: network letters and a 6-digit serial per prefix over the whole delivery (JS000123)."""
    order = np.lexsort((np.arange(prefix.size), prefix))
    serial = np.empty(prefix.size, dtype=np.int64)
    serial[order] = _rank(prefix[order]) + 1
    return _join(prefix, _digits(serial, 6))


def _pipes(lay: Layout, d: Districts, rng: np.random.Generator
           ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Survey deliveries of every network (a line and a point table) and the manholes, for all districts."""
    runs, pts = lay.runs, lay.points
    nd, nr, npt = len(d), len(runs), len(pts)
    net = runs.net.to_numpy()
    net_code = np.array([n[0] for n in NETWORKS])[net]
    dmin = np.array([n[3][0] for n in NETWORKS], dtype=float)[net]
    dmax = np.array([n[3][1] for n in NETWORKS], dtype=float)[net]
    # per district and run: diameter, gas pressure class, duct hole count
    dia = np.round(rng.uniform(dmin, dmax, (nd, nr)) / 50) * 50
    dia = np.where(net_code == "DL", dmin, dia)
    dia = np.where(runs.hk_water.to_numpy(), 300.0, dia)
    dia = np.where(runs.planted.to_numpy() | runs.sd_gas.to_numpy(), 200.0, dia)
    pressure = np.where(runs.planted.to_numpy(), "MB", rng.choice(["L", "MB", "MA"], (nd, nr)))
    holes_count = rng.choice([6, 9, 12, 18, 24], (nd, nr))
    # per district and run point: depth to the pipe top (pressure networks and cables)
    run_of = pts.run.to_numpy()
    zmin = np.array([n[4][0] for n in NETWORKS])[net][run_of]
    zmax = np.array([n[4][1] for n in NETWORKS])[net][run_of]
    depth = rng.uniform(zmin, zmax, (nd, npt))
    # where roads cross, every network dips to its own layer so crossing pipes keep their vertical clearances
    # (GB 50289-2016 Table 4.1.14; pressure pipes pass over gravity sewers)
    top = pd.Series(net_code[run_of]).map(JUNCTION_TOP).to_numpy(float)
    at_junction = pts.at_junction.to_numpy()
    depth = np.where(at_junction, top + rng.uniform(0.0, 0.05, (nd, npt)), depth)
    # planted vertical conflict: 0.05 m below 香港中路's water main (top 2.70 m, DN300 → bottom 3.00 m)
    depth = np.where(pts.hk.to_numpy(), 3.05, depth)
    depth = np.where(runs.hk_water.to_numpy()[run_of] & at_junction, JUNCTION_TOP["JS"], depth)
    # points between the vertices sit on the straight pipe: depth interpolated along it
    index = np.arange(npt)
    vertex = pts.vertex.to_numpy()
    before = np.maximum.accumulate(np.where(vertex, index, 0))
    after = np.minimum.accumulate(np.where(vertex, index, npt - 1)[::-1])[::-1]
    tt = pts.t.to_numpy()
    w = np.where(vertex, 0.0, (tt - tt[before]) / np.maximum(tt[after] - tt[before], 1e-9))
    depth = np.where(vertex, depth, depth[:, before] * (1 - w) + depth[:, after] * w)

    sv = _survey_points(lay)
    first = lay.survey_first
    nsp = first.size
    gx, gy = pts.x.to_numpy()[first], pts.y.to_numpy()[first]
    ground_sp = np.round(ground(gx, gy), 2)
    top_sp = np.round(depth[:, first], 2)  # (nd, nsp) top depth of the point's first run
    # drainage inverts: at least DRAIN_TOP below ground plus the largest pipe, falling DRAIN_SLOPE per metre
    # toward the sink (relaxed along the flow until no invert lies above its upstream one's fall)
    drain = sv["net"] == "PS"
    biggest = np.where(sv["sub"] == "YS", 1200.0, 600.0) / 1000.0
    junction_sp = np.bincount(lay.survey_point, weights=pts.at_junction.to_numpy(float), minlength=nsp) > 0
    cover = np.where(junction_sp, DRAIN_TOP, DRAIN_COVER)
    inv = np.where(drain, ground_sp - cover - biggest * 1.1, np.nan)[None, :].repeat(nd, axis=0)
    a, b, seg_len = sv["seg_a"], sv["seg_b"], sv["seg_len"]
    flows = drain[a] & np.isfinite(sv["dist"][a]) & np.isfinite(sv["dist"][b]) & (sv["dist"][a] != sv["dist"][b])
    up = np.where(sv["dist"][a] > sv["dist"][b], a, b)[flows]
    dn = np.where(sv["dist"][a] > sv["dist"][b], b, a)[flows]
    drop = DRAIN_SLOPE * seg_len[flows]
    for _ in range(500):  # iterations follow the longest flow path, not the number of features
        lowered = inv.copy()
        np.minimum.at(lowered, (slice(None), dn), inv[:, up] - drop)
        if np.array_equal(lowered, inv, equal_nan=True):
            break
        inv = lowered
    inv_depth = np.round(ground_sp[None, :] - inv, 2)

    # lines: consecutive points of a run
    ns = lay.segment_start.size
    di, si = _tile(ns, d)
    p0, p1 = lay.segment_start[si], lay.segment_end[si]
    s0, s1 = lay.survey_point[p0], lay.survey_point[p1]
    run = run_of[p0]
    k = net[run]
    sub = np.array([n[1] for n in NETWORKS])[k]
    code = net_code[run]
    gravity = code == "PS"
    x0, y0 = d.world(di, pts.x.to_numpy()[first][s0], pts.y.to_numpy()[first][s0])
    x1, y1 = d.world(di, pts.x.to_numpy()[first][s1], pts.y.to_numpy()[first][s1])
    n = si.size
    owner = np.array([nw[7] for nw in NETWORKS])[k]
    owner = np.where(code == "TX", rng.choice(TX_OWNERS, n), owner)
    duct = np.isin(code, ["TX", "DL"]) & (sub != "LD")
    line_dia = dia[di, run]
    wall = np.where(gravity, np.round(line_dia * np.where(sub == "YS", 0.1, 0.06)), np.nan)
    depth_start = np.where(gravity, inv_depth[di, s0], top_sp[di, s0])
    depth_end = np.where(gravity, inv_depth[di, s1], top_sp[di, s1])

    # point table
    pi, ps = _tile(nsp, d)
    prefix = np.where(np.isin(sv["sub"], ["YS", "WS", "LD"]), sv["sub"], sv["net"])[ps]
    numbers = _point_numbers(prefix, pi)
    number_of = numbers.reshape(nd, nsp)
    start_no, end_no = number_of[di, s0].astype(object), number_of[di, s1].astype(object)
    appurt = np.tile(sv["appurt"], nd)
    valve = np.isin(appurt, ["valve", "valve_chamber"])
    closed = valve & (rng.random(pi.size) < CLOSED_VALVES)
    operable = np.where(valve, True, None).astype(object)
    # one valve per district cannot be turned (seized): the 7th water valve of the district
    water_valve = valve & (np.tile(sv["net"], nd) == "JS")
    candidates = np.flatnonzero(water_valve & ~closed)
    operable[candidates[_rank(pi[candidates]) == 6]] = False
    feature = np.tile(sv["feature"], nd).astype(object)
    run_first = run_of[first][ps]
    hx, hy = d.world(pi, gx[ps], gy[ps])
    well = np.where(np.isin(appurt, ["manhole", "valve", "cable_manhole"]),
                    np.where(np.tile(drain, nd), inv_depth[pi, ps] + 0.3,
                             top_sp[pi, ps] + dia[pi, run_first] / 1000 + 0.3), np.nan)

    # planted survey errors (the network check must find each), in every district
    seg_sub = sub[:ns]
    seg_mid = pts.site.to_numpy()[lay.segment_start] & ~pts.at_junction.to_numpy()[lay.segment_start] \
        & ~pts.at_junction.to_numpy()[lay.segment_end]

    def pick(cond: np.ndarray, nth_: int = 3) -> np.ndarray:
        hit = np.flatnonzero(cond)
        return si == hit[min(nth_, hit.size - 1)]

    ns_run = runs.dir.to_numpy()[run_of[lay.segment_start]] == "NS"
    rev = pick((seg_sub == "YS") & ns_run & seg_mid)  # invert raised 0.30 m at the downstream end
    down_is_end = sv["dist"][s0] > sv["dist"][s1]
    g0, g1 = ground_sp[s0], ground_sp[s1]
    depth_end = np.where(rev & down_is_end, g1 - (g0 - depth_start + 0.15), depth_end)  # 0.15 m above upstream
    depth_start = np.where(rev & ~down_is_end, g0 - (g1 - depth_end + 0.15), depth_start)
    shallow = pick((seg_sub == "JP") & seg_mid, 5)  # cover 0.45 m under the carriageway (minimum 0.70)
    depth_start = np.where(shallow, 0.45, depth_start)
    depth_end = np.where(shallow, 0.45, depth_end)
    off = pick((seg_sub == "TR") & seg_mid & ~runs.planted.to_numpy()[run_of[lay.segment_start]], 2)
    # the end vertex drawn 3 m short of its point along the pipe
    ux, uy = x1 - x0, y1 - y0
    ul = np.maximum(np.hypot(ux, uy), 1e-9)
    x1 = np.where(off, x1 - 3.0 * ux / ul, x1)
    y1 = np.where(off, y1 - 3.0 * uy / ul, y1)
    missing = pick((seg_sub == "RS") & seg_mid, 1)
    end_no = np.where(missing, _join("RL9", _digits(di, 5)), end_no).astype(object)
    slipped = pick((seg_sub == "XX") & seg_mid, 6)  # a slipped decimal: 0.9 m written as 9.0 m
    depth_start = np.where(slipped, np.round(depth_start * 10, 1), depth_start)
    unnumbered = pick((seg_sub == "GD") & seg_mid, 4)
    start_no = np.where(unnumbered, None, start_no).astype(object)
    dup_sp = np.flatnonzero((sv["sub"] == "XX") & (sv["appurt"] == "cable_manhole"))[2]
    numbers = numbers.astype(object)
    dup_rows = ps == dup_sp
    numbers[dup_rows] = number_of[pi[dup_rows], dup_sp + 1] if dup_sp + 1 < nsp else numbers[dup_rows]
    stub_sp = np.flatnonzero((sv["net"] == "JS") & (sv["degree"] == 1))
    feature[(ps == stub_sp[min(1, stub_sp.size - 1)])] = "straight"  # a dangling end without a terminal feature

    pipes = gpd.GeoDataFrame({
        "code": _code("0120", np.arange(n) + 1),
        "network": code, "subtype": sub, "start_point": start_no, "end_point": end_no,
        "material": np.array([nw[6] for nw in NETWORKS])[k],
        "diameter_mm": line_dia, "wall_mm": wall,
        "depth_start": np.round(depth_start, 2), "depth_end": np.round(depth_end, 2),
        "pressure": np.where(code == "RQ", pressure[di, run], None),
        "voltage_kv": np.where(code == "DL", np.where(sub == "GD", 10.0, 0.38), np.nan),
        "holes": _nullable(holes_count[di, run], duct),
        "holes_used": _nullable(np.maximum(1, holes_count[di, run] // 2), duct),
        "flow": _nullable(np.where(sv["dist"][s0] >= sv["dist"][s1], 1, 2), gravity & np.isfinite(sv["dist"][s0])
                          & np.isfinite(sv["dist"][s1])),
        "burial": np.where(duct, "GK", np.where(code == "RL", "GG", np.where(sub == "LD", "GM", "ZM"))),
        "position": np.where(duct & (sub != "LD"), "non_motor", "motor"),
        "year_built": rng.integers(1990, 2025, n).astype(np.int32),
        "owner": owner, "status": _status(rng, n), "road_name": runs.name.to_numpy()[run],
    }, geometry=shapely.linestrings(np.stack([np.stack([x0, y0], -1), np.stack([x1, y1], -1)], 1)),
        crs=PROJECT_CRS)

    points = gpd.GeoDataFrame({
        "point_no": numbers, "network": sv["net"][ps], "subtype": sv["sub"][ps],
        "feature": feature, "appurtenance": appurt,
        "ground_elev": ground_sp[ps], "well_depth": np.round(well, 2),
        "valve_status": np.where(valve, np.where(closed, "closed", "open"), None),
        "operable": pd.array(operable, dtype="boolean"),
        "road_name": runs.name.to_numpy()[run_first], "owner": np.array([nw[7] for nw in NETWORKS])[sv["kind"][ps]],
    }, geometry=shapely.points(hx, hy), crs=PROJECT_CRS)

    # manholes (cover inventory, GB/T 30428.2 cover codes) at the manhole sites of each network
    hi, hh = _tile(lay.holes.size, d)
    hp = lay.holes[hh]
    hrun = run_of[hp]
    hk = net[hrun]
    m = hp.size
    hx, hy = d.world(hi, pts.x.to_numpy()[hp], pts.y.to_numpy()[hp])
    cover = np.array([nw[8] for nw in NETWORKS])[hk]
    hsp = lay.survey_point[hp]
    mdepth = np.where(net_code[hrun] == "PS", inv_depth[hi, hsp] + 0.3, top_sp[hi, hsp] + dia[hi, hrun] / 1000 + 0.3)
    manholes = gpd.GeoDataFrame({
        "code": _code(cover, np.arange(m) + 1),
        "network": net_code[hrun], "subtype": np.array([nw[1] for nw in NETWORKS])[hk], "cover_type": cover,
        "depth": np.round(mdepth, 2), "status": _status(rng, m),
        "owner": np.array([nw[7] for nw in NETWORKS])[hk], "road_name": runs.name.to_numpy()[hrun],
        "install_date": _dates(rng, m, 2005, 2025),
    }, geometry=shapely.points(hx, hy), crs=PROJECT_CRS)
    return pipes, points, manholes


def _cabinets(lay: Layout, d: Districts, lights: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """One 配电箱 per streetlight circuit beside its first light; a 交接箱 or 信号控制箱 at every third junction."""
    first = lights.drop_duplicates("cabinet_code")
    xy = shapely.get_coordinates(first.geometry.to_numpy())
    jb = lay.junction_boxes
    dj, jj = _tile(len(jb), d)
    jx, jy = d.world(dj, jb.x.to_numpy()[jj] + jb.w_ns.to_numpy()[jj] / 2 + 3.0,
                     jb.y.to_numpy()[jj] - jb.w_ew.to_numpy()[jj] / 2 - 3.0)
    n_pd, n_j = len(first), jj.size
    x = np.concatenate([xy[:, 0] + 1.2, jx])
    y = np.concatenate([xy[:, 1] + 1.2, jy])
    kind = np.concatenate([np.full(n_pd, "PD"), rng.choice(["JJ", "XK"], n_j)])
    box_names = np.where(kind[n_pd:] == "JJ", "通讯交接箱", "信号控制箱")
    names = np.concatenate([_join(first.circuit.to_numpy(), " 路灯配电箱"),
                            _join(jb.name.to_numpy()[jj], " ", box_names)])
    codes = np.concatenate([first.cabinet_code.to_numpy(), _code("0111", np.arange(n_j) + 1)])
    return gpd.GeoDataFrame({
        "code": codes, "name": names, "cabinet_type": kind, "status": _status(rng, len(x)),
        "owner": np.where(kind == "PD", "青岛市市政设施服务中心",
                          np.where(kind == "JJ", "中国电信股份有限公司青岛分公司", "青岛市公安局交通警察支队")),
        "install_date": _dates(rng, len(x), 2008, 2024),
        "circuits": _nullable(rng.integers(2, 9, len(x)), kind == "PD"),
    }, geometry=shapely.points(x, y), crs=PROJECT_CRS)


def _zone_frame(lay: Layout, d: Districts, rng: np.random.Generator) -> gpd.GeoDataFrame:
    z = lay.zones
    di, zi = _tile(len(z), d)
    geoms = z.geometry.to_numpy()[zi]
    counts = shapely.get_num_coordinates(geoms)
    shift = np.repeat(np.column_stack([ORIGIN[0] + d.dx[di], ORIGIN[1] + d.dy[di]]), counts, axis=0)
    geoms = shapely.transform(geoms, lambda c: c + shift)
    n = zi.size
    street_no = z.street_no.to_numpy()[zi]
    key = di * 10 + street_no  # grids are numbered within each street of each district
    order = np.argsort(key, kind="stable")
    serial_in_street = np.empty(n, dtype=np.int64)
    serial_in_street[order] = _rank(key[order]) + 1
    return gpd.GeoDataFrame({
        # division + tile + serial
        "grid_code": _join(_division().code, _digits(di + _division().tile0, 3), _digits(zi + 1, 3)),
        "name": _join(z.street.to_numpy()[zi], "第", _digits(serial_in_street, 2), "网格"),
        "district_code": _division().code, "street": z.street.to_numpy()[zi],
        "community": z.community.to_numpy()[zi],
        "manager": _people(rng, n),
        "area_m2": np.round(shapely.area(geoms), 1),
    }, geometry=geoms, crs=PROJECT_CRS)


# --- landmarks (CityJSON LOD2) --------------------------------------------------------------------------
def _landmarks(d: Districts, count: int) -> tuple[list[list[float]], dict[str, dict]]:
    """LOD2 solids with semantics for the first ``count`` districts: stepped towers, flat blocks, gable roofs."""
    verts: list[list[float]] = []
    objects: dict[str, dict] = {}

    def add(v: list[tuple[float, float, float]]) -> list[int]:
        start = len(verts)
        verts.extend([list(p) for p in v])
        return list(range(start, start + len(v)))

    def prism(x0: float, y0: float, x1: float, y1: float, z0: float, z1: float, roof: str) -> tuple[list, list]:
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
    for i in range(min(count, len(d))):
        for k, (name, use, (cx, cy), (w, dd), height, roof, year) in enumerate(LANDMARKS):
            x, y = cx + ORIGIN[0] + float(d.dx[i]), cy + ORIGIN[1] + float(d.dy[i])
            corners_x = np.array([cx - w / 2, cx + w / 2, cx + w / 2, cx - w / 2])
            corners_y = np.array([cy - dd / 2, cy - dd / 2, cy + dd / 2, cy + dd / 2])
            z0 = float(np.round(ground(corners_x, corners_y).min() - 0.3, 3))  # footing just below the lowest corner
            if roof == "stepped":  # a podium and a tower standing on it
                shells = [prism(x - w / 2, y - dd / 2, x + w / 2, y + dd / 2, z0, z0 + height * 0.75, "flat"),
                          prism(x - w / 3, y - dd / 3, x + w / 3, y + dd / 3, z0 + height * 0.75, z0 + height, "flat")]
            else:
                shells = [prism(x - w / 2, y - dd / 2, x + w / 2, y + dd / 2, z0, z0 + height, roof)]
            geoms = [{"type": "Solid", "lod": "2", "boundaries": [faces],
                      "semantics": {"surfaces": surfaces, "values": [sem]}} for faces, sem in shells]
            objects[f"QD-LM-{i:03d}-{k + 1:02d}"] = {
                "type": "Building",
                "attributes": {"name": name, "名称": name, "use": use, "measuredHeight": height,
                               "yearOfConstruction": year, "address": "青岛市市南区",
                               "note": "approximate position and shape (synthetic sample)"},
                "geometry": geoms,
            }
    return verts, objects


def _write_cityjson(path: Path, verts: list[list[float]], objects: dict[str, dict]) -> None:
    v = np.asarray(verts, dtype=np.float64)
    translate = np.floor(v.min(axis=0))
    ints = np.round((v - translate) / 0.001).astype(np.int64)
    doc = {"type": "CityJSON", "version": "2.0",
           "transform": {"scale": [0.001, 0.001, 0.001], "translate": translate.tolist()},
           # CityJSON asks for a compound CRS (e.g. EPSG:4549+5737); the horizontal code is what readers need
           "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4549",
                        "title": "青岛市南区 五四广场片区 地标建筑 LOD2 "
                                 "(heights: 1985 national height datum, EPSG:5737)"},
           "CityObjects": objects, "vertices": ints.tolist()}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


# --- rasters ----------------------------------------------------------------------------------------------
def _smooth_field(rng: np.random.Generator, rows: int, cols: int, cell: int) -> np.ndarray:
    """Values in 0..1 varying smoothly over about ``cell`` pixels: a coarse random grid, bilinearly upsampled."""
    coarse = rng.random((rows // cell + 2, cols // cell + 2))

    def weights(n: int, m: int) -> np.ndarray:  # (n, m) bilinear interpolation matrix
        pos = (np.arange(n) + 0.5) / cell
        i = np.minimum(pos.astype(int), m - 2)
        f = pos - i
        w = np.zeros((n, m))
        w[np.arange(n), i] = 1 - f
        w[np.arange(n), i + 1] = f
        return w

    return weights(rows, coarse.shape[0]) @ coarse @ weights(cols, coarse.shape[1]).T


def _rasters(out: Path, d: Districts, layers: dict[str, gpd.GeoDataFrame], scaled: bool) -> None:
    import rasterio
    from affine import Affine
    from rasterio.features import rasterize

    xmax = float(d.dx.max()) + DISTRICT_W
    ymax = float(d.dy.max()) + DISTRICT_H
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
    noise = rng.normal(0, 1, (rows, cols)).astype(np.float32)
    img = np.empty((3, rows, cols), dtype=np.float32)
    paved = np.array([158, 153, 142], dtype=np.float32)  # yards, car parks and footpaths inside the blocks
    green = np.array([96, 132, 70], dtype=np.float32)  # the seaside park between the beach and 东海西路
    coastal_road = EW_ROADS[0]
    park = yy < coastal_road[1] - coastal_road[2] / 2 - 4.0
    # gardens: patches of a smooth random field (about 40 m across) in the blocks, plus the seaside park
    gardens = park | (_smooth_field(rng, rows, cols, max(2, round(40.0 / ortho_cell))) > 0.62)
    for b in range(3):
        img[b] = np.where(gardens, green[b] + 14 * noise, paved[b] + 9 * noise)
    trees = gardens & (rng.random((rows, cols)) < 0.08)
    img[:, trees] *= 0.7
    beach = (above >= 0) & (above < 45)
    sea = above < 0
    for b, (s, deep) in enumerate(zip((214, 200, 160), (60, 110, 150), strict=True)):
        img[b][beach] = s + 8 * noise[beach]
        depth = np.clip(-h[sea] / 8.0, 0, 1)
        img[b][sea] = (1 - depth) * (90, 150, 170)[b] + depth * deep + 4 * noise[sea]

    def burn(geoms: np.ndarray, colour: tuple[int, int, int], jitter: float = 6.0, all_touched: bool = False) -> None:
        if len(geoms) == 0:
            return
        mask = rasterize(((g, 1) for g in geoms), out_shape=(rows, cols), transform=transform, fill=0,
                         dtype="uint8", all_touched=all_touched).astype(bool)
        for b in range(3):
            img[b][mask] = colour[b] + jitter * noise[mask]

    roads = layers["roads"]
    lines, widths = roads.geometry.to_numpy(), roads.width.to_numpy()
    # 五四广场: granite paving, lawns and the red 五月的风
    px0, py0, px1, py1 = PLAZA
    mx, my, mr = MAY_WIND
    offsets = np.column_stack([ORIGIN[0] + d.dx, ORIGIN[1] + d.dy])
    plaza = shapely.box(offsets[:, 0] + px0, offsets[:, 1] + py0, offsets[:, 0] + px1, offsets[:, 1] + py1)
    lawns = np.concatenate([shapely.box(offsets[:, 0] + px0 + 15, offsets[:, 1] + py0 + 15,
                                        offsets[:, 0] + mx - 30, offsets[:, 1] + py1 - 15),
                            shapely.box(offsets[:, 0] + mx + 30, offsets[:, 1] + py0 + 15,
                                        offsets[:, 0] + px1 - 15, offsets[:, 1] + py1 - 15)])
    burn(plaza, (206, 198, 184))
    burn(lawns, (92, 140, 66), 10.0)
    burn(shapely.buffer(shapely.points(offsets + [mx, my]), mr), (196, 38, 36), 4.0)
    burn(shapely.buffer(lines, widths / 2 + 4.0, cap_style="flat"), (188, 186, 180))  # sidewalks
    burn(shapely.buffer(lines, widths / 2, cap_style="flat"), (72, 74, 78), 3.0)  # carriageways
    if ortho_cell <= 1.5:  # markings and trees are sub-pixel in the coarse orthophoto of a scaled city
        _paint_details(burn, roads, d)
    b = layers["buildings"]
    # the landmarks (CityJSON only) need their roofs too
    lm_d, lm_k = _tile(len(LANDMARKS), Districts(d.dx[:LANDMARK_DISTRICTS], d.dy[:LANDMARK_DISTRICTS]))
    lm = np.array([(cx, cy, w, dd, hgt) for _, _, (cx, cy), (w, dd), hgt, *_ in LANDMARKS])[lm_k]
    lx, ly = lm[:, 0] + ORIGIN[0] + d.dx[lm_d], lm[:, 1] + ORIGIN[1] + d.dy[lm_d]
    landmark_roofs = shapely.box(lx - lm[:, 2] / 2, ly - lm[:, 3] / 2, lx + lm[:, 2] / 2, ly + lm[:, 3] / 2)
    footprints = np.concatenate([b.geometry.to_numpy(), landmark_roofs])
    heights = np.concatenate([b.height.to_numpy(), lm[:, 4]])
    # shadows: the sun stands in the south, so each building throws one to the north, longer for taller ones
    reach = np.minimum(heights, 120.0) * 0.35
    shift = np.repeat(np.column_stack([-0.25 * reach, reach]), shapely.get_num_coordinates(footprints), axis=0)
    burn(shapely.transform(footprints, lambda c: c + shift), (86, 88, 90), 4.0)
    # roofs: red tiles on low residential blocks (青岛's 红瓦), greys and glass on the taller ones
    pick = np.random.default_rng(SEED + 8).random(len(footprints))
    low = (heights < 24) & np.isin(np.r_[b.use.to_numpy(), np.full(len(lm), "PUB")], ["RES", "MIX"])
    roof = np.where(low & (pick < 0.7), 1, np.where(heights > 60, np.where(pick < 0.5, 4, 2),
                                                     np.where(pick < 0.5, 0, 3)))
    roof_colours = [(212, 210, 204), (178, 86, 62), (112, 116, 124), (222, 206, 176), (88, 112, 140)]
    for k, colour in enumerate(roof_colours):
        burn(footprints[roof == k], colour, 4.0)
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 3, "dtype": "uint8", "crs": PROJECT_CRS,
               "transform": transform, "compress": "jpeg", "jpeg_quality": 85, "photometric": "ycbcr",
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(out / "ortho.tif", "w", **profile) as dst:
        dst.write(rgb)


def _paint_details(burn: Callable[..., None], roads: gpd.GeoDataFrame, d: Districts) -> None:
    """Road markings (yellow centre lines, dashed lane lines, zebra crossings) and street trees."""
    lines, widths = roads.geometry.to_numpy(), roads.width.to_numpy()
    # yellow centre line on divided roads, dashed white lane lines, zebra crossings at junctions
    divided = roads.lanes.to_numpy() >= 4
    burn(shapely.buffer(lines[divided], 0.3, cap_style="flat"), (222, 190, 60), 2.0, all_touched=True)
    lane_w = widths / np.maximum(roads.lanes.to_numpy(), 1)
    lane_lines = []
    for k in range(1, int(roads.lanes.max()) // 2):
        sel = roads.lanes.to_numpy() > 2 * k
        for side in (-1.0, 1.0):
            lane_lines.append(shapely.offset_curve(lines[sel], side * k * lane_w[sel]))
    if lane_lines:
        lane = np.concatenate(lane_lines)
        length = shapely.length(lane)
        per = np.floor(length / 9.0).astype(int)
        which = np.repeat(np.arange(lane.size), per)
        start = _rank(which) * 9.0
        dashes = shapely.linestrings(np.stack([
            shapely.get_coordinates(shapely.line_interpolate_point(lane[which], start)),
            shapely.get_coordinates(shapely.line_interpolate_point(lane[which], start + 4.0))], 1))
        burn(shapely.buffer(dashes, 0.15, cap_style="flat"), (232, 232, 226), 2.0, all_touched=True)
    j = layout().junctions
    dj, jj = _tile(len(j), d)
    jx, jy = j.x.to_numpy()[jj] + ORIGIN[0] + d.dx[dj], j.y.to_numpy()[jj] + ORIGIN[1] + d.dy[dj]
    hw_ns, hw_ew = j.w_ns.to_numpy()[jj] / 2, j.w_ew.to_numpy()[jj] / 2
    stripes = np.arange(-14, 15, 2.0)  # 1 m stripes, 1 m gaps
    sx = jx[:, None] + stripes[None, :]
    across = np.abs(stripes)[None, :] < hw_ns[:, None]  # stripes over the crossing road's carriageway only
    south = shapely.box(sx, (jy - hw_ew - 6)[:, None], sx + 1, (jy - hw_ew - 2)[:, None])
    north = shapely.box(sx, (jy + hw_ew + 2)[:, None], sx + 1, (jy + hw_ew + 6)[:, None])
    burn(np.concatenate([south[across], north[across]]), (236, 236, 230), 2.0)
    # street trees every 8 m at the back of the sidewalk, none on the crossing roads
    carriageways = shapely.union_all(shapely.buffer(lines, widths / 2 + 1.0, cap_style="flat"))
    shapely.prepare(carriageways)
    for side in (-1.0, 1.0):
        edge = shapely.offset_curve(lines, side * (widths / 2 + 3.2))
        length = shapely.length(edge)
        per = np.floor(length / 8.0).astype(int)
        which = np.repeat(np.arange(edge.size), per)
        trunks = shapely.line_interpolate_point(edge[which], _rank(which) * 8.0 + 4.0)
        trunks = trunks[~shapely.intersects(carriageways, trunks)]
        burn(shapely.buffer(trunks, 1.6, quad_segs=3), (58, 96, 48), 10.0)


# --- project ---------------------------------------------------------------------------------------------
PROJECT_LAYERS = [
    {"name": "数字高程模型", "kind": "raster", "source": "dem.tif", "role": "dem"},
    {"name": "正射影像", "kind": "raster", "source": "ortho.tif", "role": "ortho"},
    {"name": "网格", "kind": "vector", "layer": "zones", "feature_class": "zone"},
    {"name": "道路", "kind": "vector", "layer": "roads", "feature_class": "road"},
    {"name": "建筑", "kind": "vector", "layer": "buildings", "feature_class": "building"},
    {"name": "地标建筑(LOD2)", "kind": "citymodel", "source": "landmarks.city.json"},
    {"name": "路灯", "kind": "vector", "layer": "streetlights", "feature_class": "streetlight"},
    {"name": "智慧杆", "kind": "vector", "layer": "smart_poles", "feature_class": "smart_pole"},
    {"name": "交通信号灯杆", "kind": "vector", "layer": "traffic_signal_poles", "feature_class": "traffic_signal_pole"},
    {"name": "交通标志杆", "kind": "vector", "layer": "sign_poles", "feature_class": "sign_pole"},
    {"name": "监控杆", "kind": "vector", "layer": "camera_poles", "feature_class": "camera_pole"},
    {"name": "杆载设备", "kind": "vector", "layer": "smart_pole_devices", "feature_class": "smart_pole_device"},
    {"name": "地下管线", "kind": "vector", "layer": "pipes", "feature_class": "pipe"},
    {"name": "管线点", "kind": "vector", "layer": "pipe_points", "feature_class": "pipe_point"},
    {"name": "检查井", "kind": "vector", "layer": "manholes", "feature_class": "manhole"},
    {"name": "设施箱柜", "kind": "vector", "layer": "cabinets", "feature_class": "cabinet"},
]


# Labels of the sample (qdt.layers.style.LabelStyle): road names on the ground along the road,
# landmark and tall-building names, smart-pole codes only at street level (camera within 450 m).
LABELS: dict[str, dict] = {
    "roads": {"text": "name", "placement": "line", "size": 14, "priority": 8, "max_distance": 6000,
              "spacing": 60, "colour": [40, 40, 40]},
    "landmarks.city.json": {"text": "name", "size": 16, "priority": 10, "colour": [150, 24, 24], "halo": 2,
                            "max_distance": 9000},
    "buildings": {"text": "name", "where": "height >= 60", "size": 12, "priority": 6, "max_distance": 1500,
                  "colour": [60, 40, 20]},
    "smart_poles": {"text": "code", "size": 11, "priority": 3, "max_distance": 450, "colour": [10, 70, 120]},
}


def _styles(buildings: gpd.GeoDataFrame) -> dict[str, dict]:
    from qdt.cim.schema import catalogue

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
            "pipe_points": by_codes("network", "pipe_network"),
            "roads": by_codes("road_class", "road_class")}


def _to_multi(geoms: np.ndarray) -> np.ndarray:
    single = shapely.get_type_id(geoms) == 3
    out = geoms.copy()
    if single.any():
        parts = geoms[single]
        out[single] = shapely.multipolygons(parts, indices=np.arange(parts.size))
    return out


def _tile_count(scale: int | None) -> int:
    return 1 if scale is None else max(1, math.ceil(scale / per_district_buildings()))


def build_chunks(scale: int | None = None, seed: int = SEED) -> Iterator[tuple[Districts, dict[str, pd.DataFrame]]]:
    """The city's vector layers a few tiles at a time: (the chunk's tiles, its layers), in district order.

    Tiles fill :data:`CITY_DISTRICTS` in turn (at least :data:`MIN_DISTRICT_TILES` each, the tiles
    shared evenly beyond that); each district numbers its component codes from 000001. One seeded
    Generator draws every chunk in turn, so the same ``seed`` gives the same city.
    """
    n = _tile_count(scale)
    city = Districts.grid(n)
    per_district = max(MIN_DISTRICT_TILES, math.ceil(n / len(CITY_DISTRICTS)))
    lay = layout()
    rng = np.random.default_rng(seed)
    chunk = 0
    for k, (code, name) in enumerate(CITY_DISTRICTS):
        first, last = k * per_district, min(n, (k + 1) * per_district)
        division = _Division(code, name)
        for a in range(first, last, CHUNK_TILES):
            b = min(last, a + CHUNK_TILES)
            division.next_chunk(a - first)
            d = Districts(city.dx[a:b], city.dy[a:b])
            token = _DIVISION.set(division)
            try:  # the pole kinds draw from their own seed: the first chunk's is the sample's
                layers = _chunk_layers(lay, d, rng, seed if chunk == 0 else seed + chunk * 1_000_003)
                chunk += 1
            finally:
                _DIVISION.reset(token)
            yield d, layers


def _chunk_layers(lay: Layout, d: Districts, rng: np.random.Generator, seed: int) -> dict[str, pd.DataFrame]:
    layers: dict[str, pd.DataFrame] = {}
    layers["buildings"] = _buildings(lay, d, rng)
    layers["roads"] = _road_frame(lay, d, rng)
    layers["streetlights"] = _lights(lay, d, rng)
    layers["smart_poles"], layers["smart_pole_devices"] = _poles(lay, d, rng)
    layers["pipes"], layers["pipe_points"], layers["manholes"] = _pipes(lay, d, rng)
    layers.update(_pole_kinds(lay, d, seed))
    layers["cabinets"] = _cabinets(lay, d, layers["streetlights"], rng)
    layers["zones"] = _zone_frame(lay, d, rng)
    for frame in layers.values():
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="fid")
    return layers


def build(scale: int | None = None, seed: int = SEED) -> tuple[Districts, dict[str, pd.DataFrame]]:
    """The vector layers of the sample city in memory (no files); see :func:`generate`."""
    chunks = list(build_chunks(scale, seed))
    d = Districts.grid(_tile_count(scale))
    if len(chunks) == 1:
        return d, chunks[0][1]
    layers = {name: pd.concat([c[name] for _, c in chunks], ignore_index=True) for name in chunks[0][1]}
    for frame in layers.values():
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="fid")
    return d, layers


def _write_gpkg(path: Path, layers: dict[str, pd.DataFrame], report: Callable[[float, str], None],
                append: bool = False) -> None:
    """Write (or, with ``append``, add to) the layers of ``path``."""
    import pyogrio

    if path.exists() and not append:
        path.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        for i, (name, frame) in enumerate(layers.items()):
            report(0.6 + 0.25 * i / len(layers), f"writing {name}")
            if append:
                if isinstance(frame, gpd.GeoDataFrame) and name in ("buildings", "zones"):
                    frame = frame.set_geometry(shapely.force_2d(_to_multi(frame.geometry.to_numpy())))
                pyogrio.write_dataframe(frame.reset_index(drop=True), path, layer=name, driver="GPKG", append=True)
                continue
            if isinstance(frame, gpd.GeoDataFrame):
                geometry_type = {"buildings": "MultiPolygon", "zones": "MultiPolygon"}.get(name)
                if geometry_type:
                    frame = frame.set_geometry(shapely.force_2d(_to_multi(frame.geometry.to_numpy())))
                pyogrio.write_dataframe(frame.reset_index(drop=True), path, layer=name, driver="GPKG",
                                        geometry_type=geometry_type, layer_options={"SPATIAL_INDEX": "YES"},
                                        dataset_options=GPKG_OPTIONS if i == 0 else None)
            else:
                pyogrio.write_dataframe(frame.reset_index(drop=True), path, layer=name, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def generate(out_dir: str | Path, scale: int | None = None, seed: int = SEED,
             progress: Callable[[float, str], None] | None = None) -> dict[str, int]:
    """Write the sample base map into ``out_dir``; returns feature counts per layer.

    ``scale`` is the wanted number of buildings: districts (about :func:`per_district_buildings`
    each) are tiled side by side, so the count is met to within one district. None writes the
    single district of the committed sample. The same ``seed`` gives the same files.
    """
    report = progress or (lambda f, m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report(0.0, "layout")
    gpkg = out / "qingdao_shinan.gpkg"
    counts: dict[str, int] = {}
    # what the rasters and styles need of the whole city; the chunks' other columns are dropped once written
    kept: dict[str, list[pd.DataFrame]] = {"buildings": [], "roads": []}
    n_chunks = math.ceil(_tile_count(scale) / CHUNK_TILES) + len(CITY_DISTRICTS)
    for i, (_, chunk) in enumerate(build_chunks(scale, seed)):
        _write_gpkg(gpkg, chunk, lambda f, m, i=i: report(0.85 * min(1.0, (i + f) / n_chunks), m), append=i > 0)
        for name, frame in chunk.items():
            counts[name] = counts.get(name, 0) + len(frame)
        kept["buildings"].append(chunk["buildings"][["height", "use", "geometry"]])
        kept["roads"].append(chunk["roads"])
        del chunk
    layers = {name: pd.concat(frames, ignore_index=True) for name, frames in kept.items()}
    d = Districts.grid(_tile_count(scale))
    report(0.86, "rasters")
    _rasters(out, d, layers, scaled=scale is not None)
    verts, objects = _landmarks(d, LANDMARK_DISTRICTS)
    _write_cityjson(out / "landmarks.city.json", verts, objects)
    styles = _styles(layers["buildings"])
    styles.update({name: styles["smart_poles"] for name in ("traffic_signal_poles", "sign_poles", "camera_poles")})
    project_layers = []
    for entry in PROJECT_LAYERS:
        e = dict(entry)
        if "layer" in e:
            e = {"name": e["name"], "kind": e["kind"], "source": gpkg.name, "layer": e["layer"],
                 "feature_class": e["feature_class"]}
            if entry["layer"] in styles:
                e["style"] = styles[entry["layer"]]
        label_key = entry.get("layer") or entry["source"]
        if label_key in LABELS:
            e["labels"] = LABELS[label_key]
        project_layers.append(e)
    project = {"format": "qdt-project", "version": 1,
               "name": "青岛市南区·五四广场片区" + ("" if scale is None else f"（{len(d)} 个片区）"),
               "crs": PROJECT_CRS, "height_datum": "EPSG:5737", "layers": project_layers,
               "camera": None, "bookmarks": []}
    (out / "qingdao_shinan.qdt").write_text(json.dumps(project, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    report(1.0, "")
    counts["landmarks"] = len(objects)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdt.cim.sample", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--scale", type=int, help="about this many buildings (tiles districts); default: the sample")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.scale is not None and args.scale < 1:
        parser.error("--scale must be a positive number of buildings")
    start = time.perf_counter()
    counts = generate(args.out, args.scale, args.seed)
    print(json.dumps(counts, ensure_ascii=False))
    print(f"generated in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
