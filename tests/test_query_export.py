"""Export of result sets: CSV (UTF-8, optional BOM), GeoJSON (RFC 7946, WGS 84 lon/lat), GeoPackage (project CRS)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from qdt.cli.query import SourceLayers
from qdt.crs import to_lonlat
from qdt.query import ExportError, Query, export_frame, export_result, run_query
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture(scope="module")
def layers():
    source = SourceLayers(SAMPLE_PROJECT)
    return {"路灯": source.layer("路灯"), "智慧杆": source.layer("智慧杆")}


@pytest.fixture(scope="module")
def faulty(layers):
    result = run_query(Query("路灯", where="状态 = '故障'"), layers)
    assert result.count > 3
    return result


def test_csv_utf8_with_and_without_bom(tmp_path, faulty):
    plain = export_result(faulty, tmp_path / "faulty.csv")
    bom = export_result(faulty, tmp_path / "faulty_bom.csv", bom=True)
    raw = plain.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and bom.read_bytes().startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(plain, encoding="utf-8")
    assert table.columns[0] == "fid" and table["fid"].tolist() == faulty.fids.tolist()
    assert (table["status"] == 2).all() and "wkt" in table.columns
    frame = faulty.layer.frame.loc[faulty.fids]
    assert table["owner"].tolist() == frame["owner"].tolist()  # Chinese text survives
    geoms = shapely.from_wkt(table["wkt"].to_numpy())
    assert shapely.equals(geoms, frame.geometry.to_numpy()).all()
    assert pd.read_csv(bom, encoding="utf-8-sig").columns[0] == "fid"


def test_geojson_is_rfc7946_lon_lat(tmp_path, faulty):
    path = export_result(faulty, tmp_path / "faulty.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc  # RFC 7946: WGS 84 implied
    ids = [f["id"] for f in doc["features"]]
    assert ids == faulty.fids.tolist()
    frame = faulty.layer.frame.loc[faulty.fids]
    xy = shapely.get_coordinates(frame.geometry.to_numpy())
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
    got = np.array([f["geometry"]["coordinates"] for f in doc["features"]])
    assert np.allclose(got[:, 0], lon, atol=1e-6) and np.allclose(got[:, 1], lat, atol=1e-6)
    assert 120.0 < got[:, 0].min() and got[:, 1].max() < 37.0  # Qingdao, longitude first
    assert doc["features"][0]["properties"]["owner"] == frame["owner"].iloc[0]


def test_geopackage_keeps_fids_and_project_crs(tmp_path, faulty, layers):
    path = export_result(faulty, tmp_path / "faulty.gpkg")
    back = pyogrio.read_dataframe(path, fid_as_index=True)
    assert back.index.tolist() == faulty.fids.tolist() and back.crs.to_epsg() == 4549
    assert pyogrio.list_layers(path)[0][0] == "streetlights"
    # nearest results repeat fids (k > 1): they are written as a column instead
    near = run_query(Query("路灯", k=2, other="智慧杆"), layers)
    back = pyogrio.read_dataframe(export_result(near, tmp_path / "near.gpkg"))
    assert back["source_fid"].tolist() == near.nearest["fid"].tolist()
    assert np.allclose(back["distance"], near.nearest["distance"]) and set(back["rank"]) == {1, 2}


def test_plain_tables_and_errors(tmp_path):
    table = pd.DataFrame({"name": ["甲", "乙"], "x": [534000.0, 534010.0], "y": [3992000.0, 3992000.0]})
    csv = export_frame(table, tmp_path / "t.csv")
    assert csv.read_text(encoding="utf-8").splitlines()[0] == "name,x,y"
    back = pyogrio.read_dataframe(export_frame(table, tmp_path / "t.gpkg"))
    assert back.crs.to_epsg() == 4549 and back.geometry.x.tolist() == [534000.0, 534010.0]
    with pytest.raises(ExportError, match="use a file ending in .csv, .geojson, .gpkg"):
        export_frame(table, tmp_path / "t.xlsx")
    with pytest.raises(ExportError, match="does not exist"):
        export_frame(table, tmp_path / "missing" / "t.csv")
