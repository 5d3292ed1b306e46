"""Selection export: CSV (UTF-8, BOM option), GeoJSON (WGS 84) and GeoPackage (project CRS) round-trip with pyogrio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest

from qdt.export import ExportError
from qdt.export.data import export_selection, export_selection_task
from qdt.project import open_project
from tests.conftest import SAMPLE_PROJECT


@pytest.fixture(scope="module")
def lights():
    layer = open_project(SAMPLE_PROJECT).layers["路灯"]
    layer.selection = [3, 17, 40, 41, 500, 914]
    return layer


def test_geopackage_round_trip(tmp_path, lights):
    out = export_selection(lights, tmp_path / "sel.gpkg")
    back = pyogrio.read_dataframe(out, fid_as_index=True)
    assert back.index.tolist() == [3, 17, 40, 41, 500, 914]
    assert back.crs.to_epsg() == 4549
    original = lights.frame.loc[back.index]
    for column in ("code", "power_w", "status", "road_name", "owner"):
        assert back[column].tolist() == original[column].tolist(), column
    assert np.allclose(back.geometry.x, original.geometry.x) and np.allclose(back.geometry.y, original.geometry.y)


def test_geojson_is_wgs84_with_fids(tmp_path, lights):
    out = export_selection(lights, tmp_path / "sel.geojson")
    back = pyogrio.read_dataframe(out, fid_as_index=True)
    assert back.crs.to_epsg() == 4326
    assert sorted(back.index.tolist()) == [3, 17, 40, 41, 500, 914]
    assert ((back.geometry.x > 120.2) & (back.geometry.x < 120.5)).all()  # Qingdao, longitude first (RFC 7946)
    assert ((back.geometry.y > 35.9) & (back.geometry.y < 36.2)).all()
    original = lights.frame.loc[back.index]
    assert back["road_name"].tolist() == original["road_name"].tolist()
    assert np.allclose(back["power_w"], original["power_w"])


@pytest.mark.parametrize("bom", [False, True])
def test_csv_round_trip_with_bom_option(tmp_path, lights, bom):
    out = export_selection(lights, tmp_path / "sel.csv", bom=bom)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == bom
    back = pd.read_csv(out, encoding="utf-8-sig")
    assert back["fid"].tolist() == [3, 17, 40, 41, 500, 914]
    original = lights.frame.loc[back["fid"]]
    assert back["road_name"].tolist() == original["road_name"].tolist()
    assert np.allclose(back["power_w"], original["power_w"])
    assert back["wkt"].str.startswith("POINT").all()
    via_gdal = pyogrio.read_dataframe(out)  # GDAL's CSV driver reads it too, BOM or not
    assert via_gdal["fid"].astype(int).tolist() == [3, 17, 40, 41, 500, 914]


def test_explicit_fids_and_task(tmp_path, lights):
    out = export_selection_task(lights, tmp_path / "two.gpkg", fids=[41, 3]).run_sync()
    assert pyogrio.read_dataframe(out, fid_as_index=True).index.tolist() == [3, 41]


def test_bad_exports_name_the_problem(tmp_path, lights):
    with pytest.raises(ExportError, match="no feature with fid 99999"):
        export_selection(lights, tmp_path / "x.gpkg", fids=[99999])
    with pytest.raises(ExportError, match="nothing selected"):
        export_selection(lights, tmp_path / "x.gpkg", fids=[])
    with pytest.raises(ExportError, match=r"\.shp"):
        export_selection(lights, tmp_path / "x.shp")
    assert not (tmp_path / "x.gpkg").exists()
