"""Layer models: plain Python + numpy/pandas/shapely, no Qt, no VTK."""

from qdt.layers.base import NULL_TEXT, DataChange, Layer, LayerKind
from qdt.layers.citymodel import CityModelLayer
from qdt.layers.layerlist import LayerList
from qdt.layers.raster import RasterLayer
from qdt.layers.style import CategorisedStyle, GraduatedStyle, SingleStyle, Style, style_from_dict
from qdt.layers.tileset import TilesetLayer
from qdt.layers.vector import VectorLayer

__all__ = [
    "CategorisedStyle",
    "CityModelLayer",
    "DataChange",
    "GraduatedStyle",
    "Layer",
    "LayerKind",
    "LayerList",
    "NULL_TEXT",
    "RasterLayer",
    "SingleStyle",
    "Style",
    "TilesetLayer",
    "VectorLayer",
    "style_from_dict",
]
