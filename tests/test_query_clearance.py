"""Pipe clearance check: the sample's planted violations, synthetic pairs at known distances, crossings, DEM."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from qdt.cim import required_clearance
from qdt.layers import RasterLayer, VectorLayer
from qdt.project import open_project
from qdt.query import ClearanceError, check_clearances
from qdt.query.clearance import COLUMNS
from tests.conftest import SAMPLE_PROJECT

X0, Y0 = 534000.0, 3992000.0


def pipes(rows):
    """rows: (fid, network, diameter_mm, (x0, y0), (x1, y1), depth_start, depth_end, extra attrs)."""
    records, geoms = [], []
    for fid, network, diameter, a, b, d0, d1, *extra in rows:
        records.append({"fid": fid, "network": network, "diameter_mm": diameter, "depth_start": d0, "depth_end": d1,
                        **(extra[0] if extra else {})})
        geoms.append(shapely.LineString([(X0 + a[0], Y0 + a[1]), (X0 + b[0], Y0 + b[1])]))
    frame = gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4549").set_index("fid")
    return VectorLayer("pipes", frame, feature_class="pipe")


@pytest.fixture(scope="module")
def sample():
    project = open_project(SAMPLE_PROJECT)
    return project.layers["地下管线"], project.layers["数字高程模型"]


def test_sample_planted_violations_are_found(sample):
    layer, dem = sample
    report = check_clearances(layer, dem)
    v = report.violations
    assert list(v.columns) == COLUMNS and report.ground == "dem"
    frame = layer.frame
    road = frame["road_name"]
    hk = set(frame.index[road == "香港中路"])
    sd = set(frame.index[road == "山东路"])
    # 1. along 香港中路 the DN200 medium-pressure gas main runs 0.30 m clear of the DN300 water main (0.5 m asked)
    along = v[(v.kind == "horizontal") & v.fid_a.isin(hk) & v.fid_b.isin(hk) & (v.network_a == "JS")
              & (v.network_b == "RQ")]
    # the consecutive segment pairs of the one parallel run are one finding, with the run's length
    assert len(along) == 1
    run = along.iloc[0]
    assert run.segment_pairs > 10 and 1500 < run.run_length_m <= 2000
    gas = set(frame.index[(road == "香港中路") & (frame.network == "RQ")])
    assert {int(f) for f in run.fids_b.split()} == gas  # every gas segment of the run
    assert run.measured_m == pytest.approx(0.30) and run.required_m == 0.5
    assert (run.network_a_name, run.network_b_name, run.kind_zh) == ("给水", "燃气", "水平")
    assert run.citation == "GB 50289-2016 Table 4.1.9" and not run.verified
    assert "below the standard's minimum of 0.50 m" in run.message and "illegal" not in run.message
    assert "小于 GB 50289-2016 Table 4.1.9 规定的最小净距 0.50 m（规范值待核实）" in run.message_zh
    # 2. at 香港中路 × 山东路 the 山东路 gas main crosses just under the water main (0.15 m asked)
    pair = v[(v.kind == "vertical") & (v.network_a == "JS") & (v.network_b == "RQ")]
    crossing = pair[pair.fid_a.isin(hk) & pair.fid_b.isin(sd)]  # 香港中路's water main, 山东路's gas main
    assert len(crossing) == 1
    row = crossing.iloc[0]
    assert 0 <= row.measured_m < 0.15 and row.required_m == 0.15
    assert row.citation == "GB 50289-2016 Table 4.1.14" and row.kind_zh == "垂直"
    district_x = 533600.0 + 690.0  # 山东路 in the sample's first district
    assert abs(row.x - district_x) < 20 and abs(row.y - (3991500.0 + 700.0)) < 25
    json.dumps(report.to_dict(), ensure_ascii=False)  # the report is JSON-ready


def test_sample_with_flat_ground_finds_the_same_pairs(sample):
    layer, dem = sample
    with_dem, flat = check_clearances(layer, dem), check_clearances(layer)
    assert flat.ground == "flat"
    key = ["fid_a", "fid_b", "kind"]
    # horizontal distances are 2D: the ground does not change them
    assert np.array_equal(with_dem.violations.query("kind == 'horizontal'")[key].to_numpy(),
                          flat.violations.query("kind == 'horizontal'")[key].to_numpy())


def test_horizontal_pair_at_a_known_distance():
    # DN300 water along y = 0, DN400 sewer along y = 1.6: 1.6 - 0.15 - 0.20 = 1.25 m between outer walls
    report = check_clearances(pipes([(1, "JS", 300, (0, 0), (100, 0), 1.0, 1.0),
                                     (2, "PS", 400, (10, 1.6), (90, 1.6), 2.0, 2.0)]))
    assert report.count == 1
    row = report.violations.iloc[0]
    assert (row.fid_a, row.fid_b, row.kind) == (1, 2, "horizontal")
    assert row.measured_m == pytest.approx(1.25) and row.required_m == 1.5  # water d > 200 mm: 1.5 m
    assert row.shortfall_m == pytest.approx(0.25) and row.verified and row.rule_note == "water d > 200 mm"
    assert row.y == pytest.approx(Y0 + 0.8) and X0 + 10 <= row.x <= X0 + 90  # between the two, along the overlap
    # DN200 water: 1.0 m asked, 1.35 m there: fine
    assert check_clearances(pipes([(1, "JS", 200, (0, 0), (100, 0), 1.0, 1.0),
                                   (2, "PS", 400, (10, 1.6), (90, 1.6), 2.0, 2.0)])).count == 0
    # 1.5 m exactly is not below the minimum
    assert check_clearances(pipes([(1, "JS", 300, (0, 0), (100, 0), 1.0, 1.0),
                                   (2, "PS", 400, (10, 1.85), (90, 1.85), 2.0, 2.0)])).count == 0


def test_rule_attributes_decide_the_minimum():
    gas = {"pressure": "SHA"}  # sub-high-pressure A gas to sewer: 2.0 m (Table 4.1.9)
    rows = [(1, "PS", 500, (0, 0), (100, 0), 2.0, 2.0), (2, "RQ", 200, (0, 2.0), (100, 2.0), 1.0, 1.0, gas)]
    report = check_clearances(pipes(rows))
    row = report.violations.iloc[0]
    assert row.required_m == required_clearance("PS", "RQ", attrs_b=gas).min_m == 2.0
    assert row.measured_m == pytest.approx(2.0 - 0.25 - 0.1)


def test_vertical_crossing():
    # DN300 water, top 1.0 m (bottom 1.3 m); DN200 gas crossing under it
    def gas(d0, d1):
        return pipes([(1, "JS", 300, (0, 0), (100, 0), 1.0, 1.0), (2, "RQ", 200, (50, -50), (50, 50), d0, d1)])

    report = check_clearances(gas(1.35, 1.35))
    assert report.count == 1 and report.vertical_checked == 1 and report.horizontal_checked == 0
    row = report.violations.iloc[0]
    assert row.kind == "vertical" and row.measured_m == pytest.approx(0.05) and row.required_m == 0.15
    assert (row.x, row.y) == pytest.approx((X0 + 50, Y0)) and row.depth_b == pytest.approx(1.35)
    assert "cross 0.05 m apart vertically" in row.message
    assert check_clearances(gas(1.50, 1.50)).count == 0  # 0.20 m
    # depth interpolated along the pipe: 1.2 → 1.6 gives 1.4 at the crossing, 0.10 m clear
    assert check_clearances(gas(1.2, 1.6)).violations.iloc[0].measured_m == pytest.approx(0.10)
    # overlapping in 3D: negative clearance
    clash = check_clearances(gas(1.1, 1.1)).violations.iloc[0]
    assert clash.measured_m == pytest.approx(-0.2) and "overlapping by 0.20 m" in clash.message
    # gas above the water main: 1.0 - (0.5 + 0.2) = 0.30 m, fine
    assert check_clearances(gas(0.5, 0.5)).count == 0


def test_pairs_without_a_rule_and_connections_are_not_judged():
    rows = [(1, "JS", 300, (0, 0), (100, 0), 1.0, 1.0),
            (2, "JS", 300, (0, 0.2), (100, 0.2), 1.0, 1.0),      # same network: the table has no rule
            (3, "TX", 100, (50, -50), (50, 50), 1.0, 1.0),       # JS–TX: no rule in the table
            (4, "RQ", 200, (100, 0), (200, 0), 1.0, 1.0),        # meets the water main end to end
            (5, "DL", 100, (0, 300), (100, 300), 1.0, 1.0)]      # far away
    report = check_clearances(pipes(rows))
    assert report.count == 0 and report.vertical_checked == 0


def test_oblique_and_multi_vertex_pipes():
    # a bent gas main whose second leg runs 0.3 m beside the water main after the bend
    frame = gpd.GeoDataFrame({"network": ["JS", "RQ"], "diameter_mm": [300.0, 200.0], "depth_start": [1.0, 1.0],
                              "depth_end": [1.0, 1.0]},
                             geometry=[shapely.LineString([(X0, Y0), (X0 + 100, Y0)]),
                                       shapely.LineString([(X0 - 50, Y0 + 60), (X0 + 20, Y0 + 0.55),
                                                           (X0 + 90, Y0 + 0.55)])],
                             crs="EPSG:4549", index=pd.Index([7, 3], name="fid"))
    report = check_clearances(frame, name="管线")
    assert report.segments == 3 and report.count == 1
    row = report.violations.iloc[0]
    assert (row.fid_a, row.fid_b, row.network_a) == (7, 3, "JS")  # side A: the network that sorts first
    assert row.measured_m == pytest.approx(0.30)


def test_dem_changes_heights_between_the_ends():
    # ground G = 0.0002 y²: the gas main's ends (y = ±50) are 0.5 m up, the crossing (y = 0) is at 0 m.
    # A straight pipe 1.35 m below both ends is 0.85 m below ground at the crossing, i.e. above the water main.
    rows, cols = 200, 200
    yy = 100.0 - (np.arange(rows) + 0.5)
    ground = np.repeat((0.0002 * yy ** 2)[:, None], cols, axis=1)
    dem = RasterLayer("dem", ground.astype(np.float64), (1.0, 0.0, X0 - 100, 0.0, -1.0, Y0 + 100), None, role="dem")
    layer = pipes([(1, "JS", 300, (0, 0), (100, 0), 1.0, 1.0), (2, "RQ", 200, (50, -50), (50, 50), 1.35, 1.35)])
    flat = check_clearances(layer).violations.iloc[0]
    hilly = check_clearances(layer, dem).violations.iloc[0]
    assert flat.measured_m == pytest.approx(0.05)
    # gas top at -0.85, bottom -1.05; water top -1.0: they overlap by 0.05 m
    assert hilly.measured_m == pytest.approx(-0.05, abs=2e-3)
    assert hilly.depth_b == pytest.approx(0.85, abs=2e-3)


def test_missing_fields_and_depths():
    layer = pipes([(1, "JS", 300, (0, 0), (100, 0), 1.0, 1.0), (2, "RQ", 200, (50, -50), (50, 50), None, None)])
    report = check_clearances(layer)
    assert report.count == 0 and report.crossings_without_depth == 1
    frame = layer.frame.drop(columns=["depth_end"])
    with pytest.raises(ClearanceError, match="layer 'pipes' has no field 'depth_end'"):
        check_clearances(frame, name="pipes")
