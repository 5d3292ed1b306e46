"""CityGML 2.0 (PLATEAU, EPSG:6697 latitude first): streamed, xlink:href resolved, attributes as GDAL's GML
driver reads them, placed in EPSG:4549's neighbour CRS; bad files give one message."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from pyproj import Transformer

from qdt.cli.main import main
from qdt.io import LayerSource, ReadError, load_layer
from qdt.layers.citymodel import SEMANTIC_CODES

DATA = Path(__file__).parent / "data" / "citygml"
LOD2 = DATA / "Issue32_13101-bldg-365.gml"
LOD1 = DATA / "53392547_bldg_6697_op2.gml"
JAPAN = "EPSG:6677"  # JGD2011 / Japan Plane Rectangular CS IX (Tokyo): a projected CRS where the data is


def _gdal_buildings(path: Path, tmp_path: Path):
    """GDAL's GML driver on a copy (it writes a .gfs schema next to the file): its fields and values."""
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    pyogrio.read_dataframe(copy, sql="SELECT gml_id FROM Building", sql_dialect="SQLITE", read_geometry=False)
    gfs = copy.with_suffix(".gfs").read_text(encoding="utf-8")
    fields = re.findall(r"<PropertyDefn>\s*<Name>([^<]+)</Name>.*?<Type>([^<]+)</Type>", gfs, flags=re.S)
    scalar = [name for name, kind in fields if not kind.endswith("List")]
    sql = "SELECT gml_id, " + ", ".join(f'"{n}"' for n in scalar) + " FROM Building"
    return pyogrio.read_dataframe(copy, sql=sql, sql_dialect="SQLITE", read_geometry=False), scalar


@pytest.mark.parametrize("path, count", [(LOD2, 1), (LOD1, 25)])
def test_counts_and_attribute_values_equal_gdal(path, count, tmp_path):
    layer = load_layer(LayerSource(path), project_crs=JAPAN).layer
    buildings = layer.objects[layer.objects["type"] == "Building"].set_index("object_id")
    gdal, fields = _gdal_buildings(path, tmp_path)
    assert len(buildings) == len(gdal) == count
    shared = [f for f in fields if f in buildings.columns]
    assert {"measuredHeight", "LocalityName", "建物ID"} <= set(shared) and len(shared) >= 10
    for _, row in gdal.iterrows():
        mine = buildings.loc[row["gml_id"]]
        for field in shared:
            theirs = row[field]
            if theirs is None or (isinstance(theirs, float) and np.isnan(theirs)):
                continue
            if isinstance(theirs, (int, float, np.integer, np.floating)):
                assert float(mine[field]) == pytest.approx(float(theirs)), field
            else:
                assert str(mine[field]) == str(theirs), field


def test_lod2_solid_of_links_resolves_and_keeps_semantics():
    result = load_layer(LayerSource(LOD2), project_crs=JAPAN)
    layer = result.layer
    assert not any("xlink" in w for w in result.warnings)
    assert layer.objects.loc[0, "lod"] == "2" and layer.objects.loc[0, "name"] == "第一生命館内郵便局"
    counts = np.bincount(layer.triangle_semantic, minlength=4)
    assert counts[SEMANTIC_CODES["RoofSurface"]] > 0 and counts[SEMANTIC_CODES["WallSurface"]] > 0
    assert counts[SEMANTIC_CODES["GroundSurface"]] > 0
    # latitude-first EPSG:6697 read right: the building is where SOURCES.md says (lon 139.760–139.761)
    lon, lat = Transformer.from_crs(JAPAN, "EPSG:4326", always_xy=True).transform(
        layer.vertices[:, 0], layer.vertices[:, 1])
    assert 139.7602 < lon.min() and lon.max() < 139.7615 and 35.6754 < lat.min() and lat.max() < 35.6763
    assert layer.z_range == pytest.approx((2.14, 116.82), abs=0.5)
    lod1 = load_layer(LayerSource(LOD2, lod="1"), project_crs=JAPAN).layer
    assert lod1.objects.loc[0, "lod"] == "1" and len(lod1.triangles) < len(layer.triangles)


def test_placed_in_epsg4549_with_a_warning_that_it_is_outside_the_zone():
    result = load_layer(LayerSource(LOD1))
    assert any("outside the area of use of EPSG:4549" in w for w in result.warnings)


def test_bad_citygml_gives_one_message(tmp_path, capsys):
    truncated = tmp_path / "cut.gml"
    data = LOD1.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="cut.gml.*not well-formed"):
        load_layer(LayerSource(truncated))
    assert main(["info", str(truncated)]) == 2
    assert "cut.gml" in capsys.readouterr().err


def test_qdt_info_counts_buildings(capsys):
    assert main(["info", str(LOD1)]) == 0
    out = capsys.readouterr().out
    assert "25 features" in out and "EPSG:6697" in out
