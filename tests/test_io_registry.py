"""Reader registry and the DataSource seam."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from qdt.io import (
    DataSource,
    FeatureRequest,
    FileDataSource,
    LayerInfo,
    LayerSource,
    ReadContext,
    Reader,
    ReaderRegistry,
    ReadError,
    RegistryError,
    SourceData,
    load_layer,
    reader_for,
    register_reader,
)
from qdt.io.loader import PREPARERS
from qdt.layers.vector import VectorLayer

DATA = Path(__file__).parent / "data"


class _NullReader(Reader):
    def layer_names(self, path):
        return ["only"]

    def info(self, path):
        return []

    def read(self, path, layer, request, context):
        raise NotImplementedError


def test_duplicate_pattern_or_name_raises():
    registry = ReaderRegistry()
    registry.register("vector", ("*.abc",), name="A")(_NullReader)
    with pytest.raises(RegistryError, match=r"file pattern '\*.abc' is already registered by reader 'A'"):
        registry.register("vector", ("*.ABC",), name="B")(_NullReader)
    with pytest.raises(RegistryError, match=r"a reader named 'A' is already registered"):
        registry.register("raster", ("*.xyz",), name="A")(_NullReader)
    with pytest.raises(RegistryError, match=r"unknown reader kind 'mesh'"):
        registry.register("mesh", ("*.obj",), name="C")


def test_the_app_registry_refuses_a_second_geopackage_reader():
    with pytest.raises(RegistryError, match=r"'\*.gpkg' is already registered by reader 'GeoPackage'"):
        register_reader("vector", ("*.gpkg",), name="MyGeoPackage")(_NullReader)


def test_shared_pattern_needs_sniffers_and_is_resolved_by_content(tmp_path):
    registry = ReaderRegistry()
    registry.register("vector", ("*.dat",), name="Left", sniff=lambda p: Path(p).read_text().startswith("L"))(
        _NullReader)
    with pytest.raises(RegistryError):
        registry.register("raster", ("*.dat",), name="NoSniff")(_NullReader)
    registry.register("raster", ("*.dat",), name="Right", sniff=lambda p: Path(p).read_text().startswith("R"))(
        _NullReader)
    (tmp_path / "l.dat").write_text("L...")
    (tmp_path / "r.dat").write_text("R...")
    (tmp_path / "x.dat").write_text("X...")
    assert registry.reader_for(tmp_path / "l.dat").name == "Left"
    assert registry.reader_for(tmp_path / "r.dat").name == "Right"
    assert registry.reader_for(tmp_path / "x.dat", kind="raster").name == "Right"
    with pytest.raises(ReadError, match=r"^cannot read 'x.dat': its content is not recognised as Left or Right$"):
        registry.reader_for(tmp_path / "x.dat")
    registry.unregister("Right")
    registry.register("raster", ("*.dat",), name="Right", sniff=lambda p: True)(_NullReader)


def test_reader_for_known_files():
    assert reader_for(DATA / "simple_sewer_features.gpkg").name == "GeoPackage"
    assert reader_for(DATA / "lyon3_dem_10m.tif").kind == "raster"
    # .json files are told apart by content: delft.json starts with "CityObjects", zurich with "type"
    assert reader_for(DATA / "delft.json").name == "CityJSON"
    assert reader_for(DATA / "zurich_subset_lod2.json").name == "CityJSON"
    assert reader_for("somewhere/roads.SHP").name == "Shapefile"
    assert reader_for("model.city.json").name == "CityJSON"
    with pytest.raises(ReadError, match=r"^cannot read 'notes.docx': no reader for this file type \(known: "):
        reader_for("notes.docx")
    with pytest.raises(ReadError, match=r"cannot read 'a.gpkg': no raster reader for this file type"):
        reader_for("a.gpkg", kind="raster")


def test_kind_in_layer_source_picks_the_reader(tmp_path):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    assert FileDataSource(path).kind == "vector"
    with pytest.raises(ReadError, match="not a CityJSON file"):
        load_layer(LayerSource(path, kind="citymodel"))


def test_file_datasource_lists_layers_and_reads_in_the_files_crs():
    source = FileDataSource(DATA / "simple_sewer_features.gpkg")
    assert source.kind == "vector" and source.reader_name == "GeoPackage"
    infos = source.layers()
    assert [i.name for i in infos] == ["s_manhole", "foul_sewer", "surface_water_sewer"]
    assert all(isinstance(i, LayerInfo) and i.crs.to_epsg() == 27700 for i in infos)
    data = source.read("foul_sewer", FeatureRequest(fids=(1, 2, 3)))
    assert isinstance(data, SourceData) and data.layer.crs.to_epsg() == 27700
    assert list(data.layer.frame.index) == [1, 2, 3]
    assert data.layer.bounds[0] > 389_000  # still British National Grid, not transformed
    with pytest.raises(TypeError):
        DataSource()  # abstract


class _MemorySource(DataSource):
    """What a PostGIS source will look like: no file, same interface."""

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.frame = frame

    @property
    def uri(self):
        return "memory://test"

    @property
    def kind(self):
        return "vector"

    def layers(self):
        return [LayerInfo("pts", "vector", self.frame.crs, list(self.frame.total_bounds), count=len(self.frame))]

    def read(self, layer=None, request=None, context=None):
        frame = self.frame
        if request is not None and request.fids is not None:
            frame = frame.loc[list(request.fids)]
        return SourceData(VectorLayer("pts", frame, source_layer="pts"))


def test_a_non_file_datasource_goes_through_the_same_preparation():
    frame = gpd.GeoDataFrame({"v": [1, 2]}, geometry=shapely.points([(120.38, 36.07), (120.39, 36.08)]),
                             crs="EPSG:4326").rename_axis("fid")
    source = _MemorySource(frame)
    data = source.read(request=FeatureRequest(fids=(1,)))
    result = PREPARERS[source.kind](data, LayerSource("memory://test"), gpd.GeoSeries(crs="EPSG:4549").crs,
                                    ReadContext())
    assert shapely.get_coordinates(result.layer.geometry)[0] == pytest.approx([535128.373, 3994489.858], abs=0.01)
    assert list(result.layer.fids) == [1]
    assert np.isfinite(result.layer.bounds).all()
    assert source.layer_names() == ["pts"]
