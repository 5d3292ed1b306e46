"""The committed Qingdao sample base map: generated, deterministic, valid against the catalogue."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from qdt.cim import catalogue, coerce_table, required_clearance, validate_table
from qdt.cim.sample import generate
from tests.conftest import SAMPLE_DIR, SAMPLE_GPKG, SAMPLE_PROJECT

CLASSES = {"buildings": "building", "roads": "road", "streetlights": "streetlight", "smart_poles": "smart_pole",
           "smart_pole_devices": "smart_pole_device", "pipes": "pipe", "pipe_points": "pipe_point",
           "manholes": "manhole", "cabinets": "cabinet", "zones": "zone"}
CLASSES.update({"traffic_signal_poles": "traffic_signal_pole", "sign_poles": "sign_pole",  # 多杆合一 pole kinds
                "camera_poles": "camera_pole"})
DISTRICT = (533_600, 3_991_500, 535_600, 3_993_000)  # 市南区, 五四广场 / 浮山湾, EPSG:4549


def read(path, layer):
    return pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    generate(out)
    return out


def test_committed_sample_equals_a_fresh_generation(regenerated):
    """Nobody hand-edits sample_data: it is exactly what the script writes."""
    assert sorted(name for name, _ in pyogrio.list_layers(SAMPLE_GPKG)) == sorted(CLASSES)
    for layer in CLASSES:
        committed, fresh = read(SAMPLE_GPKG, layer), read(regenerated / SAMPLE_GPKG.name, layer)
        pd.testing.assert_frame_equal(pd.DataFrame(committed), pd.DataFrame(fresh), check_exact=False)
    assert json.loads((regenerated / "qingdao_shinan.qdt").read_text("utf-8")) == json.loads(
        SAMPLE_PROJECT.read_text("utf-8"))
    with rasterio.open(SAMPLE_DIR / "dem.tif") as a, rasterio.open(regenerated / "dem.tif") as b:
        assert np.array_equal(a.read(1), b.read(1))


def test_generation_is_deterministic_and_scales(tmp_path):
    a = generate(tmp_path / "a", scale=1200)
    b = generate(tmp_path / "b", scale=1200)
    one = pyogrio.read_info(SAMPLE_GPKG, layer="buildings")["features"]
    assert a == b and 1.8 * one < a["buildings"] < 2.2 * one and a["streetlights"] > a["buildings"]
    for layer in ("streetlights", "pipes"):
        pd.testing.assert_frame_equal(pd.DataFrame(read(tmp_path / "a" / SAMPLE_GPKG.name, layer)),
                                      pd.DataFrame(read(tmp_path / "b" / SAMPLE_GPKG.name, layer)))


@pytest.mark.parametrize("layer", sorted(CLASSES))
def test_sample_layer_is_valid_against_the_catalogue(layer):
    cls = catalogue().feature_class(CLASSES[layer])
    frame = read(SAMPLE_GPKG, layer)
    coerced, issues = coerce_table(cls, frame, layer)
    issues += validate_table(cls, coerced, layer)
    assert issues == []
    info = pyogrio.read_info(SAMPLE_GPKG, layer=layer)
    if cls.geometry is not None:
        assert info["crs"] == "EPSG:4549"
        geoms = frame.geometry.to_numpy()
        assert shapely.is_valid(geoms).all()
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        assert DISTRICT[0] <= xmin and xmax <= DISTRICT[2] and DISTRICT[1] <= ymin and ymax <= DISTRICT[3]


def test_facilities_are_where_they_belong():
    buildings = read(SAMPLE_GPKG, "buildings").geometry.to_numpy()
    lights = read(SAMPLE_GPKG, "streetlights")
    tree = shapely.STRtree(buildings)
    assert tree.query(lights.geometry.to_numpy(), predicate="intersects").size == 0, "no light inside a building"
    assert (lights.status.value_counts(normalize=True)[1]) > 0.8  # most lights work
    pipes = read(SAMPLE_GPKG, "pipes")
    assert set(pipes.network) == {"JS", "PS", "RQ", "RL", "DL", "TX"}
    assert {"YS", "WS"} <= set(pipes.subtype[pipes.network == "PS"])
    # one water line per district is planted with 0.45 m cover for the network check (qdt.cim.sample)
    assert ((pipes[["depth_start", "depth_end"]].to_numpy() >= 0.5).all(axis=1)).sum() == len(pipes) - 1
    devices = read(SAMPLE_GPKG, "smart_pole_devices")
    poles = read(SAMPLE_GPKG, "smart_poles")
    assert devices.pole_code.isin(poles.code).all()
    assert (devices.groupby("pole_code").size().reindex(poles.code).to_numpy() == poles.device_count.to_numpy()).all()
    cabinets = read(SAMPLE_GPKG, "cabinets")
    assert lights.cabinet_code.isin(cabinets.code).all()


def test_planted_clearance_violation_on_xianggang_road():
    pipes = read(SAMPLE_GPKG, "pipes")
    hk = pipes[pipes.road_name == "香港中路"]
    gas, water = hk[hk.network == "RQ"], hk[hk.network == "JS"]
    centre_gap = shapely.distance(gas.geometry.iloc[3], water.geometry.to_numpy()).min()
    clear = centre_gap - (gas.diameter_mm.iloc[3] + water.diameter_mm.iloc[0]) / 2000
    rule = required_clearance("RQ", "JS", attrs_a={"pressure": gas.pressure.iloc[3]})
    assert clear == pytest.approx(0.30, abs=1e-6) and clear < rule.min_m


def test_rasters_and_landmarks():
    with rasterio.open(SAMPLE_DIR / "dem.tif") as dem:
        assert dem.crs.to_epsg() == 4549 and dem.nodata == -9999
        z = dem.read(1, masked=True)
        assert z.mask.any() and z.min() < -2 and z.max() > 30
    with rasterio.open(SAMPLE_DIR / "ortho.tif") as ortho:
        assert ortho.count == 3 and ortho.crs.to_epsg() == 4549 and ortho.dtypes[0] == "uint8"
    doc = json.loads((SAMPLE_DIR / "landmarks.city.json").read_text("utf-8"))
    assert doc["version"] == "2.0" and doc["metadata"]["referenceSystem"].endswith("/EPSG/0/4549")
    names = {o["attributes"]["name"] for o in doc["CityObjects"].values()}
    assert "青岛市人民政府办公大楼" in names
    n = len(doc["vertices"])
    for obj in doc["CityObjects"].values():
        for g in obj["geometry"]:
            flat = [i for shell in g["boundaries"] for face in shell for ring in face for i in ring]
            assert max(flat) < n
            assert {s["type"] for s in g["semantics"]["surfaces"]} == {"RoofSurface", "WallSurface", "GroundSurface"}
    assert sum(p.stat().st_size for p in SAMPLE_DIR.iterdir()) < 15 * 1024 * 1024
