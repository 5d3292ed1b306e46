"""The Qingdao sample generator and the committed sample_data (model tier, no display)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from qdt.cim import catalogue, pipe_networks
from qdt.cim.sample import (
    DISTRICT_H,
    DISTRICT_W,
    JUNCTION_TOP,
    LANDMARKS,
    ORIGIN,
    build,
    coast_y,
    generate,
    ground,
    layout,
    main,
    per_district_buildings,
)
from tests.conftest import SAMPLE_DIR, SAMPLE_GPKG, SAMPLE_PROJECT

LAYERS = ["buildings", "roads", "streetlights", "smart_poles", "smart_pole_devices", "pipes", "pipe_points", "manholes",
          "cabinets", "zones"]
LAYERS += ["traffic_signal_poles", "sign_poles", "camera_poles"]  # 多杆合一 pole kinds
FILES = ["qingdao_shinan.gpkg", "dem.tif", "ortho.tif", "landmarks.city.json", "qingdao_shinan.qdt"]
BBOX = (ORIGIN[0], ORIGIN[1], ORIGIN[0] + DISTRICT_W, ORIGIN[1] + DISTRICT_H)


def read(layer, path=SAMPLE_GPKG):
    return pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The default sample written again by the command-line entry point."""
    out = tmp_path_factory.mktemp("fresh")
    assert main(["--out", str(out)]) == 0
    return out


def test_committed_sample_is_byte_for_byte_a_fresh_generation(fresh):
    """Nobody hand-edits sample_data: regenerating it gives the same files, byte for byte."""
    for name in FILES:
        assert (SAMPLE_DIR / name).read_bytes() == (fresh / name).read_bytes(), name
    assert sorted(p.name for p in SAMPLE_DIR.iterdir()) == sorted(FILES)
    assert sum((SAMPLE_DIR / name).stat().st_size for name in FILES) < 8 * 1024 * 1024


def test_two_runs_with_a_small_scale_give_identical_tables(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "a"), "--scale", "300", "--seed", "11"]) == 0
    counts = json.loads(capsys.readouterr().out.splitlines()[0])
    generate(tmp_path / "b", scale=300, seed=11)
    assert counts["buildings"] == len(read("buildings", tmp_path / "b" / "qingdao_shinan.gpkg"))
    for layer in LAYERS:
        a = read(layer, tmp_path / "a" / "qingdao_shinan.gpkg")
        b = read(layer, tmp_path / "b" / "qingdao_shinan.gpkg")
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # another seed is another city on the same streets
    ours, committed = read("buildings", tmp_path / "a" / "qingdao_shinan.gpkg"), read("buildings")
    assert read("roads", tmp_path / "a" / "qingdao_shinan.gpkg").geometry.equals(read("roads").geometry)
    assert len(ours) != len(committed) or not np.array_equal(ours.height.to_numpy(), committed.height.to_numpy())


def test_a_scaled_city_tiles_districts_with_unique_codes():
    d, layers = build(scale=2000)
    per = per_district_buildings()
    assert len(d) == 3 and abs(len(layers["buildings"]) - 3 * per) < 0.1 * 3 * per
    # the benchmark's proportions: lights and pipes scale with the buildings
    n = len(layers["buildings"])
    assert len(layers["streetlights"]) > n and len(layers["pipes"]) > n and len(layers["smart_poles"]) > n / 10
    for name, frame in layers.items():
        if "code" in frame.columns:
            assert frame.code.is_unique, name
    for name in ("streetlights", "pipes", "manholes", "cabinets", "buildings", "smart_poles"):
        assert layers[name].code.str.fullmatch(r"370202\d{10}").all(), name
    xmin, ymin, xmax, ymax = shapely.total_bounds(layers["buildings"].geometry.to_numpy())
    assert ORIGIN[0] < xmin < xmax < ORIGIN[0] + 2 * DISTRICT_W and ORIGIN[1] < ymin < ymax < ORIGIN[1] + 2 * DISTRICT_H
    # every district gets its own buildings, the streets stay the same
    first = shapely.get_coordinates(layers["roads"].geometry.iloc[0])
    second = shapely.get_coordinates(layers["roads"].geometry.iloc[len(layout().roads)])
    assert np.allclose(second, first + [d.dx[1], d.dy[1]]) and (d.dx[1], d.dy[1]) == (DISTRICT_W, 0.0)


@pytest.mark.parametrize("layer", LAYERS)
def test_layers_follow_the_catalogue_in_epsg_4549(layer):
    info = pyogrio.read_info(SAMPLE_GPKG, layer=layer)
    frame = read(layer)
    cls = catalogue().class_for_layer(layer)
    assert set(frame.columns) - {"geometry"} <= set(cls.field_names)
    assert all(f.name in frame.columns for f in cls.required_fields)
    if layer == "smart_pole_devices":
        assert info["geometry_type"] is None
        return
    assert info["crs"] == "EPSG:4549"
    xmin, ymin, xmax, ymax = info["total_bounds"]
    assert BBOX[0] <= xmin < xmax <= BBOX[2] and BBOX[1] <= ymin < ymax <= BBOX[3]
    assert shapely.is_valid(frame.geometry.to_numpy()).all()


def test_buildings_have_varied_footprints_and_towers_along_xianggang_road():
    b = read("buildings")
    polys = shapely.get_parts(b.geometry.to_numpy())
    holes = shapely.get_num_interior_rings(polys) > 0
    concave = ~holes & (shapely.area(polys) < 0.97 * shapely.area(shapely.envelope(polys)))
    assert holes.sum() > 30 and concave.sum() > 100
    rings = shapely.get_num_coordinates(shapely.get_exterior_ring(polys))
    assert (rings == 9).sum() > 30  # U shapes: eight corners
    y = shapely.get_y(shapely.centroid(b.geometry.to_numpy())) - ORIGIN[1]
    towers = b[(np.abs(y - 700) < 90) & (b.height > 90)]
    assert len(towers) > 10 and towers.height.between(100, 260).all()
    assert b.height.max() < 260 and (b.floors * 2.8 < b.height).all()
    assert b.base_elevation.between(0, 60).all()
    assert b.name.str.contains("号楼|大厦|综合楼").all() and b.address.str.startswith("青岛市市南区").all()


def test_streetlights_line_the_roads_on_both_sides():
    lights = read("streetlights")
    roads = read("roads")
    dist = shapely.distance(lights.geometry.to_numpy()[:, None], roads.geometry.to_numpy()[None, :]).min(axis=1)
    width = roads.width.to_numpy()
    assert np.isclose(dist, width.min() / 2 + 1.0).any() and (dist <= width.max() / 2 + 1.0 + 1e-6).all()
    # every ~32 m on both sides, less the gaps at junctions
    assert 0.75 < len(lights) / (2 * shapely.length(roads.geometry.to_numpy()).sum() / 32.0) < 1.0
    share = lights.status.value_counts(normalize=True)
    assert share[1] > 0.8 and {2, 3, 4} <= set(share.index)
    assert lights.install_date.between("2005-01-01", "2025-12-31").all()
    assert set(lights.lamp_type) <= {"LED", "HPS", "MH", "IND"} and (lights.lamp_type == "LED").mean() > 0.6


def test_pipes_and_manholes_follow_cjj_61():
    pipes, holes = read("pipes"), read("manholes")
    assert set(pipes.network) == {"JS", "PS", "RQ", "RL", "DL", "TX"}
    assert set(pipes.subtype[pipes.network == "PS"]) == {"YS", "WS"}
    assert set(pipes.subtype[pipes.network == "DL"]) == {"GD", "LD"}
    nets = pipe_networks()
    assert all(set(pipes.subtype[pipes.network == n]) <= set(nets[n].subtypes) for n in nets)
    assert pipes.pressure.notna().eq(pipes.network == "RQ").all()
    assert pipes.voltage_kv.notna().eq(pipes.network == "DL").all()
    assert set(pipes.pressure.dropna()) <= {"L", "MB", "MA"}
    # pressure pipes and cables: depths to the top, realistic away from junctions, a layer per network where
    # roads cross (one water line planted at 0.45 m cover and one telecom depth with a slipped decimal)
    top = pipes[pipes.network != "PS"][["depth_start", "depth_end"]].to_numpy()
    assert (top.min(axis=1) < 0.6).sum() == 1 and (top.max(axis=1) > max(JUNCTION_TOP.values()) + 0.1).sum() == 1
    # drainage: invert depths (管内底) below the junction layers, inverts falling along the recorded 流向
    # (one storm line planted rising 0.15 m)
    points = read("pipe_points").set_index("point_no")
    drain = pipes[pipes.network == "PS"]
    cover = np.minimum(drain.depth_start, drain.depth_end) - (drain.diameter_mm + 2 * drain.wall_mm) / 1000
    assert drain.flow.isin([1, 2]).all() and (cover < 1.5).sum() <= 1
    ground = points.ground_elev[~points.index.duplicated()]  # one number is planted twice
    inv_start = ground.reindex(drain.start_point).to_numpy() - drain.depth_start.to_numpy()
    inv_end = ground.reindex(drain.end_point).to_numpy() - drain.depth_end.to_numpy()
    rise = np.where(drain.flow == 1, inv_end - inv_start, inv_start - inv_end)
    assert (rise > 0.005).sum() == 1 and rise.max() == pytest.approx(0.15, abs=0.011)
    # a survey delivery: lines name their points; valves (some closed, one seized), hydrants, outfalls
    named = set(points.index)
    assert pipes.start_point.isin(named).mean() > 0.999 and pipes.end_point.isin(named).mean() > 0.999
    kinds = points.appurtenance.value_counts()
    assert kinds["valve"] > 50 and kinds["hydrant"] > 10 and kinds["outfall"] >= 5 and kinds["manhole"] > 100
    assert set(points.valve_status.dropna()) == {"open", "closed"} and (points.operable == 0).sum() == 1
    assert {"tee", "cross", "stub", "cap", "riser"} <= set(points.feature.dropna())
    assert points.index.str.match(r"^(JS|YS|WS|RQ|RL|DL|LD|TX)\d{6}$").all()
    storm = pipes[pipes.subtype == "YS"]
    assert storm.diameter_mm.between(400, 1200).all() and pipes.diameter_mm[pipes.subtype == "LD"].max() <= 100
    # manholes stand on a pipe of their own network and carry the matching GB/T 30428.2 cover
    pipes_of = {n: shapely.union_all(pipes.geometry[pipes.network == n].to_numpy()) for n in set(pipes.network)}
    for net, group in holes.groupby("network"):
        assert (shapely.distance(pipes_of[net], group.geometry.to_numpy()) < 1e-6).all(), net
    covers = holes.groupby("subtype").cover_type.unique().map(list).to_dict()
    assert covers["JP"] == ["0101"] and covers["WS"] == ["0102"] and covers["YS"] == ["0103"]
    assert holes.code.str[6:10].eq(holes.cover_type).all()
    assert (holes.depth > 0.7).all()


def test_smart_poles_devices_and_cabinets():
    poles, devices, cabinets = read("smart_poles"), read("smart_pole_devices"), read("cabinets")
    per_pole = devices.groupby("pole_code").size().reindex(poles.code).to_numpy()
    assert per_pole.min() >= 2 and per_pole.max() <= 6 and (per_pole == poles.device_count.to_numpy()).all()
    assert set(devices.device_type) <= set(catalogue().codelist("device_type").codes)
    assert devices.groupby("pole_code").device_type.first().eq("lighting").all()
    j = layout().junctions
    junctions = shapely.points(j.x.to_numpy() + ORIGIN[0], j.y.to_numpy() + ORIGIN[1])
    near = shapely.distance(poles.geometry.to_numpy()[:, None], junctions[None, :]).min(axis=1)
    assert near.max() < 30
    assert read("streetlights").cabinet_code.isin(cabinets.code).all()
    assert set(cabinets.cabinet_type) == {"PD", "JJ", "XK"}


def test_zones_tile_the_land_without_overlaps():
    zones = read("zones")
    geoms = zones.geometry.to_numpy()
    total = shapely.area(shapely.union_all(geoms))
    assert total == pytest.approx(shapely.area(geoms).sum(), rel=1e-6)
    shore = np.linspace(0, DISTRICT_W, 400)
    outline = np.column_stack([np.r_[shore, DISTRICT_W, 0], np.r_[coast_y(shore), DISTRICT_H, DISTRICT_H]])
    land = shapely.area(shapely.polygons(outline))
    assert total == pytest.approx(land, rel=0.01)
    assert zones.grid_code.is_unique and (zones.district_code == "370202").all() and len(zones) >= 30
    assert zones.name.str.endswith("网格").all() and zones.street.str.endswith("街道").all()


def test_dem_rises_from_the_sea_and_marks_missing_soundings():
    with rasterio.open(SAMPLE_DIR / "dem.tif") as dem:
        assert (dem.crs.to_epsg(), dem.dtypes[0], dem.nodata, dem.res) == (4549, "float32", -9999.0, (2.0, 2.0))
        assert dem.compression.name.lower() == "deflate" and dem.tags()["VERTICAL_DATUM"].endswith("(EPSG:5737)")
        assert tuple(dem.bounds) == BBOX
        z = dem.read(1, masked=True)
        rows, cols = np.nonzero(z.mask)
        x, y = dem.xy(rows, cols)
    assert 0 < rows.size < 100
    assert (np.asarray(y) - ORIGIN[1] < coast_y(np.asarray(x) - ORIGIN[0])).all()  # nodata only out at sea
    assert z[:50].mean() > 25 and z[-50:].mean() < -2  # hills in the north, 浮山湾 in the south
    centre = np.array([[1000.0, 1300.0], [1000.0, 100.0]])
    with rasterio.open(SAMPLE_DIR / "dem.tif") as dem:
        values = [v[0] for v in dem.sample(centre + ORIGIN)]
    assert values == pytest.approx(ground(centre[:, 0], centre[:, 1]), abs=0.2)


def test_orthophoto_is_painted_from_the_vectors():
    with rasterio.open(SAMPLE_DIR / "ortho.tif") as ortho:
        assert (ortho.count, ortho.dtypes[0], ortho.crs.to_epsg(), ortho.res) == (3, "uint8", 4549, (1.0, 1.0))
        assert ortho.compression.name.lower() == "jpeg" and tuple(ortho.bounds) == BBOX
        rgb = ortho.read()

    def pixel(x, y):
        return rgb[:, int(DISTRICT_H - y), int(x)].astype(int)

    sea = pixel(1000, 100)
    plaza_sculpture = pixel(828, 560)  # 五月的风
    carriageway = pixel(1000, 700 + 7)  # 香港中路, beside the centre line
    assert sea[2] > sea[0] + 40 and plaza_sculpture[0] > plaza_sculpture[1] + 100
    assert carriageway.max() < 110 and abs(int(carriageway[0]) - int(carriageway[2])) < 20


def test_landmarks_are_lod2_buildings_standing_on_the_dem():
    doc = json.loads((SAMPLE_DIR / "landmarks.city.json").read_text("utf-8"))
    assert doc["type"] == "CityJSON" and doc["version"] == "2.0"
    assert doc["metadata"]["referenceSystem"] == "https://www.opengis.net/def/crs/EPSG/0/4549"
    assert "EPSG:5737" in doc["metadata"]["title"]
    v = np.asarray(doc["vertices"]) * doc["transform"]["scale"] + doc["transform"]["translate"]
    objects = doc["CityObjects"]
    assert 4 <= len(objects) <= 8 and {o["attributes"]["name"] for o in objects.values()} >= {
        "青岛市人民政府办公大楼", "颐中皇冠假日酒店"}
    for obj in objects.values():
        idx = [i for g in obj["geometry"] for shell in g["boundaries"] for face in shell for ring in face for i in ring]
        pts = v[idx]
        assert obj["type"] == "Building" and {g["lod"] for g in obj["geometry"]} == {"2"}
        assert {s["type"] for g in obj["geometry"] for s in g["semantics"]["surfaces"]} == {
            "RoofSurface", "WallSurface", "GroundSurface"}
        lx, ly = pts[:, 0] - ORIGIN[0], pts[:, 1] - ORIGIN[1]
        assert BBOX[0] < pts[:, 0].min() and pts[:, 0].max() < BBOX[2] and BBOX[1] < pts[:, 1].min() < BBOX[3]
        corners = ground(np.array([lx.min(), lx.max(), lx.max(), lx.min()]), np.array([ly.min(), ly.min(), ly.max(),
                                                                                       ly.max()]))
        assert corners.min() - 1.0 < pts[:, 2].min() <= corners.min()  # on the ground, not floating
        rise = pts[:, 2].max() - pts[:, 2].min()
        roof = {name: roof for name, _, _, _, _, roof, _ in LANDMARKS}[obj["attributes"]["name"]]
        height = obj["attributes"]["measuredHeight"]
        assert rise == pytest.approx(height, abs=0.01) if roof != "gable" else rise > height  # a ridge on top


def test_project_lists_every_layer_with_standard_styles():
    doc = json.loads(SAMPLE_PROJECT.read_text("utf-8"))
    assert (doc["format"], doc["version"], doc["crs"], doc["height_datum"]) == ("qdt-project", 1, "EPSG:4549",
                                                                              "EPSG:5737")
    entries = {e.get("layer", e["source"]): e for e in doc["layers"]}
    assert set(entries) == set(LAYERS) | {"dem.tif", "ortho.tif", "landmarks.city.json"}
    assert all((SAMPLE_DIR / e["source"]).exists() for e in doc["layers"])
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["name"]) for e in doc["layers"])
    assert entries["dem.tif"]["role"] == "dem" and entries["ortho.tif"]["role"] == "ortho"
    status = {str(e.code): [e.zh, list(e.colour)] for e in catalogue().codelist("facility_status").entries}
    assert entries["streetlights"]["style"] == {"kind": "categorised", "field": "status", "categories": status}
    pipes = entries["pipes"]["style"]
    assert pipes["field"] == "network" and pipes["categories"]["JS"] == ["给水", [0, 255, 255]]
    assert entries["buildings"]["style"]["kind"] == "graduated" and entries["buildings"]["style"]["field"] == "height"
    for layer in LAYERS:
        assert entries[layer]["feature_class"] == catalogue().class_for_layer(layer).name


def test_a_city_spans_districts_each_with_its_own_serials(monkeypatch):
    """Issue 17: serials count per district and class, across the chunks the city is generated in."""
    import qdt.cim.sample as sample

    monkeypatch.setattr(sample, "CHUNK_TILES", 4)  # 11 tiles: 370202 in chunks of 4, 4, 2; then 370203
    d, layers = build(scale=int(11 * per_district_buildings()) - 5)
    assert len(d) == 11
    for name in ("streetlights", "pipes", "manholes", "buildings", "smart_poles", "cabinets"):
        codes = layers[name].code
        assert codes.is_unique, name
        division = codes.str[:6]
        assert set(division) == {"370202", "370203"}, name
        serial = codes.str[-6:].astype(int)
        for _div, s in serial.groupby(division.to_numpy()):
            if name not in ("manholes", "cabinets"):  # their serials are shared by several minor classes
                assert sorted(s) == list(range(1, len(s) + 1)), name
    assert layers["zones"].district_code.unique().tolist() == ["370202", "370203"]
    assert layers["roads"].code.is_unique and layers["zones"].grid_code.is_unique
    assert layers["buildings"].address.str.startswith("青岛市市北区").sum() > 0
    # the light cabinets the lights name exist, also in later chunks of a district
    assert set(layers["streetlights"].cabinet_code) <= set(layers["cabinets"].code)
