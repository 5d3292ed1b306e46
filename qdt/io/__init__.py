"""Readers for real formats and the DataSource seam (no Qt, no VTK).

Public API::

    from qdt.io import ReadError, LayerSource, load_layer, dataset_info, list_layers
    result = load_layer(LayerSource("city.gpkg", layer="buildings", feature_class="building"))
    result.layer, result.warnings

Formats register with :func:`register_reader`; importing this package registers
GeoPackage, Shapefile, GeoJSON (vector), GeoTIFF (raster) and CityJSON (city model).
Attribute edits go back to a GeoPackage with :func:`update_attributes` (one transaction,
change log in the file; see :mod:`qdt.io.gpkg_write`).
"""

from qdt.io import citygml as _citygml  # noqa: F401  (registers the CityGML reader)
from qdt.io import cityjson as _cityjson  # noqa: F401  (registers the CityJSON reader)
from qdt.io import ifc as _ifc  # noqa: F401  (registers the IFC reader)
from qdt.io import raster as _raster  # noqa: F401  (registers the GeoTIFF reader)
from qdt.io import tiles3d_layer as _tiles3d  # noqa: F401  (registers the 3D Tiles reader)
from qdt.io import vector as _vector  # noqa: F401  (registers the OGR readers)
from qdt.io.base import FeatureRequest, LayerInfo, LayerSource, LoadResult, ReadContext, Reader, SourceData
from qdt.io.datasource import (
    Capability,
    DataSource,
    EditStore,
    FileDataSource,
    capabilities_of,
    datasource_of,
    open_datasource,
)
from qdt.io.errors import ReadError
from qdt.io.gpkg_write import (
    CHANGE_LOG_TABLE,
    ColumnUpdate,
    WriteError,
    WriteOutcome,
    read_change_log,
    update_attributes,
)
from qdt.io.loader import dataset_info, list_layers, load_layer
from qdt.io.registry import READERS, ReaderRegistry, RegistryError, reader_for, register_reader

__all__ = [
    "CHANGE_LOG_TABLE",
    "Capability",
    "EditStore",
    "capabilities_of",
    "datasource_of",
    "READERS",
    "ColumnUpdate",
    "DataSource",
    "FeatureRequest",
    "FileDataSource",
    "LayerInfo",
    "LayerSource",
    "LoadResult",
    "ReadContext",
    "ReadError",
    "Reader",
    "ReaderRegistry",
    "RegistryError",
    "SourceData",
    "WriteError",
    "WriteOutcome",
    "dataset_info",
    "list_layers",
    "load_layer",
    "open_datasource",
    "read_change_log",
    "reader_for",
    "register_reader",
    "update_attributes",
]
