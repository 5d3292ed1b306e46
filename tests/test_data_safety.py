"""Data safety on real third-party files and hostile copies of them (issue 13).

Each test names the defect it guards against: edits on the wrong rows, outputs that
destroy inputs, one bad layer hiding a file, distances in the wrong CRS, misleading
messages, coded-field literals, CRS strings, and small format checks.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qdt.edit import EditError, start_editing
from qdt.io import LayerSource, load_layer

DATA = Path(__file__).parent / "data"
SEWERS = DATA / "simple_sewer_features.gpkg"
GEONAMES = DATA / "geonames_belgium.gpkg"
BENTIU = DATA / "bentiu_southsudan-osm-20170213.gpkg"
GDAL_SAMPLE = DATA / "gdal_sample_v1.2_spi_nonlinear_webp_elevation.gpkg"


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def copy(src: Path, tmp_path: Path) -> Path:
    out = tmp_path / src.name
    shutil.copy(src, out)
    out.chmod(0o644)
    return out


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


# --- 1. edits land on the row the user edited, whatever the key is called ----------------

@pytest.mark.parametrize("src, table, key, column, value", [
    (SEWERS, "s_manhole", "id", "cover_type", "QDT test cover"),
    (GEONAMES, "roads", "geonameid", "name", "Rue QDT"),
])
def test_commit_addresses_rows_by_the_tables_integer_primary_key(tmp_path, src, table, key, column, value):
    path = copy(src, tmp_path)
    layer = load_layer(LayerSource(path, layer=table)).layer
    fid = int(layer.fids[3])
    before = rows(path, f'SELECT "{key}", "{column}" FROM "{table}" ORDER BY "{key}"')
    session = start_editing(layer, user="tester")
    session.set_value(fid, column, value)
    result = session.commit()
    session.close()
    assert result.ok and result.committed_fids.tolist() == [fid]
    after = rows(path, f'SELECT "{key}", "{column}" FROM "{table}" ORDER BY "{key}"')
    changed = [a for a, b in zip(after, before, strict=True) if a != b]
    assert changed == [(fid, value)]
    log = rows(path, "SELECT feature_fid, field, new_value FROM qdt_change_log")
    assert log == [(fid, column, value)]


def test_a_decoy_fid_column_is_an_attribute_not_the_key(tmp_path):
    """A table keyed by ``id`` that also has an ordinary ``fid`` column (values reversed)."""
    path = copy(SEWERS, tmp_path)
    con = sqlite3.connect(path)
    con.execute('ALTER TABLE s_manhole ADD COLUMN "fid" INTEGER')
    con.execute('UPDATE s_manhole SET "fid" = 100 - id')
    con.commit()
    con.close()
    layer = load_layer(LayerSource(path, layer="s_manhole")).layer
    target = int(layer.fids[5])
    session = start_editing(layer, user="tester")
    session.set_value(target, "cover_type", "DECOY")
    session.commit()
    session.close()
    hit = rows(path, 'SELECT id, "fid" FROM s_manhole WHERE cover_type = ?', ("DECOY",))
    assert hit == [(target, 100 - target)]
    assert rows(path, "SELECT feature_fid FROM qdt_change_log") == [(target,)]


def test_a_table_without_an_integer_key_is_read_only_with_the_reason(tmp_path):
    path = copy(BENTIU, tmp_path)
    before = digest(path)
    layer = load_layer(LayerSource(path, layer="villages_points")).layer
    assert layer.feature_count == 11
    with pytest.raises(EditError, match="villages_points.*no primary key.*read-only"):
        start_editing(layer, user="tester")
    assert digest(path) == before


# --- 2. an output never destroys an input; outputs are written whole or not at all -------

def run_cli(*args, cwd=None):
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(cwd or root), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "qdt.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or root, env=env, timeout=300)


@pytest.mark.parametrize("spelling", ["./{name}", "{dir}/../{dirname}/{name}", "link.gpkg"])
def test_query_out_onto_its_own_source_is_refused(tmp_path, spelling):
    path = copy(SEWERS, tmp_path)
    (tmp_path / "link.gpkg").symlink_to(path)
    before = digest(path)
    out = spelling.format(name=path.name, dir=tmp_path, dirname=tmp_path.name)
    proc = run_cli("query", path.name, "--layer", "s_manhole", "--out", out, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if ": error:" in line]
    assert "Traceback" not in proc.stderr and len(errors) == 1
    assert "one of the inputs" in errors[0]
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.gpkg", path.name]  # no temporary left


def test_a_failed_export_leaves_the_previous_output_intact(tmp_path, monkeypatch):
    import pyogrio

    from qdt.query import ExportError, export_frame

    layer = load_layer(LayerSource(SEWERS, layer="s_manhole")).layer
    out = tmp_path / "result.gpkg"
    export_frame(layer.frame.iloc[:5], out)
    before = digest(out)

    def half_write(frame, path, **kwargs):
        Path(path).write_bytes(b"SQLite format 3\x00 half a file")
        raise pyogrio.errors.DataSourceError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", half_write)
    with pytest.raises(ExportError, match="result.gpkg.*disk full"):
        export_frame(layer.frame, out)
    assert digest(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.gpkg"]


def test_every_writer_refuses_an_input_as_output(tmp_path):
    from qdt.export import ExportError, save_image
    from qdt.export.data import export_selection
    from qdt.export.gltf import LayerMesh, Primitive, write_glb
    from qdt.project import ProjectError, save_project
    from qdt.project.model import LayerEntry, Project

    source = copy(SEWERS, tmp_path)
    before = digest(source)
    png = tmp_path / "view.png"
    png.symlink_to(source)
    glb = tmp_path / "scene.glb"
    glb.symlink_to(source)
    layer = load_layer(LayerSource(source, layer="s_manhole")).layer
    with pytest.raises(ExportError, match="one of the inputs"):
        save_image(np.zeros((4, 4, 3), np.uint8), png, inputs=[source])
    with pytest.raises(ExportError, match="one of the inputs"):
        export_selection(layer, source, fids=layer.fids[:3])
    mesh = LayerMesh("m", "m", [Primitive(mode=4, positions=np.zeros((3, 3), np.float32))])
    with pytest.raises(ExportError, match="one of the inputs"):
        write_glb([mesh], glb, origin=(0, 0, 0), crs="EPSG:4549", inputs=[source])
    project = Project(name="p", crs="EPSG:27700")
    project.entries.append(LayerEntry(name="m", kind="vector", source=str(source), layer_name="s_manhole"))
    with pytest.raises(ProjectError, match="one of the inputs"):
        save_project(project, png)
    assert digest(source) == before


# --- 3. one unreadable layer does not make the whole GeoPackage unreadable ---------------

def test_one_unreadable_layer_is_reported_and_the_others_open():
    from qdt.io import dataset_info, list_layers

    names = list_layers(GDAL_SAMPLE)
    assert len(names) == 24 and "geometry3d" in names  # ogrinfo lists 24 layers (SOURCES.md)
    info = {row["name"]: row for row in dataset_info(GDAL_SAMPLE)}
    bad = info["geometry3d"]
    assert bad["available"] is False and "geometry3d" in bad["error"] and "not supported" in bad["error"]
    good = [n for n in names if n != "geometry3d"]
    assert all(info[n].get("available", True) for n in good)
    for name in ("point2d", "curvepolygon", "attribute_table", "multipolygon3d"):
        assert load_layer(LayerSource(GDAL_SAMPLE, layer=name, crs="EPSG:4326")).layer.feature_count >= 1
    with pytest.raises(Exception, match="layer 'geometry3d' in .*cannot be read"):
        load_layer(LayerSource(GDAL_SAMPLE, layer="geometry3d", crs="EPSG:4326"))


def test_project_layers_from_a_file_with_one_bad_layer_open(tmp_path):
    import json

    from qdt.project import open_project

    path = tmp_path / "sample.qdt"
    path.write_text(json.dumps({"format": "qdt-project", "version": 1, "crs": "EPSG:4326", "layers": [
        {"name": n, "kind": "vector", "source": str(GDAL_SAMPLE), "layer": n, "crs": "EPSG:4326"}
        for n in ("point2d", "geometry3d", "polygon3d")]}))
    project = open_project(path)
    assert [e.name for e in project.entries if e.layer is not None] == ["point2d", "polygon3d"]
    (bad,) = project.unavailable
    assert bad.name == "geometry3d" and "cannot be read" in bad.error


def test_cli_info_and_query_on_a_file_with_one_bad_layer(tmp_path):
    proc = run_cli("info", GDAL_SAMPLE)
    assert proc.returncode == 0, proc.stderr
    assert "geometry3d" in proc.stdout and "UNAVAILABLE" in proc.stdout and "point2d" in proc.stdout
    proc = run_cli("query", GDAL_SAMPLE, "--layer", "point3d", "--json")
    assert proc.returncode == 0, proc.stderr


# --- 7. messages name the real cause -------------------------------------------------------

def test_a_locked_geopackage_is_called_locked_not_corrupt(tmp_path):
    path = copy(SEWERS, tmp_path)
    layer = load_layer(LayerSource(path, layer="s_manhole")).layer
    session = start_editing(layer, user="tester", busy_timeout_s=0.1)
    session.set_value(int(layer.fids[0]), "cover_type", "X")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(EditError, match="locked by another program.*try again") as caught:
            session.commit()
        assert "corrupt" not in str(caught.value) and "not a GeoPackage" not in str(caught.value)
        assert session.has_changes
        session.rollback()
        session.close()
        with pytest.raises(EditError, match="locked by another program"):
            start_editing(layer, user="tester", busy_timeout_s=0.1)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_cpg_saying_utf8_on_a_gbk_dbf_is_read_as_gbk_with_the_reason(tmp_path):
    import geopandas as gpd
    import pyogrio
    import shapely

    frame = gpd.GeoDataFrame({"名称": ["中山路", "香港中路"]}, geometry=[shapely.Point(520000, 4000000)] * 2,
                             crs="EPSG:4549")
    shp = tmp_path / "roads.shp"
    pyogrio.write_dataframe(frame, shp, encoding="GBK")
    (tmp_path / "roads.cpg").write_text("UTF-8")
    result = load_layer(LayerSource(shp))
    assert result.layer.frame["名称"].tolist() == ["中山路", "香港中路"]
    assert any("roads.cpg says UTF-8" in w and "GBK" in w for w in result.warnings)


def test_a_cityjson_given_as_vector_data_is_called_cityjson():
    proc = run_cli("query", DATA / "delft.json", "--layer", "delft")
    assert proc.returncode == 2
    assert "it is CityJSON" in proc.stderr and "corrupt" not in proc.stderr and "Traceback" not in proc.stderr


# --- 4. distances on data opened directly are metres of a metric CRS, equal to GDAL's -----

def gdal_nearest(path, layer, other, key, geom, other_geom):
    """GDAL/SpatiaLite reference: each feature's distance to the nearest feature of ``other``."""
    import pyogrio

    sql = (f"SELECT a.{key} AS qfid, MIN(ST_Distance(a.{geom}, b.{other_geom})) AS d, 0 AS pad "
           f"FROM {layer} a, {other} b GROUP BY a.{key} ORDER BY a.{key}")
    frame = pyogrio.read_dataframe(path, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    fids = frame["qfid"] if "qfid" in frame.columns else frame.index  # GDAL may take the key as the FID
    return dict(zip(np.asarray(fids, dtype=int).tolist(), frame["d"].tolist(), strict=True))


def gdal_within(path, layer, other, key, geom, other_geom, distance):
    import pyogrio

    sql = (f"SELECT a.{key} AS qfid, 0 AS pad FROM {layer} a WHERE EXISTS (SELECT 1 FROM {other} b "
           f"WHERE ST_Distance(a.{geom}, b.{other_geom}) <= {distance})")
    frame = pyogrio.read_dataframe(path, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    fids = frame["qfid"] if "qfid" in frame.columns else frame.index
    return sorted(np.asarray(fids, dtype=int).tolist())


def qdt_json(*args):
    import json

    proc = run_cli("query", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_projected_data_is_measured_in_its_own_crs_like_gdal():
    """UK sewers (EPSG:27700) were measured in EPSG:4549 (×1.17)."""
    want = gdal_nearest(SEWERS, "s_manhole", "surface_water_sewer", "id", "the_geom", "the_geom")
    doc, _ = qdt_json(SEWERS, "--layer", "s_manhole", "--nearest", "1", "--other", "surface_water_sewer")
    got = {row["fid"]: row["distance"] for row in doc["nearest"]}
    assert got.keys() == want.keys()
    assert max(abs(got[f] - want[f]) for f in want) < 1e-3
    assert max(want.values()) > 10  # not a test of zeros
    doc, _ = qdt_json(SEWERS, "--layer", "s_manhole", "--predicate", "dwithin", "--distance", "20",
                      "--other", "surface_water_sewer")
    assert doc["fids"] == gdal_within(SEWERS, "s_manhole", "surface_water_sewer", "id", "the_geom", "the_geom", 20)


def test_geographic_data_is_measured_in_its_local_utm_zone_like_gdal(tmp_path):
    """Bentiu (EPSG:4326, 29.8°E) was measured in EPSG:4549 (CM 120°E): distances ×5.6."""
    import geopandas as gpd
    import pyogrio
    import shapely.geometry
    from rasterio.warp import transform_geom

    from qdt.crs import metric_crs

    utm = metric_crs("EPSG:4326", (29.7513, 9.15613, 29.8874, 9.31756))
    assert utm.to_epsg() == 32635
    projected = tmp_path / "bentiu_utm.gpkg"
    for name in ("villages_points", "waterways_lines"):  # reprojected by GDAL (OGR), not by QDT
        frame = pyogrio.read_dataframe(BENTIU, layer=name, fid_as_index=True)
        geoms = [shapely.geometry.shape(transform_geom("EPSG:4326", "EPSG:32635", g.__geo_interface__))
                 for g in frame.geometry]
        out = gpd.GeoDataFrame({"qfid": frame.index.to_numpy()}, geometry=geoms, crs="EPSG:32635")
        pyogrio.write_dataframe(out, projected, layer=name, driver="GPKG")
    want = gdal_nearest(projected, "villages_points", "waterways_lines", "qfid", "geom", "geom")
    doc, err = qdt_json(BENTIU, "--layer", "villages_points", "--nearest", "1", "--other", "waterways_lines")
    assert "EPSG:32635" in err  # the user is told where distances are measured
    got = {row["fid"]: row["distance"] for row in doc["nearest"]}
    assert got.keys() == want.keys()
    assert max(abs(got[f] - want[f]) for f in want) < 1e-3
    doc, _ = qdt_json(BENTIU, "--layer", "villages_points", "--predicate", "dwithin", "--distance", "300",
                      "--other", "waterways_lines")
    reference = gdal_within(projected, "villages_points", "waterways_lines", "qfid", "geom", "geom", 300)
    assert doc["fids"] == reference and 0 < len(reference) < 11


# --- 12. every CRS string is parsed by PROJ ------------------------------------------------

@pytest.mark.parametrize("text, horizontal, vertical", [
    ("urn:ogc:def:crs,crs:EPSG::4549,crs:EPSG::5737", 4549, 5737),
    ("urn:ogc:def:crs:EPSG::7415", 28992, 5709),
    ("https://www.opengis.net/def/crs/EPSG/0/7415", 28992, 5709),
    ("http://www.opengis.net/def/crs/EPSG/0/2056/", 2056, None),
    ("EPSG:4549+5737", 4549, 5737),
])
def test_crs_strings_are_parsed_by_proj(text, horizontal, vertical):
    from qdt.crs import parse_crs

    crs = parse_crs(text)
    parts = crs.sub_crs_list if crs.is_compound else [crs]
    assert parts[0].to_epsg() == horizontal
    assert (parts[1].to_epsg() if len(parts) > 1 else None) == vertical


def test_a_cityjson_with_a_compound_urn_keeps_its_horizontal_crs(tmp_path):
    import json

    doc = json.loads((DATA / "rotterdam_subset_v1.0.json").read_text())
    doc["metadata"]["referenceSystem"] = "urn:ogc:def:crs,crs:EPSG::28992,crs:EPSG::5709"
    path = tmp_path / "rotterdam.city.json"
    path.write_text(json.dumps(doc))
    from qdt.io import dataset_info

    assert dataset_info(path)[0]["crs"] in ("EPSG:7415", "EPSG:28992")


# --- 5. tiny or extreme snapshot sizes render instead of dividing by zero in the legend ----

def test_snapshot_of_tiny_and_extreme_sizes_writes_an_image(tmp_path):
    from qdt.export.overlays import draw_overlays
    from qdt.export.snapshot import SnapshotOptions, ViewInfo
    from qdt.layers.style import CategorisedStyle

    layer = load_layer(LayerSource(SEWERS, layer="s_manhole")).layer
    layer.style = CategorisedStyle(field="cover_type", categories={"a": ("甲", (200, 0, 0)), "b": ("乙", (0, 0, 200))})
    view = ViewInfo(north_angle=0.0, metres_per_pixel=1.0)
    for width, height in ((10, 10), (1, 1), (16384, 1), (1, 4000)):
        options = SnapshotOptions(width=width, height=height)
        image, boxes = draw_overlays(np.zeros((height, width, 3), np.uint8), view, [layer], options)
        assert image.shape == (height, width, 3)
        assert "legend" in boxes


# --- 8. a literal stored as-is in a coded field matches --------------------------------------

def test_a_coded_field_holding_its_own_words_is_kept_and_matched(tmp_path):
    """The UK sewers as a CIM pipe layer: 'material' holds 'VC', and a 'status' column with plain
    words was nulled at load (not numbers) so ``status = 'Abandoned'`` could never match."""
    from qdt.query import Query, run_query

    path = copy(SEWERS, tmp_path)
    con = sqlite3.connect(path)
    con.execute('ALTER TABLE foul_sewer ADD COLUMN "status" TEXT')
    con.execute("UPDATE foul_sewer SET status = CASE WHEN id % 3 = 0 THEN 'Abandoned' ELSE 'In use' END")
    con.execute('ALTER TABLE foul_sewer ADD COLUMN "network" TEXT')
    con.execute("UPDATE foul_sewer SET network = CASE WHEN id % 3 = 1 THEN 'Gas' ELSE 'foul' END")
    con.commit()
    want_abandoned = [r[0] for r in con.execute("SELECT id FROM foul_sewer WHERE id % 3 = 0 ORDER BY id")]
    want_gas = [r[0] for r in con.execute("SELECT id FROM foul_sewer WHERE id % 3 = 1 ORDER BY id")]
    con.close()
    result = load_layer(LayerSource(path, layer="foul_sewer", feature_class="pipe"), project_crs="EPSG:27700")
    layer = result.layer
    notes = [w for w in result.warnings if "does not follow the code list" in w]
    assert any("'status'" in w and "kept as stored" in w for w in notes)
    assert any("'network'" in w for w in notes) and any("'material'" in w and "'VC'" in w for w in notes)
    assert layer.frame["status"].notna().all()

    def fids(where):
        return run_query(Query(layer="s", where=where), {"s": layer}).fids.tolist()

    assert fids("status = 'Abandoned'") == want_abandoned
    assert fids("状态 = 'In use'") == sorted(set(layer.fids.tolist()) - set(want_abandoned))
    assert fids("material = 'VC'") == sorted(layer.fids.tolist())
    assert fids("network = 'Gas'") == want_gas  # stored as-is: not turned into the code 'RQ'
    assert fids("network IN ('foul')") == sorted(set(layer.fids.tolist()) - set(want_gas))


# --- 14. smaller format checks ----------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_raster_info_has_count_and_an_ordered_bbox_without_geotransform(tmp_path):
    import rasterio

    from qdt.io import dataset_info

    (info,) = dataset_info(DATA / "RGB.byte.tif")
    assert info["count"] == 3 and info["size"] == [791, 718, 3] and info["georeferenced"] is True
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=20, height=10, count=1, dtype="uint8") as dst:
        dst.write(np.ones((1, 10, 20), np.uint8))
    (info,) = dataset_info(plain)
    assert info["bbox"] == [0.0, 0.0, 20.0, 10.0] and info["georeferenced"] is False


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(version=True), "version 'True' is not supported"),
    (lambda d: d["transform"].update(scale=[0.001, 0, 0.001]), "has a zero"),
    (lambda d: d["transform"].update(scale=[1, "1", 1]), "must be three numbers"),
    ("7", "vertex index '7'"),
    (1.5, "vertex index 1.5"),
])
def test_cityjson_values_are_not_coerced(tmp_path, mutate, message):
    import json

    from qdt.io import ReadError

    doc = json.loads((DATA / "multi_lod.json").read_text())
    if callable(mutate):
        mutate(doc)
    else:
        for obj in doc["CityObjects"].values():
            for geom in obj.get("geometry", []):
                ring = geom["boundaries"]
                while isinstance(ring[0], list):
                    ring = ring[0]
                ring[0] = mutate
    path = tmp_path / "bad.city.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReadError, match=message):
        load_layer(LayerSource(path, crs="EPSG:28992"), project_crs="EPSG:28992")


def test_project_version_true_is_not_version_1(tmp_path):
    import json

    from qdt.project import ProjectError, load_project

    doc = {"format": "qdt-project", "version": True, "layers": []}
    path = tmp_path / "p.qdt"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProjectError, match="'version' must be a whole number, not True"):
        load_project(path)


def test_a_shapefile_without_its_dbf_warns(tmp_path):
    import geopandas as gpd
    import pyogrio
    import shapely

    shp = tmp_path / "poles.shp"
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(520000, 4000000)], crs="EPSG:4549")
    pyogrio.write_dataframe(frame, shp)
    (tmp_path / "poles.dbf").unlink()
    result = load_layer(LayerSource(shp))
    assert any("no poles.dbf file" in w for w in result.warnings)


def test_fid_in_expressions_and_the_footer_height_datum(tmp_path):
    import json

    from qdt.export.snapshot import project_crs_text
    from qdt.project import load_project
    from qdt.query import Query, run_query

    layer = load_layer(LayerSource(SEWERS, layer="s_manhole"), project_crs="EPSG:27700").layer
    assert run_query(Query(layer="s", where="fid IN (3, 5) OR fid > 68"), {"s": layer}).fids.tolist() == [3, 5, 69]
    for crs, datum in (("EPSG:7415", "NAP"), ("EPSG:2056", None), ("EPSG:4549", "1985")):
        path = tmp_path / "p.qdt"
        path.write_text(json.dumps({"format": "qdt-project", "version": 1, "crs": crs, "layers": []}))
        text = project_crs_text(load_project(path))
        assert ("1985" in text) == (datum == "1985")
        assert datum is None or datum in text


# --- 6. exports print the layer warnings `qdt query` prints ----------------------------------

def test_exports_print_layer_warnings(tmp_path):
    import json

    project = tmp_path / "rotterdam.qdt"  # no CRS: the base map's; the Dutch data lands far away
    project.write_text(json.dumps({"format": "qdt-project", "version": 1, "name": "r", "layers": [
        {"name": "r", "kind": "citymodel", "source": str(DATA / "rotterdam_subset_v1.0.json")}]}))
    for command, out in (("snapshot", "r.png"), ("export-scene", "r.glb")):
        args = [command, project, "--out", tmp_path / out, "--quiet"]
        if command == "snapshot":
            args += ["--width", "64", "--height", "64"]
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        assert f"qdt {command}: warning: city model 'rotterdam_subset_v1.0.json': lies outside the area of use" \
            in proc.stderr
        assert "texture image(s) are missing" in proc.stderr


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_a_raster_without_geotransform_is_placed_with_a_warning(tmp_path):
    import rasterio

    plain = tmp_path / "scan.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=20, height=10, count=3, dtype="uint8") as dst:
        dst.write(np.ones((3, 10, 20), np.uint8))
    result = load_layer(LayerSource(plain, crs="EPSG:4549"))
    assert any("has no geotransform" in w and "(20, 10)" in w for w in result.warnings)


# --- 10. a shared project cannot send the database password anywhere -------------------------

def test_a_project_naming_an_unapproved_server_is_not_connected(tmp_path, monkeypatch):
    import json
    import time

    import psycopg

    from qdt.io.postgis import connection
    from qdt.project import open_project

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(connection, "_SESSION_APPROVED", set())
    calls = []
    real_connect = psycopg.connect

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real_connect(*args, **{**kwargs, "connect_timeout": 1})

    monkeypatch.setattr(psycopg, "connect", spy)
    path = tmp_path / "shared.qdt"
    path.write_text(json.dumps({"format": "qdt-project", "version": 1, "layers": [
        {"name": "pipes", "kind": "vector", "source": "postgis:host=203.0.113.7 port=5433 dbname=city user=zhang",
         "layer": "public.pipes"}]}))
    started = time.perf_counter()
    project = open_project(path)
    assert time.perf_counter() - started < 5
    (entry,) = project.unavailable
    assert "203.0.113.7:5433" in entry.error and "approve" in entry.error
    assert calls == []  # libpq never ran: no password offered
    assert connection.unapproved_servers("service=city") == []  # the user's own service file
    assert connection.unapproved_servers("host=localhost dbname=x") == []
    assert connection.unapproved_servers("host=/var/run/postgresql dbname=x") == []

    proc = subprocess_env_run(tmp_path, "db", "approve", "--dsn", "host=203.0.113.7 port=5433 dbname=city")
    assert proc.returncode == 0 and "203.0.113.7:5433" in proc.stdout, proc.stderr
    remembered = json.loads((tmp_path / "config" / "qdt" / "approved_servers.json").read_text())
    assert remembered == {"servers": ["203.0.113.7:5433"]}
    assert connection.unapproved_servers("host=203.0.113.7 port=5433 dbname=other") == []
    with pytest.raises(connection.DatabaseError):  # now it is tried (and times out: no server there)
        connection.connect("host=203.0.113.7 port=5433 dbname=city connect_timeout=1", timeout_s=1)
    (_, kwargs), = calls
    assert kwargs["sslmode"] == "prefer" and kwargs["connect_timeout"] == 1


def subprocess_env_run(tmp_path, *args):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return subprocess.run([sys.executable, "-m", "qdt.cli", *args], capture_output=True, text=True, cwd=root,
                          env=env, timeout=120)


# --- 13. trying the app never edits the tracked sample -----------------------------------------

def test_the_first_start_opens_a_copy_of_the_sample(tmp_path):
    from qdt.ui.app import SAMPLE_PROJECT, first_start_project

    tracked = {p.name: digest(p) for p in SAMPLE_PROJECT.parent.iterdir() if p.is_file()}
    data = tmp_path / "share" / "QDT"
    project = first_start_project(data)
    assert project == data / "sample" / SAMPLE_PROJECT.name and project.is_file()
    copied = {p.name: digest(p) for p in project.parent.iterdir()}
    assert copied == tracked
    gpkg = project.parent / "qingdao_shinan.gpkg"
    layer = load_layer(LayerSource(gpkg, layer="streetlights", feature_class="streetlight")).layer
    session = start_editing(layer, user="tester")
    session.set_value(int(layer.fids[0]), "status", 3)
    session.commit()
    session.close()
    assert first_start_project(data) == project  # the user's edited copy is kept, not replaced
    assert digest(gpkg) != tracked["qingdao_shinan.gpkg"]
    assert {p.name: digest(p) for p in SAMPLE_PROJECT.parent.iterdir() if p.is_file()} == tracked
