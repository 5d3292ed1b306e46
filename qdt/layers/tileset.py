"""3D Tiles layer: the tiles drawn now, as one city-model mesh plus points, refreshed as tiles stream.

The tile tree and the streaming live in :mod:`qdt.io.tiles3d_layer` (this package imports no
readers); this model only holds what is loaded, in the project CRS, and says when it changed.

Events (besides :class:`~qdt.layers.base.Layer`'s): ``data()`` when the drawn tiles change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from qdt.layers.base import LayerKind
from qdt.layers.citymodel import CityModelLayer


class TilesetLayer(CityModelLayer):
    """A 3D Tiles tileset drawn from its loaded tiles.

    Besides the city-model mesh (``vertices``, ``triangles``, ``triangle_object``), it holds
    ``triangle_colour`` (content colours, (m, 3) uint8), point-cloud content (``points``,
    ``point_colour``, ``point_object``) and ``objects``: one row per feature of every drawn
    content (``tile``, ``content``, ``feature`` and the batch-table / EXT_structural_metadata
    properties), or one row per content without features.
    """

    kind = LayerKind.TILESET

    def __init__(self, name: str, crs: CRS | None, **kw: Any) -> None:
        empty = pd.DataFrame({"object_id": pd.Series(dtype=object), "type": pd.Series(dtype=object)})
        super().__init__(name, np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64),
                         np.zeros(0, np.uint8), empty, crs, **kw)
        self.triangle_colour = np.zeros((0, 3), np.uint8)
        self.points = np.zeros((0, 3))
        self.point_colour = np.zeros((0, 3), np.uint8)
        self.point_object = np.zeros(0, np.int64)
        self.extent: tuple[float, float, float, float] | None = None  # of the whole tileset, project CRS
        self.streamer: Any = None  # qdt.io.tiles3d_layer.TileStreamer, when the layer streams

    def set_drawn(self, vertices: np.ndarray, triangles: np.ndarray, triangle_object: np.ndarray,
                  triangle_colour: np.ndarray, points: np.ndarray, point_colour: np.ndarray,
                  point_object: np.ndarray, objects: pd.DataFrame) -> None:
        """Replace what is drawn and emit ``data``."""
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.triangles = np.asarray(triangles, dtype=np.int64)
        self.triangle_object = np.asarray(triangle_object, dtype=np.int64)
        self.triangle_semantic = np.zeros(len(self.triangles), dtype=np.uint8)
        self.triangle_colour = np.asarray(triangle_colour, dtype=np.uint8)
        self.points = np.asarray(points, dtype=np.float64)
        self.point_colour = np.asarray(point_colour, dtype=np.uint8)
        self.point_object = np.asarray(point_object, dtype=np.int64)
        self.objects = objects.rename_axis("fid")
        self.events.data.emit()

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        if self.extent is not None:
            return self.extent
        parts = [a for a in (self.vertices, self.points) if len(a)]
        if not parts:
            return (np.nan, np.nan, np.nan, np.nan)
        xyz = np.concatenate(parts)
        return (float(xyz[:, 0].min()), float(xyz[:, 1].min()), float(xyz[:, 0].max()), float(xyz[:, 1].max()))

    @property
    def z_range(self) -> tuple[float, float]:
        parts = [a for a in (self.vertices, self.points) if len(a)]
        if not parts:
            return (np.nan, np.nan)
        z = np.concatenate([p[:, 2] for p in parts])
        return float(z.min()), float(z.max())
