"""``qdt query`` and ``qdt clearance``: JSON equal to the API and to pyogrio, files written, errors one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyogrio
import pytest

from qdt.cli.main import main
from tests.conftest import ROOT, SAMPLE_GPKG, SAMPLE_PROJECT


def qdt(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_attribute_query_json_equals_gdal(capsys):
    code, out, err = qdt(capsys, "query", SAMPLE_PROJECT, "--layer", "路灯", "--where", "状态 = '故障'", "--json")
    assert code == 0, err
    doc = json.loads(out)
    want = pyogrio.read_dataframe(SAMPLE_GPKG, layer="streetlights", where="status = 2", read_geometry=False,
                                  fid_as_index=True).index.tolist()
    assert doc == {"layer": "路灯", "count": len(want), "fids": sorted(want)}


def test_location_query_on_a_geopackage_with_other_where(capsys, tmp_path):
    out_file = tmp_path / "near_gas.geojson"
    code, out, err = qdt(capsys, "query", SAMPLE_GPKG, "--layer", "buildings", "--predicate", "dwithin",
                         "--distance", "30", "--other", "pipes", "--other-where", "管线类别 = '燃气'",
                         "--out", out_file, "--json")
    assert code == 0, err
    doc = json.loads(out)
    sql = ("SELECT a.fid AS qfid, 0 AS pad FROM buildings a WHERE EXISTS (SELECT 1 FROM pipes b "
           "WHERE b.network = 'RQ' AND ST_Distance(a.geom, b.geom) <= 30)")
    ref = pyogrio.read_dataframe(SAMPLE_GPKG, sql=sql, sql_dialect="SQLITE", read_geometry=False, fid_as_index=True)
    want = sorted(set((ref["qfid"] if "qfid" in ref.columns else ref.index).tolist()))
    assert doc["fids"] == want and doc["count"] == len(want) > 0 and doc["out"] == str(out_file)
    features = json.loads(out_file.read_text(encoding="utf-8"))["features"]
    assert [f["id"] for f in features] == want


def test_nearest_json_has_the_neighbour_and_distance(capsys):
    code, out, err = qdt(capsys, "query", SAMPLE_PROJECT, "--layer", "streetlights", "--nearest", "1",
                         "--other", "smart_poles", "--where", "status = 2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["other"] == "smart_poles" and doc["count"] == len(doc["nearest"]) > 0
    row = doc["nearest"][0]
    assert set(row) == {"fid", "nearest_fid", "distance", "rank"} and row["rank"] == 1 and row["fid"] == doc["fids"][0]
    lights = pyogrio.read_dataframe(SAMPLE_GPKG, layer="streetlights", fid_as_index=True)
    poles = pyogrio.read_dataframe(SAMPLE_GPKG, layer="smart_poles", fid_as_index=True)
    nearest = poles.distance(lights.geometry.loc[row["fid"]]).min()
    assert row["distance"] == pytest.approx(nearest)


def test_text_output_and_csv(capsys, tmp_path):
    out_file = tmp_path / "zone.csv"
    code, out, err = qdt(capsys, "query", SAMPLE_PROJECT, "--layer", "智慧杆", "--predicate", "within",
                         "--other", "网格", "--other-where", "grid_code = '370202000001'", "--out", out_file)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("智慧杆 (smart_poles): ") and "features selected" in lines[0]
    assert lines[1].startswith("fids: ") and lines[-1] == f"wrote {out_file}"
    table = pd.read_csv(out_file)
    assert table["fid"].tolist() == [int(v) for v in lines[1].split()[1:]]


@pytest.mark.parametrize(("args", "message"), [
    (["--layer", "路等"], "unknown layer '路等'"),
    (["--layer", "路灯", "--where", "status = "], "expected a value after '=' at position 10: status = ^"),
    (["--layer", "路灯", "--where", "hieght > 3"], "layer '路灯', where: unknown field 'hieght' at position 1"),
    (["--layer", "路灯", "--predicate", "dwithin", "--other", "智慧杆"], "needs a distance"),
    (["--layer", "路灯", "--predicate", "within", "--other", "数字高程模型"], "is a raster layer"),
    (["--layer", "路灯", "--nearest", "1", "--other", "智慧杆", "--predicate", "within"], "not both"),
    (["--layer", "路灯", "--out", "x.shp"], "use a file ending in .csv, .geojson or .gpkg"),
])
def test_user_errors_are_one_line_exit_2(capsys, args, message):
    code, out, err = qdt(capsys, "query", SAMPLE_PROJECT, *args)
    assert code == 2 and out == ""
    assert err.startswith("qdt query: error: ") and message in err and err.count("\n") == 1, err


def test_unknown_field_lists_the_fields(capsys):
    code, _, err = qdt(capsys, "query", SAMPLE_GPKG, "--layer", "streetlights", "--where", "hieght > 3")
    assert code == 2 and "fields: code (对象编码), pole_code (灯杆编号)" in err


def test_clearance_json_and_csv(capsys, tmp_path):
    out_file = tmp_path / "clearance.csv"
    code, out, err = qdt(capsys, "clearance", SAMPLE_PROJECT, "--json", "--out", out_file)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["layer"] == "地下管线" and doc["ground"] == "dem" and doc["count"] == len(doc["violations"]) >= 2
    assert doc["unchecked"] and all(u["pairs"] > 0 and u["reason"] for u in doc["unchecked"])
    kinds = {(v["kind"], v["network_a"], v["network_b"], v["required_m"]) for v in doc["violations"]}
    assert ("horizontal", "JS", "RQ", 0.5) in kinds and ("vertical", "JS", "RQ", 0.15) in kinds
    table = pd.read_csv(out_file)
    assert len(table) == doc["count"] and {"fid_a", "fid_b", "measured_m", "required_m", "citation", "x", "y"} <= \
        set(table.columns)


def test_clearance_on_a_geopackage_is_flat_ground_and_text(capsys):
    code, out, err = qdt(capsys, "clearance", SAMPLE_GPKG, "--layer", "pipes")
    assert code == 0, err
    first, *rest = out.splitlines()
    assert first.startswith("pipes: ") and "below the standard's minimum clearance" in first and "flat ground" in first
    assert any("GB 50289-2016 Table 4.1.9" in line for line in rest)
    code, _, err = qdt(capsys, "clearance", SAMPLE_GPKG, "--layer", "streetlights")
    assert code == 2 and "has no field 'network'" in err


def test_real_entry_point():
    proc = subprocess.run([sys.executable, "-m", "qdt.cli", "query", str(SAMPLE_GPKG), "--layer", "zones", "--where",
                           "district_code = '370202'", "--json"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["count"] == pyogrio.read_info(SAMPLE_GPKG, layer="zones")["features"]
    proc = subprocess.run([sys.executable, "-m", "qdt.cli", "query", str(SAMPLE_GPKG), "--layer", "nope"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "unknown layer 'nope'" in proc.stderr
