"""Project file model: parsing, migration, relative paths, atomic save, bad files."""

from __future__ import annotations

import json

import pytest

from qdt.layers import CategorisedStyle
from qdt.project import FORMAT_VERSION, Camera, ProjectError, load_project, save_project
from qdt.project.store import open_project


def write(path, doc):
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_resolves_paths_relative_to_project(tmp_path):
    (tmp_path / "data").mkdir()
    p = write(tmp_path / "p.qdt", {"format": "qdt-project", "version": 1, "name": "测试",
                                   "layers": [{"name": "路灯", "kind": "vector", "source": "data/a.gpkg",
                                               "layer": "streetlights", "visible": False, "opacity": 0.5}]})
    project = load_project(p)
    assert project.name == "测试"
    entry = project.entries[0]
    assert entry.source == str(tmp_path / "data" / "a.gpkg")
    assert entry.layer_name == "streetlights" and entry.visible is False and entry.opacity == 0.5


def test_save_writes_relative_paths_and_round_trips(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p = write(tmp_path / "a" / "p.qdt", {"format": "qdt-project", "version": 1,
                                          "layers": [{"name": "x", "kind": "raster", "source": "../dem.tif"}],
                                          "camera": {"position": [1, 2, 3], "focal_point": [4, 5, 6]}})
    project = load_project(p)
    project.entries[0].style = CategorisedStyle(field="status", categories={"1": ("正常", (0, 200, 0))}).to_dict()
    out = save_project(project, tmp_path / "b" / "q.qdt")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["version"] == FORMAT_VERSION
    assert doc["layers"][0]["source"] == "../dem.tif"
    assert doc["layers"][0]["style"]["categories"]["1"] == ["正常", [0, 200, 0]]
    again = load_project(out)
    assert again.entries[0].source == str(tmp_path / "dem.tif")
    assert again.camera == Camera((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    assert not list((tmp_path / "b").glob(".qdt-*")), "no temporary file is left behind"


def test_version_0_is_migrated(tmp_path):
    p = write(tmp_path / "old.qdt", {"format": "qdt-project", "sources": [{"name": "dem", "path": "dem.tif"}]})
    project = load_project(p)
    assert project.entries[0].source == str(tmp_path / "dem.tif")
    assert project.entries[0].kind == "raster"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1"),
        ('{"format": "something-else"}', "is not a QDT project file"),
        ('{"format": "qdt-project", "version": 99}', "written by a newer QDT (format version 99"),
        ('{"format": "qdt-project", "version": 1, "layers": [{"name": "x"}]}',
         "layer 1: 'source' (a file path) is missing"),
        ('{"format": "qdt-project", "version": 1, "layers": [{"source": "a", "kind": "mesh"}]}', "unknown kind 'mesh'"),
        ('{"format": "qdt-project", "version": 1, "crs": "EPSG:999999"}', "unrecognised coordinate reference system"),
        ('{"format": "qdt-project", "version": 1, "camera": {"position": [1, 2]}}', "bad camera or bookmark"),
    ],
)
def test_bad_project_files_give_one_clear_line(tmp_path, content, message):
    p = tmp_path / "bad.qdt"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ProjectError) as info:
        load_project(p)
    text = str(info.value)
    assert message in text and "bad.qdt" in text and "\n" not in text


def test_missing_project_file(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "nope.qdt")


def test_missing_data_file_marks_layer_unavailable(tmp_path):
    p = write(tmp_path / "p.qdt", {"format": "qdt-project", "version": 1,
                                   "layers": [{"name": "路灯", "kind": "vector", "source": "gone.gpkg",
                                               "layer": "streetlights"}]})
    project = open_project(p)
    assert len(project.layers) == 0
    [entry] = project.unavailable
    assert "gone.gpkg" in entry.error and "路灯" in entry.error
