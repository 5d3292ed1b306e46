"""The seams wave 2 builds on: one place builds data sources, sources declare capabilities, and
one loading path turns project entries (or added files) into layers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qdt.io import (
    Capability,
    FeatureRequest,
    FileDataSource,
    LayerSource,
    capabilities_of,
    load_layer,
    open_datasource,
)
from qdt.project import LayerEntry
from qdt.project.loading import entries_for_path, layer_source, open_entry
from tests.conftest import ROOT, SAMPLE_GPKG, TEST_DATA


def test_one_place_builds_data_sources():
    built = re.compile(r"\b(FileDataSource|PostGISDataSource)\(")
    places = [path.relative_to(ROOT).as_posix() for path in (ROOT / "qdt").rglob("*.py")
              if any(built.search(line) and not line.lstrip().startswith("class ")
                     for line in path.read_text(encoding="utf-8").splitlines())]
    assert places == ["qdt/io/datasource.py"]


def test_sources_declare_their_capabilities(tmp_path):
    gpkg = open_datasource(SAMPLE_GPKG)
    assert isinstance(gpkg, FileDataSource)
    # a GeoPackage's R-tree serves windowed reads (issue 17); its small layers still load whole
    assert gpkg.capabilities == Capability.TRANSACTIONAL_COMMIT | Capability.WINDOWED_READS
    assert not gpkg.streams("manholes")
    geojson = tmp_path / "points.geojson"
    geojson.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert open_datasource(geojson).capabilities == Capability.NONE
    # a database table declares every feature-source capability; building the source connects to nothing
    db = open_datasource("postgis:host=127.0.0.1 port=1 dbname=nowhere user=nobody")
    for capability in (Capability.WINDOWED_READS, Capability.QUERY_PUSHDOWN, Capability.TRANSACTIONAL_COMMIT,
                       Capability.CHANGE_NOTIFICATION):
        assert db.has(capability)
    assert not db.has(Capability.STREAMED_TILES)


def test_loaded_layers_know_their_source_capabilities():
    layer = load_layer(LayerSource(SAMPLE_GPKG, layer="cabinets")).layer
    assert capabilities_of(layer) == Capability.TRANSACTIONAL_COMMIT
    layer.source = None
    assert capabilities_of(layer) == Capability.NONE


def test_structure_only_request_reads_no_features():
    entry = LayerEntry(name="路灯", kind="vector", source=str(SAMPLE_GPKG), layer_name="streetlights",
                       feature_class="streetlight")
    empty = open_entry(entry, "EPSG:4549", request=FeatureRequest(limit=0)).layer
    whole = open_entry(entry, "EPSG:4549").layer
    assert empty.feature_count == 0 and whole.feature_count > 0
    assert list(empty.columns) == list(whole.columns) and empty.name == "路灯"


def test_schema_of_an_entry_joins_its_table_name():
    entry = LayerEntry(name="建筑", kind="vector", source="postgis:service=qdt", layer_name="buildings",
                       extra={"schema": "city"})
    assert layer_source(entry).layer == "city.buildings"
    file_entry = LayerEntry(name="b", kind="vector", source=str(SAMPLE_GPKG), layer_name="buildings",
                            extra={"schema": "city"})
    assert layer_source(file_entry).layer == "buildings"


def test_added_files_become_entries_then_load_like_project_layers():
    entries = entries_for_path(SAMPLE_GPKG, choose=lambda path, names: [n for n in names if n == "streetlights"])
    assert [(e.name, e.layer_name, e.kind, e.feature_class) for e in entries] == [
        ("streetlights", "streetlights", "vector", "streetlight")]
    assert Path(entries[0].source).is_absolute()
    raster = entries_for_path(TEST_DATA / "RGB.byte.tif")
    assert [(e.kind, e.layer_name) for e in raster] == [("raster", None)]
    with pytest.raises(Exception, match="nothing.gpkg"):
        entries_for_path(TEST_DATA / "nothing.gpkg")


def test_qdt_package_never_imports_tests():
    for path in (ROOT / "qdt").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) tests\b", text, re.MULTILINE), path
